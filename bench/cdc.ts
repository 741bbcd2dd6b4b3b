/**
 * Benchmark: CDC lag, native logical replication as the plan sets it up against pgshift's
 * full-load + cdc start, same servers, same load, same run.
 *
 *   npm run bench:cdc -- [--seconds 60] [--rate 2000] [--backlog 285000] [--methods native,pgshift] [--keep]
 *
 * Starts its own source (PostgreSQL 15) and target (17). For each method, in a fresh database pair:
 *   native   the plan's Phase 2: schema on the target, `CREATE PUBLICATION ... FOR ALL TABLES`, then a
 *            plain `CREATE SUBSCRIPTION ... CONNECTION ... PUBLICATION ...` (default options);
 *   pgshift  runFullLoad, then startCdc (default options, --create-helper-indexes), with
 *            `cdc status --watch` sampling every second during the load (its cost is counted).
 * Then, against each:
 *   1. sustained mixed writes with pgbench (60% INSERT, 30% UPDATE, 10% DELETE, one statement per
 *      transaction) at --rate for --seconds. Ground truth for lag: every written row carries
 *      clock_timestamp() from the source; on the target an ENABLE ALWAYS trigger stamps the apply time
 *      (same machine, same clock). Lag in bytes is sampled every 100 ms by comparing LSNs.
 *      For pgshift, each `cdc status` lag is compared with the truth for rows committed within
 *      ±100 ms of its heartbeat.
 *   2. backlog drain: subscription disabled, --backlog rows written (100-row transactions),
 *      enabled again; rows/s until the target has applied past the source's LSN.
 *   3. a REPLICA IDENTITY FULL table of 5,000 rows updated 10 × ~300 rows: apply time.
 *   4. one big transaction (300,000 rows): time from its COMMIT until applied.
 * Prints both columns and the ratio pgshift / native, checks the goals (p99 < 10 ms; pgshift adds
 * nothing over native), writes bench/.results/cdc.json. Exit 0 whatever the goals say; 2 if the
 * benchmark itself broke.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { startCdc, stopCdc, watchCdc, type CdcSample } from '../src/engine/cdc/index.js';
import { runFullLoad } from '../src/engine/full-load/full-load.js';
import { migrationNames } from '../src/engine/names.js';
import { connect } from '../src/postgres/connect.js';
import { libpqConninfo, libpqEnv, parseConnInfo, type ConnInfo } from '../src/postgres/conninfo.js';
import { currentWalLsn, readAppliedPosition, waitForApplied, lsnDiff } from '../src/postgres/lsn.js';
import { ident, literal } from '../src/postgres/sql.js';
import { startLocalServer, type LocalServer } from '../src/rehearse/local-server.js';
import { silentLogger } from '../src/log/logger.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const RESULTS = join(ROOT, 'bench', '.results', 'cdc.json');
const PGBENCH = ['/usr/lib/postgresql/15/bin/pgbench', '/usr/bin/pgbench'];

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '60' },
    rate: { type: 'string', default: '2000' },
    backlog: { type: 'string', default: '285000' },
    methods: { type: 'string', default: 'native,pgshift' },
    keep: { type: 'boolean', default: false },
  },
});
const SECONDS = Number(args.seconds);
const RATE = Number(args.rate);
const BACKLOG = Number(args.backlog);
const FULL_ROWS = 5000;
const BIG_TX_ROWS = 300_000;

/** pgshift-nowatch: pgshift without `cdc status --watch`, to show what the monitoring itself costs. */
type Method = 'native' | 'pgshift' | 'pgshift-nowatch';

const SOURCE_SCHEMA = `
  CREATE TABLE bench_events (
    id bigserial PRIMARY KEY,
    account int NOT NULL,
    amount numeric(12,2) NOT NULL,
    note text,
    src_ts timestamptz NOT NULL DEFAULT clock_timestamp(),
    applied_ts timestamptz
  );
  CREATE TABLE bench_full (k int NOT NULL, v int NOT NULL, pad text NOT NULL);
  ALTER TABLE bench_full REPLICA IDENTITY FULL;
  CREATE TABLE bench_big (id bigint PRIMARY KEY, payload text NOT NULL);
  INSERT INTO bench_events (account, amount, note) SELECT i % 1000, i, 'seed' FROM generate_series(1, 50000) i;
  INSERT INTO bench_full SELECT i, 0, repeat(md5(i::text), 3) FROM generate_series(1, ${FULL_ROWS}) i;`;

/** The ground-truth clock on the target: the moment the apply worker writes the row. */
const TARGET_STAMP = `
  CREATE FUNCTION stamp_applied() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN NEW.applied_ts := clock_timestamp(); RETURN NEW; END $$;
  CREATE TRIGGER stamp_applied BEFORE INSERT OR UPDATE ON bench_events FOR EACH ROW EXECUTE FUNCTION stamp_applied();
  ALTER TABLE bench_events ENABLE ALWAYS TRIGGER stamp_applied;`;

const PGBENCH_SCRIPT = `\\set r random(1, 100)
\\set acc random(1, 1000)
\\if :r <= 60
INSERT INTO bench_events (account, amount, note) VALUES (:acc, :r, 'load');
\\elif :r <= 90
UPDATE bench_events SET amount = amount + 1, src_ts = clock_timestamp() WHERE id = (SELECT max(id) FROM bench_events) - :acc;
\\else
DELETE FROM bench_events WHERE id = (SELECT max(id) FROM bench_events) - 1000 - :acc;
\\endif
`;

interface Distribution {
  n: number;
  p50: number;
  p99: number;
  max: number;
}

interface MethodResult {
  method: Method;
  setupSeconds: number;
  pgbench: { tps: number; failed: number };
  lagMs: Distribution;
  lagBytes: Distribution;
  statusVsTruth?: {
    samples: number;
    medianAbsDiffMs: number;
    maxAbsDiffMs: number;
    medianSignedDiffMs: number;
    underestimates: number;
    statusP50Ms: number;
    truthP50Ms: number;
  };
  drain: { rows: number; seconds: number; rowsPerSecond: number };
  fullIdentity: { rowsUpdated: number; applySeconds: number; helperIndex: boolean };
  bigTransaction: { rows: number; commitToAppliedSeconds: number; options: string; sourceSpillBytes: number; streamedBytes: number };
}

async function main(): Promise<void> {
  console.error(`bench:cdc — PostgreSQL 15 → 17 on loopback, ${RATE} writes/s for ${SECONDS} s, backlog ${BACKLOG} rows`);
  // The source commits as production does (synchronous_commit = on): with it off, as on the test
  // servers, a commit's WAL waits up to wal_writer_delay (200 ms) before any walsender may send it,
  // and that delay, not replication, would dominate every figure below.
  const [source, target] = await Promise.all([
    startLocalServer({ major: 15, name: 'bench-cdc-source', settings: { synchronous_commit: 'on' } }),
    startLocalServer({ major: 17, name: 'bench-cdc-target' }),
  ]);
  const results: MethodResult[] = [];
  try {
    for (const method of String(args.methods).split(',') as Method[]) {
      console.error(`\n── ${method} ──`);
      results.push(await runMethod(method, source, target));
    }
  } finally {
    if (!args.keep) await Promise.all([source.destroy(), target.destroy()]);
  }
  report(results);
}

async function runMethod(method: Method, sourceServer: LocalServer, targetServer: LocalServer): Promise<MethodResult> {
  const db = `bench_cdc_${method.replace('-', '_')}`;
  for (const s of [sourceServer, targetServer]) await adminQuery(s, `CREATE DATABASE ${ident(db)}`);
  const source = parseConnInfo(sourceServer.url(db), 'source');
  const target = parseConnInfo(targetServer.url(db), 'target');
  await run(source, SOURCE_SCHEMA);

  const setupStarted = Date.now();
  const { slotName, subscription, stop } =
    method === 'native' ? await startNative(source, target) : await startPgshift(source, target, `bench_${method.replace('-', '_')}`);
  const setupSeconds = (Date.now() - setupStarted) / 1000;
  console.error(`  replication running after ${setupSeconds.toFixed(1)} s (slot ${slotName})`);

  const watch = method === 'pgshift' ? startWatch(source, target, `bench_${method}`) : undefined;
  const loadStart = new Date();
  const byteSampler = sampleLagBytes(source, slotName);
  const pgbench = await runPgbench(source);
  const lagBytes = await byteSampler.stop();
  const samples = (await watch?.stop()) ?? [];
  if (!(await caughtUp(source, slotName, 60_000))) throw new Error(`${method}: did not catch up after the load`);
  const lagMs = await truthLag(target, loadStart);
  const statusVsTruth = method === 'pgshift' ? await compareStatusWithTruth(target, samples) : undefined;
  console.error(
    `  load: ${pgbench.tps.toFixed(0)} tps, lag p50 ${lagMs.p50.toFixed(2)} ms, p99 ${lagMs.p99.toFixed(2)} ms, max ${lagMs.max.toFixed(1)} ms`,
  );

  const drain = await measureDrain(source, target, slotName, subscription);
  console.error(`  backlog: ${drain.rows} rows in ${drain.seconds.toFixed(2)} s`);
  const fullIdentity = await measureFullIdentity(source, target, slotName);
  console.error(`  REPLICA IDENTITY FULL: ${fullIdentity.rowsUpdated} rows applied in ${fullIdentity.applySeconds.toFixed(2)} s`);
  const bigTransaction = await measureBigTransaction(source, target, slotName, subscription);
  console.error(`  big transaction: applied ${bigTransaction.commitToAppliedSeconds.toFixed(2)} s after COMMIT`);

  await stop();
  // The next method must not share the servers with this one's leftovers (autovacuum of the big
  // tables, dirty buffers): drop its databases and checkpoint before it starts.
  for (const s of [sourceServer, targetServer]) {
    await adminQuery(s, `DROP DATABASE ${ident(db)} WITH (FORCE)`);
    await adminQuery(s, 'CHECKPOINT');
  }
  return { method, setupSeconds, pgbench, lagMs, lagBytes, statusVsTruth, drain, fullIdentity, bigTransaction };
}

// ── the two ways of starting replication ────────────────────────────────────────────────

/** The plan's Phase 2, verbatim: schema on the target, publication, plain CREATE SUBSCRIPTION. */
async function startNative(source: ConnInfo, target: ConnInfo) {
  await run(target, SOURCE_SCHEMA.split('INSERT INTO')[0]);
  await run(target, TARGET_STAMP);
  await run(source, 'CREATE PUBLICATION plan_pub FOR ALL TABLES');
  await run(
    target,
    `CREATE SUBSCRIPTION plan_sub CONNECTION ${literal(libpqConninfo(source, { includePassword: true }))} PUBLICATION plan_pub`,
  );
  await waitUntil(async () => {
    const r = await query(
      target,
      `SELECT count(*) FILTER (WHERE srsubstate <> 'r')::int AS pending, count(*)::int AS n FROM pg_subscription_rel`,
    );
    return r.rows[0].n > 0 && r.rows[0].pending === 0;
  }, 120_000);
  return {
    slotName: 'plan_sub',
    subscription: 'plan_sub',
    stop: async () => {
      await run(target, 'DROP SUBSCRIPTION plan_sub');
      await run(source, 'DROP PUBLICATION plan_pub');
    },
  };
}

/** pgshift: full-load into an empty target, then cdc start from its slot. */
async function startPgshift(source: ConnInfo, target: ConnInfo, name: string) {
  const names = migrationNames(name);
  await runFullLoad({ source, target, names, jobs: 2, log: silentLogger });
  await run(target, TARGET_STAMP);
  const started = await startCdc({ source, target, names, createHelperIndexes: true, log: silentLogger });
  console.error(
    `  options: ${started.options.map((o) => `${o.option}=${o.value}`).join(', ')}; helper indexes: ${started.helperIndexes.map((h) => h.index).join(', ') || 'none'}`,
  );
  return {
    slotName: names.slot,
    subscription: names.subscription,
    stop: async () => {
      await stopCdc({ source, target, names, log: silentLogger });
    },
  };
}

function startWatch(source: ConnInfo, target: ConnInfo, name: string) {
  const controller = new AbortController();
  const done = watchCdc({ source, target, names: migrationNames(name) }, 1000, () => undefined, controller.signal);
  return {
    stop: async (): Promise<CdcSample[]> => {
      controller.abort();
      return done;
    },
  };
}

// ── measurements ────────────────────────────────────────────────────────────────────────

async function runPgbench(source: ConnInfo): Promise<{ tps: number; failed: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-cdc-'));
  const script = join(dir, 'mixed.sql');
  writeFileSync(script, PGBENCH_SCRIPT);
  const bin = PGBENCH.find((p) => existsSync(p));
  if (!bin) throw new Error('pgbench not found (apt-get install postgresql-client-15)');
  const out = await new Promise<string>((resolve, reject) => {
    const child = spawn(bin, ['-n', '-c', '4', '-j', '2', '-R', String(RATE), '-T', String(SECONDS), '-f', script], {
      env: { ...process.env, ...libpqEnv(source) },
    });
    let text = '';
    child.stdout.on('data', (d) => (text += d));
    child.stderr.on('data', (d) => (text += d));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(text) : reject(new Error(`pgbench exited ${code}: ${text.slice(-500)}`))));
  });
  const tps = Number(/tps = ([\d.]+)/.exec(out)?.[1] ?? NaN);
  const failed = Number(/number of failed transactions: (\d+)/.exec(out)?.[1] ?? 0);
  return { tps, failed };
}

/** Lag in bytes every 100 ms: source WAL insert position minus what the subscriber has applied. */
function sampleLagBytes(source: ConnInfo, slotName: string) {
  const values: number[] = [];
  let stopped = false;
  const done = (async () => {
    const c = await connect(source, { applicationName: 'bench-sampler' });
    try {
      while (!stopped) {
        const applied = await readAppliedPosition(c, slotName);
        const now = await currentWalLsn(c);
        if (applied?.appliedLsn) values.push(Math.max(0, lsnDiff(now, applied.appliedLsn)));
        await sleep(100);
      }
    } finally {
      await c.end();
    }
  })();
  return {
    stop: async (): Promise<Distribution> => {
      stopped = true;
      await done;
      return distribution(values);
    },
  };
}

/** The truth: apply time minus source write time of every row written or updated during the load. */
async function truthLag(target: ConnInfo, since: Date): Promise<Distribution> {
  const r = await query(
    target,
    `SELECT count(*)::int AS n,
            percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) AS p50,
            percentile_cont(0.99) WITHIN GROUP (ORDER BY ms) AS p99,
            max(ms) AS max
       FROM (SELECT extract(epoch FROM applied_ts - src_ts) * 1000 AS ms FROM bench_events WHERE src_ts >= $1 AND applied_ts IS NOT NULL) t`,
    [since],
  );
  const row = r.rows[0];
  return { n: row.n, p50: Number(row.p50), p99: Number(row.p99), max: Number(row.max) };
}

/** For each `cdc status` sample: its lag against the true lag of rows committed within ±100 ms of its heartbeat. */
async function compareStatusWithTruth(target: ConnInfo, samples: CdcSample[]) {
  const diffs: number[] = [];
  const signed: number[] = [];
  const statusValues: number[] = [];
  const truthValues: number[] = [];
  for (const s of samples) {
    if (s.lagMs === null || !s.status?.heartbeatAt) continue;
    const r = await query(
      target,
      `SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM applied_ts - src_ts) * 1000) AS ms
         FROM bench_events WHERE src_ts BETWEEN $1::timestamptz - interval '100 ms' AND $1::timestamptz + interval '100 ms' AND applied_ts IS NOT NULL`,
      [s.status.heartbeatAt],
    );
    if (r.rows[0].ms === null) continue;
    const truth = Number(r.rows[0].ms);
    statusValues.push(s.lagMs);
    truthValues.push(truth);
    diffs.push(Math.abs(s.lagMs - truth));
    signed.push(s.lagMs - truth);
  }
  return {
    samples: diffs.length,
    medianAbsDiffMs: distribution(diffs).p50,
    maxAbsDiffMs: distribution(diffs).max,
    medianSignedDiffMs: distribution(signed).p50,
    /** Samples where status said less than the truth (a status that hides lag is the dangerous error). */
    underestimates: signed.filter((d) => d < 0).length,
    statusP50Ms: distribution(statusValues).p50,
    truthP50Ms: distribution(truthValues).p50,
  };
}

async function measureDrain(source: ConnInfo, target: ConnInfo, slotName: string, subscription: string) {
  await run(target, `ALTER SUBSCRIPTION ${ident(subscription)} DISABLE`);
  await waitUntil(
    async () => !(await query(source, 'SELECT active FROM pg_replication_slots WHERE slot_name = $1', [slotName])).rows[0].active,
    30_000,
  );
  const c = await connect(source);
  try {
    for (let done = 0; done < BACKLOG; done += 100) {
      await c.query(`INSERT INTO bench_events (account, amount, note) SELECT i % 1000, i, 'backlog' FROM generate_series(1, $1::int) i`, [
        Math.min(100, BACKLOG - done),
      ]);
    }
    const lsn = await currentWalLsn(c);
    const started = Date.now();
    await run(target, `ALTER SUBSCRIPTION ${ident(subscription)} ENABLE`);
    const res = await waitForApplied({ source, slotName, lsn, timeoutMs: 600_000, pollMs: 20, client: c });
    if (!res.reached) throw new Error('backlog did not drain');
    const seconds = (Date.now() - started) / 1000;
    return { rows: BACKLOG, seconds, rowsPerSecond: BACKLOG / seconds };
  } finally {
    await c.end();
  }
}

async function measureFullIdentity(source: ConnInfo, target: ConnInfo, slotName: string) {
  const helperIndex =
    Number((await query(target, `SELECT count(*)::int AS n FROM pg_indexes WHERE tablename = 'bench_full'`)).rows[0].n) > 0;
  const c = await connect(source);
  try {
    const started = Date.now();
    let rows = 0;
    for (let i = 0; i < 10; i++) rows += (await c.query(`UPDATE bench_full SET v = v + 1 WHERE k % 17 = $1`, [i])).rowCount ?? 0;
    const res = await waitForApplied({ source, slotName, lsn: await currentWalLsn(c), timeoutMs: 600_000, pollMs: 20, client: c });
    if (!res.reached) throw new Error('FULL-identity updates were not applied');
    return { rowsUpdated: rows, applySeconds: (Date.now() - started) / 1000, helperIndex };
  } finally {
    await c.end();
  }
}

async function measureBigTransaction(source: ConnInfo, target: ConnInfo, slotName: string, subscription: string) {
  const options = (
    await query(target, `SELECT substream::text AS streaming, subbinary AS binary FROM pg_subscription WHERE subname = $1`, [subscription])
  ).rows[0];
  const c = await connect(source);
  try {
    await c.query(`INSERT INTO bench_big SELECT i, repeat(md5(i::text), 3) FROM generate_series(1, ${BIG_TX_ROWS}) i`);
    const committed = Date.now();
    const res = await waitForApplied({ source, slotName, lsn: await currentWalLsn(c), timeoutMs: 600_000, pollMs: 20, client: c });
    if (!res.reached) throw new Error('the big transaction was not applied');
    const seconds = (Date.now() - committed) / 1000;
    // Where the decoded transaction went: spill files on the source disk, or streamed to the target.
    const stats = (await c.query(`SELECT spill_bytes, stream_bytes FROM pg_stat_replication_slots WHERE slot_name = $1`, [slotName]))
      .rows[0];
    return {
      rows: BIG_TX_ROWS,
      commitToAppliedSeconds: seconds,
      options: `streaming=${options.streaming}, binary=${options.binary}`,
      sourceSpillBytes: Number(stats?.spill_bytes ?? 0),
      streamedBytes: Number(stats?.stream_bytes ?? 0),
    };
  } finally {
    await c.end();
  }
}

async function caughtUp(source: ConnInfo, slotName: string, timeoutMs: number): Promise<boolean> {
  const c = await connect(source);
  try {
    return (await waitForApplied({ source, slotName, lsn: await currentWalLsn(c), timeoutMs, client: c })).reached;
  } finally {
    await c.end();
  }
}

// ── report ──────────────────────────────────────────────────────────────────────────────

function report(results: MethodResult[]): void {
  const native = results.find((r) => r.method === 'native');
  const pgshift = results.find((r) => r.method === 'pgshift') ?? results.find((r) => r.method === 'pgshift-nowatch');
  const rows: [string, (r: MethodResult) => number, number][] = [
    ['achieved writes/s (pgbench tps)', (r) => r.pgbench.tps, 0],
    ['lag p50, ms (truth)', (r) => r.lagMs.p50, 2],
    ['lag p99, ms (truth)', (r) => r.lagMs.p99, 2],
    ['lag max, ms (truth)', (r) => r.lagMs.max, 1],
    ['lag p50, bytes (LSN)', (r) => r.lagBytes.p50, 0],
    ['lag p99, bytes (LSN)', (r) => r.lagBytes.p99, 0],
    ['lag max, bytes (LSN)', (r) => r.lagBytes.max, 0],
    [`backlog drain, rows/s (${BACKLOG} rows)`, (r) => r.drain.rowsPerSecond, 0],
    ['backlog drain, s', (r) => r.drain.seconds, 2],
    [`REPLICA IDENTITY FULL ${FULL_ROWS}-row table, 10×~300-row updates: apply s`, (r) => r.fullIdentity.applySeconds, 2],
    [`big transaction ${BIG_TX_ROWS} rows: COMMIT → applied s`, (r) => r.bigTransaction.commitToAppliedSeconds, 2],
    ['big transaction: spilled on the source disk, MB', (r) => r.bigTransaction.sourceSpillBytes / 1e6, 1],
    ['big transaction: streamed to the target, MB', (r) => r.bigTransaction.streamedBytes / 1e6, 1],
  ];
  const label = (r: MethodResult) => (r.method === 'native' ? 'native (plan)' : r.method);
  const width = Math.max(...rows.map(([l]) => l.length));
  const ratios = native ? results.filter((r) => r !== native) : [];
  const header = [
    `${'metric'.padEnd(width)}`,
    ...results.map((r) => label(r).padStart(16)),
    ...ratios.map((r) => `${r.method}/native`.padStart(24)),
  ];
  const lines = [header.join('  ')];
  for (const [l, get, digits] of rows) {
    const cells = results.map((r) => get(r).toFixed(digits).padStart(16));
    const ratioCells = ratios.map((r) => (get(r) / get(native!)).toFixed(2).padStart(24));
    lines.push([l.padEnd(width), ...cells, ...ratioCells].join('  '));
  }
  console.log(
    `\nCDC benchmark — PostgreSQL 15 → 17, loopback, ${RATE} writes/s × ${SECONDS} s (60% INSERT, 30% UPDATE, 10% DELETE), order ${results.map((r) => r.method).join(', ')}\n`,
  );
  console.log(lines.join('\n'));
  for (const r of results) {
    console.log(
      `${label(r)}: ${r.lagMs.n} truth rows, ${r.lagBytes.n} byte samples; big transaction ${r.bigTransaction.options}; FULL table index on target: ${r.fullIdentity.helperIndex ? 'yes' : 'no'}`,
    );
  }
  for (const r of results) {
    if (!r.statusVsTruth) continue;
    const s = r.statusVsTruth;
    console.log(
      `cdc status lag vs truth (${r.method}): ${s.samples} samples, status p50 ${s.statusP50Ms.toFixed(1)} ms vs truth p50 ${s.truthP50Ms.toFixed(2)} ms; |difference| median ${s.medianAbsDiffMs.toFixed(1)} ms, max ${s.maxAbsDiffMs.toFixed(1)} ms; status below truth in ${s.underestimates} of ${s.samples} samples`,
    );
  }
  if (pgshift) {
    console.log(
      `\ngoal p99 < 10 ms (${pgshift.method}): ${pgshift.lagMs.p99 < 10 ? 'PASS' : 'MISS'} (${pgshift.lagMs.p99.toFixed(2)} ms); the plan's goal < 1 s: ${pgshift.lagMs.max < 1000 ? 'PASS' : 'MISS'} (max ${pgshift.lagMs.max.toFixed(1)} ms)`,
    );
  }
  if (native && pgshift) {
    // "Adds nothing": p99 within 1 ms or 20% of native's, whichever is looser (run-to-run noise on 2 cores).
    const addsNothing = pgshift.lagMs.p99 <= Math.max(native.lagMs.p99 * 1.2, native.lagMs.p99 + 1);
    console.log(
      `goal ${pgshift.method} adds nothing over native: ${addsNothing ? 'PASS' : 'MISS'} (p99 ratio ${(pgshift.lagMs.p99 / native.lagMs.p99).toFixed(2)})`,
    );
  }
  mkdirSync(dirname(RESULTS), { recursive: true });
  writeFileSync(
    RESULTS,
    JSON.stringify({ at: new Date().toISOString(), seconds: SECONDS, rate: RATE, backlog: BACKLOG, results }, null, 2),
  );
  console.log(`\nwritten to ${RESULTS}`);
}

// ── small helpers ───────────────────────────────────────────────────────────────────────

function distribution(values: number[]): Distribution {
  if (!values.length) return { n: 0, p50: NaN, p99: NaN, max: NaN };
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * (sorted.length - 1)))]!;
  return { n: sorted.length, p50: at(0.5), p99: at(0.99), max: sorted[sorted.length - 1]! };
}

async function adminQuery(server: LocalServer, sql: string): Promise<void> {
  const c = new pg.Client(server.url());
  c.on('error', () => undefined);
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

async function query(info: ConnInfo, sql: string, params?: unknown[]): Promise<pg.QueryResult> {
  const c = await connect(info, { applicationName: 'bench' });
  try {
    return await c.query(sql, params);
  } finally {
    await c.end();
  }
}

async function run(info: ConnInfo, sql: string): Promise<void> {
  await query(info, sql);
}

async function waitUntil(check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await sleep(100);
  }
  throw new Error('timed out waiting');
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

main().catch((err) => {
  console.error(`bench:cdc failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  process.exit(2);
});
