/** What bench/run.ts and its instrumented copy (bench/instrumented-copy.ts) say to each other over IPC. */

export type CopyRequest =
  | { readonly type: 'counters' }
  /** Sequential bare bcrypt.compare calls at the app's cost: at least `min`, for at least `ms`. */
  | { readonly type: 'bcrypt'; readonly min: number; readonly ms: number }
  /** global.gc() (the copy runs with --expose-gc), then process.memoryUsage(). */
  | { readonly type: 'heap' };

export interface Counters {
  readonly type: 'counters';
  /** Every SQL round trip (pg.Client#query) the process has made. */
  readonly queries: number;
  /** The round trips that wrote to the sessions table (INSERT, UPDATE or DELETE). */
  readonly sessionWrites: number;
  /** Round trips by statement (its first words), so that a count can be explained. */
  readonly byStatement: Readonly<Record<string, number>>;
}

export type CopyReply =
  | { readonly type: 'ready'; readonly port: number }
  | Counters
  | { readonly type: 'bcrypt'; readonly times: number[] }
  | {
      readonly type: 'heap';
      /** After a forced full garbage collection. */
      readonly heapUsedBytes: number;
      readonly rssBytes: number;
    };
