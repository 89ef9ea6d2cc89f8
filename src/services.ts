import type pg from 'pg';
import { authEventsRepo } from './audit/auth-events-repo.js';
import { refusalLog } from './audit/refusals.js';
import type { Config } from './config.js';
import { transactions } from './db/transactions.js';
import { emailFlows } from './email-flows/email-flows.js';
import { knownBrowsersRepo } from './email-flows/known-browsers-repo.js';
import type { Logger } from './http/logging.js';
import { browserFingerprint } from './email-flows/link-tokens.js';
import { githubClient } from './identities/github-client.js';
import { identities as makeIdentities } from './identities/identities.js';
import { identitiesRepo } from './identities/identities-repo.js';
import { oidcProviderClient } from './identities/oidc-provider-client.js';
import { loginCodes } from './login-code/login-codes.js';
import { loginCodesRepo } from './login-code/login-codes-repo.js';
import { codeChecks } from './login/code-checks.js';
import { deviceCookies } from './login/device-cookie.js';
import { loginSteps } from './login/login-steps.js';
import { passwordChecks } from './login/password-checks.js';
import { secondFactorGuessesRepo } from './login/second-factor-guesses-repo.js';
import { LoginStages } from './login/stages.js';
import { createThrottle } from './login/throttle.js';
import type { Mailer } from './mail/mail-queue.js';
import { recoveryCodesRepo } from './mfa/recovery-codes-repo.js';
import { secondFactor } from './mfa/second-factor.js';
import { totpRepo } from './mfa/totp-repo.js';
import { passkeyCeremonies } from './passkeys/passkeys.js';
import { passkeysRepo } from './passkeys/passkeys-repo.js';
import { relyingParty } from './passkeys/relying-party.js';
import { usedChallengesRepo } from './passkeys/used-challenges-repo.js';
import { sessionsRepo } from './sessions/sessions-repo.js';
import { accountTokensRepo } from './users/account-tokens-repo.js';
import { type AccountNotices, accounts as makeAccounts } from './users/accounts.js';
import { type PasswordHasher, createPasswordHasher } from './users/passwords.js';
import { personalData as makePersonalData } from './users/personal-data.js';
import { usersRepo } from './users/users-repo.js';

export interface ServicesDeps {
  readonly config: Config;
  readonly pool: pg.Pool;
  /** All session secrets; the first signs and seals. */
  readonly secrets: readonly string[];
  readonly mailer: Mailer;
  readonly logger: Logger;
  /** bcrypt at the configured cost unless given (tests count its calls). */
  readonly passwords?: PasswordHasher;
}

/**
 * The object graph, built once: every repo (on the transaction-aware database, so a use case's
 * statements join its transaction), every use case and the login machinery. The server's app
 * (app.ts, site-routes.ts), the admin command and the tests all take it from here, so there is
 * one wiring to read and no copy of it to drift.
 */
export function buildServices({ config, pool, secrets, mailer, logger, passwords }: ServicesDeps) {
  const tx = transactions(pool);
  const users = usersRepo(tx.db);
  const events = authEventsRepo(tx.db);
  const sessionRows = sessionsRepo(tx.db);
  const tokens = accountTokensRepo(tx.db);
  const browsers = knownBrowsersRepo(tx.db);
  const passkeys = passkeysRepo(tx.db);

  // The account's changes mail through email-flows, which is built on the accounts: bound at call time.
  const notices: AccountNotices = {
    passwordChanged: (user, origin) => mail.passwordChanged(user, origin),
    emailChangeRequested: (user, newEmail) => mail.emailChangeRequested(user, newEmail),
  };
  const accounts = makeAccounts({
    users,
    passwords: passwords ?? createPasswordHasher(config.bcryptCost),
    events,
    sessions: sessionRows,
    tokens,
    codeGuesses: secondFactorGuessesRepo(tx.db),
    atomically: tx.atomically,
    notices,
  });
  const mail = emailFlows({
    users,
    tokens,
    browsers,
    events,
    accounts,
    mailer,
    db: tx.db,
    atomically: tx.atomically,
    optional: tx.optional,
    logger,
    publicUrl: config.publicUrl,
  });

  const throttle = createThrottle(pool, config, config.env !== 'test');
  const devices = deviceCookies(secrets, config.isProduction, (email) => users.deviceKeyOf(email));
  const refusals = refusalLog(events, users);
  const checks = passwordChecks(throttle, devices, accounts, refusals);
  const codes = codeChecks(throttle, devices, refusals);

  const ceremonies = passkeyCeremonies({
    passkeys,
    used: usedChallengesRepo(tx.db),
    users,
    events,
    notices: mail,
    rp: relyingParty(config.publicUrl),
  });
  const factors = secondFactor({
    totp: totpRepo(tx.db),
    codes: recoveryCodesRepo(tx.db),
    events,
    notices: mail,
    secrets,
    issuer: 'Gatehouse',
    atomically: tx.atomically,
    passkeyCount: (userId) => passkeys.countFor(userId),
  });

  const personalData = makePersonalData({
    sessions: sessionRows,
    events,
    knownBrowsers: (userId) => browsers.listFor(userId),
    factors: async (userId) => {
      const [status, list] = await Promise.all([factors.status(userId), ceremonies.list(userId)]);
      return { authenticatorAppSince: status.totpSince, recoveryCodesLeft: status.recoveryCodesLeft, passkeys: list };
    },
    maxSessions: config.sessionsPerUser,
    // Bound at call time: the identities are built below.
    identities: (userId) => identities.list(userId),
  });

  // Every step of a login has its page defined by the feature that owns it (site-routes.ts wires them).
  const stages = new LoginStages();
  const steps = loginSteps({
    accounts,
    notices: mail,
    codes,
    devices,
    factorsOf: async (userId) => {
      const status = await factors.status(userId);
      return {
        app: status.totpSince !== null,
        passkeys: status.passkeys > 0,
        recoveryCodes: status.recoveryCodesLeft > 0,
      };
    },
    stages,
    sessionMaxSeconds: config.sessionMaxSeconds,
    requireVerifiedEmail: config.requireVerifiedEmail,
  });
  const codesByMail = loginCodes({
    users,
    codes: loginCodesRepo(tx.db),
    events,
    mailer,
    db: tx.db,
    atomically: tx.atomically,
    secrets,
  });

  // Each configured provider's client, built once (discovery is cached there).
  const identityProviders = config.identityProviders.map((provider) =>
    provider.kind === 'github' ? githubClient(provider) : oidcProviderClient(provider),
  );
  const identities = makeIdentities({
    identities: identitiesRepo(tx.db),
    users,
    events,
    mailer,
    db: tx.db,
    atomically: tx.atomically,
    passkeyCount: (userId) => passkeys.countFor(userId),
    firstBrowser: async (user, origin) => {
      await browsers.seen(user.id, browserFingerprint(origin.ip, origin.userAgent));
    },
    sendVerification: (user) => mail.sendVerification(user),
  });

  return {
    config,
    secrets,
    tx,
    events,
    accounts,
    mail,
    throttle,
    refusals,
    passwordChecks: checks,
    codes,
    ceremonies,
    passkeys,
    factors,
    personalData,
    stages,
    steps,
    codesByMail,
    identityProviders,
    identities,
    /** The user's other open sessions (for "sign out everywhere else" after a change). */
    otherSessions: async (userId: number, currentSid: string) =>
      Math.max(0, (await accounts.openSessions(userId, currentSid, 1)).total - 1),
  };
}

export type Services = ReturnType<typeof buildServices>;
