import type { AuthEventKind } from './audit/auth-events-repo.js';

/**
 * Every sentence Gatehouse says to a person from its code: field errors, flash messages, error
 * pages, limits. A site rewords or translates them here without touching a route. (The words
 * of the pages themselves are in views/, and those of the mail in src/mail/mail-templates.ts.)
 * The behaviour contract's messages are quoted word for word; tests hold them to it.
 */
export const messages = {
  /** /account/activity and the export: what each kind of event in the history was. */
  activity: {
    signup: 'Account created',
    login: 'Logged in',
    login_failed: 'Failed login attempt',
    throttled: 'Attempts refused: too many tries',
    logout: 'Logged out',
    profile_changed: 'Profile changed',
    email_changed: 'Email address changed',
    email_change_requested: 'Email change asked for',
    email_verified: 'Email address confirmed',
    email_change_cancelled: 'Email change cancelled',
    email_change_reverted: 'Email change undone',
    password_changed: 'Password changed',
    password_reset_requested: 'Password reset asked for',
    password_reset: 'Password reset',
    session_ended: 'A session was signed out',
    sessions_ended: 'Signed out everywhere else',
    account_deleted: 'Account deleted',
    deactivated: 'Account deactivated',
    activated: 'Account reactivated',
    second_factor_required: 'Right password, second step asked for',
    second_factor_failed: 'Second step failed',
    totp_enabled: 'Authenticator app turned on',
    totp_disabled: 'Authenticator app turned off',
    recovery_codes_generated: 'New recovery codes made',
    recovery_code_used: 'Recovery code used',
    mfa_reset: 'Second factors removed by an administrator',
    passkey_added: 'Passkey added',
    passkey_removed: 'Passkey removed',
    passkey_failed: 'Passkey refused',
    login_confirmed: 'Confirmed it was you',
    data_exported: 'Your data downloaded',
  } satisfies Record<AuthEventKind, string>,

  /** /account/confirm: proving it is you again before a sensitive page. */
  confirm: {
    wrongPassword: 'That is not your current password.',
    codeDidntWork: "That code didn't work. Try the newest code from your app.",
    passkeyDidntWork: "That passkey didn't work. Try again, or use your password.",
    tooManyPasswords: 'password attempts',
    tooManyCodes: 'wrong codes',
  },
} as const;
