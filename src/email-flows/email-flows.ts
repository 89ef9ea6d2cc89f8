import { type AuthEventsRepo, recorder } from '../audit/auth-events-repo.js';
import type { Transactions } from '../db/transactions.js';
import { type Caller, networkOf } from '../flows/caller.js';
import type { EnforceLimit } from '../flows/limits.js';
import type { LockOut } from '../flows/lock-out.js';
import type { PasswordResetFlow } from '../flows/password-reset.js';
import { type Result, done, refused } from '../flows/result.js';
import type { Throttle } from '../login/throttle.js';
import { messages } from '../messages.js';
import type { Mailer } from '../mail/mail-queue.js';
import type { AccountTokensRepo } from '../users/account-tokens-repo.js';
import type { Origin } from '../users/origin.js';
import { type User, type UsersRepo, withoutHash } from '../users/users-repo.js';
import { hashOfLinkToken, newLinkToken } from './link-tokens.js';
import { type AccountMail, CANCEL_LINK_DAYS, VERIFY_LINK_HOURS, greetingFor } from './account-mail.js';

export { CANCEL_LINK_DAYS, VERIFY_LINK_HOURS };

export const RESET_LINK_MINUTES = 60;

export interface EmailFlowsDeps {
  readonly users: UsersRepo;
  readonly tokens: AccountTokensRepo;
  readonly events: AuthEventsRepo;
  /** The links and notices a change mails (account-mail.ts): reset links are queued through it too. */
  readonly mail: AccountMail;
  /** Where a reset link leads: the password reset flow. */
  readonly passwordReset: Pick<PasswordResetFlow, 'resetPassword'>;
  /** What the cancel link does to whoever else holds the account. */
  readonly lockOut: Pick<LockOut, 'secureAccount'>;
  /** Mailed links and codes are limited per address and network. */
  readonly throttle: Pick<Throttle, 'mailLinkRequest'>;
  readonly enforce: EnforceLimit;
  /** Where the requests for a link wait for the worker (jobs). */
  readonly mailer: Mailer;
  readonly atomically: Transactions['atomically'];
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
 * The mailed-link flows: asking for a reset link or a verification link again (limited per address
 * and network), following a reset, verification or cancel link. With them, the notices of
 * account-mail.ts, so one object is what mail does for an account. No HTTP here.
 */
export function emailFlows({
  users,
  tokens,
  events,
  mail,
  passwordReset,
  lockOut,
  throttle,
  enforce,
  mailer,
  atomically,
  publicUrl,
}: EmailFlowsDeps) {
  const record = recorder(events);
  const { queue, verificationTo: sendVerification, ...notices } = mail;
  /**
   * Mailed links are limited per address and network (a 429 when over). The refusal is recorded
   * under no account: looking the address up here would make the answer differ by whether it has one.
   */
  const limitLinks = async (address: string, caller: Caller, what: string): Promise<void> => {
    await enforce(await throttle.mailLinkRequest(address, networkOf(caller)), caller.origin, what);
  };

  /**
   * A new reset link for the account, mailed to its address (earlier links stop working), and the
   * request recorded: one transaction, or part of the caller's.
   */
  async function mailResetLink(user: User, origin: Origin): Promise<void> {
    const token = newLinkToken();
    await atomically(async () => {
      await tokens.replace(user.id, 'password_reset', token.hash, user.email, RESET_LINK_MINUTES * 60);
      await queue({
        to: user.email,
        template: 'password-reset',
        data: {
          ...greetingFor(user),
          link: `${publicUrl}/password/reset?token=${token.raw}`,
          expiresInMinutes: RESET_LINK_MINUTES,
        },
      });
      await record('password_reset_requested', user.id, origin);
    });
  }

  /** Sends a reset link when the address belongs to an active account; does nothing otherwise. */
  async function requestPasswordReset(email: string, origin: Origin): Promise<void> {
    const found = await users.findByEmail(email);
    if (!found?.isActive) return;
    await mailResetLink(withoutHash(found), origin);
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
    ...notices,

    /** A reset link for an account someone has already found (the admin console's "send a reset link"). */
    mailResetLink,

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
  };
}

export type EmailFlows = ReturnType<typeof emailFlows>;
