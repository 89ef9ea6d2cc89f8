-- Up Migration
-- What someone who has the password can do to an account with a second factor (issue 19).

-- The key of the account's device cookies: a browser's cookie is signed over it, and a password
-- change or reset draws a new one, so browsers trusted before the change are trusted no more.
ALTER TABLE users ADD COLUMN device_key uuid NOT NULL DEFAULT gen_random_uuid();

-- Wrong second-factor codes per account. `failures` counts those from browsers the owner has not
-- completed a login in, since the last right code (or password change): the first few are free,
-- then each waits until `next_at`, and at the cap they stop. `day_failures` counts every wrong code
-- in the day from `day_started_at`, for the owner's warning, mailed at most once a day (`warned_at`).
-- Times are the app's clock, written by the app.
CREATE TABLE second_factor_guesses (
  user_id        bigint      PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
  failures       integer     NOT NULL DEFAULT 0 CHECK (failures >= 0),
  next_at        timestamptz,
  day_started_at timestamptz,
  day_failures   integer     NOT NULL DEFAULT 0 CHECK (day_failures >= 0),
  warned_at      timestamptz
);

-- Down Migration
DROP TABLE second_factor_guesses;
ALTER TABLE users DROP COLUMN device_key;
