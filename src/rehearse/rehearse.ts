/**
 * Over 350 lines: the rehearsal is one script a person reads top to bottom, stage by stage; its pieces
 * (servers, fixture, workload, report, teardown) already live in their own modules.
 *
 * `npm run rehearse` — the whole migration, played locally against real servers with live
 * application traffic, as the Tasteam team will run it on EC2 and RDS:
 *
 *   1. start the servers      a source like the Docker one (PostgreSQL 15), a target like RDS (17)
 *   2. load Tasteam           the sample database, the application's role and its ledger table
 *   3. start PgBouncer        in front of the source, as the application's only path
 *   4. start traffic          N writes/s through PgBouncer, every acknowledged write in a ledger
 *   5. preflight → full-load → cdc start (lag sampled) → verify
 *   6. cutover → traffic on the target → rollback → cutover again
 *   7. check the ledger       every acknowledged write on the final primary
 *   8. cleanup                nothing left on either side
 * The result carries per-phase durations and the figures the issue asks for; the Markdown
 * report charts write latency and replication lag around the switches.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { startCdc, watchCdc } from '../engine/cdc/index.js';
import { runCleanup } from '../engine/cleanup/cleanup.js';
import { runCutover } from '../engine/cutover/cutover.js';
import { runRollback } from '../engine/rollback/rollback.js';
import { describeSnapshotCheck, type SnapshotCheckResult } from '../engine/cutover/snapshot-check.js';
import type { SwitchoverOptions, SwitchoverResult } from '../engine/cutover/switchover.js';
import { runFullLoad } from '../engine/full-load/full-load.js';
import { migrationNames } from '../engine/names.js';
import { runPreflight } from '../engine/preflight/preflight.js';
import { deployDuringCdc, type DeployResult } from './deploy-during-cdc.js';
import { runVerify } from '../engine/verify/verify.js';
import { checkFailed } from '../errors.js';
import { parseConnInfo, type ConnInfo } from '../postgres/conninfo.js';
import { catchUpWaiter } from '../postgres/lsn.js';
import { ident, literal, relationKey } from '../postgres/sql.js';
import type { Logger } from '../log/logger.js';
import { makeSwitch } from '../switch/switch.js';
import { formatBytes, generateData } from './fixture/generate.js';
import { loadFixture } from './fixture/load.js';
import { startLocalServer, type LocalServer } from './local-server.js';
import { startPgBouncer } from './pgbouncer-server.js';
import { Teardown } from './teardown.js';
import { checkLedger, ledgerTableDdl, startWorkload, type LatencySample, type Workload } from './workload.js';
import { STEP } from '../engine/cutover/steps.js';

export interface RehearseOptions {
  /** Fixture scale: members (the other tables scale with it). Default 20,000 (~120k rows). */
  rows?: number;
  /**
   * Database size instead of `rows`: the fixture is grown to about this many bytes with the
   * benchmarks' generator (server-side INSERT ... SELECT, about a minute per GB on two cores).
   */
  targetBytes?: number;
  /** Application writes per second through PgBouncer. Default 200. */
  rate?: number;
  /** Seconds of traffic between the steps (CDC, on the target after cutover, after rollback). Default 5. */
  stageSeconds?: number;
  /**
   * More rollback + cutover pairs after "cutover again", each after half a stage of traffic: more
   * switches on the same data, for a benchmark's median and p90 (bench/freeze.ts). Default 0.
   */
  extraRoundTrips?: number;
  log: Logger;
}

export interface LagSample {
  t: number;
  lagMs: number | null;
  lagBytes: number | null;
}

export interface RehearsalResult {
  ok: boolean;
  /** The source database's size when the traffic started (pg_database_size). */
  databaseBytes: number;
  phases: { phase: string; seconds: number; ok: boolean; detail?: string }[];
  fullLoad: { seconds: number; rows: number; bytes: number; bytesPerSecond: number };
  cdc: { lagP50Ms: number | null; lagP99Ms: number | null; lagMaxMs: number | null; samples: number };
  /** The "deploy during CDC" stage: each migration statement, when the target applied it, and the lag around it. */
  deploy: DeployResult & { lagMaxMs: number | null };
  verify: {
    ok: boolean;
    tables: number;
    mode: string;
    notEqual: { table: string; verdict: string; notes: string[] }[];
    schemaDrift: number;
  };
  cutover: SwitchSummary;
  rollback: SwitchSummary;
  cutoverAgain: SwitchSummary;
  /** The extra round trips' switches in order (rollback, cutover, …), when asked for. */
  moreSwitches?: (SwitchSummary & { label: string })[];
  writes: {
    acknowledged: number;
    failed: number;
    lost: number;
    sequenceCollisions: number;
    failuresByCode: Record<string, number>;
    ratePerSecond: number;
  };
  cleanup: { leftovers: number };
  /** For the report's charts. */
  series: { latencies: LatencySample[]; lag: LagSample[]; switches: SwitchMark[]; startedAt: number };
}

/** One switch on the report's time axis (epoch ms): when it started, and when and how long writes were frozen. */
export interface SwitchMark {
  label: string;
  at: number;
  frozenAt: number;
  freezeMs: number;
  /** The after-resume check in the switch-point snapshots, in one line. */
  snapshotCheck?: string;
}

export interface SwitchSummary {
  writeFreezeMs: number;
  seconds: number;
  postCheckOk: boolean;
  /** The after-resume check in the switch-point snapshots. */
  snapshotCheck?: SnapshotCheckResult;
  /** Milliseconds per step, to see where the freeze goes. */
  stepMs: Record<string, number>;
  /** What a step reported about itself (e.g. the switch's thaw / point / resume times). */
  stepDetail?: Record<string, string>;
}

const DB = 'tasteam';
const ENTRY = 'tasteam';
const APP_ROLE = 'tasteam_app';

export async function runRehearsal(opts: RehearseOptions): Promise<RehearsalResult> {
  const { log } = opts;
  const rate = opts.rate ?? 200;
  const stageMs = (opts.stageSeconds ?? 5) * 1000;
  const startedAt = Date.now();
  const phases: RehearsalResult['phases'] = [];
  const phase = async <T>(name: string, fn: () => Promise<T>, detail?: (r: T) => string): Promise<T> => {
    const t0 = Date.now();
    log.info(`== ${name}`);
    try {
      const r = await fn();
      phases.push({ phase: name, seconds: (Date.now() - t0) / 1000, ok: true, detail: detail?.(r) });
      return r;
    } catch (err) {
      phases.push({ phase: name, seconds: (Date.now() - t0) / 1000, ok: false, detail: (err as Error).message });
      throw err;
    }
  };

  const appPassword = `app-${Math.random().toString(36).slice(2)}`;
  // Everything this run starts is registered the moment it exists: a normal end and SIGINT/SIGTERM stop the same things.
  const teardown = new Teardown();
  const stateDir = mkdtempSync(join(tmpdir(), 'pgshift-rehearse-state-'));
  teardown.add(`the state directory ${stateDir}`, () => rmSync(stateDir, { recursive: true, force: true }));
  let workload: Workload | undefined;
  return teardown.onSignals(log, async () => {
    const started = (major: 15 | 17, name: string) =>
      startLocalServer({ major, name }).then((server) => {
        teardown.add(`the PostgreSQL ${major} server on port ${server.port}`, () => server.destroy());
        return server;
      });
    const [source, target] = await phase('start servers', () =>
      Promise.all([started(15, 'rehearse-source'), started(17, 'rehearse-target')]),
    );
    const src = parseConnInfo(source.url(DB), 'source');
    const tgt = parseConnInfo(target.url(DB), 'target');
    const databaseBytes = await phase(
      'load the Tasteam database',
      () => loadSource(source, target, { rows: opts.rows ?? 20_000, targetBytes: opts.targetBytes }, appPassword, log),
      (bytes) => formatBytes(bytes),
    );
    const bouncer = await phase('start PgBouncer', () =>
      startPgBouncer({
        databases: [{ name: ENTRY, host: src.host, port: src.port, dbname: DB }],
        users: [{ user: APP_ROLE, password: appPassword }],
      }),
    );
    teardown.add(`PgBouncer on port ${bouncer.port}`, () => bouncer.stop());
    const appUrl = bouncer.appUrl(ENTRY, APP_ROLE, appPassword);
    // Registered last, so stopped first; PgBouncer's stop right after fails whatever still waits in a pause.
    workload = startWorkload({ url: appUrl, ratePerSecond: rate, durationMs: 30 * 60_000, tag: 'rehearsal' });
    const running = workload;
    teardown.add('the application traffic', () => stopQuickly(running));
    const names = migrationNames('pgshift');

    await phase(
      'preflight',
      async () => {
        const report = await runPreflight({ source: src, target: tgt, names, log });
        if (!report.ok)
          throw checkFailed(
            `preflight failed: ${report.checks
              .filter((c) => c.status === 'FAIL')
              .map((c) => c.id)
              .join(', ')}`,
          );
        return report;
      },
      (r) => `${r.counts.pass} PASS, ${r.counts.warn} WARN`,
    );
    const load = await phase(
      'full-load',
      () => runFullLoad({ source: src, target: tgt, names, log: quiet(log) }),
      (r) => `${r.totals.rows} rows`,
    );
    await phase('cdc start', () => startCdc({ source: src, target: tgt, names, log }));
    const lag = await phase('cdc (traffic replicating)', () => sampleLag(src, tgt, names, stageMs));
    const deploy = await phase(
      'deploy during CDC',
      async () => {
        const lagDuring = sampleLag(src, tgt, names, stageMs / 2);
        const r = await deployDuringCdc(src, tgt, names, quiet(log));
        return { ...r, lag: await lagDuring };
      },
      (r) =>
        `${r.statements.length} DDL statements replayed, ${r.tablesAdded.join(', ') || 'no table'} added; applied ${r.appliedAfterMs} ms after commit`,
    );
    // Under live traffic a busy table may need a few rechecks: each waits for the target to apply past the source.
    const verify = await phase(
      'verify',
      () =>
        runVerify({ source: src, target: tgt, mode: 'full', rechecks: 5, waitForCatchUp: catchUpWaiter(src, names.slot), log: quiet(log) }),
      (r) =>
        r.ok
          ? 'equal'
          : `differs: ${r.tables
              .filter((t) => t.verdict !== 'equal' && t.verdict !== 'converged-after-recheck')
              .map((t) => `${relationKey(t.table)} ${t.verdict}`)
              .join(', ')}`,
    );

    const switchOpts: SwitchoverOptions = {
      source: src,
      target: tgt,
      names,
      switch: makeSwitch({ kind: 'pgbouncer', adminUrl: bouncer.adminUrl, iniPath: bouncer.iniPath, dbEntry: ENTRY, logger: log }),
      appPath: parseConnInfo(appUrl, 'target'),
      stateDir,
      log: quiet(log),
    };
    const switches: RehearsalResult['series']['switches'] = [];
    const doSwitch = async (label: string, fn: () => Promise<SwitchoverResult>): Promise<SwitchSummary> => {
      const t0 = Date.now();
      const r = await phase(
        label,
        fn,
        (x) => `writes frozen ${x.writeFreezeMs} ms; switch-point check: ${describeSnapshotCheck(x.snapshotCheck)}`,
      );
      // Writes freeze when the STEP.freezeWrites step starts (switchover.ts); before it only the pre-checks ran.
      const freezeStep = r.steps.find((st) => st.step === STEP.freezeWrites);
      switches.push({
        label,
        at: t0,
        frozenAt: freezeStep ? Date.parse(freezeStep.startedAt) : t0,
        freezeMs: r.writeFreezeMs,
        snapshotCheck: describeSnapshotCheck(r.snapshotCheck),
      });
      return {
        writeFreezeMs: r.writeFreezeMs,
        seconds: (Date.now() - t0) / 1000,
        postCheckOk: r.postCheck.ok,
        snapshotCheck: r.snapshotCheck,
        stepMs: Object.fromEntries(r.steps.map((st) => [st.step, st.ms])),
        stepDetail: Object.fromEntries(r.steps.flatMap((st) => (st.detail ? [[st.step, st.detail]] : []))),
      };
    };
    const cutover = await doSwitch('cutover', () => runCutover(switchOpts));
    await phase('traffic on the target', () => sleep(stageMs));
    const losslessRollback = async () => {
      const r = await runRollback(switchOpts);
      if (r.mode !== 'lossless') throw checkFailed('rollback was not lossless');
      return r;
    };
    const rollback = await doSwitch('rollback', losslessRollback);
    await phase('traffic on the source again', () => sleep(stageMs / 2));
    const cutoverAgain = await doSwitch('cutover again', () => runCutover(switchOpts));
    await phase('traffic on the target', () => sleep(stageMs / 2));
    const moreSwitches: NonNullable<RehearsalResult['moreSwitches']> = [];
    for (let i = 1; i <= (opts.extraRoundTrips ?? 0); i++) {
      const back = await doSwitch(`rollback ${i + 1}`, losslessRollback);
      moreSwitches.push({ label: `rollback ${i + 1}`, ...back });
      await phase('traffic on the source again', () => sleep(stageMs / 2));
      const again = await doSwitch(`cutover ${i + 2}`, () => runCutover(switchOpts));
      moreSwitches.push({ label: `cutover ${i + 2}`, ...again });
      await phase('traffic on the target', () => sleep(stageMs / 2));
    }

    const traffic = await workload.stop();
    workload = undefined;
    const lost = await phase(
      'check the ledger on the final primary',
      async () => {
        const c = new pg.Client(target.url(DB));
        await c.connect();
        try {
          return (await checkLedger(c, traffic.ledger)).missing.length;
        } finally {
          await c.end();
        }
      },
      (n) => `${n} lost`,
    );
    const cleanup = await phase('cleanup', () => runCleanup({ source: src, target: tgt, names, log: quiet(log) }));

    const lags = lag.map((s) => s.lagMs).filter((v): v is number => v !== null);
    const collisions = traffic.failuresByCode['23505'] ?? 0;
    const result: RehearsalResult = {
      ok: false,
      databaseBytes,
      phases,
      fullLoad: {
        seconds: load.totals.seconds,
        rows: load.totals.rows,
        bytes: load.totals.bytes,
        bytesPerSecond: load.totals.bytesPerSecond,
      },
      cdc: {
        lagP50Ms: percentile(lags, 50),
        lagP99Ms: percentile(lags, 99),
        lagMaxMs: lags.length ? Math.max(...lags) : null,
        samples: lag.length,
      },
      deploy: {
        statements: deploy.statements,
        tablesAdded: deploy.tablesAdded,
        appliedAfterMs: deploy.appliedAfterMs,
        lagMaxMs: maxOrNull(deploy.lag.map((x) => x.lagMs)),
      },
      verify: {
        ok: verify.ok,
        tables: verify.summary.tables,
        mode: verify.mode,
        notEqual: verify.tables
          .filter((t) => t.verdict !== 'equal')
          .map((t) => ({ table: relationKey(t.table), verdict: t.verdict, notes: t.notes })),
        schemaDrift: verify.schemaDrift.length,
      },
      cutover,
      rollback,
      cutoverAgain,
      moreSwitches,
      writes: {
        acknowledged: traffic.acknowledged,
        failed: traffic.failed,
        lost,
        sequenceCollisions: collisions,
        failuresByCode: traffic.failuresByCode,
        ratePerSecond: rate,
      },
      cleanup: { leftovers: cleanup.leftovers.length },
      series: { latencies: traffic.latencies, lag, switches, startedAt },
    };
    result.ok =
      verify.ok &&
      traffic.failed === 0 &&
      lost === 0 &&
      collisions === 0 &&
      cleanup.ok &&
      [cutover, rollback, cutoverAgain, ...moreSwitches].every(
        (s) => s.postCheckOk && (s.snapshotCheck?.ok ?? true) && s.writeFreezeMs <= 2000,
      );
    return result;
  });
}

/** Stop the traffic without waiting on writes a paused PgBouncer holds: the teardown must not hang. */
async function stopQuickly(workload: Workload): Promise<void> {
  await Promise.race([workload.stop(), sleep(2000)]);
}

/**
 * The source as the Tasteam team has it: the service's tables, the application's role, its ledger
 * table. Sized by members (`rows`) or in bytes (`targetBytes`, the benchmarks' generator). Returns
 * the database's size.
 */
async function loadSource(
  source: LocalServer,
  target: LocalServer,
  size: { rows: number; targetBytes?: number },
  appPassword: string,
  log: Logger,
): Promise<number> {
  for (const server of [source, target]) {
    const admin = new pg.Client(server.url('postgres'));
    await admin.connect();
    await admin.query(`CREATE DATABASE ${ident(DB)}`);
    await admin.end();
  }
  const c = new pg.Client(source.url(DB));
  await c.connect();
  try {
    if (size.targetBytes) await generateData(c, { targetBytes: size.targetBytes, log });
    else await loadFixture(c, { rows: size.rows });
    await c.query(`ALTER ROLE ${ident(APP_ROLE)} LOGIN PASSWORD ${literal(appPassword)}`);
    await c.query(ledgerTableDdl());
    await c.query(`GRANT SELECT, INSERT ON public.ledger_probe TO ${ident(APP_ROLE)}`);
    await c.query(`GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO ${ident(APP_ROLE)}`);
    return Number((await c.query<{ bytes: string }>('SELECT pg_database_size(current_database())::text AS bytes')).rows[0].bytes);
  } finally {
    await c.end();
  }
}

/** Lag while the application writes and CDC streams, sampled with `cdc status` (heartbeat probe). */
async function sampleLag(source: ConnInfo, target: ConnInfo, names: ReturnType<typeof migrationNames>, ms: number): Promise<LagSample[]> {
  const until = Date.now() + ms;
  // addNewTables off: the deploy stage adds its new tables itself and reports them; a watch racing it would take that over.
  const series = await watchCdc(
    { source, target, names, probeTimeoutMs: 1000, addNewTables: false },
    200,
    () => undefined,
    new AbortController().signal,
    {
      until: () => Date.now() >= until,
    },
  );
  return series.map((s) => ({ t: Date.parse(s.at), lagMs: s.lagMs, lagBytes: s.lagBytes }));
}

function maxOrNull(values: (number | null)[]): number | null {
  const known = values.filter((v): v is number => v !== null);
  return known.length ? Math.max(...known) : null;
}

export function percentile(values: number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** Phases' own progress lines are noise in the rehearsal's output; warnings still show. */
function quiet(log: Logger): Logger {
  return { info: () => undefined, progress: () => undefined, warn: log.warn };
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
