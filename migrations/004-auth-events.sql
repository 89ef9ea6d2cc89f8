-- Up Migration
-- The audit trail of authentication (ASVS 16.3.1): who, what, from where, when.
CREATE TABLE auth_events (
  id         bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  user_id    bigint      REFERENCES users (id) ON DELETE SET NULL,
  event      text        NOT NULL CHECK (event IN ('signup', 'login', 'login_failed', 'throttled', 'logout')),
  ip         text,
  user_agent text,
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX auth_events_user_idx ON auth_events (user_id, created_at);
CREATE INDEX auth_events_created_idx ON auth_events (created_at);

-- Down Migration
DROP TABLE auth_events;
