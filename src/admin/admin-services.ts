import type pg from 'pg';
import type { Config } from '../config.js';
import { createLogger } from '../http/logging.js';
import { sessionSecrets } from '../http/session-secret.js';
import { createMailer } from '../mail/mail-queue.js';
import { buildServices } from '../services.js';
import { ADMIN_ORIGIN } from '../users/origin.js';
import type { AdminFactors, AdminIdentities } from './admin-commands.js';

/**
 * The use cases the admin command runs: the server's own object graph (services.ts), on the same
 * configuration and database. Mail (the notice of a reset) is queued in the outbox; the app's
 * worker sends it.
 */
export function adminServices(config: Config, pool: pg.Pool) {
  const secrets = sessionSecrets(config);
  // Only failures are worth a line here, and they go to stderr: stdout is the command's answer.
  const logger = createLogger('error', process.stderr);
  const mailer = createMailer({ config, pool, logger, secrets });
  const { admin, factors, passkeys, identities, identityProviders } = buildServices({
    config,
    pool,
    secrets,
    mailer,
    logger,
  });
  const adminFactors: AdminFactors = {
    status: (userId) => factors.status(userId),
    reset: (user) => factors.reset(user, ADMIN_ORIGIN, () => passkeys.removeAll(user.id)),
    passkeys: (userId) => passkeys.listFor(userId),
  };
  const labelOf = (name: string) => identityProviders.find((provider) => provider.name === name)?.label ?? name;
  const adminIdentities: AdminIdentities = {
    hasPassword: (userId) => identities.hasPassword(userId),
    list: (userId) => identities.list(userId),
    remove: async (user, id) => (await identities.adminRemove(user, id, labelOf, ADMIN_ORIGIN)) !== null,
  };
  return { accounts: admin, factors: adminFactors, identities: adminIdentities };
}
