/**
 * PgBouncer's admin console: PAUSE, RESUME, RELOAD and SHOW DATABASES on one database entry.
 *
 * The admin console speaks only the simple query protocol, so every command here is a
 * parameterless query; database names are validated and double-quoted instead of bound.
 */
import pg from 'pg';
import { connectionError, PgshiftError, usageError } from '../errors.js';
import { describeUrl, redact, registerConnection } from '../postgres/redact.js';

export interface AdminOptions {
  connectTimeoutMs?: number;
}

/** A session on PgBouncer's admin console (database `pgbouncer`), opened from a URL. */
export async function openAdmin(adminUrl: string, opts: AdminOptions = {}): Promise<pg.Client> {
  let u: URL;
  try {
    u = new URL(adminUrl);
  } catch {
    throw usageError(
      'the PgBouncer admin connection is not a postgres:// URL',
      'pass --pgbouncer-admin-url postgres://admin:password@host:6432/pgbouncer',
    );
  }
  registerConnection(adminUrl);
  const where = describeUrl(adminUrl);
  const user = decodeURIComponent(u.username) || 'pgbouncer';
  const client = new pg.Client({
    host: u.hostname.replace(/^\[|\]$/g, '') || 'localhost',
    port: u.port ? Number(u.port) : 6432,
    database: decodeURIComponent(u.pathname.replace(/^\//, '')) || 'pgbouncer',
    user,
    password: u.password ? decodeURIComponent(u.password) : undefined,
    connectionTimeoutMillis: opts.connectTimeoutMs ?? 5_000,
    application_name: 'pgshift',
  });
  // An admin session whose PgBouncer goes away emits 'error'; unhandled, that would crash the process.
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (err) {
    await client.end().catch(() => undefined);
    const e = err as { code?: string; message?: string };
    if (['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ETIMEDOUT', 'ECONNRESET', 'EAI_AGAIN'].includes(e.code ?? '')) {
      throw connectionError(
        `cannot reach the PgBouncer admin console at ${where} (${e.code})`,
        'check --pgbouncer-admin-url: PgBouncer must listen on that host and port',
      );
    }
    if (/timeout/i.test(e.message ?? '')) {
      throw connectionError(
        `timed out connecting to the PgBouncer admin console at ${where}`,
        'check --pgbouncer-admin-url and that PgBouncer is running',
      );
    }
    if (e.code === '28P01' || /password|auth/i.test(e.message ?? '')) {
      throw connectionError(
        `PgBouncer at ${where} refused admin user ${user}: ${redact(e.message ?? '')}`,
        'check the password in --pgbouncer-admin-url and that the user is in its auth_file',
      );
    }
    throw connectionError(
      `cannot open the PgBouncer admin console at ${where}: ${redact(e.message ?? String(err))}`,
      'the user must be listed in admin_users of pgbouncer.ini',
    );
  }
  return client;
}

async function withAdmin<T>(adminUrl: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = await openAdmin(adminUrl);
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** The console does not take bind parameters: accept only names it can parse, double-quoted. */
export function consoleName(db: string): string {
  if (!db || /["\s;\\]/.test(db) || db.length > 63) {
    throw usageError(
      `PgBouncer database name ${JSON.stringify(db)} cannot be used on the admin console`,
      'use a [databases] entry name without quotes, spaces, semicolons or backslashes',
    );
  }
  return `"${db}"`;
}

function adminCommandError(command: string, db: string, err: unknown): PgshiftError {
  const message = (err as Error)?.message ?? String(err);
  if (/no such database/i.test(message)) {
    return usageError(
      `PgBouncer has no database ${db} (${command})`,
      'check --pgbouncer-db: it must be an entry in the [databases] section of pgbouncer.ini',
    );
  }
  return connectionError(`PgBouncer ${command} ${db} failed: ${redact(message)}`, "check PgBouncer's log");
}

export interface PauseOptions {
  /**
   * PAUSE waits for every server connection of the database to be released, i.e. for running
   * transactions to end. Past this bound pgshift resumes the database and fails, so that a
   * long transaction cannot freeze the application indefinitely.
   */
  timeoutMs?: number;
}

/** PAUSE db: new queries wait in PgBouncer; returns once no server connection is in use. */
export async function pauseDatabase(adminUrl: string, db: string, opts: PauseOptions = {}): Promise<{ ms: number }> {
  const name = consoleName(db);
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const started = performance.now();
  return withAdmin(adminUrl, async (client) => {
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), timeoutMs);
    });
    const pause = client.query(`PAUSE ${name}`).then(() => 'paused' as const);
    pause.catch(() => undefined);
    try {
      const outcome = await Promise.race([pause, timedOut]);
      if (outcome === 'timeout') {
        // The PAUSE is still pending on this session; RESUME from another one lifts it.
        await resumeDatabase(adminUrl, db).catch(() => undefined);
        throw new PgshiftError(
          'check',
          `PgBouncer PAUSE ${db} did not complete within ${timeoutMs} ms (a transaction is still running); resumed`,
          'find the long transaction in pg_stat_activity on the source, then run the cutover again',
        );
      }
    } catch (err) {
      if (err instanceof PgshiftError) throw err;
      throw adminCommandError('PAUSE', db, err);
    } finally {
      clearTimeout(timer);
    }
    return { ms: performance.now() - started };
  });
}

/** RESUME db. Resuming a database that is not paused is not an error: abort paths call this unconditionally. */
export async function resumeDatabase(adminUrl: string, db: string): Promise<void> {
  const name = consoleName(db);
  await withAdmin(adminUrl, async (client) => {
    try {
      await client.query(`RESUME ${name}`);
    } catch (err) {
      if (/is not paused/i.test((err as Error)?.message ?? '')) return;
      throw adminCommandError('RESUME', db, err);
    }
  });
}

/** RELOAD: PgBouncer re-reads its ini; server connections to a changed entry are closed when released. */
export async function reloadConfig(adminUrl: string): Promise<void> {
  await withAdmin(adminUrl, async (client) => {
    try {
      await client.query('RELOAD');
    } catch (err) {
      throw connectionError(
        `PgBouncer RELOAD failed: ${redact((err as Error)?.message ?? String(err))}`,
        "check pgbouncer.ini for syntax errors in PgBouncer's log",
      );
    }
  });
}

export interface PgBouncerDatabaseState {
  name: string;
  host: string | null;
  port: number;
  database: string;
  paused: boolean;
  currentConnections: number;
}

/** SHOW DATABASES row for one entry, as PgBouncer currently runs it (after the last RELOAD). */
export async function showDatabase(adminUrl: string, db: string): Promise<PgBouncerDatabaseState | undefined> {
  return withAdmin(adminUrl, async (client) => {
    const { rows } = await client.query('SHOW DATABASES');
    const row = rows.find((r) => r.name === db);
    if (!row) return undefined;
    return {
      name: row.name,
      host: row.host ?? null,
      port: Number(row.port),
      database: row.database,
      paused: Number(row.paused) === 1,
      currentConnections: Number(row.current_connections ?? 0),
    };
  });
}
