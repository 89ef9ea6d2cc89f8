const MAX_NEXT_LENGTH = 2048;
const PLACEHOLDER_ORIGIN = 'http://gatehouse.invalid';
// Controls (browsers strip tab, CR and LF from URLs) and backslashes (read as slashes).
const FORBIDDEN = /[\u0000-\u001f\u007f-\u009f\\]/;

const isLocalPath = (value: string): boolean =>
  value.startsWith('/') && !value.startsWith('//') && !FORBIDDEN.test(value);

/**
 * The next target if it is a path on this site, else "/". Checked both as sent
 * and percent-decoded, so "/%2F/evil.example" cannot become "//evil.example".
 */
export function safeNext(value: unknown): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_NEXT_LENGTH) return '/';
  let decoded: string;
  try {
    decoded = decodeURIComponent(value);
  } catch {
    return '/';
  }
  if (!isLocalPath(value) || !isLocalPath(decoded)) return '/';
  try {
    if (new URL(value, PLACEHOLDER_ORIGIN).origin !== PLACEHOLDER_ORIGIN) return '/';
  } catch {
    return '/';
  }
  return value;
}
