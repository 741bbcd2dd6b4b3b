/**
 * The PgBouncer switch: the application keeps its connection string (PgBouncer's address);
 * pgshift pauses the database there, points the entry at the other server and resumes it.
 * Clients wait during the pause; nothing fails. Measured on this machine kind: PAUSE ~25 ms,
 * rewrite + RELOAD + RESUME ~24 ms under 200 writes/s.
 *
 * The admin console speaks only the simple query protocol, so every command here is a
 * parameterless query; database names are validated and double-quoted instead of bound.
 */
import {
  chownSync,
  closeSync,
  fsyncSync,
  openSync,
  readFileSync,
  realpathSync,
  renameSync,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import pg from 'pg';
import { connectionError, PgshiftError, usageError } from '../errors.js';
import { describeUrl, redact, registerSecret } from '../postgres/redact.js';

/** Where a [databases] entry points. Missing keys mean PgBouncer's defaults (Unix socket, port 5432, dbname = entry name). */
export interface PgBouncerTarget {
  host?: string;
  port?: number;
  dbname?: string;
}

export interface AdminOptions {
  connectTimeoutMs?: number;
}

// ---------------------------------------------------------------------------------------------
// Admin console

/** A session on PgBouncer's admin console (database `pgbouncer`), opened from a URL. */
export async function openAdmin(adminUrl: string, opts: AdminOptions = {}): Promise<pg.Client> {
  let u: URL;
  try {
    u = new URL(adminUrl);
  } catch {
    throw usageError(
      'the PgBouncer admin connection is not a postgres:// URL',
      'pass --pgbouncer-admin postgres://admin:password@host:6432/pgbouncer',
    );
  }
  registerSecret(u.password ? decodeURIComponent(u.password) : undefined);
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
        'check --pgbouncer-admin: PgBouncer must listen on that host and port',
      );
    }
    if (/timeout/i.test(e.message ?? '')) {
      throw connectionError(
        `timed out connecting to the PgBouncer admin console at ${where}`,
        'check --pgbouncer-admin and that PgBouncer is running',
      );
    }
    if (e.code === '28P01' || /password|auth/i.test(e.message ?? '')) {
      throw connectionError(
        `PgBouncer at ${where} refused admin user ${user}: ${redact(e.message ?? '')}`,
        'check the password in --pgbouncer-admin and that the user is in its auth_file',
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

// ---------------------------------------------------------------------------------------------
// pgbouncer.ini

interface IniEntry {
  /** The whole file as lines, each with its own line ending. */
  lines: string[];
  /** Index of the entry's line. */
  index: number;
  /** Offset in that line where the connect string starts. */
  valueStart: number;
}

function readIni(iniPath: string): string {
  try {
    return readFileSync(iniPath, 'utf8');
  } catch (err) {
    const code = (err as { code?: string }).code;
    throw usageError(
      `cannot read the PgBouncer ini ${iniPath}${code ? ` (${code})` : ''}`,
      'pass --pgbouncer-ini with the path of the pgbouncer.ini PgBouncer runs with',
    );
  }
}

const unquoteKey = (key: string) => (key.startsWith('"') && key.endsWith('"') && key.length >= 2 ? key.slice(1, -1) : key);

function findEntry(text: string, iniPath: string, dbEntry: string): IniEntry {
  const lines = text.match(/[^\n]*\n|[^\n]+$/g) ?? [];
  let section: string | undefined;
  let sawDatabases = false;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.replace(/\r?\n$/, '');
    const trimmed = line.trim();
    if (!trimmed || trimmed.startsWith(';') || trimmed.startsWith('#')) continue;
    const header = /^\[([^\]]+)\]$/.exec(trimmed);
    if (header) {
      section = header[1]!.trim().toLowerCase();
      if (section === 'databases') sawDatabases = true;
      continue;
    }
    if (section !== 'databases') continue;
    const eq = line.indexOf('=');
    if (eq < 0) continue;
    if (unquoteKey(line.slice(0, eq).trim()) === dbEntry) return { lines, index: i, valueStart: eq + 1 };
  }
  if (!sawDatabases)
    throw usageError(
      `the PgBouncer ini ${iniPath} has no [databases] section`,
      "pass --pgbouncer-ini with the pgbouncer.ini that defines the application's database",
    );
  throw usageError(
    `the PgBouncer ini ${iniPath} has no [databases] entry ${dbEntry}`,
    'pass --pgbouncer-db with the name the application connects to (a key under [databases])',
  );
}

interface ConnstrPair {
  key: string;
  value: string;
  /** Offsets of the value (including its quotes) within the connect string. */
  start: number;
  end: number;
}

/** Split a PgBouncer connect string (`host=x port=5432 dbname='a b'`) into pairs with their positions. */
function parseConnstr(s: string): ConnstrPair[] {
  const pairs: ConnstrPair[] = [];
  let i = 0;
  while (i < s.length) {
    while (i < s.length && /\s/.test(s[i]!)) i++;
    if (i >= s.length) break;
    const keyStart = i;
    while (i < s.length && s[i] !== '=' && !/\s/.test(s[i]!)) i++;
    const key = s.slice(keyStart, i);
    while (i < s.length && /\s/.test(s[i]!)) i++;
    if (s[i] !== '=') throw new Error(`expected = after ${key}`);
    i++;
    while (i < s.length && /\s/.test(s[i]!)) i++;
    const start = i;
    let value = '';
    if (s[i] === "'") {
      i++;
      for (;;) {
        if (i >= s.length) throw new Error(`unterminated quote in ${key}`);
        if (s[i] === "'") {
          if (s[i + 1] === "'") {
            value += "'";
            i += 2;
            continue;
          }
          i++;
          break;
        }
        value += s[i++];
      }
    } else {
      while (i < s.length && !/\s/.test(s[i]!)) value += s[i++];
    }
    pairs.push({ key: key.toLowerCase(), value, start, end: i });
  }
  return pairs;
}

/** Quote a value for a PgBouncer connect string when it needs it (single quotes, inner quotes doubled). */
export function quoteConnstrValue(value: string | number): string {
  const text = String(value);
  return /^[A-Za-z0-9_.\-/:]+$/.test(text) ? text : `'${text.replace(/'/g, "''")}'`;
}

function entryPairs(entry: IniEntry, iniPath: string, dbEntry: string): { connstr: string; pairs: ConnstrPair[] } {
  const line = entry.lines[entry.index]!.replace(/\r?\n$/, '');
  const connstr = line.slice(entry.valueStart);
  try {
    return { connstr, pairs: parseConnstr(connstr) };
  } catch (err) {
    throw usageError(
      `the [databases] entry ${dbEntry} in ${iniPath} cannot be parsed (${(err as Error).message})`,
      'fix the entry so that it reads like: app = host=10.0.0.5 port=5432 dbname=app',
    );
  }
}

/** Where the entry points now, as written in the ini (for rollback: where it was before the switch). */
export function readDatabaseTarget(iniPath: string, dbEntry: string): PgBouncerTarget {
  const entry = findEntry(readIni(iniPath), iniPath, dbEntry);
  const { pairs } = entryPairs(entry, iniPath, dbEntry);
  const get = (k: string) => pairs.find((p) => p.key === k)?.value;
  const port = get('port');
  return { host: get('host'), port: port === undefined ? undefined : Number(port), dbname: get('dbname') };
}

/**
 * The ini text with only host, port and dbname of one entry replaced (added when absent).
 * Every other byte — other settings of the entry, other entries, comments, line endings — stays.
 */
export function rewriteEntry(text: string, iniPath: string, dbEntry: string, target: Required<PgBouncerTarget>): string {
  const entry = findEntry(text, iniPath, dbEntry);
  const { connstr, pairs } = entryPairs(entry, iniPath, dbEntry);
  const wanted: [string, string][] = [
    ['host', quoteConnstrValue(target.host)],
    ['port', quoteConnstrValue(target.port)],
    ['dbname', quoteConnstrValue(target.dbname)],
  ];
  let updated = connstr;
  // Replace from the end so earlier offsets stay valid.
  const present = wanted
    .map(([k, v]) => ({ pair: pairs.find((p) => p.key === k), v, k }))
    .sort((a, b) => (b.pair?.start ?? -1) - (a.pair?.start ?? -1));
  const missing: string[] = [];
  for (const { pair, v, k } of present) {
    if (pair) updated = updated.slice(0, pair.start) + v + updated.slice(pair.end);
    else missing.push(`${k}=${v}`);
  }
  if (missing.length) {
    const trailing = /\s*$/.exec(updated)![0];
    const body = updated.slice(0, updated.length - trailing.length);
    updated = `${body} ${missing.join(' ')}${trailing}`;
  }
  const original = entry.lines[entry.index]!;
  const ending = /\r?\n$/.exec(original)?.[0] ?? '';
  const lines = [...entry.lines];
  lines[entry.index] = original.slice(0, entry.valueStart) + updated + ending;
  return lines.join('');
}

/** Write a file by temp file + rename in the same directory, keeping the original's mode and owner. */
export function writeFileAtomic(target: string, content: string): void {
  // A symlinked config (config management often links it) keeps its link: write where it points.
  const path = realpathSync(target);
  const st = statSync(path);
  const tmp = join(dirname(path), `.${basename(path)}.pgshift-${process.pid}-${Date.now()}.tmp`);
  const fd = openSync(tmp, 'wx', st.mode & 0o7777);
  try {
    writeSync(fd, content);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    // Only root may give a file away; otherwise the new file is ours, as the old one must have been to be writable.
    if (process.getuid?.() === 0) chownSync(tmp, st.uid, st.gid);
    renameSync(tmp, path);
  } catch (err) {
    try {
      unlinkSync(tmp);
    } catch {
      /* already gone */
    }
    throw err;
  }
}

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
