-- Up Migration
-- What an attacker's review asked for (issue 11).

-- The notice of an email change carries a "Cancel this change" link: a token
-- mailed to the old address (email), naming the address the change is to.
ALTER TABLE account_tokens DROP CONSTRAINT account_tokens_purpose_check;
ALTER TABLE account_tokens ADD CONSTRAINT account_tokens_purpose_check
  CHECK (purpose IN ('password_reset', 'verify_email', 'cancel_email_change'));
ALTER TABLE account_tokens
  ADD COLUMN target_email text CHECK (target_email IS NULL OR char_length(target_email) <= 254);

-- A session's public handle is random: a sequence would tell how many sessions
-- the site has ever made, and let one guess the handles of others.
DROP INDEX sessions_id_key;
ALTER TABLE sessions DROP COLUMN id;
ALTER TABLE sessions ADD COLUMN id uuid NOT NULL DEFAULT gen_random_uuid();
CREATE UNIQUE INDEX sessions_id_key ON sessions (id);
-- The least recently used sessions of a user end first when they hold too many.
CREATE INDEX sessions_user_last_seen_idx ON sessions (user_id, last_seen_at) WHERE user_id IS NOT NULL;

-- Repeated throttled attempts by one key in one window are one row with a count,
-- so a client hammering a limit cannot grow the trail by a row per request.
ALTER TABLE auth_events
  ADD COLUMN attempts   integer NOT NULL DEFAULT 1 CHECK (attempts >= 1),
  ADD COLUMN dedupe_key bytea,
  ADD COLUMN last_at    timestamptz;
CREATE UNIQUE INDEX auth_events_dedupe_key ON auth_events (dedupe_key) WHERE dedupe_key IS NOT NULL;

ALTER TABLE auth_events DROP CONSTRAINT auth_events_event_check;
ALTER TABLE auth_events ADD CONSTRAINT auth_events_event_check CHECK (event IN (
  'signup', 'login', 'login_failed', 'throttled', 'logout',
  'profile_changed', 'email_changed', 'email_change_requested', 'email_verified',
  'email_change_cancelled', 'email_change_reverted',
  'password_changed', 'password_reset_requested', 'password_reset',
  'session_ended', 'sessions_ended', 'account_deleted', 'deactivated', 'activated'
));

-- Down Migration
ALTER TABLE auth_events DROP CONSTRAINT auth_events_event_check;
ALTER TABLE auth_events ADD CONSTRAINT auth_events_event_check CHECK (event IN (
  'signup', 'login', 'login_failed', 'throttled', 'logout',
  'profile_changed', 'email_changed', 'email_change_requested', 'email_verified',
  'password_changed', 'password_reset_requested', 'password_reset',
  'session_ended', 'sessions_ended', 'account_deleted', 'deactivated', 'activated'
));
DROP INDEX auth_events_dedupe_key;
ALTER TABLE auth_events DROP COLUMN attempts, DROP COLUMN dedupe_key, DROP COLUMN last_at;
DROP INDEX sessions_user_last_seen_idx;
DROP INDEX sessions_id_key;
ALTER TABLE sessions DROP COLUMN id;
ALTER TABLE sessions ADD COLUMN id bigint GENERATED ALWAYS AS IDENTITY;
CREATE UNIQUE INDEX sessions_id_key ON sessions (id);
DELETE FROM account_tokens WHERE purpose = 'cancel_email_change';
ALTER TABLE account_tokens DROP COLUMN target_email;
ALTER TABLE account_tokens DROP CONSTRAINT account_tokens_purpose_check;
ALTER TABLE account_tokens ADD CONSTRAINT account_tokens_purpose_check
  CHECK (purpose IN ('password_reset', 'verify_email'));
