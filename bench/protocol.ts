/** What bench/run.ts and its bench/server.ts children say to each other over IPC. */

/** Signs the session cookies of every bench server, so one cookie works on all of them. */
export const BENCH_SECRET = 'bench-secret-that-is-long-enough-0123456789';

export type ChildRequest =
  | { readonly type: 'counters' }
  /** Sequential bare bcrypt.compare calls at the server's cost: at least `min`, for at least `ms`. */
  | { readonly type: 'bcrypt'; readonly min: number; readonly ms: number }
  /** global.gc() (the child runs with --expose-gc), then process.memoryUsage(). */
  | { readonly type: 'heap' }
  | { readonly type: 'stop' };

export type ChildReply =
  | { readonly type: 'ready'; readonly appPort: number; readonly helloPort: number | null; readonly embedded: boolean }
  | {
      readonly type: 'counters';
      readonly queries: number;
      readonly sessionWrites: number;
      /** Round trips by statement (its first words). */
      readonly byStatement: Readonly<Record<string, number>>;
      readonly maxRssBytes: number;
    }
  | { readonly type: 'bcrypt'; readonly times: number[] }
  | {
      readonly type: 'heap';
      /** After a forced full garbage collection. */
      readonly heapUsedBytes: number;
      readonly rssBytes: number;
    };
