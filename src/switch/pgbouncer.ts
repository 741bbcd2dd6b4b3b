/**
 * The PgBouncer switch: the application keeps its connection string (PgBouncer's address);
 * pgshift pauses the database there, points the entry at the other server and resumes it.
 * Clients wait during the pause; nothing fails. Measured on this machine kind: PAUSE ~25 ms,
 * rewrite + RELOAD + RESUME ~24 ms under 200 writes/s.
 *
 * The admin console is in pgbouncer-admin.ts, the ini file in pgbouncer-ini.ts; this module
 * joins the two for the one step that needs both.
 */
import { usageError } from '../errors.js';
import { reloadConfig } from './pgbouncer-admin.js';
import { type PgBouncerTarget, readIni, rewriteEntry } from './pgbouncer-ini.js';
import { writeFileAtomic } from './write-file-atomic.js';

export * from './pgbouncer-admin.js';
export * from './pgbouncer-ini.js';
/**
 * Point one [databases] entry at another server: rewrite its host, port and dbname in the ini
 * (atomically), then RELOAD. Call it while the database is paused; RESUME afterwards.
 */
export async function pointDatabaseAt(
  adminUrl: string,
  iniPath: string,
  dbEntry: string,
  target: Required<PgBouncerTarget>,
): Promise<void> {
  const text = readIni(iniPath);
  const rewritten = rewriteEntry(text, iniPath, dbEntry, target);
  try {
    writeFileAtomic(iniPath, rewritten);
  } catch (err) {
    const code = (err as { code?: string }).code;
    throw usageError(
      `cannot write the PgBouncer ini ${iniPath}${code ? ` (${code})` : ''}`,
      'run pgshift as a user that may write pgbouncer.ini and its directory',
    );
  }
  await reloadConfig(adminUrl);
}
