/** Where a request came from, for the audit trail and for notices. */
export interface Origin {
  readonly ip: string | null;
  readonly userAgent: string | null;
}

/** The admin command acts from no address and no browser; the trail says who. */
export const ADMIN_ORIGIN: Origin = { ip: null, userAgent: 'admin command' };
