-- Up Migration
-- Sign-in codes by email (issue 20): one row per request from a browser that holds its signed
-- cookie. The row is found by the SHA-256 of that cookie's nonce (the browser's, never stored),
-- and holds only a MAC of the code; it works once, until expires_at, and 5 wrong tries kill it.
CREATE TABLE login_codes (
  request_hash bytea       PRIMARY KEY,
  user_id      bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  -- The address the code was mailed to: using the code proves it (while it is still the account's).
  email        text        NOT NULL,
  code_mac     bytea       NOT NULL,
  tries        integer     NOT NULL DEFAULT 0 CHECK (tries >= 0),
  created_at   timestamptz NOT NULL DEFAULT now(),
  expires_at   timestamptz NOT NULL
);
CREATE INDEX login_codes_expires_idx ON login_codes (expires_at);

INSERT INTO auth_event_kinds (kind) VALUES ('login_code_sent');

-- Down Migration
DELETE FROM auth_events WHERE event = 'login_code_sent';
DELETE FROM auth_event_kinds WHERE kind = 'login_code_sent';
DROP TABLE login_codes;
