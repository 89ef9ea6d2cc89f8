/** A sweep that keeps a table from growing without bound; resolves to how many rows went. */
export interface Sweep {
  readonly name: string;
  run(): Promise<number>;
}

export interface Housekeeping {
  /** Runs every sweep once, now (the timer does the same); the counts by name. */
  runOnce(): Promise<Record<string, number>>;
  stop(): void;
}

/**
 * Runs the sweeps on a timer (unref'd: it never holds the process open). Every
 * instance runs its own; the sweeps are single DELETE statements, so two at
 * once do no harm. A failed sweep is logged and tried again next time.
 */
export function startHousekeeping(
  sweeps: readonly Sweep[],
  everySeconds: number | false,
  onError: (sweep: string, error: unknown) => void,
): Housekeeping {
  const runOnce = async () => {
    const counts: Record<string, number> = {};
    for (const sweep of sweeps) {
      try {
        counts[sweep.name] = await sweep.run();
      } catch (error) {
        onError(sweep.name, error);
      }
    }
    return counts;
  };
  let timer: NodeJS.Timeout | undefined;
  if (everySeconds !== false) {
    timer = setInterval(() => void runOnce(), everySeconds * 1000);
    timer.unref();
  }
  return { runOnce, stop: () => clearInterval(timer) };
}
