-- Up Migration
-- Mail waiting to leave, and what became of it: a durable queue of our own. Not pg-boss or
-- graphile-worker: the embedded Postgres runs every connection on one backend session, so
-- session state they rely on (advisory locks, LISTEN) is unsafe there. Each claim is one
-- UPDATE ... FOR UPDATE SKIP LOCKED statement instead, which is safe on both.
CREATE TABLE mail_outbox (
  id           bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  recipient    text        NOT NULL,
  template     text        NOT NULL,
  -- The template's data, sealed with AES-256-GCM (it holds one-time tokens); NULL once the
  -- message is sent or has finally failed, so old rows hold no live secret.
  payload      bytea,
  attempts     integer     NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  max_attempts integer     NOT NULL DEFAULT 5 CHECK (max_attempts > 0),
  run_at       timestamptz NOT NULL DEFAULT now(),
  -- A worker's lease while it sends; one that died lets it lapse and another worker retries.
  locked_until timestamptz,
  sent_at      timestamptz,
  failed_at    timestamptz,
  last_error   text,
  created_at   timestamptz NOT NULL DEFAULT now()
);

-- The claim query reads only messages still to send, oldest due first.
CREATE INDEX mail_outbox_due_idx ON mail_outbox (run_at, id) WHERE sent_at IS NULL AND failed_at IS NULL;

-- Down Migration
DROP TABLE mail_outbox;
