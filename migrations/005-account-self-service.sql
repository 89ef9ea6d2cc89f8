-- Up Migration
-- A user's open sessions, found through an indexed column rather than by
-- reading JSON: the "my sessions" page, "sign out everywhere else", and ending
-- every session of a user whose password changes or who is deactivated.
-- id is a public handle for a session: the sid is the bearer secret and never
-- leaves the cookie.
ALTER TABLE sessions
  ADD COLUMN id           bigint      GENERATED ALWAYS AS IDENTITY,
  ADD COLUMN user_id      bigint,
  ADD COLUMN created_at   timestamptz NOT NULL DEFAULT now(),
  ADD COLUMN last_seen_at timestamptz NOT NULL DEFAULT now(),
  ADD COLUMN ip           text,
  ADD COLUMN user_agent   text;

CREATE UNIQUE INDEX sessions_id_key ON sessions (id);
CREATE INDEX sessions_user_idx ON sessions (user_id) WHERE user_id IS NOT NULL;

-- Sessions opened before this migration.
UPDATE sessions SET user_id = (sess ->> 'userId')::bigint WHERE sess ->> 'userId' ~ '^[0-9]{1,18}$';

-- The audit trail outlives the accounts it speaks of: a deleted user's events
-- keep their user id (there is no row left to point at), and every change that
-- matters to security has a kind of its own.
ALTER TABLE auth_events DROP CONSTRAINT auth_events_user_id_fkey;
ALTER TABLE auth_events DROP CONSTRAINT auth_events_event_check;
ALTER TABLE auth_events ADD CONSTRAINT auth_events_event_check CHECK (event IN (
  'signup', 'login', 'login_failed', 'throttled', 'logout',
  'profile_changed', 'email_changed', 'email_change_requested', 'email_verified',
  'password_changed', 'password_reset_requested', 'password_reset',
  'session_ended', 'sessions_ended', 'account_deleted', 'deactivated', 'activated'
));
ALTER TABLE auth_events ADD COLUMN detail text;

-- Down Migration
ALTER TABLE auth_events DROP COLUMN detail;
ALTER TABLE auth_events DROP CONSTRAINT auth_events_event_check;
ALTER TABLE auth_events ADD CONSTRAINT auth_events_event_check
  CHECK (event IN ('signup', 'login', 'login_failed', 'throttled', 'logout'));
DROP INDEX sessions_user_idx;
DROP INDEX sessions_id_key;
ALTER TABLE sessions DROP COLUMN id, DROP COLUMN user_id, DROP COLUMN created_at,
  DROP COLUMN last_seen_at, DROP COLUMN ip, DROP COLUMN user_agent;
