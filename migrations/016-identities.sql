-- Up Migration
-- Identity providers (issue 21): an identity is its provider's issuer and subject (`sub`, or
-- GitHub's numeric user id), never its email, which a provider lets its users change. One
-- identity belongs to one account; an account may have several. No provider token is kept.
CREATE TABLE identities (
  id           bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  user_id      bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  -- The configured provider's name (google, acme, github): which button signs in with it.
  provider     text        NOT NULL CHECK (provider ~ '^[a-z0-9-]{1,40}$'),
  issuer       text        NOT NULL CHECK (length(issuer) BETWEEN 1 AND 500),
  subject      text        NOT NULL CHECK (length(subject) BETWEEN 1 AND 255),
  -- The address the provider gave at the last sign-in (shown on the security page; never a key).
  email_seen   text        CHECK (email_seen IS NULL OR length(email_seen) <= 254),
  linked_at    timestamptz NOT NULL DEFAULT now(),
  last_used_at timestamptz,
  CONSTRAINT identities_issuer_subject_key UNIQUE (issuer, subject)
);
CREATE INDEX identities_user_idx ON identities (user_id);

-- An account made by a provider sign-in has no password until its owner sets one (by a mailed link).
ALTER TABLE users ALTER COLUMN password_hash DROP NOT NULL;
-- Read with the user on every page view (the session's one statement), never the hash itself.
ALTER TABLE users ADD COLUMN has_password boolean GENERATED ALWAYS AS (password_hash IS NOT NULL) STORED;

INSERT INTO auth_event_kinds (kind) VALUES ('identity_linked'), ('identity_unlinked'), ('identity_refused');

-- Down Migration
DELETE FROM auth_events WHERE event IN ('identity_linked', 'identity_unlinked', 'identity_refused');
DELETE FROM auth_event_kinds WHERE kind IN ('identity_linked', 'identity_unlinked', 'identity_refused');
DELETE FROM users WHERE password_hash IS NULL;
ALTER TABLE users DROP COLUMN has_password;
ALTER TABLE users ALTER COLUMN password_hash SET NOT NULL;
DROP TABLE identities;
