import type { Request } from 'express';
import type { Origin } from '../users/origin.js';

/** Where the request came from, for the audit trail and notices. */
export const originOf = (req: Request): Origin => ({ ip: req.ip ?? null, userAgent: req.get('user-agent') ?? null });

/** The client's address (behind a trusted proxy, the one it reported), for the throttle. */
export const ipOf = (req: Request): string => req.ip ?? 'unknown';
