import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The cache admin token: `CACHE_ADMIN_TOKEN` when set; otherwise one generated at the first start
 * and kept in `<dataDir>/admin-token` (mode 0600), so that the dashboard's invalidate and flush
 * buttons work out of the box without the token ever being printed.
 */
export function resolveAdminToken(
  env: NodeJS.ProcessEnv,
  dataDir: string,
): { token: string; source: string } {
  const fromEnv = env.CACHE_ADMIN_TOKEN?.trim();
  if (fromEnv) return { token: fromEnv, source: 'CACHE_ADMIN_TOKEN' };
  const file = join(dataDir, 'admin-token');
  try {
    const stored = readFileSync(file, 'utf8').trim();
    if (stored) return { token: stored, source: file };
  } catch {
    // first start: generated below
  }
  mkdirSync(dataDir, { recursive: true });
  const token = randomBytes(24).toString('base64url');
  writeFileSync(file, `${token}\n`, { mode: 0o600 });
  return { token, source: file };
}
