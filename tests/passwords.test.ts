import bcrypt from 'bcrypt';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createPasswordHasher } from '../src/users/passwords.js';

afterEach(() => {
  vi.restoreAllMocks();
});

describe('password hashing', () => {
  it('runs at most one bcrypt operation per allowed slot at a time, and queues the rest', async () => {
    let running = 0;
    let most = 0;
    const compare = bcrypt.compare.bind(bcrypt) as (data: string, encrypted: string) => Promise<boolean>;
    vi.spyOn(bcrypt, 'compare').mockImplementation((async (data: string, encrypted: string) => {
      running++;
      most = Math.max(most, running);
      try {
        return await compare(data, encrypted);
      } finally {
        running--;
      }
    }) as typeof bcrypt.compare);

    const hasher = createPasswordHasher(6, 2);
    const hash = await hasher.hash('correct horse battery staple');
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) => hasher.verify(i % 2 ? 'correct horse battery staple' : 'wrong', hash)),
    );
    expect(results).toEqual([false, true, false, true, false, true, false, true]);
    expect(most).toBe(2);
  });

  it('stores $2b$ hashes at the configured cost and verifies only the exact password', async () => {
    const hasher = createPasswordHasher(5);
    const hash = await hasher.hash('pässwörd with spaces');
    expect(hash).toMatch(/^\$2b\$05\$/);
    expect(await hasher.verify('pässwörd with spaces', hash)).toBe(true);
    expect(await hasher.verify('pässwörd with spaces ', hash)).toBe(false);
  });
});
