-- Up Migration
CREATE TABLE users (
  id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name          text        NOT NULL CHECK (char_length(name) BETWEEN 1 AND 100),
  email         text        NOT NULL CHECK (char_length(email) <= 254),
  password_hash text        NOT NULL,
  website       text        CHECK (website IS NULL OR char_length(website) <= 200),
  is_active     boolean     NOT NULL DEFAULT true,
  created_at    timestamptz NOT NULL DEFAULT now(),
  last_login_at timestamptz
);

-- Emails are unique whatever their case; the app also stores them lower-cased.
CREATE UNIQUE INDEX users_email_lower_key ON users (lower(email));

-- Down Migration
DROP TABLE users;
