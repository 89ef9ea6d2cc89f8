import type { AuthEventKind, AuthEventsRepo } from '../audit/auth-events-repo.js';
import type { Mailer } from '../mail/mail-queue.js';
import { browserName } from '../sessions/browser-name.js';
import type { SessionsRepo } from '../sessions/sessions-repo.js';
import type { Origin } from '../users/accounts.js';
import type { PasswordHasher } from '../users/passwords.js';
import type { User, UsersRepo } from '../users/users-repo.js';
import type { AccountTokensRepo } from './account-tokens-repo.js';
import type { KnownBrowsersRepo } from './known-browsers-repo.js';
import { browserFingerprint, hashOfLinkToken, newLinkToken } from './link-tokens.js';

export const RESET_LINK_MINUTES = 60;
export const VERIFY_LINK_HOURS = 48;

export interface EmailFlowsDeps {
  readonly users: UsersRepo;
  readonly tokens: AccountTokensRepo;
  readonly browsers: KnownBrowsersRepo;
  readonly sessions: SessionsRepo;
  readonly events: AuthEventsRepo;
  readonly passwords: PasswordHasher;
  readonly mailer: Mailer;
  /** The absolute base of links in mail. */
  readonly publicUrl: string;
}

export type VerifyResult = 'confirmed' | 'changed' | 'invalid' | 'taken';

/** What mail does for an account: password reset, address verification, security notices. No HTTP here. */
export function emailFlows({
  users,
  tokens,
  browsers,
  sessions,
  events,
  passwords,
  mailer,
  publicUrl,
}: EmailFlowsDeps) {
  const record = (event: AuthEventKind, userId: number | null, origin: Origin, detail: string | null = null) =>
    events.record({ event, userId, ...origin, detail });

  async function sendVerification(user: User, address: string): Promise<void> {
    const token = newLinkToken();
    await tokens.replace(user.id, 'verify_email', token.hash, address, VERIFY_LINK_HOURS * 3600);
    await mailer.send({
      to: address,
      template: 'verify-email',
      data: {
        name: user.name,
        link: `${publicUrl}/email/verify?token=${token.raw}`,
        expiresInHours: VERIFY_LINK_HOURS,
      },
    });
  }

  async function notifyPasswordChanged(user: User, origin: Origin): Promise<void> {
    await mailer.send({
      to: user.email,
      template: 'password-changed',
      data: {
        name: user.name,
        when: new Date(),
        ip: origin.ip ?? 'unknown',
        userAgent: browserName(origin.userAgent),
      },
    });
  }

  return {
    /**
     * Sends a reset link when the address belongs to an active account; does
     * nothing otherwise. Callers answer the same either way.
     */
    async requestPasswordReset(email: string, origin: Origin): Promise<void> {
      const found = await users.findByEmail(email);
      if (!found?.isActive) return;
      const token = newLinkToken();
      await tokens.replace(found.id, 'password_reset', token.hash, found.email, RESET_LINK_MINUTES * 60);
      await mailer.send({
        to: found.email,
        template: 'password-reset',
        data: {
          name: found.name,
          link: `${publicUrl}/password/reset?token=${token.raw}`,
          expiresInMinutes: RESET_LINK_MINUTES,
        },
      });
      await record('password_reset_requested', found.id, origin);
    },

    /** The account a reset link is for, while the link is live; it stays usable. */
    async resetLinkOwner(rawToken: unknown): Promise<User | null> {
      const hash = hashOfLinkToken(rawToken);
      const token = hash && (await tokens.peek('password_reset', hash));
      return token ? users.findActiveById(token.userId) : null;
    },

    /**
     * Uses the link up and sets the new password: every session of the user
     * ends, every other reset link is void, and a notice goes to the address.
     * The link proves the address, so it counts as verified. Null when the
     * link is not live (used, expired, voided, unknown).
     */
    async resetPassword(rawToken: unknown, newPassword: string, origin: Origin): Promise<User | null> {
      const hash = hashOfLinkToken(rawToken);
      const token = hash && (await tokens.consume('password_reset', hash));
      const user = token && (await users.findActiveById(token.userId));
      if (!user) return null;
      await users.updatePasswordHash(user.id, await passwords.hash(newPassword));
      await tokens.voidAll(user.id, 'password_reset');
      const ended = await sessions.endAll(user.id);
      if (user.email === token.email && user.emailVerifiedAt === null) await users.confirmEmail(user.id, user.email);
      await record('password_reset', user.id, origin, `${ended} session(s) ended`);
      await notifyPasswordChanged(user, origin);
      return user;
    },

    /** After a password change on the account page: the other reset links are void, the owner is told. */
    async passwordChanged(user: User, origin: Origin): Promise<void> {
      await tokens.voidAll(user.id, 'password_reset');
      await notifyPasswordChanged(user, origin);
    },

    /** A link to prove the address the user has, or the one they asked to move to. */
    sendVerification: (user: User): Promise<void> => sendVerification(user, user.pendingEmail ?? user.email),

    /** "Send the link again" from the login page: only an active account still waiting for it gets one. */
    async resendVerification(email: string): Promise<void> {
      const found = await users.findByEmail(email);
      if (!found?.isActive || found.emailVerifiedAt !== null) return;
      await sendVerification(found, found.email);
    },

    /** The new address gets a link; the old one is told, in case this was not its owner. */
    async emailChangeRequested(user: User, newEmail: string): Promise<void> {
      await sendVerification(user, newEmail);
      await mailer.send({ to: user.email, template: 'email-change-requested', data: { name: user.name, newEmail } });
    },

    /** Follows a verification link: the address is proven, and becomes the user's when it was the one asked for. */
    async verifyEmail(rawToken: unknown, origin: Origin): Promise<VerifyResult> {
      const hash = hashOfLinkToken(rawToken);
      const token = hash && (await tokens.consume('verify_email', hash));
      if (!token) return 'invalid';
      const outcome = await users.confirmEmail(token.userId, token.email);
      if (outcome === 'stale') return 'invalid';
      if (outcome === 'taken') return 'taken';
      // A reset link mailed to the old address must not outlive the move.
      if (outcome === 'changed') await tokens.voidAll(token.userId, 'password_reset');
      await record(outcome === 'changed' ? 'email_changed' : 'email_verified', token.userId, origin, token.email);
      return outcome;
    },

    /** After a login: a browser the user has not signed in from before gets a notice to the address. */
    async signedIn(user: User, origin: Origin): Promise<void> {
      const isNew = await browsers.seen(user.id, browserFingerprint(origin.ip, origin.userAgent));
      if (!isNew) return;
      await mailer.send({
        to: user.email,
        template: 'new-sign-in',
        data: { name: user.name, when: new Date(), ip: origin.ip ?? 'unknown', browser: browserName(origin.userAgent) },
      });
    },

    /** At signup: this browser is the user's first, and the address needs proving. */
    async signedUp(user: User, origin: Origin): Promise<void> {
      await browsers.seen(user.id, browserFingerprint(origin.ip, origin.userAgent));
      await sendVerification(user, user.email);
    },
  };
}

export type EmailFlows = ReturnType<typeof emailFlows>;
