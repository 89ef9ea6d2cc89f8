-- Up Migration
-- The user's own pages: a confirmed login before a sensitive page, and the export of their data.
ALTER TABLE auth_events DROP CONSTRAINT auth_events_event_check;
ALTER TABLE auth_events ADD CONSTRAINT auth_events_event_check CHECK (event IN (
  'signup', 'login', 'login_failed', 'throttled', 'logout',
  'profile_changed', 'email_changed', 'email_change_requested', 'email_verified',
  'email_change_cancelled', 'email_change_reverted',
  'password_changed', 'password_reset_requested', 'password_reset',
  'session_ended', 'sessions_ended', 'account_deleted', 'deactivated', 'activated',
  'second_factor_required', 'second_factor_failed',
  'totp_enabled', 'totp_disabled', 'recovery_codes_generated', 'recovery_code_used', 'mfa_reset',
  'passkey_added', 'passkey_removed', 'passkey_failed',
  'login_confirmed', 'data_exported'
));

-- Down Migration
ALTER TABLE auth_events DROP CONSTRAINT auth_events_event_check;
DELETE FROM auth_events WHERE event IN ('login_confirmed', 'data_exported');
ALTER TABLE auth_events ADD CONSTRAINT auth_events_event_check CHECK (event IN (
  'signup', 'login', 'login_failed', 'throttled', 'logout',
  'profile_changed', 'email_changed', 'email_change_requested', 'email_verified',
  'email_change_cancelled', 'email_change_reverted',
  'password_changed', 'password_reset_requested', 'password_reset',
  'session_ended', 'sessions_ended', 'account_deleted', 'deactivated', 'activated',
  'second_factor_required', 'second_factor_failed',
  'totp_enabled', 'totp_disabled', 'recovery_codes_generated', 'recovery_code_used', 'mfa_reset',
  'passkey_added', 'passkey_removed', 'passkey_failed'
));
