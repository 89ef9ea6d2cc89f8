import type { Db } from '../db/database.js';
import type { Transactions } from '../db/transactions.js';
import type { Logger } from '../http/logging.js';
import type { MailRequest, Mailer } from '../mail/mail-queue.js';
import type { AdminChange, FactorChange, TemplateData, TemplateName } from '../mail/mail-templates.js';
import { browserName } from '../sessions/browser-name.js';
import type { AccountTokensRepo } from '../users/account-tokens-repo.js';
import type { Origin } from '../users/origin.js';
import type { User } from '../users/users-repo.js';
import type { KnownBrowsersRepo } from './known-browsers-repo.js';
import { browserFingerprint, newLinkToken } from './link-tokens.js';

export const VERIFY_LINK_HOURS = 48;
/** The owner can cancel an email change (or undo one that happened) this long after it was asked for. */
export const CANCEL_LINK_DAYS = 7;

export interface AccountMailDeps {
  readonly tokens: AccountTokensRepo;
  readonly browsers: KnownBrowsersRepo;
  readonly mailer: Mailer;
  /** Where mail is queued: the database the repos are built on, so a change's mail joins its transaction. */
  readonly db: Db;
  readonly optional: Transactions['optional'];
  readonly logger: Logger;
  /** The absolute base of links in mail. */
  readonly publicUrl: string;
}

/**
 * The name to greet with, in mail to the user's own address: only once it has proven itself.
 * Mail to any other address (a new one being verified) has no greeting: it carries no text a visitor typed.
 */
export const greetingFor = (user: User): { name?: string } =>
  user.emailVerifiedAt !== null ? { name: user.name } : {};

/** What every notice of something done to an account tells: the greeting, when, and from which address and browser. */
interface NoticeFacts {
  readonly name?: string;
  readonly when: Date;
  readonly ip: string;
  readonly browser: string;
}

/**
 * The mail a change to an account sends, queued in the change's own transaction: the links that
 * prove an address, and the notices that tell the owner what was done (a notice never fails the
 * change). No HTTP here.
 */
export function accountMail({ tokens, browsers, mailer, db, optional, logger, publicUrl }: AccountMailDeps) {
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

  return {
    /** Queues any mail in the current transaction (the reset link's, in email-flows.ts). */
    queue,
    /** A link to prove `address` (the account's, or the one it asked to move to). */
    verificationTo: sendVerification,

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

    /** A sign-in provider was connected to or disconnected from the account (`provider`: its label). */
    async identityChanged(
      user: User,
      change: 'identity-connected' | 'identity-disconnected',
      provider: string,
      origin: Origin,
    ): Promise<void> {
      await tellOwner(
        user,
        origin,
        'security-change',
        (facts) => ({ ...facts, change, provider }),
        `security-change ${change}`,
      );
    },

    /** An administrator changed the account from the console: the owner is told what (never by whom). */
    async changedByAdmin(user: User, change: AdminChange): Promise<void> {
      await notify(`changed-by-admin ${change}`, user.id, () =>
        queue({
          to: user.email,
          template: 'changed-by-admin',
          data: { ...greetingFor(user), when: new Date(), change },
        }),
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

export type AccountMail = ReturnType<typeof accountMail>;
