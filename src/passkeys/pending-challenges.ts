import { CHALLENGE_MS } from './passkeys.js';

/** A ceremony's challenge and when it stops being good (ms since the epoch). */
export interface PendingChallenge {
  readonly challenge: string;
  readonly expiresAt: number;
}

/** A browser may have a few ceremonies going (an autofill request, a button, another tab). */
const MAX_CEREMONIES = 4;

const stillGood = (list: readonly PendingChallenge[], now: number) => list.filter((item) => item.expiresAt > now);

/**
 * The challenges with a new ceremony's added, good for CHALLENGE_MS: the expired ones dropped, and
 * only the newest few kept, so a new ceremony does not overwrite one in flight.
 */
export function addChallenge(
  list: readonly PendingChallenge[],
  challenge: string,
  now = Date.now(),
): PendingChallenge[] {
  return [...stillGood(list, now), { challenge, expiresAt: now + CHALLENGE_MS }].slice(-MAX_CEREMONIES);
}

/**
 * Takes an answer's challenge out: `found` when the list holds it and it is still good (else
 * null), and the rest, without it (used up either way) and without the expired ones.
 */
export function takeChallenge(
  list: readonly PendingChallenge[],
  challenge: string,
  now = Date.now(),
): { found: PendingChallenge | null; rest: PendingChallenge[] } {
  const going = stillGood(list, now);
  return {
    found: going.find((item) => item.challenge === challenge) ?? null,
    rest: going.filter((item) => item.challenge !== challenge),
  };
}
