/**
 * Benchmark: one big table (issue 12: 6 M rows per 1.1 GB of table data, a primary key and two
 * secondary indexes) loaded PostgreSQL 15 → 17 by four methods, at each size, in one run.
 *
 *   npm run bench:large-table -- [--sizes 1,4] [--jobs 2] [--backlog-mb 256] [--methods plan,native,pgcopydb,pgshift] [--keep]
 *
 * Starts its own source (15) and target (17) servers (bench/full-load.ts's settings). Per size
 * (GiB of table data), it generates the table on the source (bench/support/big-table.ts), then
 * loads it into a fresh target database with each method, checks the copy (exact row count, 3
 * valid indexes) and drops it again:
 *   plan      `pg_dump -Fc` + `pg_restore` (bench/support/load-tools.ts);
 *   native    tablesync: schema first (`pg_dump --schema-only` + `pg_restore`, indexes included),
 *             then `CREATE SUBSCRIPTION ... WITH (copy_data = true)`, one sync worker for the one
 *             table; timed from the schema dump until the table is `r`eady in pg_subscription_rel;
 *   pgcopydb  `pgcopydb clone --split-tables-larger-than 100MB --table-jobs J --index-jobs J`
 *             (J = --jobs, 2 on a 2-core machine: as many copy and index processes as pgshift's
 *             workers, so neither tool gets more cores than the other);
 *   pgshift   `pgshift full-load --jobs J` through the CLI.
 * Memory: a tool's peak is the largest sum of VmRSS over its process tree (sampled every 100 ms
 * from /proc) and the largest single process's VmHWM (GNU time %M). For native, which runs inside
 * the servers, it is the largest sum of RssAnon + RssFile (private memory, shared buffers left
 * out) of the subscription's workers and the largest VmHWM of one of them (which counts the
 * shared buffers that worker touched).
 *
 * Then, on the target pgshift loaded:
 *   CDC backlog drain: with the subscription disabled (the slot holds the changes), --backlog-mb
 *     MB of WAL of changes on the big table (first a quarter of it as an unmeasured "warm-up";
 *     then 10,000-row UPDATE and INSERT transactions: "small"; then the same volume as one
 *     transaction: "big"), enabled again, timed until a marker row
 *     written last is on the target. Four subscriptions, one after another, each drained on its
 *     own backlog: `pgshift cdc start` (its options), then plain `CREATE SUBSCRIPTION`s with the
 *     defaults (the plan's), with streaming = on, and with binary = true and streaming = on.
 *     pgshift's CDC is native logical replication; only the subscription options differ. Beside
 *     the wall time each drain reports the servers' CPU seconds, which other work on the machine
 *     barely moves.
 *   Index-build levers: CREATE INDEX (account_id, created_at) on the loaded table with
 *     maintenance_work_mem 256MB and 1GB, each with max_parallel_maintenance_workers 0 and 2.
 *
 * Prints per size and method the time, time per GiB, memory and CPU; the goals as PASS/MISS
 * (pgshift ≤ 0.8× pgcopydb at every size; pgshift's time per GiB at the largest size within 10 %
 * of the smallest; pgshift's memory flat: peak at the largest size ≤ 1.25× the smallest; backlog
 * drain no slower than native's, 10 % noise allowed) and writes bench/.results/large-table.json
 * and .txt. Removes its servers and temporary files on exit and on SIGINT / SIGTERM.
 * Exit 0 whatever the goals say; 1 if a method failed or its copy is incomplete; 2 if the
 * benchmark itself broke.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type pg from 'pg';
import { connect, withUrl } from '../src/postgres/connect.js';
import { libpqConninfo, libpqEnv, parseConnInfo, type ConnInfo } from '../src/postgres/conninfo.js';
import { currentWalLsn, lsnDiff } from '../src/postgres/lsn.js';
import { redact, registerSecret } from '../src/postgres/redact.js';
import { ident } from '../src/postgres/sql.js';
import { createSubscription, detachAndDropSubscription } from '../src/postgres/subscription.js';
import { startLocalServer, type LocalServer } from '../src/rehearse/local-server.js';
import { BIG_TABLE, createBigTable, describeBigTable, type BigTableShape } from './support/big-table.js';
import {
  dropDatabase,
  ensurePgcopydb,
  freshDatabase,
  PG15_BIN,
  LOAD_SERVER_SETTINGS,
  postmasterPid,
  ROOT,
  runPgcopydb,
  runPgshift,
  runPlan,
  secs,
  settle,
  tail,
  type LoadContext,
  type LoadOutcome,
  type PgshiftJson,
} from './support/load-tools.js';
import { measureProcess, serverCpuSeconds } from './support/measure-process.js';
import { Teardown } from './support/teardown.js';

const RESULTS_DIR = join(ROOT, 'bench', '.results');
const GIB = 1024 ** 3;
const CDC_NAME = 'bench_large';

const { values: args } = parseArgs({
  options: {
    sizes: { type: 'string', default: '1,4' },
    jobs: { type: 'string', default: String(cpus().length) },
    'backlog-mb': { type: 'string', default: '256' },
    methods: { type: 'string', default: 'plan,native,pgcopydb,pgshift' },
    keep: { type: 'boolean', default: false },
  },
});
const SIZES = String(args.sizes)
  .split(',')
  .map((s) => Number(s.trim()));
const JOBS = Number(args.jobs);
const BACKLOG_MB = Number(args['backlog-mb']);
type Method = 'plan' | 'native' | 'pgcopydb' | 'pgshift';
const METHODS = String(args.methods).split(',') as Method[];

/** Memory of the method's own processes (see the header for what is measured per method). */
interface MethodRun {
  method: Method;
  command: string;
  ok: boolean;
  error?: string;
  seconds: number;
  secondsPerGib: number;
  peakRss: number;
  maxProcessRss: number;
  memoryMeasured: string;
  cpu: { tool: number; source: number; target: number; total: number };
  complete: boolean;
  mismatch?: string;
  loadAvgAtStart: number;
  details?: unknown;
}

interface DrainRun {
  subscription: string;
  options: string;
  shape: Shape;
  transactions: number;
  rowsChanged: number;
  walBytes: number;
  generateSeconds: number;
  drainSeconds: number;
  walMbPerSecond: number;
  sourceSpillBytes: number;
  streamedBytes: number;
  /** Server CPU seconds from ENABLE to the marker on the target: the walsender decoding, the apply worker applying. */
  cpu: { source: number; target: number };
}

interface IndexLever {
  maintenanceWorkMem: string;
  maxParallelMaintenanceWorkers: number;
  seconds: number;
}

interface SizeResult {
  requestedGib: number;
  table: BigTableShape;
  runs: MethodRun[];
  drains: DrainRun[];
  indexLevers: IndexLever[];
}

// ── output: printed and kept for the .txt ───────────────────────────────────────────────
const lines: string[] = [];
function say(line = ''): void {
  lines.push(line);
  console.log(line);
}
const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MiB`;
const gib = (bytes: number) => `${(bytes / GIB).toFixed(2)} GiB`;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function q(info: ConnInfo, sql: string, params?: unknown[]): Promise<pg.QueryResult> {
  const c = await connect(info, { applicationName: 'bench-large-table' });
  try {
    return await c.query(sql, params);
  } finally {
    await c.end();
  }
}

// ── native tablesync ────────────────────────────────────────────────────────────────────
/** Private and peak memory of a set of server processes, from /proc/<pid>/status. */
function workerMemory(pids: number[]): { privateBytes: number; maxHwm: number } {
  let privateBytes = 0;
  let maxHwm = 0;
  for (const pid of pids) {
    try {
      const status = readFileSync(`/proc/${pid}/status`, 'utf8');
      const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0) * 1024;
      privateBytes += kb('RssAnon') + kb('RssFile');
      maxHwm = Math.max(maxHwm, kb('VmHWM'));
    } catch {
      // The worker exited between the query and the read.
    }
  }
  return { privateBytes, maxHwm };
}

async function runNative(ctx: LoadContext): Promise<Omit<LoadOutcome, 'tool'> & { memoryMeasured: string }> {
  const source = parseConnInfo(ctx.source.url(ctx.sourceDb), 'source');
  const target = parseConnInfo(ctx.target.url(ctx.targetDb), 'target');
  const dir = mkdtempSync(join(tmpdir(), 'bench-native-'));
  const file = join(dir, 'schema.dump');
  const name = 'bench_tablesync';
  const started = performance.now();
  const dump = await measureProcess([join(PG15_BIN, 'pg_dump'), '--schema-only', '--format=custom', '--no-owner', '--no-acl', '-f', file], {
    env: { ...process.env, ...libpqEnv(source) },
  });
  const restore =
    dump.exitCode === 0
      ? await measureProcess([join(PG15_BIN, 'pg_restore'), '--no-owner', '-d', ctx.targetDb, file], {
          env: { ...process.env, ...libpqEnv(target) },
        })
      : dump;
  const schemaSeconds = secs(performance.now() - started);
  const base = {
    command: `pg_dump --schema-only | pg_restore; CREATE SUBSCRIPTION ... WITH (copy_data = true); wait until srsubstate = 'r'`,
    maxProcesses: 0,
    toolCpu: dump.cpuSeconds + (restore === dump ? 0 : restore.cpuSeconds),
    diskFile: { dataDump: false, bytes: 0, what: 'schema-only dump (kilobytes)' },
    memoryMeasured: 'subscription workers on the target: largest sum of RssAnon + RssFile; largest VmHWM of one worker',
  };
  if (restore.exitCode !== 0) {
    return { ...base, ok: false, error: tail(restore.stderr, 5), seconds: schemaSeconds, peakTreeRss: 0, maxProcessRss: 0 };
  }
  await q(source, `CREATE PUBLICATION ${ident(name)} FOR TABLE ${ident(BIG_TABLE)}`);
  const t = await connect(target, { applicationName: 'bench-large-table' });
  let peakTreeRss = 0;
  let maxProcessRss = 0;
  let states = '';
  try {
    const syncStarted = performance.now();
    await createSubscription(t, name, libpqConninfo(source, { includePassword: true }), name, ['copy_data = true']);
    const deadline = Date.now() + 4 * 3600_000;
    for (;;) {
      if (Date.now() > deadline) throw new Error(`tablesync did not finish in 4 hours (states ${states})`);
      const r = await t.query(
        `SELECT (SELECT string_agg(srsubstate::text, '') FROM pg_subscription_rel sr JOIN pg_subscription s ON s.oid = sr.srsubid WHERE s.subname = $1) AS states,
                (SELECT array_agg(pid) FROM pg_stat_subscription WHERE subname = $1 AND pid IS NOT NULL) AS pids`,
        [name],
      );
      states = r.rows[0].states ?? '';
      const mem = workerMemory((r.rows[0].pids ?? []).map(Number));
      peakTreeRss = Math.max(peakTreeRss, mem.privateBytes);
      maxProcessRss = Math.max(maxProcessRss, mem.maxHwm);
      if (states !== '' && /^r+$/.test(states)) break;
      await sleep(100);
    }
    const syncSeconds = secs(performance.now() - syncStarted);
    return {
      ...base,
      ok: true,
      seconds: secs(performance.now() - started),
      peakTreeRss,
      maxProcessRss,
      details: { schemaSeconds, syncSeconds },
    };
  } finally {
    // DROP SUBSCRIPTION drops its slot on the source (reachable here); the publication goes too.
    await t.query(`DROP SUBSCRIPTION IF EXISTS ${ident(name)}`).catch(async () => detachAndDropSubscription(t, name));
    await t.end();
    await q(source, `SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name LIKE $1 AND NOT active`, [
      `${name}%`,
    ]).catch(() => undefined);
    await q(source, `DROP PUBLICATION IF EXISTS ${ident(name)}`);
  }
}

// ── one method ──────────────────────────────────────────────────────────────────────────
async function runMethod(
  method: Method,
  servers: { source: LocalServer; target: LocalServer },
  sourceDb: string,
  shape: BigTableShape,
  pgcopydbVersion: string,
): Promise<MethodRun> {
  const targetDb = `bench_${method}`;
  await freshDatabase(servers.target, targetDb);
  await settle([servers.source, servers.target]);
  const ctx: LoadContext = { ...servers, sourceDb, targetDb };
  const loadAvgAtStart = loadavg()[0]!;
  process.stdout.write(`  ${method.padEnd(8)} ... `);
  const [src0, tgt0] = [serverCpuSeconds(postmasterPid(servers.source)), serverCpuSeconds(postmasterPid(servers.target))];
  const toolTree = 'tool process tree: largest sum of VmRSS (sampled 100 ms); largest VmHWM of one process (GNU time %M)';
  const outcome =
    method === 'plan'
      ? { ...(await runPlan(ctx)), memoryMeasured: toolTree }
      : method === 'native'
        ? await runNative(ctx)
        : method === 'pgcopydb'
          ? {
              ...(await runPgcopydb(ctx, pgcopydbVersion, [
                '--split-tables-larger-than',
                '100MB',
                '--table-jobs',
                String(JOBS),
                '--index-jobs',
                String(JOBS),
              ])),
              memoryMeasured: toolTree,
            }
          : { ...(await runPgshift(ctx, { jobs: JOBS, name: CDC_NAME, keepSlot: true })), memoryMeasured: toolTree };
  await sleep(500);
  const cpuSource = serverCpuSeconds(postmasterPid(servers.source)) - src0;
  const cpuTarget = serverCpuSeconds(postmasterPid(servers.target)) - tgt0;
  let complete = false;
  let mismatch: string | undefined = 'the method failed';
  if (outcome.ok) {
    const got = await withUrl(servers.target.url(targetDb), (c) => describeBigTable(c)).catch((err: unknown) => err);
    if (got instanceof Error) mismatch = `cannot read the copy: ${redact(got.message)}`;
    else {
      const g = got as Omit<BigTableShape, 'seconds'>;
      complete = g.rows === shape.rows && g.indexes === shape.indexes;
      mismatch = complete ? undefined : `${g.rows} rows and ${g.indexes} indexes, source ${shape.rows} and ${shape.indexes}`;
    }
  }
  const run: MethodRun = {
    method,
    command: outcome.command,
    ok: outcome.ok,
    error: outcome.error,
    seconds: outcome.seconds,
    secondsPerGib: outcome.seconds / (shape.tableBytes / GIB),
    peakRss: outcome.peakTreeRss,
    maxProcessRss: outcome.maxProcessRss,
    memoryMeasured: outcome.memoryMeasured,
    cpu: { tool: outcome.toolCpu, source: cpuSource, target: cpuTarget, total: outcome.toolCpu + cpuSource + cpuTarget },
    complete,
    mismatch,
    loadAvgAtStart,
    details: outcome.details,
  };
  console.log(
    `${run.seconds.toFixed(1)} s${run.ok ? '' : ` FAILED: ${run.error}`}${complete || !run.ok ? '' : `  INCOMPLETE: ${mismatch}`}`,
  );
  // pgshift's copy stays for the CDC and lever measurements; the others free their space now.
  if (method !== 'pgshift' || !run.ok) await dropDatabase(servers.target, targetDb);
  return run;
}

// ── CDC backlog drain ───────────────────────────────────────────────────────────────────
const TX_ROWS = 10_000;

/**
 * warm-up: a quarter of the backlog in small transactions, drained first through every
 * subscription and reported but left out of the goal. In two 1 GiB runs the first backlog after
 * pgshift's load drained 1.5–2× slower than the next subscriptions' (a plain subscription with
 * pgshift's own options drained at the defaults' rate), so without it the comparison measured
 * which subscription came first, not the options.
 */
type Shape = 'warm-up' | 'small' | 'big';
const SHAPES: Shape[] = ['warm-up', 'small', 'big'];

/** Where the next generated change goes: ids to update cycle through the table, inserts go past its end. */
interface Cursor {
  rows: number;
  nextUpdate: number;
  nextInsert: number;
  marker: number;
}

async function generateBacklog(
  c: pg.Client,
  cursor: Cursor,
  shape: Shape,
): Promise<{ transactions: number; rowsChanged: number; walBytes: number; seconds: number }> {
  const started = performance.now();
  const from = await currentWalLsn(c);
  let transactions = 0;
  let rowsChanged = 0;
  let statements = 0;
  if (shape === 'big') await c.query('BEGIN');
  const walBytes = shape === 'warm-up' ? (BACKLOG_MB * 1e6) / 4 : BACKLOG_MB * 1e6;
  while (lsnDiff(await currentWalLsn(c), from) < walBytes) {
    if (statements % 4 === 3) {
      const r = await c.query(
        `INSERT INTO ${ident(BIG_TABLE)} (id, account_id, created_at, amount, status, payload)
         SELECT i, i % 100000, now(), 1, 'backlog', left(repeat(md5(i::text), 4), 126) FROM generate_series($1::bigint, $2::bigint) i`,
        [cursor.nextInsert, cursor.nextInsert + TX_ROWS - 1],
      );
      cursor.nextInsert += TX_ROWS;
      rowsChanged += r.rowCount ?? 0;
    } else {
      const lo = cursor.nextUpdate;
      cursor.nextUpdate = lo + TX_ROWS > cursor.rows ? 1 : lo + TX_ROWS;
      const r = await c.query(`UPDATE ${ident(BIG_TABLE)} SET amount = amount + 1, status = 'backlog' WHERE id BETWEEN $1 AND $2`, [
        lo,
        lo + TX_ROWS - 1,
      ]);
      rowsChanged += r.rowCount ?? 0;
    }
    statements++;
    if (shape !== 'big') transactions++;
  }
  if (shape === 'big') {
    await c.query('COMMIT');
    transactions = 1;
  }
  // The marker is the last transaction: once the target shows it, everything before it is applied.
  cursor.marker++;
  await c.query(`UPDATE ${ident(BIG_TABLE)} SET status = $1 WHERE id = 1`, [`marker-${cursor.marker}`]);
  return {
    transactions: transactions + 1,
    rowsChanged: rowsChanged + 1,
    walBytes: lsnDiff(await currentWalLsn(c), from),
    seconds: secs(performance.now() - started),
  };
}

async function waitStreaming(source: pg.Client, target: pg.Client, subscription: string, slot: string): Promise<void> {
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    const s = await source.query('SELECT active FROM pg_replication_slots WHERE slot_name = $1', [slot]);
    const w = await target.query('SELECT 1 FROM pg_stat_subscription WHERE subname = $1 AND pid IS NOT NULL AND relid IS NULL', [
      subscription,
    ]);
    if (s.rows[0]?.active && w.rowCount) return;
    await sleep(100);
  }
  throw new Error(`subscription ${subscription} did not start streaming`);
}

async function waitSlotInactive(source: pg.Client, slot: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (!(await source.query('SELECT active FROM pg_replication_slots WHERE slot_name = $1', [slot])).rows[0]?.active) return;
    await sleep(100);
  }
  throw new Error(`slot ${slot} stayed active after DISABLE`);
}

/** Hold the slot (subscription disabled), write the backlog, enable, time until the marker is on the target. */
async function drainOnce(
  servers: { source: LocalServer; target: LocalServer },
  source: pg.Client,
  target: pg.Client,
  cursor: Cursor,
  sub: { name: string; slot: string; options: string },
  shape: Shape,
): Promise<DrainRun> {
  await target.query(`ALTER SUBSCRIPTION ${ident(sub.name)} DISABLE`);
  await waitSlotInactive(source, sub.slot);
  await source.query('SELECT pg_stat_reset_replication_slot($1)', [sub.slot]);
  const generated = await generateBacklog(source, cursor, shape);
  const marker = `marker-${cursor.marker}`;
  const [src0, tgt0] = [serverCpuSeconds(postmasterPid(servers.source)), serverCpuSeconds(postmasterPid(servers.target))];
  const started = performance.now();
  await target.query(`ALTER SUBSCRIPTION ${ident(sub.name)} ENABLE`);
  const deadline = Date.now() + 4 * 3600_000;
  while ((await target.query(`SELECT status FROM ${ident(BIG_TABLE)} WHERE id = 1`)).rows[0]?.status !== marker) {
    if (Date.now() > deadline) throw new Error(`the backlog did not drain through ${sub.name}`);
    await sleep(50);
  }
  const drainSeconds = secs(performance.now() - started);
  const cpu = {
    source: serverCpuSeconds(postmasterPid(servers.source)) - src0,
    target: serverCpuSeconds(postmasterPid(servers.target)) - tgt0,
  };
  // The walsender reports its statistics when it stops or every so often: read them after a pause.
  await sleep(1500);
  const stats = (await source.query('SELECT spill_bytes, stream_bytes FROM pg_stat_replication_slots WHERE slot_name = $1', [sub.slot]))
    .rows[0];
  const run: DrainRun = {
    subscription: sub.name,
    options: sub.options,
    shape,
    transactions: generated.transactions,
    rowsChanged: generated.rowsChanged,
    walBytes: generated.walBytes,
    generateSeconds: generated.seconds,
    drainSeconds,
    walMbPerSecond: generated.walBytes / 1e6 / drainSeconds,
    sourceSpillBytes: Number(stats?.spill_bytes ?? 0),
    streamedBytes: Number(stats?.stream_bytes ?? 0),
    cpu,
  };
  say(
    `    ${sub.name.padEnd(28)} ${shape.padEnd(7)} ${(run.walBytes / 1e6).toFixed(0).padStart(5)} MB WAL, ${String(run.transactions).padStart(4)} tx, ${String(run.rowsChanged).padStart(8)} rows: drained in ${drainSeconds.toFixed(1).padStart(6)} s (${run.walMbPerSecond.toFixed(1)} MB/s), server CPU ${cpu.source.toFixed(1)} + ${cpu.target.toFixed(1)} s; source spill ${mib(run.sourceSpillBytes)}, streamed ${mib(run.streamedBytes)}`,
  );
  return run;
}

async function subscriptionOptions(target: pg.Client, name: string): Promise<string> {
  const r = await target.query('SELECT substream::text AS streaming, subbinary AS binary FROM pg_subscription WHERE subname = $1', [name]);
  const s = r.rows[0];
  // substream is 'f'/'t'/'p' on 16+ (off/on/parallel), a boolean before.
  const streaming = { f: 'off', t: 'on', p: 'parallel', false: 'off', true: 'on' }[String(s?.streaming) as 'f'] ?? String(s?.streaming);
  return `streaming=${streaming}, binary=${s?.binary ? 'true' : 'false'}`;
}

async function measureDrains(servers: { source: LocalServer; target: LocalServer }, sourceDb: string, rows: number): Promise<DrainRun[]> {
  const sourceInfo = parseConnInfo(servers.source.url(sourceDb), 'source');
  const targetInfo = parseConnInfo(servers.target.url('bench_pgshift'), 'target');
  const env = { ...process.env, PGSHIFT_SOURCE_URL: servers.source.url(sourceDb), PGSHIFT_TARGET_URL: servers.target.url('bench_pgshift') };
  const cli = (argv: string[]) =>
    execFileSync(process.execPath, [join(ROOT, 'bin', 'pgshift.mjs'), ...argv, '--name', CDC_NAME, '--quiet'], {
      env,
      cwd: ROOT,
      stdio: 'pipe',
    });
  const source = await connect(sourceInfo, { applicationName: 'bench-backlog' });
  const target = await connect(targetInfo, { applicationName: 'bench-backlog' });
  const cursor: Cursor = { rows, nextUpdate: 1, nextInsert: rows + 1, marker: 0 };
  const runs: DrainRun[] = [];
  try {
    await source.query('SET synchronous_commit = off');
    // 1. pgshift's CDC: `cdc start` on full-load's slot, with the options it chooses.
    cli(['cdc', 'start']);
    await waitStreaming(source, target, CDC_NAME, CDC_NAME);
    const pgshiftSub = { name: CDC_NAME, slot: CDC_NAME, options: `pgshift cdc start: ${await subscriptionOptions(target, CDC_NAME)}` };
    for (const shape of SHAPES) runs.push(await drainOnce(servers, source, target, cursor, pgshiftSub, shape));
    cli(['cdc', 'stop']);
    // 2./3. Plain subscriptions from a new slot: the target holds every change so far, and nothing
    // writes in between, so copy_data = false starts it exactly in step.
    await source.query(`CREATE PUBLICATION bench_plain FOR TABLE ${ident(BIG_TABLE)}`);
    for (const [name, options] of [
      ['bench_defaults', []],
      ['bench_streaming', ['streaming = on']],
      ['bench_binary_streaming', ['binary = true', 'streaming = on']],
    ] as const) {
      await createSubscription(target, name, libpqConninfo(sourceInfo, { includePassword: true }), 'bench_plain', [
        'copy_data = false',
        ...options,
      ]);
      try {
        await waitStreaming(source, target, name, name);
        const sub = {
          name,
          slot: name,
          options: `CREATE SUBSCRIPTION ${options.length ? options.join(', ') : 'defaults'}: ${await subscriptionOptions(target, name)}`,
        };
        for (const shape of SHAPES) runs.push(await drainOnce(servers, source, target, cursor, sub, shape));
      } finally {
        await target.query(`DROP SUBSCRIPTION ${ident(name)}`);
      }
    }
    await source.query('DROP PUBLICATION bench_plain');
    return runs;
  } finally {
    await Promise.all([source.end(), target.end()]);
  }
}

// ── index-build levers ──────────────────────────────────────────────────────────────────
async function measureIndexLevers(target: LocalServer, db: string): Promise<IndexLever[]> {
  const out: IndexLever[] = [];
  await withUrl(target.url(db), async (c) => {
    for (const maintenanceWorkMem of ['256MB', '1GB']) {
      for (const workers of [0, 2]) {
        await c.query(`SET maintenance_work_mem = '${maintenanceWorkMem}'`);
        await c.query(`SET max_parallel_maintenance_workers = ${workers}`);
        await c.query('CHECKPOINT');
        const started = performance.now();
        await c.query(`CREATE INDEX lever_probe ON ${ident(BIG_TABLE)} (account_id, created_at)`);
        const seconds = secs(performance.now() - started);
        await c.query('DROP INDEX lever_probe');
        out.push({ maintenanceWorkMem, maxParallelMaintenanceWorkers: workers, seconds });
        say(
          `    CREATE INDEX (account_id, created_at), maintenance_work_mem ${maintenanceWorkMem.padEnd(5)}, max_parallel_maintenance_workers ${workers}: ${seconds.toFixed(1)} s`,
        );
      }
    }
  });
  return out;
}

// ── report ──────────────────────────────────────────────────────────────────────────────
function printSize(r: SizeResult): void {
  const by = new Map(r.runs.map((x) => [x.method, x]));
  const pgcopydb = by.get('pgcopydb');
  say('');
  say(
    `${r.requestedGib} GiB requested: ${r.table.rows.toLocaleString('en')} rows, ${gib(r.table.tableBytes)} table data, ${gib(r.table.totalBytes)} with its ${r.table.indexes} indexes (generated in ${r.table.seconds.toFixed(0)} s)`,
  );
  say('| method | seconds | s per GiB | × pgcopydb | peak RSS (sum) | largest process peak | CPU s: tool + source + target | complete |');
  say('|---|---|---|---|---|---|---|---|');
  for (const x of r.runs) {
    const cpu = `${x.cpu.tool.toFixed(1)} + ${x.cpu.source.toFixed(1)} + ${x.cpu.target.toFixed(1)} = ${x.cpu.total.toFixed(1)}`;
    const ratio = pgcopydb?.ok ? (x.seconds / pgcopydb.seconds).toFixed(2) : 'n/a';
    say(
      `| ${x.method} | ${x.seconds.toFixed(1)} | ${x.secondsPerGib.toFixed(1)} | ${ratio} | ${mib(x.peakRss)} | ${mib(x.maxProcessRss)} | ${cpu} | ${x.complete ? 'yes' : `NO (${x.mismatch})`} |`,
    );
  }
  const native = by.get('native')?.details as { schemaSeconds: number; syncSeconds: number } | undefined;
  if (native) say(`native: schema ${native.schemaSeconds.toFixed(1)} s, CREATE SUBSCRIPTION → ready ${native.syncSeconds.toFixed(1)} s`);
  const plan = by.get('plan')?.details as { dumpSeconds: number; restoreSeconds?: number } | undefined;
  if (plan) say(`plan: pg_dump ${plan.dumpSeconds.toFixed(1)} s + pg_restore ${(plan.restoreSeconds ?? 0).toFixed(1)} s`);
  const ours = by.get('pgshift')?.details as
    | { engineSeconds: number; steps: { step: string; ms: number }[]; tables: PgshiftJson['tables'] }
    | undefined;
  if (ours) {
    const t = ours.tables.find((x) => x.name === BIG_TABLE);
    say(
      `pgshift: engine ${ours.engineSeconds.toFixed(1)} s; ${t ? `${t.chunks} ctid-range chunks, copy + indexes of the table ${t.seconds.toFixed(1)} s` : ''}; steps ≥ 1 s: ${ours.steps
        .filter((s) => s.ms >= 1000)
        .map((s) => `${s.step} ${(s.ms / 1000).toFixed(1)} s`)
        .join('; ')}`,
    );
  }
  const copydb = pgcopydb?.details as { split: string[] } | undefined;
  if (copydb?.split.length) say(`pgcopydb on splitting:\n${copydb.split.map((s) => `  ${s}`).join('\n')}`);
  say('memory measured: ' + [...new Set(r.runs.map((x) => `${x.method}: ${x.memoryMeasured}`))].join('; '));
}

type Verdict = 'PASS' | 'MISS' | 'n/a';

function goals(results: SizeResult[]): Record<string, { verdict: Verdict; detail: string }> {
  const g: Record<string, { verdict: Verdict; detail: string }> = {};
  const ours = results.map((r) => r.runs.find((x) => x.method === 'pgshift'));
  const theirs = results.map((r) => r.runs.find((x) => x.method === 'pgcopydb'));
  const ratios = results.map((_r, i) => (ours[i]?.ok && theirs[i]?.ok ? ours[i]!.seconds / theirs[i]!.seconds : Number.NaN));
  g['pgshift ≤ 0.8× pgcopydb at every size'] = {
    verdict: ratios.some(Number.isNaN) ? 'n/a' : ratios.every((x) => x <= 0.8) ? 'PASS' : 'MISS',
    detail: results.map((r, i) => `${r.requestedGib} GiB: ${Number.isNaN(ratios[i]) ? 'not both run' : ratios[i]!.toFixed(2)}`).join(', '),
  };
  const first = ours[0];
  const last = ours[ours.length - 1];
  const linear = first && last && results.length > 1 ? last.secondsPerGib / first.secondsPerGib : Number.NaN;
  g['pgshift time per GiB at the largest size within 10 % of the smallest'] = {
    verdict: Number.isNaN(linear) ? 'n/a' : Math.abs(linear - 1) <= 0.1 ? 'PASS' : 'MISS',
    detail: Number.isNaN(linear)
      ? 'needs two sizes'
      : `${first!.secondsPerGib.toFixed(1)} → ${last!.secondsPerGib.toFixed(1)} s/GiB (${((linear - 1) * 100).toFixed(0)} %)`,
  };
  const memory = first && last && results.length > 1 ? last.peakRss / first.peakRss : Number.NaN;
  g['pgshift memory flat (peak RSS at the largest size ≤ 1.25× the smallest)'] = {
    verdict: Number.isNaN(memory) ? 'n/a' : memory <= 1.25 ? 'PASS' : 'MISS',
    detail: Number.isNaN(memory)
      ? `needs two sizes (${results.map((r, i) => `${r.requestedGib} GiB: ${mib(ours[i]?.peakRss ?? 0)}`).join(', ')})`
      : `${mib(first!.peakRss)} → ${mib(last!.peakRss)} (×${memory.toFixed(2)})`,
  };
  const drainDetail: string[] = [];
  let drainOk: boolean | undefined;
  for (const r of results) {
    for (const shape of ['small', 'big'] as const) {
      const p = r.drains.find((d) => d.subscription === CDC_NAME && d.shape === shape);
      const n = r.drains.find((d) => d.subscription === 'bench_defaults' && d.shape === shape);
      if (!p || !n) continue;
      const ok = p.drainSeconds <= n.drainSeconds * 1.1;
      drainOk = (drainOk ?? true) && ok;
      drainDetail.push(`${r.requestedGib} GiB ${shape}: ${p.drainSeconds.toFixed(1)} s vs native ${n.drainSeconds.toFixed(1)} s`);
    }
  }
  g['CDC backlog drain at least native’s (pgshift ≤ 1.1× native defaults’ seconds)'] = {
    verdict: drainOk === undefined ? 'n/a' : drainOk ? 'PASS' : 'MISS',
    detail: drainDetail.join('; ') || 'not measured',
  };
  return g;
}

// ── main ────────────────────────────────────────────────────────────────────────────────
async function main(teardown: Teardown): Promise<number> {
  const known: Method[] = ['plan', 'native', 'pgcopydb', 'pgshift'];
  if (SIZES.some((s) => !(s > 0)) || !Number.isInteger(JOBS) || JOBS < 1 || !(BACKLOG_MB > 0) || METHODS.some((m) => !known.includes(m))) {
    console.error(
      'usage: npm run bench:large-table -- [--sizes 1,4] [--jobs N] [--backlog-mb 256] [--methods plan,native,pgcopydb,pgshift] [--keep]',
    );
    return 2;
  }
  // Every temporary file of this run (servers, dumps, pgcopydb's work directory) goes under one
  // directory the teardown removes, also when a signal cuts a tool's own cleanup short.
  const tmpRoot = mkdtempSync(join(tmpdir(), 'bench-large-table-'));
  chmodSync(tmpRoot, 0o755); // the servers run as the OS user postgres when we are root
  if (!args.keep) teardown.addDir(tmpRoot);
  process.env.TMPDIR = tmpRoot;

  const pgcopydbVersion = METHODS.includes('pgcopydb') ? ensurePgcopydb() : 'not run';
  say(
    `bench:large-table — sizes ${SIZES.join(', ')} GiB of table data, PostgreSQL 15 → 17 on loopback, ${cpus().length} cores, jobs ${JOBS} (pgshift --jobs, pgcopydb --table-jobs and --index-jobs); pgcopydb ${pgcopydbVersion}; backlog ${BACKLOG_MB} MB of WAL`,
  );
  say(
    `load average at start: ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')} (other work on this machine adds noise to every figure)`,
  );
  const source = await startLocalServer({ major: 15, name: 'bench-large-source', settings: LOAD_SERVER_SETTINGS });
  teardown.add('remove the source server', () => (args.keep ? undefined : source.destroy()));
  const target = await startLocalServer({ major: 17, name: 'bench-large-target', settings: LOAD_SERVER_SETTINGS });
  teardown.add('remove the target server', () => (args.keep ? undefined : target.destroy()));
  for (const s of [source, target]) registerSecret(s.password);
  const servers = { source, target };

  const results: SizeResult[] = [];
  for (const [i, size] of SIZES.entries()) {
    const sourceDb = `large_${i}`;
    await freshDatabase(source, sourceDb);
    process.stdout.write(`\n${size} GiB: generating ... `);
    const table = await createBigTable(parseConnInfo(source.url(sourceDb), 'source'), size);
    console.log(`${table.rows.toLocaleString('en')} rows, ${gib(table.tableBytes)} (${table.seconds.toFixed(0)} s)`);
    const runs: MethodRun[] = [];
    for (const method of METHODS) runs.push(await runMethod(method, servers, sourceDb, table, pgcopydbVersion));
    const result: SizeResult = { requestedGib: size, table, runs, drains: [], indexLevers: [] };
    results.push(result);
    printSize(result);
    if (runs.find((r) => r.method === 'pgshift')?.complete) {
      say(`  CDC backlog drain (${BACKLOG_MB} MB of WAL per backlog, on the table pgshift loaded):`);
      result.drains = await measureDrains(servers, sourceDb, table.rows);
      say('  index-build levers on the loaded target:');
      result.indexLevers = await measureIndexLevers(target, 'bench_pgshift');
    }
    // Free the disk for the next size: target copy, source database (its slots are gone with the subscriptions).
    await dropDatabase(target, 'bench_pgshift');
    await withUrl(source.url(), async (c) => {
      await c.query('SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = $1 AND NOT active', [sourceDb]);
      await c.query(`DROP DATABASE IF EXISTS ${ident(sourceDb)} WITH (FORCE)`);
    });
    await settle([source, target]);
  }

  say('');
  say('goals:');
  const verdicts = goals(results);
  for (const [goal, v] of Object.entries(verdicts)) say(`  ${v.verdict.padEnd(4)} ${goal}: ${v.detail}`);

  mkdirSync(RESULTS_DIR, { recursive: true });
  const json = {
    benchmark: 'large-table',
    finishedAt: new Date().toISOString(),
    machine: { cores: cpus().length, cpu: cpus()[0]?.model, loadAvgAtEnd: loadavg() },
    jobs: JOBS,
    backlogMb: BACKLOG_MB,
    pgcopydb: pgcopydbVersion,
    serverSettings: LOAD_SERVER_SETTINGS,
    results,
    goals: verdicts,
  };
  writeFileSync(join(RESULTS_DIR, 'large-table.json'), `${JSON.stringify(json, null, 2)}\n`);
  writeFileSync(join(RESULTS_DIR, 'large-table.txt'), `${lines.join('\n')}\n`);
  console.log(`\nresults: ${join(RESULTS_DIR, 'large-table.json')} and large-table.txt`);
  if (args.keep) console.log(`servers kept: source port ${source.port}, target port ${target.port}`);
  const broken = results.flatMap((r) => r.runs).filter((x) => !x.complete);
  if (broken.length) {
    console.log(`not comparable: ${broken.map((x) => `${x.method} ${x.ok ? 'incomplete' : 'failed'}`).join(', ')}`);
    return 1;
  }
  return 0;
}

const teardown = new Teardown('bench:large-table');
teardown.onSignals();
main(teardown)
  .catch((err: unknown) => {
    if (teardown.interrupted) return 130;
    console.error(`bench:large-table broke: ${redact(err instanceof Error ? (err.stack ?? err.message) : String(err))}`);
    return 2;
  })
  .then(async (code) => {
    await teardown.run();
    process.exit(code);
  });
