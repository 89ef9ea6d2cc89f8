import type { AuthEventsRepo } from '../audit/auth-events-repo.js';
import type { Transactions } from '../db/transactions.js';
import type { UsersRepo } from '../users/users-repo.js';

/** What every flow stands on: the accounts, the audit trail, and the transaction its change runs in. */
export interface FlowDeps {
  readonly users: UsersRepo;
  readonly events: AuthEventsRepo;
  /** The repos are built on its database: their statements join the change's transaction. */
  readonly atomically: Transactions['atomically'];
}
