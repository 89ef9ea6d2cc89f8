import type { AuthEventKind } from './audit/auth-events-repo.js';
import { MAX_PASSWORD_BYTES } from './users/passwords.js';

// Said twice in the recovery codes group: written once, so that the two cannot drift apart.
const codesLeft = (n: number) => `You have ${n} recovery code${n === 1 ? '' : 's'} left.`;

/**
 * Every sentence Gatehouse says to a person from its code: field errors, flash messages, error
 * pages, limits. A site rewords or translates them here without touching a route. (The words
 * of the pages themselves are in views/, and those of the mail in src/mail/mail-templates.ts.)
 * The behaviour contract's messages are quoted word for word; tests hold them to it.
 */
export const messages = {
  /** Field errors: the rules in forms/fields.ts, shared by every form that has the field. */
  fields: {
    required: 'This field is required.',
    invalidEmail: 'Enter a valid email.',
    invalidUrl: 'Enter a valid URL.',
    nameTooLong: 'Name must be at most 100 characters.',
    nameHasControl: 'Name cannot contain control characters.',
    weakPassword: 'Select a stronger password.',
    passwordTooLong: `Password must be at most ${MAX_PASSWORD_BYTES} bytes (accented letters and emoji count as 2 to 4).`,
    commonPassword: 'This password is too common.',
    passwordHasNul: 'Password cannot contain a NUL character.',
    passwordsDiffer: 'Passwords must match.',
    currentPasswordRequired: 'Enter your current password.',
    /** The current password, re-entered before a change (account, security, passkeys), was wrong. */
    wrongPassword: 'That is not your current password.',
    /** Signing up with, or changing to, an address another account has. */
    emailTaken: 'A user already exists with that email address.',
  },

  signup: {
    /** When logging in needs a confirmed address: the new account waits for its link. */
    linkSent: (email: string) => `Your account is ready. We have sent a link to ${email}: follow it, then log in.`,
    welcome: 'Welcome to Gatehouse! Your account is ready.',
  },

  login: {
    badLogin: 'Invalid email/password combination.',
    unverified:
      'Confirm your email address before you log in: follow the link we sent to it. No link, or too late? Send a new one below.',
    /** A page behind login, asked for by a visitor. */
    required: 'You must be logged in to view that page.',
    /** The session outlived its absolute lifetime (or its login time could not be believed). */
    sessionExpired: 'Your session has expired. Please log in again.',
  },

  logout: {
    loggedOut: 'You have been logged out.',
  },

  account: {
    profileSaved: 'Your profile was saved.',
    samePassword: 'Choose a password different from your current one.',
    passwordChanged: 'Your password was changed, and every other session of your account has been signed out.',
    tickToDelete: 'Tick the box to confirm that the account should be deleted.',
    deleted: 'Your account and its sessions have been deleted. Goodbye.',
  },

  /** /account/sessions. */
  sessions: {
    ended: 'That session has been signed out.',
    alreadyEnded: 'That session had already ended.',
    noOthers: 'There were no other sessions.',
    signedOutEverywhere: (n: number) => `Signed out everywhere else (${n} session${n === 1 ? '' : 's'}).`,
  },

  /** Changing the address, and confirming one with its mailed link. */
  email: {
    changeLinkSent: (email: string) => `We have sent a link to ${email}. Your address changes when you follow it.`,
    /** A change asked for to the address the account already has. */
    unchanged: (email: string) => `Your email address stays ${email}.`,
    changeConfirmed: 'Your new email address is confirmed: log in with it from now on.',
    confirmed: 'Your email address is confirmed. Thank you.',
    alreadyConfirmed: 'Your email address is already confirmed.',
    newLinkSent: (email: string) => `We have sent a new link to ${email}.`,
    /** "Send the link again" from the login page: the same answer whether or not the address is waiting. */
    resendSent: 'If that address is waiting to be confirmed, we have sent a new link to it.',
    /** The 409 when the address being confirmed went to another account in the meantime. */
    takenMeanwhile: 'That address now belongs to another account, so it cannot become yours.',
    /** The 409 when "cancel this change" cannot put the old address back. */
    oldAddressTaken: (email: string) =>
      `Your old address, ${email}, now belongs to another account, so it cannot be put back. Write to the site's support.`,
  },

  passwordReset: {
    /** The same answer whether or not the address has an account. */
    linkSent: 'If an account exists for that address, we have sent a link.',
    done: 'Your password has been reset, and every other session of your account has been signed out.',
    /** The title of the page for a reset link opened while logged in to another account. */
    otherAccount: 'This link is for another account',
  },

  /** Signing in with a code by email. */
  loginCode: {
    /** The link on the login page. */
    wayIn: 'Email me a sign-in code',
    /** The same answer whether or not the address has an account. */
    sent: (email: string) =>
      `If an account exists for ${email}, we have sent it a sign-in code. It works for 15 minutes.`,
    didntWork: "That code didn't work. Type the code from the newest mail we sent.",
    dead: 'That code has expired, has been used, or had too many wrong tries. Ask for a new one.',
    askFirst: 'Ask for a sign-in code first: it works only in the browser that asked for it.',
  },

  /** Signing in with an identity provider (OpenID Connect, GitHub), and connecting one. */
  identities: {
    continueWith: (label: string) => `Continue with ${label}`,
    /** The provider said no (the person pressed Cancel), or its answer could not be checked. */
    cancelled: (label: string) =>
      `Signing in with ${label} was cancelled or did not finish. Try again, or log in another way.`,
    failed: (label: string) => `${label} did not confirm who you are. Try again, or log in another way.`,
    /** The browser came back without the request it started (another browser, a used or old request). */
    startAgain: (label: string) => `That sign-in with ${label} has expired or was already used. Start again.`,
    noEmail: (label: string) =>
      `${label} did not give us an email address, so we cannot make an account with it. Sign up with your email instead.`,
    inactive: "That account is deactivated. Contact the site's staff to have it reactivated.",
    /** An unknown identity whose address an account already has: never linked on its own. */
    addressTaken: (label: string) =>
      `An account already uses the address ${label} gave us. If it is yours, log in to it another way, then connect ${label} from Security in your account.`,
    connected: (label: string) => `${label} is connected: you can now sign in with it.`,
    alreadyConnected: (label: string) => `That ${label} account is already connected to your account.`,
    linkedElsewhere: (label: string) =>
      `That ${label} account is connected to another account here. Disconnect it there first.`,
    wrongUser: 'You were signed in as someone else when the provider answered. Nothing was changed.',
    disconnected: (label: string) => `${label} is disconnected.`,
    alreadyGone: 'That connection was already gone.',
    lastWayIn: 'This is the only way into your account. Set a password or add a passkey before you disconnect it.',
    notRecentEnough: (label: string) => `${label} did not ask you to sign in again. Try again.`,
    /** "Set a password" on an account without one: a link, like a reset. */
    setPasswordSent: (email: string) =>
      `We have sent a link to ${email}. Follow it to choose a password; every browser is then signed out.`,
    hasPasswordAlready: 'Your account has a password already: change it here.',
    signInAgain: (label: string) => `Sign in again with ${label}`,
  },

  /** The authenticator app: setting it up and off, and the second step of a login. */
  twoFactor: {
    enterCode: 'Enter the 6-digit code from your app.',
    codeDidntWork: "That code didn't work. Try the newest code from your app.",
    alreadySetUp: 'Your authenticator app is already set up.',
    turnedOff: 'Two-step sign-in with your authenticator app is off.',
    notSetUp: 'Your authenticator app was not set up.',
    /** A 500: the enrolment's QR code and key could not be made. */
    setUpNotShown: 'The set-up could not be shown.',
    /** The login waiting for its second step ran out, or was already finished. */
    logInAgain: 'Your sign-in took too long, or was already finished. Log in again.',
  },

  recoveryCodes: {
    didntWork: "That recovery code didn't work. Check it, or use another one.",
    needAFactor: 'Set up an authenticator app or a passkey first: recovery codes stand in for them.',
    /** Headings of the page that shows new codes, once. */
    appOnHeading: 'Two-step sign-in is on',
    newCodesHeading: 'Your new recovery codes',
    passkeyAddedHeading: (name: string) => `Your passkey "${name}" is added`,
    /** The codes' .txt download, from the security page. */
    fileInPlaceOfApp: (email: string, codes: readonly string[]) =>
      `Gatehouse recovery codes for ${email}\nEach works once, in place of a code from your app.\n\n${codes.join('\n')}\n`,
    /** …and after the account's first passkey. */
    fileInPlaceOfPasskey: (email: string, codes: readonly string[]) =>
      `Gatehouse recovery codes for ${email}\nEach works once, in place of your passkey.\n\n${codes.join('\n')}\n`,
    /** After a login with a recovery code. */
    left: codesLeft,
    /** …when so few are left that the user should make new ones (a warning). */
    fewLeft: (n: number) => `${codesLeft(n)} Make new ones now, on your security page (Account, then Security).`,
  },

  passkeys: {
    nameRequired: 'Give the passkey a name you will recognise, like "Phone" or "Laptop".',
    nameTooLong: 'A name of at most 64 characters, please.',
    nameHasControl: 'The name cannot contain control characters.',
    notAdded: 'The passkey could not be added. Try again, or use another device.',
    /** On the login page, the second step, or (without JavaScript's help) in the flash after confirming it is you. */
    didntWork: "That passkey didn't work. Try again, or use your password.",
    /** The 409 for a site reached by its IP address: WebAuthn needs a domain name. */
    needName: 'Passkeys need the site to be reached by name, not by address.',
    added: (name: string) => `Your passkey "${name}" is added.`,
    removed: (name: string) => `Your passkey "${name}" is removed.`,
    alreadyGone: 'That passkey was already gone.',
  },

  /** The admin console (/admin). */
  console: {
    badQuery:
      'That search or filter is not one the console understands: check the dates (YYYY-MM-DD), the kind and the address.',
    refused: {
      ownAccount: 'You cannot change your own account from the admin console: use your account pages.',
      otherAdmin:
        "Another admin's account can only be signed out from the console: revoke their admin role first (npm run users -- admin:revoke EMAIL).",
      inactive: 'This account is deactivated: reactivate it first.',
      notConfirmed: 'Nothing was done: confirm the action on its confirmation page, which names the account.',
    },
    /** Each action: its button, the confirmation page's words, and the notice once done. */
    actions: {
      'end-sessions': {
        label: 'Sign out every session',
        explain:
          'Every browser signed in to this account is signed out at once, and a pending email change is cancelled. The owner is told by email.',
        done: 'Every session of the account was signed out; the owner was told.',
        unchanged: 'The account had no open session; nothing to sign out (recorded).',
      },
      deactivate: {
        label: 'Deactivate',
        explain:
          'The account can no longer log in, and every session of it ends now. The owner is told by email. It can be reactivated later.',
        done: 'The account was deactivated and its sessions ended; the owner was told.',
        unchanged: 'The account was already deactivated.',
      },
      reactivate: {
        label: 'Reactivate',
        explain: 'The account can log in again with its password. The owner is told by email.',
        done: 'The account was reactivated; the owner was told.',
        unchanged: 'The account was already active.',
      },
      'send-reset': {
        label: 'Send a password reset link',
        explain:
          'A link to choose a new password is mailed to the account’s address (earlier links stop working). Nothing else changes until the owner uses it.',
        done: 'A password reset link was mailed to the account’s address.',
        unchanged: 'No link was sent.',
      },
      'reset-factors': {
        label: 'Reset the second factor',
        explain:
          'The authenticator app, every recovery code and every passkey are removed, so the password alone logs in again (as npm run users -- mfa:reset). Do this only once you are sure the owner is asking. The owner is told by email.',
        done: 'Every second factor was removed; the owner was told.',
        unchanged: 'The account had no second factor.',
      },
      'verify-email': {
        label: 'Mark the address verified',
        explain:
          'The account’s current address counts as confirmed, as if its owner had followed the link mailed to it. The owner is told by email.',
        done: 'The address was marked verified; the owner was told.',
        unchanged: 'The address was already verified.',
      },
      'remove-passkey': {
        label: 'Remove',
        explain: 'This passkey can no longer sign in to the account. The owner is told by email.',
        done: 'The passkey was removed; the owner was told.',
        unchanged: 'The passkey was already gone.',
      },
    },
  },

  /** /account/activity: who did what an admin did from the console (which admin is not said). */
  activityByAdmin: 'by an administrator',

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
    login_code_sent: 'Sign-in code sent by email',
    admin_granted: 'Made an administrator',
    admin_revoked: 'No longer an administrator',
    identity_linked: 'Sign-in provider connected',
    identity_unlinked: 'Sign-in provider disconnected',
    identity_refused: 'Sign-in provider refused',
  } satisfies Record<AuthEventKind, string>,

  /** The error page (views/error.njk): its title by status, and the message under it. */
  errors: {
    titles: {
      400: 'Bad request',
      403: 'Forbidden',
      404: 'Page not found',
      405: 'Method not allowed',
      413: 'Request too large',
      415: 'Unsupported form encoding',
      429: 'Too many attempts',
      500: 'Something went wrong',
      503: 'Temporarily unavailable',
    },
    /** The title for a status not listed above. */
    otherTitle: 'Error',
    notFound: 'There is no page at this address.',
    methodNotAllowed: 'This page does not answer that kind of request.',
    crossSite: 'This form was sent from another site, so it was refused.',
    /** A body that is not the form it was sent to: unknown, repeated or non-text fields. */
    malformedForm: 'The form you sent had missing, repeated or unexpected fields. Reload the page and try again.',
    notUtf8: 'The form you sent was not valid UTF-8 text. Reload the page and try again.',
    /** The errors body-parser and csrf-sync raise, by their `type` or `code`. */
    library: {
      'entity.too.large': 'The form you sent is too large.',
      'parameters.too.many': 'The form you sent has too many fields.',
      'entity.parse.failed': 'The form you sent could not be read.',
      'encoding.unsupported': 'The form you sent uses an encoding this site does not read.',
      'charset.unsupported': 'Forms must be sent as UTF-8.',
      'request.aborted': 'The request was cut short.',
      EBADCSRFTOKEN: 'This form has expired or was sent from another site. Go back, reload the page and try again.',
    },
    /** Any other 4xx a library raises. */
    otherClientError: 'The request could not be handled.',
    /** The 503 while the database cannot be reached. */
    unavailable: 'Gatehouse is temporarily unavailable. Please try again in a minute.',
    internal: 'Something went wrong on our side. Please try again in a moment.',
  },

  /** The 429 for a visitor over a limit, and what each limit counts. */
  limits: {
    /** `at` is when the wait ends, as HH:MM in UTC. */
    tooMany: (what: string, minutes: number, at: string) =>
      `Too many ${what}. Try again in ${minutes} minute${minutes === 1 ? '' : 's'} (after ${at} UTC).`,
    failedLogins: 'failed logins',
    signUps: 'sign-ups',
    /** The current password re-entered on the account pages. */
    wrongPasswords: 'wrong passwords',
    passwordAttempts: 'password attempts',
    wrongCodes: 'wrong codes',
    /** Passkey answers, at login or confirming it is you. */
    failedSignIns: 'failed sign-ins',
    linkRequests: 'requests for a link',
    adminSearches: 'searches in the admin console',
    adminActions: 'actions in the admin console',
    codeRequests: 'requests for a sign-in code',
    emailChangeRequests: 'requests to change your address',
    linksToAddress: 'links sent to that address',
  },
} as const;
