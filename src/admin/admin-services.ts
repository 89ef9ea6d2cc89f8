import type pg from 'pg';
import { authEventsRepo } from '../audit/auth-events-repo.js';
import type { Config } from '../config.js';
import { emailFlows } from '../email-flows/email-flows.js';
import { knownBrowsersRepo } from '../email-flows/known-browsers-repo.js';
import { createLogger } from '../http/logging.js';
import { sessionSecrets } from '../http/session-secret.js';
import { createMailer } from '../mail/mail-queue.js';
import { recoveryCodesRepo } from '../mfa/recovery-codes-repo.js';
import { secondFactor } from '../mfa/second-factor.js';
import { totpRepo } from '../mfa/totp-repo.js';
import { passkeysRepo } from '../passkeys/passkeys-repo.js';
import { sessionsRepo } from '../sessions/sessions-repo.js';
import { accountTokensRepo } from '../users/account-tokens-repo.js';
import { type AccountNotices, accounts as makeAccounts } from '../users/accounts.js';
import { transactions } from '../db/transactions.js';
import { secondFactorGuessesRepo } from '../login/second-factor-guesses-repo.js';
import { ADMIN_ORIGIN } from '../users/origin.js';
import { createPasswordHasher } from '../users/passwords.js';
import { usersRepo } from '../users/users-repo.js';
import type { AdminFactors } from './admin-commands.js';

/**
 * The use cases the admin command runs, built on the same configuration and database as the
 * server. Mail (the notice of a reset) is queued in the outbox; the app's worker sends it.
 */
export function adminServices(config: Config, pool: pg.Pool) {
  // As in app.ts: the repos join the transaction of the change that uses them.
  const tx = transactions(pool);
  const users = usersRepo(tx.db);
  const events = authEventsRepo(tx.db);
  const sessions = sessionsRepo(tx.db);
  const tokens = accountTokensRepo(tx.db);
  const passwords = createPasswordHasher(config.bcryptCost);
  const secrets = sessionSecrets(config);
  // Only failures are worth a line here, and they go to stderr: stdout is the command's answer.
  const logger = createLogger('error', process.stderr);
  const mailer = createMailer({ config, pool, logger, secrets });
  const notices: AccountNotices = {
    passwordChanged: (user, origin) => mail.passwordChanged(user, origin),
    emailChangeRequested: (user, newEmail) => mail.emailChangeRequested(user, newEmail),
  };
  const accounts = makeAccounts({
    users,
    passwords,
    events,
    sessions,
    tokens,
    codeGuesses: secondFactorGuessesRepo(tx.db),
    atomically: tx.atomically,
    notices,
  });
  const mail = emailFlows({
    users,
    tokens,
    browsers: knownBrowsersRepo(tx.db),
    events,
    accounts,
    mailer,
    db: tx.db,
    atomically: tx.atomically,
    optional: tx.optional,
    logger,
    publicUrl: config.publicUrl,
  });
  const passkeys = passkeysRepo(tx.db);
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
  const adminFactors: AdminFactors = {
    status: (userId) => factors.status(userId),
    reset: (user) => factors.reset(user, ADMIN_ORIGIN, () => passkeys.removeAll(user.id)),
    passkeys: (userId) => passkeys.listFor(userId),
  };
  return { accounts, factors: adminFactors };
}
