/**
 * The embedded database's directory is in use by another process (PGlite serves one). Its own
 * module, so that naming it does not load PGlite: that is loaded only when the embedded database is used.
 */
export class EmbeddedLockedError extends Error {}
