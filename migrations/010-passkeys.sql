-- Up Migration
-- Passkeys (WebAuthn, issue 14): sign in without a password, or as a second factor.

-- The user handle a passkey stores (32 random bytes): never the numeric id, so an
-- authenticator's list of accounts tells nothing about how many users the site has.
ALTER TABLE users ADD COLUMN webauthn_handle bytea UNIQUE CHECK (octet_length(webauthn_handle) = 32);

CREATE TABLE passkeys (
  -- A public handle for forms (remove): random, like a session's.
  id            uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id       bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  -- The credential id, base64url, as the browser sends it back.
  credential_id text        NOT NULL UNIQUE CHECK (char_length(credential_id) BETWEEN 1 AND 1400),
  public_key    bytea       NOT NULL,
  sign_count    bigint      NOT NULL DEFAULT 0 CHECK (sign_count >= 0),
  transports    text[]      NOT NULL DEFAULT '{}',
  device_type   text        NOT NULL CHECK (device_type IN ('singleDevice', 'multiDevice')),
  backed_up     boolean     NOT NULL,
  aaguid        text        NOT NULL,
  name          text        NOT NULL CHECK (char_length(name) BETWEEN 1 AND 64),
  created_at    timestamptz NOT NULL DEFAULT now(),
  last_used_at  timestamptz
);

CREATE INDEX passkeys_user_idx ON passkeys (user_id);

-- A login ceremony's challenge travels in the visitor's signed cookie (no session row before a
-- login); once an answer to it arrives, its hash is kept here until it would have expired, so
-- the same answer sent again is refused.
CREATE TABLE webauthn_challenges_used (
  challenge_hash bytea       PRIMARY KEY CHECK (octet_length(challenge_hash) = 32),
  expires_at     timestamptz NOT NULL
);

CREATE INDEX webauthn_challenges_used_expires_idx ON webauthn_challenges_used (expires_at);

ALTER TABLE auth_events DROP CONSTRAINT auth_events_event_check;
ALTER TABLE auth_events ADD CONSTRAINT auth_events_event_check CHECK (event IN (
  'signup', 'login', 'login_failed', 'throttled', 'logout',
  'profile_changed', 'email_changed', 'email_change_requested', 'email_verified',
  'email_change_cancelled', 'email_change_reverted',
  'password_changed', 'password_reset_requested', 'password_reset',
  'session_ended', 'sessions_ended', 'account_deleted', 'deactivated', 'activated',
  'second_factor_required', 'second_factor_failed',
  'totp_enabled', 'totp_disabled', 'recovery_codes_generated', 'recovery_code_used', 'mfa_reset',
  'passkey_added', 'passkey_removed', 'passkey_failed'
));

-- Down Migration
ALTER TABLE auth_events DROP CONSTRAINT auth_events_event_check;
DELETE FROM auth_events WHERE event IN ('passkey_added', 'passkey_removed', 'passkey_failed');
ALTER TABLE auth_events ADD CONSTRAINT auth_events_event_check CHECK (event IN (
  'signup', 'login', 'login_failed', 'throttled', 'logout',
  'profile_changed', 'email_changed', 'email_change_requested', 'email_verified',
  'email_change_cancelled', 'email_change_reverted',
  'password_changed', 'password_reset_requested', 'password_reset',
  'session_ended', 'sessions_ended', 'account_deleted', 'deactivated', 'activated',
  'second_factor_required', 'second_factor_failed',
  'totp_enabled', 'totp_disabled', 'recovery_codes_generated', 'recovery_code_used', 'mfa_reset'
));
DROP TABLE webauthn_challenges_used;
DROP TABLE passkeys;
ALTER TABLE users DROP COLUMN webauthn_handle;
