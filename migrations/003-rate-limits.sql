-- Up Migration
-- The layout rate-limiter-flexible's Postgres store expects. Keys are
-- "<limiter>:<sha256 hex>", so no email or address is stored in the clear.
-- expire is in milliseconds since the epoch, as the library writes it.
CREATE TABLE rate_limits (
  key    varchar(255) PRIMARY KEY,
  points integer      NOT NULL DEFAULT 0,
  expire bigint
);

CREATE INDEX rate_limits_expire_idx ON rate_limits (expire);

-- Down Migration
DROP TABLE rate_limits;
