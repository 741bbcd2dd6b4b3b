/**
 * The load tools the benchmarks compare, each run as a child process the way a user runs it,
 * and the server chores around them. Shared by bench/full-load.ts (the Tasteam fixture) and
 * bench/large-table.ts (one big table):
 *   plan      the plan's Phase 1: `pg_dump --format=custom` to a file, then `pg_restore`;
 *   pgcopydb  `pgcopydb clone` (Debian's, installed with apt-get when missing);
 *   pgshift   `pgshift full-load --json` through the CLI.
 * Each returns its wall time, the memory of its process tree (bench/support/measure-process.ts)
 * and the CPU its own processes used.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { withUrl } from '../../src/postgres/connect.js';
import { libpqEnv, parseConnInfo } from '../../src/postgres/conninfo.js';
import { redact } from '../../src/postgres/redact.js';
import { ident } from '../../src/postgres/sql.js';
import type { LocalServer } from '../../src/rehearse/local-server.js';
import { measureProcess, type MeasuredRun } from './measure-process.js';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** Debian's PostgreSQL 15 client: the plan's pg_dump/pg_restore, and what pgcopydb runs. */
/**
 * Server settings for a load benchmark: the fixture servers' defaults (fsync off, no
 * synchronous commit) plus room for a 1 GB load without forced checkpoints, caches large
 * enough to hold the source, and no autovacuum waking up in the middle of one tool's run.
 * maintenance_work_mem is raised server-wide so the plan's pg_restore (which sets nothing)
 * builds indexes with the same memory as the tools that set it per session.
 */
export const LOAD_SERVER_SETTINGS = {
  shared_buffers: "'1GB'",
  max_wal_size: "'8GB'",
  checkpoint_timeout: "'30min'",
  maintenance_work_mem: "'256MB'",
  autovacuum: 'off',
};

export const PG15_BIN = '/usr/lib/postgresql/15/bin';

export type LoadTool = 'plan' | 'pgcopydb' | 'pgshift';

export interface LoadOutcome {
  tool: LoadTool;
  command: string;
  ok: boolean;
  error?: string;
  seconds: number;
  /** Largest sum of VmRSS over the tool's process tree, sampled every 100 ms (bytes). */
  peakTreeRss: number;
  /** Largest single process's peak RSS (GNU time %M, i.e. its VmHWM) (bytes). */
  maxProcessRss: number;
  maxProcesses: number;
  /** GNU time %U + %S of the tool and its reaped descendants. */
  toolCpu: number;
  /** Files the tool wrote besides the target: whether they hold the table data (a dump), and their size. */
  diskFile: { dataDump: boolean; bytes: number; what: string };
  details?: unknown;
}

/** Where a load reads from and writes to. */
export interface LoadContext {
  source: LocalServer;
  target: LocalServer;
  sourceDb: string;
  targetDb: string;
}

export const secs = (ms: number): number => ms / 1000;

export function dirBytes(path: string): number {
  if (!existsSync(path)) return 0;
  const st = statSync(path);
  if (!st.isDirectory()) return st.size;
  return readdirSync(path).reduce((sum, name) => sum + dirBytes(join(path, name)), 0);
}

/** The last lines of a tool's output, with every registered password masked. */
export function tail(text: string, lines = 25): string {
  return redact(text).trim().split('\n').slice(-lines).join('\n');
}

/** pgcopydb from Debian; installed with apt-get when missing and we are root. Returns its version. */
export function ensurePgcopydb(): string {
  const version = () => execFileSync('pgcopydb', ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    return /pgcopydb version (\S+)/.exec(version())?.[1] ?? 'unknown';
  } catch {
    if (process.getuid?.() !== 0) throw new Error('pgcopydb is not installed: apt-get install -y pgcopydb');
    console.log('installing pgcopydb (apt-get install -y pgcopydb) ...');
    execFileSync('bash', ['-c', 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq pgcopydb'], {
      stdio: 'inherit',
    });
    return /pgcopydb version (\S+)/.exec(version())?.[1] ?? 'unknown';
  }
}

export function postmasterPid(server: LocalServer): number {
  return Number(readFileSync(join(server.dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
}

export async function freshDatabase(server: LocalServer, name: string): Promise<void> {
  await withUrl(server.url(), async (c) => {
    await c.query(`DROP DATABASE IF EXISTS ${ident(name)} WITH (FORCE)`);
    await c.query(`CREATE DATABASE ${ident(name)}`);
  });
}

export async function dropDatabase(server: LocalServer, name: string): Promise<void> {
  await withUrl(server.url(), (c) => c.query(`DROP DATABASE IF EXISTS ${ident(name)} WITH (FORCE)`));
}

/** Flush what the previous load left dirty, so it is not charged to the next tool. */
export async function settle(servers: LocalServer[]): Promise<void> {
  await Promise.all(servers.map((s) => withUrl(s.url(), (c) => c.query('CHECKPOINT'))));
}

/** The plan's Phase 1: `pg_dump -Fc` to a file, then `pg_restore` of that file, timed end to end. */
export async function runPlan(ctx: LoadContext): Promise<LoadOutcome> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-plan-'));
  const file = join(dir, 'backup.dump');
  const srcEnv = { ...process.env, ...libpqEnv(parseConnInfo(ctx.source.url(ctx.sourceDb), 'source')) };
  const tgtEnv = { ...process.env, ...libpqEnv(parseConnInfo(ctx.target.url(ctx.targetDb), 'target')) };
  const dumpArgv = [join(PG15_BIN, 'pg_dump'), '--format=custom', '--no-owner', '--no-acl', '-f', file];
  const restoreArgv = [join(PG15_BIN, 'pg_restore'), '--no-owner', '-d', ctx.targetDb, file];
  const command = `pg_dump --format=custom --no-owner --no-acl -f backup.dump && pg_restore --no-owner -d ${ctx.targetDb} backup.dump`;
  try {
    const dump = await measureProcess(dumpArgv, { env: srcEnv });
    const dumpBytes = existsSync(file) ? statSync(file).size : 0;
    const steps: MeasuredRun[] = [dump];
    if (dump.exitCode === 0) steps.push(await measureProcess(restoreArgv, { env: tgtEnv }));
    const failed = steps.find((s) => s.exitCode !== 0);
    return {
      tool: 'plan',
      command,
      ok: !failed,
      error: failed ? tail(failed.stderr, 5) : undefined,
      seconds: secs(steps.reduce((s, r) => s + r.ms, 0)),
      peakTreeRss: Math.max(...steps.map((s) => s.peakTreeRss)),
      maxProcessRss: Math.max(...steps.map((s) => s.maxProcessRss)),
      maxProcesses: Math.max(...steps.map((s) => s.maxProcesses)),
      toolCpu: steps.reduce((sum, r) => sum + r.cpuSeconds, 0),
      diskFile: { dataDump: true, bytes: dumpBytes, what: 'backup.dump (pg_dump -Fc, all data)' },
      details: { dumpSeconds: secs(dump.ms), restoreSeconds: steps[1] ? secs(steps[1].ms) : undefined },
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `pgcopydb clone` with the given job counts and extra options (e.g. --split-tables-larger-than). */
export async function runPgcopydb(ctx: LoadContext, version: string, options: string[]): Promise<LoadOutcome> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-pgcopydb-'));
  const work = join(dir, 'work');
  const env = {
    ...process.env,
    PGCOPYDB_SOURCE_PGURI: ctx.source.url(ctx.sourceDb),
    PGCOPYDB_TARGET_PGURI: ctx.target.url(ctx.targetDb),
    // pgcopydb runs pg_dump/pg_restore from PATH: make it the Debian 15 client, as the plan's.
    PATH: `${PG15_BIN}:${process.env.PATH}`,
  };
  const argv = ['pgcopydb', 'clone', ...options, '--no-owner', '--no-acl', '--dir', work];
  try {
    const run = await measureProcess(argv, { env, stderrLimit: 400_000 });
    return {
      tool: 'pgcopydb',
      command: `pgcopydb clone ${options.join(' ')} --no-owner --no-acl --dir <work> (pgcopydb ${version})`,
      ok: run.exitCode === 0,
      error: run.exitCode === 0 ? undefined : tail(run.stderr, 8),
      seconds: secs(run.ms),
      peakTreeRss: run.peakTreeRss,
      maxProcessRss: run.maxProcessRss,
      maxProcesses: run.maxProcesses,
      toolCpu: run.cpuSeconds,
      diskFile: { dataDump: false, bytes: dirBytes(work), what: 'work directory (schema dump and bookkeeping, no table data)' },
      // pgcopydb logs each STEP with a timestamp and ends with its own summary table on stdout.
      details: {
        steps: redact(run.stderr)
          .split('\n')
          .filter((l) => / STEP \d+:/.test(l)),
        // How --split-tables-larger-than cut the tables (same-table concurrency).
        split: redact(run.stderr)
          .split('\n')
          .filter((l) => /split|parts|same-table/i.test(l))
          .slice(0, 10),
        summary: tail(run.stdout, 40),
        lastLog: tail(run.stderr, 5),
      },
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface PgshiftJson {
  totals: { seconds: number; copySeconds: number; rows: number; bytes: number };
  steps: { step: string; ms: number }[];
  tables: { schema: string; name: string; rows: number; bytes: number; chunks: number; seconds: number; indexes: number }[];
}

export interface PgshiftRunOptions {
  jobs: number;
  /** --name: the slot and publication full-load leaves for CDC. */
  name: string;
  /** Keep the slot and publication (CDC follows); otherwise they are dropped after the load. */
  keepSlot?: boolean;
}

/** `pgshift full-load --jobs N --name X --json` through the CLI, as a user runs it. */
export async function runPgshift(ctx: LoadContext, opts: PgshiftRunOptions): Promise<LoadOutcome> {
  const env = {
    ...process.env,
    PGSHIFT_SOURCE_URL: ctx.source.url(ctx.sourceDb),
    PGSHIFT_TARGET_URL: ctx.target.url(ctx.targetDb),
  };
  const argv = [
    process.execPath,
    join(ROOT, 'bin', 'pgshift.mjs'),
    'full-load',
    '--jobs',
    String(opts.jobs),
    '--name',
    opts.name,
    '--json',
  ];
  const run = await measureProcess(argv, { env, cwd: ROOT });
  let result: PgshiftJson | undefined;
  try {
    result = JSON.parse(run.stdout) as PgshiftJson;
  } catch {
    result = undefined;
  }
  if (!opts.keepSlot) {
    // The slot and publication are CDC's starting point; without CDC, drop them.
    await withUrl(ctx.source.url(ctx.sourceDb), async (c) => {
      await c.query('SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1', [opts.name]);
      await c.query(`DROP PUBLICATION IF EXISTS ${ident(opts.name)}`);
    });
  }
  return {
    tool: 'pgshift',
    command: `pgshift full-load --jobs ${opts.jobs} --json`,
    ok: run.exitCode === 0 && result !== undefined,
    error: run.exitCode === 0 ? undefined : tail(run.stderr, 5),
    seconds: secs(run.ms),
    peakTreeRss: run.peakTreeRss,
    maxProcessRss: run.maxProcessRss,
    maxProcesses: run.maxProcesses,
    toolCpu: run.cpuSeconds,
    diskFile: { dataDump: false, bytes: 0, what: 'a temporary schema-only archive (kilobytes, removed at the end; not measured)' },
    details: result
      ? { engineSeconds: result.totals.seconds, copySeconds: result.totals.copySeconds, steps: result.steps, tables: result.tables }
      : undefined,
  };
}
