-- Up Migration
-- The layout connect-pg-simple expects (its table.sql), under our table name.
CREATE TABLE sessions (
  sid    varchar      NOT NULL COLLATE "default" PRIMARY KEY,
  sess   json         NOT NULL,
  expire timestamp(6) NOT NULL
);

CREATE INDEX sessions_expire_idx ON sessions (expire);

-- Down Migration
DROP TABLE sessions;
