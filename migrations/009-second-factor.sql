-- Up Migration
-- A second factor (issue 13): an authenticator app (TOTP) and recovery codes.

-- The authenticator app's secret, sealed (AES-256-GCM, a key derived from the session
-- secrets; see src/crypto/sealed-box.ts): a copy of this table opens no account. The last
-- time step a code was accepted for: a code for that step or an earlier one is refused,
-- so a code works once.
CREATE TABLE user_totp (
  user_id        bigint      PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
  secret_sealed  bytea       NOT NULL,
  last_used_step bigint      NOT NULL DEFAULT 0 CHECK (last_used_step >= 0),
  created_at     timestamptz NOT NULL DEFAULT now()
);

-- Recovery codes: 120 random bits each, only their SHA-256 kept (ASVS 6.5.2 allows a plain
-- hash from 112 bits up). A code is used up by deleting its row.
CREATE TABLE recovery_codes (
  id         bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  user_id    bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  code_hash  bytea       NOT NULL CHECK (octet_length(code_hash) = 32),
  created_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (user_id, code_hash)
);

-- A session row is a login, or a login waiting for its second step: the pending one is
-- marked, so "my sessions" lists only real ones, and ending a user's sessions ends both.
ALTER TABLE sessions ADD COLUMN pending boolean NOT NULL DEFAULT false;

ALTER TABLE auth_events DROP CONSTRAINT auth_events_event_check;
ALTER TABLE auth_events ADD CONSTRAINT auth_events_event_check CHECK (event IN (
  'signup', 'login', 'login_failed', 'throttled', 'logout',
  'profile_changed', 'email_changed', 'email_change_requested', 'email_verified',
  'email_change_cancelled', 'email_change_reverted',
  'password_changed', 'password_reset_requested', 'password_reset',
  'session_ended', 'sessions_ended', 'account_deleted', 'deactivated', 'activated',
  'second_factor_required', 'second_factor_failed',
  'totp_enabled', 'totp_disabled', 'recovery_codes_generated', 'recovery_code_used', 'mfa_reset'
));

-- Down Migration
ALTER TABLE auth_events DROP CONSTRAINT auth_events_event_check;
DELETE FROM auth_events WHERE event IN ('second_factor_required', 'second_factor_failed',
  'totp_enabled', 'totp_disabled', 'recovery_codes_generated', 'recovery_code_used', 'mfa_reset');
ALTER TABLE auth_events ADD CONSTRAINT auth_events_event_check CHECK (event IN (
  'signup', 'login', 'login_failed', 'throttled', 'logout',
  'profile_changed', 'email_changed', 'email_change_requested', 'email_verified',
  'email_change_cancelled', 'email_change_reverted',
  'password_changed', 'password_reset_requested', 'password_reset',
  'session_ended', 'sessions_ended', 'account_deleted', 'deactivated', 'activated'
));
ALTER TABLE sessions DROP COLUMN pending;
DROP TABLE recovery_codes;
DROP TABLE user_totp;
