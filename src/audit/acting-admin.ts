import { AsyncLocalStorage } from 'node:async_hooks';

const acting = new AsyncLocalStorage<number>();

/**
 * Runs `work` as done by the admin `adminId` from the console: every audit row recorded inside it
 * (by whichever flow records it: lockOut's, the second factor's reset, the console's own) names
 * that admin as its actor, while its user stays the account it was done to. So a flow reused by
 * the console needs no parameter for who acted, and cannot forget to say it.
 */
export const actingAs = <T>(adminId: number, work: () => Promise<T>): Promise<T> => acting.run(adminId, work);

/** The admin the current work is done by (see actingAs), or null. */
export const actingAdmin = (): number | null => acting.getStore() ?? null;
