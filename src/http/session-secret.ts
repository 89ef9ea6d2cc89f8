import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Config } from '../config.js';

/**
 * The configured secrets, or (outside production, where config insists on
 * one) a secret generated on first start and kept in DATA_DIR, so sessions
 * survive a restart without anyone having to set one.
 */
export function sessionSecrets(config: Config): readonly string[] {
  if (config.sessionSecrets.length > 0) return config.sessionSecrets;
  const file = path.join(config.dataDir, 'session-secret');
  try {
    const kept = readFileSync(file, 'utf8').trim();
    if (kept.length >= 32) return [kept];
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  mkdirSync(config.dataDir, { recursive: true });
  const secret = randomBytes(32).toString('base64url');
  writeFileSync(file, `${secret}\n`, { mode: 0o600 });
  return [secret];
}
