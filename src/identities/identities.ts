import { type AuthEventsRepo, recorder } from '../audit/auth-events-repo.js';
import type { Transactions } from '../db/transactions.js';
import { type Caller, networkOf } from '../flows/caller.js';
import type { EnforceLimit } from '../flows/limits.js';
import type { Throttle } from '../login/throttle.js';
import { messages } from '../messages.js';
import type { Origin } from '../users/origin.js';
import type { User, UsersRepo } from '../users/users-repo.js';
import type { IdentitiesRepo, Identity } from './identities-repo.js';
import type { ProviderProfile } from './provider-profile.js';

export interface IdentitiesDeps {
  readonly identities: IdentitiesRepo;
  readonly users: Pick<
    UsersRepo,
    'findByEmail' | 'insert' | 'confirmEmail' | 'findActiveById' | 'hasPassword' | 'lockForChange'
  >;
  readonly events: AuthEventsRepo;
  /** The owner's notice of a provider connected or disconnected (queued in the change's transaction). */
  readonly notices: {
    identityChanged(
      user: User,
      change: 'identity-connected' | 'identity-disconnected',
      provider: string,
      origin: Origin,
    ): Promise<void>;
  };
  readonly atomically: Transactions['atomically'];
  /** The account's passkeys: one is a way in, for "leave at least one". */
  readonly passkeyCount: (userId: number) => Promise<number>;
  /** A new account's first browser is known from the start (no new-sign-in notice for it). */
  readonly firstBrowser: (user: User, origin: Origin) => Promise<void>;
  /** The link that proves an address, as at sign-up. */
  readonly sendVerification: (user: User) => Promise<void>;
  /** A provider's answer is counted per network like a password; a new account like a sign-up. */
  readonly throttle: Pick<Throttle, 'signedAnswerAttempt' | 'signedAnswerSucceeded' | 'signupAttempt'>;
  readonly enforce: EnforceLimit;
}

/** A provider's sign-in, as it came out. */
export type SignInOutcome =
  | { readonly kind: 'known' | 'created'; readonly user: User }
  /** An unknown identity whose address an account already has: never linked on its own. */
  | { readonly kind: 'address-taken' }
  /** The provider gave no address we could make an account with. */
  | { readonly kind: 'no-email' }
  /** The identity's account is deactivated. */
  | { readonly kind: 'inactive' };

export type ConnectOutcome = 'connected' | 'already' | 'linked-elsewhere';
export type DisconnectOutcome = { ok: true; identity: Identity } | { ok: false; reason: 'gone' | 'last-way-in' };

/** The provider's label for a notice or the audit trail. */
export interface ProviderName {
  readonly name: string;
  readonly label: string;
}

/**
 * Identities at providers (OpenID Connect, GitHub), keyed by issuer and subject, never by
 * email. A known identity signs its user in; an unknown one makes an account only for an
 * address no account has (proven only when the provider vouches for it), and is never linked
 * to an existing account on its own: the owner connects it from the security page, signed in
 * (better-auth GHSA-g38m-r43w-p2q7; allauth 64.2.1). No HTTP here, no provider token.
 */
export function identityAccounts({
  identities: repo,
  users,
  events,
  notices,
  atomically,
  passkeyCount,
  firstBrowser,
  sendVerification,
  throttle,
  enforce,
}: IdentitiesDeps) {
  const record = recorder(events);

  /** A way in other than this identity remains: a password, a passkey, or another identity. */
  async function otherWaysIn(userId: number): Promise<boolean> {
    if (await users.hasPassword(userId)) return true;
    if ((await passkeyCount(userId)) > 0) return true;
    return (await repo.countFor(userId)) > 1;
  }

  return {
    /** A sign-in at `provider` whose answer checked out: what it comes to (no session here: the caller's steps). */
    /**
     * A provider's answer, checked by `finish` (it throws when the provider declined or the
     * answer fails a check): counted first against the network's failures and checks, as a
     * password is (a forged or replayed answer is a guess; a 429 when over), and given its point
     * back when it passed.
     */
    async answer<T>(caller: Caller, finish: () => Promise<T>): Promise<T> {
      const network = networkOf(caller);
      await enforce(await throttle.signedAnswerAttempt(network), caller.origin, messages.limits.failedLogins);
      const profile = await finish();
      await throttle.signedAnswerSucceeded(network);
      return profile;
    },

    async signIn(provider: ProviderName, profile: ProviderProfile, origin: Origin): Promise<SignInOutcome> {
      const found = await repo.find(profile.issuer, profile.subject);
      // A new account is a sign-up: limited per network like one.
      if (!found) await enforce(await throttle.signupAttempt(origin.ip ?? 'unknown'), origin, messages.limits.signUps);
      if (found) {
        if (!found.user?.isActive) return { kind: 'inactive' };
        // The address the provider shows now is noted, never followed: the identity is its issuer and subject.
        await repo.used(found.identity.id, profile.email);
        return { kind: 'known', user: found.user };
      }
      if (profile.email === null) return { kind: 'no-email' };
      const email = profile.email;
      const refuse = async (userId: number): Promise<SignInOutcome> => {
        await record(
          'identity_refused',
          userId,
          origin,
          `${provider.name}: a new identity with this address, not linked`,
        );
        return { kind: 'address-taken' };
      };
      const holder = await users.findByEmail(email);
      if (holder) return refuse(holder.id);
      return atomically(async (): Promise<SignInOutcome> => {
        const user = await users.insert({
          name: profile.name ?? email.split('@')[0] ?? email,
          email,
          passwordHash: null,
          website: null,
        });
        // Taken meanwhile (any case): the same answer as when it was taken before.
        if (!user) {
          const taken = await users.findByEmail(email);
          return taken ? refuse(taken.id) : { kind: 'address-taken' };
        }
        if (!(await repo.insert({ userId: user.id, provider: provider.name, ...identityOf(profile) }))) {
          throw new Error('an identity was linked while its account was being made');
        }
        await record('signup', user.id, origin, `with ${provider.label}`);
        await record('identity_linked', user.id, origin, provider.name);
        await firstBrowser(user, origin);
        if (profile.emailVerified) {
          await users.confirmEmail(user.id, email);
          await record('email_verified', user.id, origin, `${email}, by ${provider.label}`);
        } else {
          await sendVerification(user);
        }
        return { kind: 'created', user: (await users.findActiveById(user.id)) ?? user };
      });
    },

    /** The signed-in `user` connects the identity: refused when it is linked to any account already. */
    async connect(
      user: User,
      provider: ProviderName,
      profile: ProviderProfile,
      origin: Origin,
    ): Promise<ConnectOutcome> {
      return atomically(async (): Promise<ConnectOutcome> => {
        const found = await repo.find(profile.issuer, profile.subject);
        if (found?.identity.userId === user.id) return 'already';
        if (found || !(await repo.insert({ userId: user.id, provider: provider.name, ...identityOf(profile) }))) {
          await record('identity_refused', user.id, origin, `${provider.name}: linked to another account`);
          return 'linked-elsewhere';
        }
        await record('identity_linked', user.id, origin, provider.name);
        await notices.identityChanged(user, 'identity-connected', provider.label, origin);
        return 'connected';
      });
    },

    /** Removes one of the user's identities, unless it is their last way in. */
    async disconnect(
      user: User,
      identityId: number,
      labelOf: (providerName: string) => string,
      origin: Origin,
    ): Promise<DisconnectOutcome> {
      return atomically(async (): Promise<DisconnectOutcome> => {
        // Two removals at once must not both see the other's identity as the way in that remains.
        await users.lockForChange(user.id);
        const mine = (await repo.listFor(user.id)).find((identity) => identity.id === identityId);
        if (!mine) return { ok: false, reason: 'gone' };
        if (!(await otherWaysIn(user.id))) return { ok: false, reason: 'last-way-in' };
        const removed = await repo.delete(user.id, identityId);
        if (!removed) return { ok: false, reason: 'gone' };
        await record('identity_unlinked', user.id, origin, removed.provider);
        await notices.identityChanged(user, 'identity-disconnected', labelOf(removed.provider), origin);
        return { ok: true, identity: removed };
      });
    },

    /**
     * The admin command removes one of a user's identities (audited as done by an administrator,
     * the owner told). Even the last way in: the owner can still set a password by "Forgot your password?".
     */
    async adminRemove(
      user: User,
      identityId: number,
      labelOf: (providerName: string) => string,
      origin: Origin,
    ): Promise<Identity | null> {
      return atomically(async () => {
        const removed = await repo.delete(user.id, identityId);
        if (!removed) return null;
        await record('identity_unlinked', user.id, origin, `${removed.provider}, by the admin command`);
        await notices.identityChanged(user, 'identity-disconnected', labelOf(removed.provider), origin);
        return removed;
      });
    },

    /** True when the identity is `userId`'s (for "confirm it's you" at the provider). */
    async belongsTo(userId: number, profile: ProviderProfile): Promise<boolean> {
      const found = await repo.find(profile.issuer, profile.subject);
      return found?.identity.userId === userId;
    },

    /** A provider's answer failed a check (state, iss, nonce, signature…): recorded like a failed login. */
    refused: (userId: number | null, provider: ProviderName, reason: string, origin: Origin): Promise<void> =>
      record(userId === null ? 'login_failed' : 'identity_refused', userId, origin, `${provider.name}: ${reason}`),

    list: (userId: number): Promise<Identity[]> => repo.listFor(userId),

    /** Whether the account has a password (one made by a provider may not, until its owner sets one). */
    hasPassword: (userId: number): Promise<boolean> => users.hasPassword(userId),
  };
}

const identityOf = (profile: ProviderProfile) => ({
  issuer: profile.issuer,
  subject: profile.subject,
  emailSeen: profile.email,
});

export type Identities = ReturnType<typeof identityAccounts>;
