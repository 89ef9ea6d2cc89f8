-- Up Migration
-- The kinds of audit event, as rows rather than a CHECK list: migrations 004 and 008 to 011
-- each dropped and rewrote the whole list (and its down step) to add a few, a table scan under
-- an exclusive lock every time. From here on a new kind is one INSERT, and its down step one
-- DELETE.
CREATE TABLE auth_event_kinds (
  kind text PRIMARY KEY CHECK (kind ~ '^[a-z_]{1,40}$')
);

INSERT INTO auth_event_kinds (kind) VALUES
  ('signup'), ('login'), ('login_failed'), ('throttled'), ('logout'),
  ('profile_changed'), ('email_changed'), ('email_change_requested'), ('email_verified'),
  ('email_change_cancelled'), ('email_change_reverted'),
  ('password_changed'), ('password_reset_requested'), ('password_reset'),
  ('session_ended'), ('sessions_ended'), ('account_deleted'), ('deactivated'), ('activated'),
  ('second_factor_required'), ('second_factor_failed'),
  ('totp_enabled'), ('totp_disabled'), ('recovery_codes_generated'), ('recovery_code_used'), ('mfa_reset'),
  ('passkey_added'), ('passkey_removed'), ('passkey_failed'),
  ('login_confirmed'), ('data_exported');

ALTER TABLE auth_events
  ADD CONSTRAINT auth_events_event_fkey FOREIGN KEY (event) REFERENCES auth_event_kinds (kind);
ALTER TABLE auth_events DROP CONSTRAINT auth_events_event_check;

-- Down Migration
-- The CHECK list again, built from the rows so it is not written out a sixth time.
DO $$
BEGIN
  EXECUTE format(
    'ALTER TABLE auth_events ADD CONSTRAINT auth_events_event_check CHECK (event IN (%s))',
    (SELECT string_agg(quote_literal(kind), ', ' ORDER BY kind) FROM auth_event_kinds)
  );
END
$$;
ALTER TABLE auth_events DROP CONSTRAINT auth_events_event_fkey;
DROP TABLE auth_event_kinds;
