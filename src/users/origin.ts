/** Where a request came from, for the audit trail and for notices. */
export interface Origin {
  readonly ip: string | null;
  readonly userAgent: string | null;
}
