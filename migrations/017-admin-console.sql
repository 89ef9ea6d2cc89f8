-- Up Migration
-- The admin console (issue 23). Who is an admin is a row here, made and removed only by the admin
-- command (admin:grant, admin:revoke): no page writes this table.
CREATE TABLE admin_roles (
  user_id    bigint      PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
  granted_at timestamptz NOT NULL DEFAULT now()
);

-- Who did it, when it was not the account's owner: the admin whose console action this row records
-- (user_id stays the account it was done to). Null for everything the owner, a visitor or the
-- admin command did.
ALTER TABLE auth_events ADD COLUMN actor_id bigint REFERENCES users (id) ON DELETE SET NULL;

-- The console's search: a prefix of the email or the name, in any case. text_pattern_ops lets
-- LIKE 'prefix%' use the index whatever the database's collation.
CREATE INDEX users_email_prefix_idx ON users (lower(email) text_pattern_ops);
CREATE INDEX users_name_prefix_idx ON users (lower(name) text_pattern_ops);
-- Its list is newest first.
CREATE INDEX users_created_idx ON users (created_at DESC, id DESC);

INSERT INTO auth_event_kinds (kind) VALUES ('admin_granted'), ('admin_revoked');

-- Down Migration
DELETE FROM auth_events WHERE event IN ('admin_granted', 'admin_revoked');
DELETE FROM auth_event_kinds WHERE kind IN ('admin_granted', 'admin_revoked');
DROP INDEX users_created_idx;
DROP INDEX users_name_prefix_idx;
DROP INDEX users_email_prefix_idx;
ALTER TABLE auth_events DROP COLUMN actor_id;
DROP TABLE admin_roles;
