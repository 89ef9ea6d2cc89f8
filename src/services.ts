import type pg from 'pg';
import { authEventsRepo } from './audit/auth-events-repo.js';
import { refusalLog } from './audit/refusals.js';
import type { Config } from './config.js';
import { transactions } from './db/transactions.js';
import { adminAccounts } from './admin/admin-accounts.js';
import { accountMail } from './email-flows/account-mail.js';
import { adminRolesRepo } from './admin-console/admin-roles-repo.js';
import { consoleActions } from './admin-console/console-actions.js';
import { consoleReads } from './admin-console/console-reads.js';
import { directoryRepo } from './admin-console/directory-repo.js';
import { emailFlows } from './email-flows/email-flows.js';
import { deletionFlow } from './flows/deletion.js';
import { emailChangeFlow } from './flows/email-change.js';
import { limitChecks } from './flows/limits.js';
import { accountLockOut } from './flows/lock-out.js';
import { loginFlow } from './flows/login.js';
import { passwordChangeFlow } from './flows/password-change.js';
import { passwordGuard } from './flows/password-guard.js';
import { passwordResetFlow } from './flows/password-reset.js';
import { profileFlow } from './flows/profile.js';
import { sessionsFlow } from './flows/sessions.js';
import { signUpFlow } from './flows/sign-up.js';
import { knownBrowsersRepo } from './email-flows/known-browsers-repo.js';
import type { Logger } from './http/logging.js';
import { browserFingerprint } from './email-flows/link-tokens.js';
import { githubClient } from './identities/github-client.js';
import { identityAccounts } from './identities/identities.js';
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
import { type PasswordHasher, createPasswordHasher } from './users/passwords.js';
import { personalDataExport } from './users/personal-data.js';
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
  const roles = adminRolesRepo(tx.db);

  const atomically = tx.atomically;
  const hasher = passwords ?? createPasswordHasher(config.bcryptCost);
  const throttle = createThrottle(pool, config, config.env !== 'test');
  const refusals = refusalLog(events, users);
  const enforce = limitChecks(refusals);
  const lockOut = accountLockOut({
    users,
    events,
    sessions: sessionRows,
    tokens,
    codeGuesses: secondFactorGuessesRepo(tx.db),
  });
  const guard = passwordGuard({ users, passwords: hasher, events, throttle, enforce });

  // The links and notices a change mails, queued in its transaction.
  const notices = accountMail({
    tokens,
    browsers,
    mailer,
    db: tx.db,
    optional: tx.optional,
    logger,
    publicUrl: config.publicUrl,
  });
  // A flow per change (flows/): each checks its limits, then does its work, audit row and mail in one transaction.
  const base = { users, events, atomically };
  const flows = {
    signUp: signUpFlow({ ...base, passwords: hasher, throttle, enforce, notices }),
    login: loginFlow({ users, passwords: hasher, events, guard }),
    passwordChange: passwordChangeFlow({ ...base, passwords: hasher, guard, lockOut, notices }),
    passwordReset: passwordResetFlow({ ...base, passwords: hasher, tokens, lockOut, notices }),
    emailChange: emailChangeFlow({ ...base, tokens, throttle, enforce, guard, notices }),
    deletion: deletionFlow({ ...base, sessions: sessionRows, guard }),
    sessions: sessionsFlow({ ...base, sessions: sessionRows, lockOut }),
    profile: profileFlow(base),
  };

  const mail = emailFlows({
    ...base,
    tokens,
    mail: notices,
    passwordReset: flows.passwordReset,
    lockOut,
    throttle,
    enforce,
    mailer,
    publicUrl: config.publicUrl,
  });

  const devices = deviceCookies(secrets, config.isProduction, (email) => users.deviceKeyOf(email));
  const checks = passwordChecks(devices, guard);
  const codes = codeChecks(throttle, devices, enforce);

  const ceremonies = passkeyCeremonies({
    passkeys,
    used: usedChallengesRepo(tx.db),
    users,
    events,
    notices: mail,
    rp: relyingParty(config.publicUrl),
    throttle,
    enforce,
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

  // Each configured provider's client, built once (discovery is cached there).
  const identityProviders = config.identityProviders.map((provider) =>
    provider.kind === 'github' ? githubClient(provider) : oidcProviderClient(provider),
  );
  const identities = identityAccounts({
    identities: identitiesRepo(tx.db),
    users,
    events,
    notices,
    atomically: tx.atomically,
    passkeyCount: (userId) => passkeys.countFor(userId),
    firstBrowser: async (user, origin) => {
      await browsers.seen(user.id, browserFingerprint(origin.ip, origin.userAgent));
    },
    sendVerification: (user) => mail.sendVerification(user),
    throttle,
    enforce,
  });

  const personalData = personalDataExport({
    sessions: sessionRows,
    events,
    knownBrowsers: (userId) => browsers.listFor(userId),
    factors: async (userId) => {
      const [status, list] = await Promise.all([factors.status(userId), ceremonies.list(userId)]);
      return { authenticatorAppSince: status.totpSince, recoveryCodesLeft: status.recoveryCodesLeft, passkeys: list };
    },
    maxSessions: config.sessionsPerUser,
    identities: (userId) => identities.list(userId),
  });

  // Every step of a login has its page defined by the feature that owns it (site-routes.ts wires them).
  const stages = new LoginStages();
  const steps = loginSteps({
    login: flows.login,
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
    throttle,
    enforce,
    db: tx.db,
    atomically: tx.atomically,
    secrets,
  });

  // The admin console (/admin): its reads and its actions, which reuse the flows above.
  const directory = directoryRepo(tx.db);
  const adminConsole = {
    isAdmin: (userId: number) => roles.isAdmin(userId),
    hasSecondFactor: async (userId: number) => {
      const status = await factors.status(userId);
      return status.totpSince !== null || status.passkeys > 0;
    },
    reads: consoleReads({
      directory,
      events,
      sessions: sessionRows,
      factors,
      passkeys,
      identities,
      throttle,
      enforce,
    }),
    actions: consoleActions({
      users,
      events,
      atomically,
      directory,
      lockOut,
      passkeys,
      factors,
      mail,
      throttle,
      enforce,
    }),
  };
  return {
    config,
    secrets,
    adminConsole,
    tx,
    events,
    flows,
    admin: adminAccounts({ ...base, sessions: sessionRows, lockOut, roles }),
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
    otherSessions: flows.sessions.otherSessions,
  };
}

export type Services = ReturnType<typeof buildServices>;
