import { type AuthEventsRepo, recorder } from '../audit/auth-events-repo.js';
import type { Db } from '../db/database.js';
import type { Transactions } from '../db/transactions.js';
import { type Caller, networkOf } from '../flows/caller.js';
import type { EnforceLimit } from '../flows/limits.js';
import type { LockOut } from '../flows/lock-out.js';
import type { PasswordResetFlow } from '../flows/password-reset.js';
import { type Result, done, refused } from '../flows/result.js';
import type { Throttle } from '../login/throttle.js';
import { messages } from '../messages.js';
import type { Logger } from '../http/logging.js';
import type { MailRequest, Mailer } from '../mail/mail-queue.js';
import type { FactorChange, TemplateData, TemplateName } from '../mail/mail-templates.js';
import { browserName } from '../sessions/browser-name.js';
import type { AccountTokensRepo } from '../users/account-tokens-repo.js';
import type { Origin } from '../users/origin.js';
import type { User, UsersRepo } from '../users/users-repo.js';
import type { KnownBrowsersRepo } from './known-browsers-repo.js';
import { browserFingerprint, hashOfLinkToken, newLinkToken } from './link-tokens.js';

export const RESET_LINK_MINUTES = 60;
export const VERIFY_LINK_HOURS = 48;
/** The owner can cancel an email change (or undo one that happened) this long after it was asked for. */
export const CANCEL_LINK_DAYS = 7;

export interface EmailFlowsDeps {
  readonly users: UsersRepo;
  readonly tokens: AccountTokensRepo;
  readonly browsers: KnownBrowsersRepo;
  readonly events: AuthEventsRepo;
  /** Where a reset link leads: the password reset flow. */
  readonly passwordReset: Pick<PasswordResetFlow, 'resetPassword'>;
  /** What the cancel link does to whoever else holds the account. */
  readonly lockOut: Pick<LockOut, 'secureAccount'>;
  /** Mailed links and codes are limited per address and network. */
  readonly throttle: Pick<Throttle, 'mailLinkRequest'>;
  readonly enforce: EnforceLimit;
  readonly mailer: Mailer;
  /** Where mail is queued: the database the repos are built on, so a change's mail joins its transaction. */
  readonly db: Db;
  readonly atomically: Transactions['atomically'];
  readonly optional: Transactions['optional'];
  readonly logger: Logger;
  /** The absolute base of links in mail. */
  readonly publicUrl: string;
}

/** A verification link followed: the address confirmed, or the account moved to it (`changed`). */
export type VerifyResult = Result<{ changed: boolean }, 'link-dead' | 'taken'>;

/** What following a "Cancel this change" link came to, and the address the account has now. */
export type CancelResult =
  | Result<{ outcome: 'cancelled' | 'reverted' | 'nothing'; email: string; sessionsEnded: number }, 'link-dead'>
  | { readonly ok: false; readonly reason: 'taken'; readonly email: string };

/**
 * The name to greet with, in mail to the user's own address: only once it has proven itself.
 * Mail to any other address (a new one being verified) has no greeting: it carries no text a visitor typed.
 */
const greetingFor = (user: User): { name?: string } => (user.emailVerifiedAt !== null ? { name: user.name } : {});

/** What every notice of something done to an account tells: the greeting, when, and from which address and browser. */
interface NoticeFacts {
  readonly name?: string;
  readonly when: Date;
  readonly ip: string;
  readonly browser: string;
}

/** What mail does for an account: password reset, address verification, security notices. No HTTP here. */
export function emailFlows({
  users,
  tokens,
  browsers,
  events,
  passwordReset,
  lockOut,
  throttle,
  enforce,
  mailer,
  db,
  atomically,
  optional,
  logger,
  publicUrl,
}: EmailFlowsDeps) {
  const record = recorder(events);
  /**
   * Mailed links are limited per address and network (a 429 when over). The refusal is recorded
   * under no account: looking the address up here would make the answer differ by whether it has one.
   */
  const limitLinks = async (address: string, caller: Caller, what: string): Promise<void> =>
    enforce(await throttle.mailLinkRequest(address, networkOf(caller)), caller.origin, what);
  const queue = <T extends TemplateName>(request: MailRequest<T>) => mailer.send(request, { db });

  /**
   * A notice tells the owner of something that has already happened: one that cannot be built
   * or queued is logged as an error and never fails (or undoes) the request or the change it is
   * part of (a savepoint inside the change's transaction). True when queued.
   */
  async function notify(what: string, userId: number, send: () => Promise<unknown>): Promise<boolean> {
    try {
      await optional(send);
      return true;
    } catch (error) {
      logger.error({ err: error, notice: what, userId }, 'a notice could not be queued');
      return false;
    }
  }

  /**
   * Tells the owner, at the account's address, of something done from `origin`: `data` makes the
   * template's data from the facts every such notice has. Never fails the request (notify).
   */
  const tellOwner = <T extends TemplateName>(
    user: User,
    origin: Origin,
    template: T,
    data: (facts: NoticeFacts) => TemplateData<T>,
    what: string = template,
  ): Promise<boolean> =>
    notify(what, user.id, () =>
      queue({
        to: user.email,
        template,
        data: data({
          ...greetingFor(user),
          when: new Date(),
          ip: origin.ip ?? 'unknown',
          browser: browserName(origin.userAgent),
        }),
      }),
    );

  async function sendVerification(user: User, address: string): Promise<void> {
    const token = newLinkToken();
    await tokens.replace(user.id, 'verify_email', token.hash, address, VERIFY_LINK_HOURS * 3600);
    await queue({
      to: address,
      template: 'verify-email',
      data: { link: `${publicUrl}/email/verify?token=${token.raw}`, expiresInHours: VERIFY_LINK_HOURS },
    });
  }

  // (This template's key for the browser is userAgent: mail already queued is parsed with it.)
  const notifyPasswordChanged = (user: User, origin: Origin) =>
    tellOwner(user, origin, 'password-changed', ({ browser, ...facts }) => ({ ...facts, userAgent: browser }));

  /** Sends a reset link when the address belongs to an active account; does nothing otherwise. */
  async function requestPasswordReset(email: string, origin: Origin): Promise<void> {
    const found = await users.findByEmail(email);
    if (!found?.isActive) return;
    const token = newLinkToken();
    await atomically(async () => {
      await tokens.replace(found.id, 'password_reset', token.hash, found.email, RESET_LINK_MINUTES * 60);
      await queue({
        to: found.email,
        template: 'password-reset',
        data: {
          ...greetingFor(found),
          link: `${publicUrl}/password/reset?token=${token.raw}`,
          expiresInMinutes: RESET_LINK_MINUTES,
        },
      });
      await record('password_reset_requested', found.id, origin);
    });
  }

  /** "Send the link again" from the login page: only an active account still waiting for it gets one. */
  async function resendVerification(email: string): Promise<void> {
    const found = await users.findByEmail(email);
    if (!found?.isActive || found.emailVerifiedAt !== null) return;
    await sendVerification(found, found.email);
  }

  // The worker finds out whether there is an account; the request only queued the question.
  mailer.onJob('password-reset-request', ({ email, ip, userAgent }) => requestPasswordReset(email, { ip, userAgent }));
  mailer.onJob('verification-resend-request', ({ email }) => resendVerification(email));

  return {
    /**
     * Asks for a reset link to `email`. The same work whatever the address: a job is queued,
     * and the worker looks for the account. Callers answer the same either way.
     */
    async askForPasswordReset(email: string, caller: Caller): Promise<void> {
      await limitLinks(email, caller, messages.limits.linkRequests);
      const { origin } = caller;
      await mailer.queueJob('password-reset-request', { email, ip: origin.ip, userAgent: origin.userAgent });
    },

    /**
     * "Send the link again": the signed-in user's link to the address they are proving (`sent`;
     * `nothing-to-prove` when it is proven and no change is pending), or, for an address typed on
     * the login page (null when it is not one), queued like a reset request (`queued`). Limited
     * per address and network, whoever asks.
     */
    async askForVerificationAgain(
      user: User | null,
      typed: string | null,
      address: string,
      caller: Caller,
    ): Promise<Result<{ sent: 'sent' | 'queued' }, 'nothing-to-prove'>> {
      await limitLinks(address, caller, messages.limits.linkRequests);
      if (user) {
        if (user.emailVerifiedAt && !user.pendingEmail) return refused('nothing-to-prove');
        await sendVerification(user, user.pendingEmail ?? user.email);
        return done({ sent: 'sent' });
      }
      if (typed !== null) await mailer.queueJob('verification-resend-request', { email: typed });
      return done({ sent: 'queued' });
    },

    /** The account a reset link is for, while the link is live; it stays usable. */
    async resetLinkOwner(rawToken: unknown): Promise<User | null> {
      const hash = hashOfLinkToken(rawToken);
      const token = hash && (await tokens.peek('password_reset', hash));
      return token ? users.findActiveById(token.userId) : null;
    },

    /**
     * Uses the link up and sets the new password (accounts.resetPassword: every session of the
     * user ends, and the rest, in one transaction). Null when the link is not live.
     */
    async resetPassword(
      rawToken: unknown,
      newPassword: string,
      origin: Origin,
    ): Promise<Result<{ user: User }, 'link-dead'>> {
      const hash = hashOfLinkToken(rawToken);
      return hash ? passwordReset.resetPassword(hash, newPassword, origin) : refused('link-dead');
    },

    /** A password was changed or reset: the owner is told (inside the change's transaction). */
    async passwordChanged(user: User, origin: Origin): Promise<void> {
      await notifyPasswordChanged(user, origin);
    },

    /** A link to prove the address the user has, or the one they asked to move to. */
    sendVerification: (user: User): Promise<void> => sendVerification(user, user.pendingEmail ?? user.email),

    /**
     * The new address gets a link; the old one is told, with a link that cancels the change
     * (or, once it has happened, undoes it), in case this was not its owner.
     */
    async emailChangeRequested(user: User, newEmail: string): Promise<void> {
      await sendVerification(user, newEmail);
      const cancel = newLinkToken();
      await tokens.replace(user.id, 'cancel_email_change', cancel.hash, user.email, CANCEL_LINK_DAYS * 86400, newEmail);
      await notify('email-change-requested', user.id, () =>
        queue({
          to: user.email,
          template: 'email-change-requested',
          data: {
            ...greetingFor(user),
            newEmail,
            cancelLink: `${publicUrl}/email/change/cancel?token=${cancel.raw}`,
            expiresInDays: CANCEL_LINK_DAYS,
          },
        }),
      );
    },

    /** The address a live verification link would confirm, without using it (the page before the button). */
    async verificationTarget(rawToken: unknown): Promise<string | null> {
      const hash = hashOfLinkToken(rawToken);
      const token = hash && (await tokens.peek('verify_email', hash));
      return token ? token.email : null;
    },

    /** Confirms by a verification link: the address is proven, and becomes the user's when it was the one asked for. */
    async verifyEmail(rawToken: unknown, origin: Origin): Promise<VerifyResult> {
      const hash = hashOfLinkToken(rawToken);
      if (!hash) return refused('link-dead');
      return atomically(async (): Promise<VerifyResult> => {
        const token = await tokens.consume('verify_email', hash);
        if (!token) return refused('link-dead');
        const outcome = await users.confirmEmail(token.userId, token.email);
        if (outcome === 'stale') return refused('link-dead');
        if (outcome === 'taken') return refused('taken');
        // A reset link mailed to the old address must not outlive the move.
        if (outcome === 'changed') await tokens.voidAll(token.userId, 'password_reset');
        await record(outcome === 'changed' ? 'email_changed' : 'email_verified', token.userId, origin, token.email);
        return done({ changed: outcome === 'changed' });
      });
    },

    /** The change a live cancel link is for (the page before the button). */
    async cancelLinkTarget(rawToken: unknown): Promise<{ from: string; to: string } | null> {
      const hash = hashOfLinkToken(rawToken);
      const token = hash && (await tokens.peek('cancel_email_change', hash));
      return token?.targetEmail ? { from: token.email, to: token.targetEmail } : null;
    },

    /**
     * "Cancel this change", from the notice to the old address. Whoever asked for the change
     * knew the password, so every session of the account ends either way. A change still
     * pending is cancelled; one that has happened is undone (the old address, which just
     * proved itself, is the account's again, and reset links sent to the new one die).
     */
    async cancelEmailChange(rawToken: unknown, origin: Origin): Promise<CancelResult> {
      const hash = hashOfLinkToken(rawToken);
      if (!hash) return refused('link-dead');
      return atomically(async (): Promise<CancelResult> => {
        const token = await tokens.consume('cancel_email_change', hash);
        const user = token && (await users.findActiveById(token.userId));
        if (!token?.targetEmail || !user) return refused('link-dead');
        const target = token.targetEmail.toLowerCase();
        // A change still pending is cancelled when the account is secured, below.
        let outcome: 'cancelled' | 'reverted' | 'nothing' =
          user.pendingEmail?.toLowerCase() === target ? 'cancelled' : 'nothing';
        let email = user.email;
        if (outcome === 'nothing' && user.email.toLowerCase() === target) {
          const reverted = await users.revertEmail(user.id, target, token.email);
          if (reverted === 'taken') return { ok: false, reason: 'taken', email: token.email };
          if (reverted === 'reverted') {
            await tokens.voidAll(user.id, 'password_reset');
            await record('email_change_reverted', user.id, origin, `from ${user.email} back to ${token.email}`);
            outcome = 'reverted';
            email = token.email;
          }
        }
        const sessionsEnded = await lockOut.secureAccount(user.id, origin, 'by the link mailed to the old address');
        if (sessionsEnded > 0) {
          await record(
            'sessions_ended',
            user.id,
            origin,
            `${sessionsEnded} session(s), by the email change's cancel link`,
          );
        }
        return done({ outcome, email, sessionsEnded });
      });
    },

    /** After a login: a browser the user has not signed in from before gets a notice to the address. */
    async signedIn(user: User, origin: Origin): Promise<void> {
      const fingerprint = browserFingerprint(origin.ip, origin.userAgent);
      if (!(await browsers.seen(user.id, fingerprint))) return;
      const sent = await tellOwner(user, origin, 'new-sign-in', (facts) => facts);
      // Not told, so not known: the next sign-in from this browser tries again.
      if (!sent) await browsers.forget(user.id, fingerprint);
    },

    /** A change to how the account signs in (a second factor on or off, recovery codes, passkeys). */
    async factorChanged(user: User, change: FactorChange, origin: Origin, codesLeft?: number): Promise<void> {
      await tellOwner(
        user,
        origin,
        'security-change',
        (facts) => ({ ...facts, change, ...(codesLeft === undefined ? {} : { codesLeft }) }),
        `security-change ${change}`,
      );
    },

    /** The right password, then wrong second-factor codes: the owner is told someone may have it. */
    async secondFactorFailing(user: User, origin: Origin): Promise<void> {
      await tellOwner(user, origin, 'second-factor-failed', (facts) => facts);
    },

    /** At signup: this browser is the user's first, and the address needs proving. */
    async signedUp(user: User, origin: Origin): Promise<void> {
      await browsers.seen(user.id, browserFingerprint(origin.ip, origin.userAgent));
      await sendVerification(user, user.email);
    },
  };
}

export type EmailFlows = ReturnType<typeof emailFlows>;
