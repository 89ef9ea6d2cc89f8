-- Up Migration
-- Address verification: when the address was last proven, and an address the
-- user asked to move to, which takes effect only once its link is followed.
ALTER TABLE users
  ADD COLUMN email_verified_at timestamptz,
  ADD COLUMN pending_email     text CHECK (pending_email IS NULL OR char_length(pending_email) <= 254);

-- One-time links sent by mail (password reset, address verification). Only the
-- SHA-256 of the token is kept: a copy of this table opens no account. A link
-- is used up by deleting its row, so it works once even when clicked twice at once.
CREATE TABLE account_tokens (
  id         bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  user_id    bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  purpose    text        NOT NULL CHECK (purpose IN ('password_reset', 'verify_email')),
  token_hash bytea       NOT NULL UNIQUE CHECK (octet_length(token_hash) = 32),
  -- The address the link was sent to: for verification, the address it proves.
  email      text        NOT NULL CHECK (char_length(email) <= 254),
  expires_at timestamptz NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX account_tokens_user_idx ON account_tokens (user_id, purpose);
CREATE INDEX account_tokens_expires_idx ON account_tokens (expires_at);

-- The browsers each user has signed in from (a hash of user agent and IP), so a
-- sign-in from a new one can be told to the account's owner.
CREATE TABLE known_browsers (
  user_id       bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  fingerprint   bytea       NOT NULL CHECK (octet_length(fingerprint) = 32),
  first_seen_at timestamptz NOT NULL DEFAULT now(),
  last_seen_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (user_id, fingerprint)
);

-- Down Migration
DROP TABLE known_browsers;
DROP TABLE account_tokens;
ALTER TABLE users DROP COLUMN pending_email, DROP COLUMN email_verified_at;
