/**
 * What every use case answers: done (with what it made), or refused for a reason the caller
 * words for the visitor. Refusals by a limit are not results: they throw the 429 (limits.ts).
 */
export type Result<T extends object = object, Reason extends string = never> =
  ({ readonly ok: true } & T) | { readonly ok: false; readonly reason: Reason };

export const done = <T extends object>(value: T): { readonly ok: true } & T => ({ ok: true, ...value });

export const refused = <Reason extends string>(reason: Reason): { readonly ok: false; readonly reason: Reason } => ({
  ok: false,
  reason,
});
