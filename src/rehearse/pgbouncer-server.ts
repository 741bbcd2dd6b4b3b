/**
 * A real PgBouncer (Debian's /usr/sbin/pgbouncer) on a loopback port, in front of a local
 * PostgreSQL, for the rehearsal and the switch tests. It is the application's path to the
 * database: the cutover pauses it, points it at the target and resumes it.
 *
 * PgBouncer refuses to run as root, so when we are root it runs as the OS user `postgres`
 * (the same user as the local PostgreSQL servers), and its files are owned by that user.
 */
import { postgresUser } from './local-server.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PgshiftError } from '../errors.js';
import { registerSecret } from '../postgres/redact.js';
import { quoteConnstrValue } from '../switch/pgbouncer-ini.js';
import { freePort } from './local-server.js';

export const PGBOUNCER_BINARY_CANDIDATES = ['/usr/sbin/pgbouncer', '/usr/bin/pgbouncer', '/usr/local/bin/pgbouncer'];

/** Where one [databases] entry sends its clients. */
export interface PgBouncerDatabase {
  /** The name clients connect to (the entry's key). */
  name: string;
  host: string;
  port: number;
  /** The database on the server; defaults to `name`. */
  dbname?: string;
}

/** A login PgBouncer accepts and passes on to PostgreSQL with the same password. */
export interface PgBouncerUser {
  user: string;
  password: string;
}

export interface PgBouncerOptions {
  databases: PgBouncerDatabase[];
  /** Application users. Their passwords must be valid on every server the entries may point at. */
  users: PgBouncerUser[];
  port?: number;
  poolMode?: 'transaction' | 'session';
  defaultPoolSize?: number;
  maxClientConn?: number;
  /** Extra [pgbouncer] settings. */
  settings?: Record<string, string | number>;
}

export interface LocalPgBouncer {
  readonly host: string;
  readonly port: number;
  readonly iniPath: string;
  /** Admin console URL (database `pgbouncer`, an admin user). */
  readonly adminUrl: string;
  /** A client URL through PgBouncer. */
  appUrl(database: string, user: string, password: string): string;
  /** PgBouncer's log, for diagnosing a failed test. */
  log(): string;
  /** Stop PgBouncer and delete its directory. */
  stop(): Promise<void>;
}

export function pgbouncerBinary(): string {
  const found = PGBOUNCER_BINARY_CANDIDATES.find((p) => existsSync(p));
  if (!found)
    throw new PgshiftError('internal', 'PgBouncer is not installed', 'run bash scripts/system-deps.sh (apt-get install -y pgbouncer)');
  return found;
}

/** userlist.txt quotes both fields with double quotes; an inner double quote is doubled. */
const userlistLine = (u: PgBouncerUser) => `"${u.user.replace(/"/g, '""')}" "${u.password.replace(/"/g, '""')}"\n`;

function renderIni(dir: string, port: number, opts: PgBouncerOptions, adminUser: string): string {
  const databases = opts.databases
    .map((d) => `${d.name} = host=${quoteConnstrValue(d.host)} port=${d.port} dbname=${quoteConnstrValue(d.dbname ?? d.name)}`)
    .join('\n');
  const settings: Record<string, string | number> = {
    listen_addr: '127.0.0.1',
    listen_port: port,
    unix_socket_dir: dir,
    auth_type: 'scram-sha-256',
    auth_file: join(dir, 'userlist.txt'),
    admin_users: adminUser,
    pool_mode: opts.poolMode ?? 'transaction',
    default_pool_size: opts.defaultPoolSize ?? 20,
    max_client_conn: opts.maxClientConn ?? 500,
    logfile: join(dir, 'pgbouncer.log'),
    pidfile: join(dir, 'pgbouncer.pid'),
    // node-postgres and psql send these at login; PgBouncer would otherwise refuse the client.
    ignore_startup_parameters: 'extra_float_digits,options',
    server_login_retry: 1,
    ...(opts.settings ?? {}),
  };
  return [
    '; written by pgshift rehearse — the cutover rewrites host, port and dbname of an entry below',
    '[databases]',
    databases,
    '',
    '[pgbouncer]',
    ...Object.entries(settings).map(([k, v]) => `${k} = ${v}`),
    '',
  ].join('\n');
}

async function portAccepts(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = netConnect({ host, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Start PgBouncer in the foreground as a child process and wait until it accepts connections. */
export async function startPgBouncer(opts: PgBouncerOptions): Promise<LocalPgBouncer> {
  const binary = pgbouncerBinary();
  const runAs = postgresUser('PgBouncer');
  const dir = mkdtempSync(join(tmpdir(), 'pgshift-pgbouncer-'));
  const host = '127.0.0.1';
  const port = opts.port ?? (await freePort());
  const adminUser = 'pgshift_pgbouncer_admin';
  const adminPassword = `adm-${Math.random().toString(36).slice(2)}${Math.random().toString(36).slice(2)}`;
  registerSecret(adminPassword);
  for (const u of opts.users) registerSecret(u.password);

  const iniPath = join(dir, 'pgbouncer.ini');
  const userlist = join(dir, 'userlist.txt');
  writeFileSync(iniPath, renderIni(dir, port, opts, adminUser), { mode: 0o640 });
  // Plain-text passwords let PgBouncer answer SCRAM from clients and log in to any server
  // that knows the same password (the source and, after the switch, the target).
  writeFileSync(userlist, [{ user: adminUser, password: adminPassword }, ...opts.users].map(userlistLine).join(''), { mode: 0o600 });
  chmodSync(userlist, 0o600);
  if (runAs.uid !== undefined) {
    for (const p of [dir, iniPath, userlist]) chownSync(p, runAs.uid, runAs.gid!);
  }

  const child: ChildProcess = spawn(binary, [iniPath], { ...runAs, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  let exited = false;
  const exitedPromise = new Promise<void>((resolve) =>
    child.once('exit', () => {
      exited = true;
      resolve();
    }),
  );
  child.once('error', () => {
    exited = true;
  });

  const logFile = join(dir, 'pgbouncer.log');
  const log = () => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : '') + stderr;
  const stop = async () => {
    if (!exited) {
      // SIGTERM is PgBouncer's immediate shutdown; SIGKILL if it does not go within 5 s.
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exitedPromise;
      clearTimeout(killer);
    }
    rmSync(dir, { recursive: true, force: true });
  };

  const deadline = Date.now() + 10_000;
  while (!(await portAccepts(host, port))) {
    if (exited || Date.now() > deadline) {
      const tail = log().trim().split('\n').slice(-3).join(' | ');
      await stop();
      throw new PgshiftError(
        'internal',
        `PgBouncer did not start on ${host}:${port}: ${tail || 'no log output'}`,
        'check that /usr/sbin/pgbouncer runs as the OS user postgres',
      );
    }
    await sleep(50);
  }

  const url = (database: string, user: string, password: string) =>
    `postgres://${encodeURIComponent(user)}:${encodeURIComponent(password)}@${host}:${port}/${encodeURIComponent(database)}`;
  return {
    host,
    port,
    iniPath,
    adminUrl: url('pgbouncer', adminUser, adminPassword),
    appUrl: url,
    log,
    stop,
  };
}
