/**
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
import { loadFixture } from './fixture/load.js';
import { startLocalServer, type LocalServer } from './local-server.js';
import { startPgBouncer, type LocalPgBouncer } from './pgbouncer-server.js';
import { checkLedger, ledgerTableDdl, startWorkload, type LatencySample, type Workload } from './workload.js';

export interface RehearseOptions {
  /** Fixture scale: members (the other tables scale with it). Default 20,000 (~120k rows). */
  rows?: number;
  /** Application writes per second through PgBouncer. Default 200. */
  rate?: number;
  /** Seconds of traffic between the steps (CDC, on the target after cutover, after rollback). Default 5. */
  stageSeconds?: number;
  log: Logger;
}

export interface LagSample {
  t: number;
  lagMs: number | null;
  lagBytes: number | null;
}

export interface RehearsalResult {
  ok: boolean;
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
}

export interface SwitchSummary {
  writeFreezeMs: number;
  seconds: number;
  postCheckOk: boolean;
  /** Milliseconds per step, to see where the freeze goes. */
  stepMs: Record<string, number>;
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
  const stateDir = mkdtempSync(join(tmpdir(), 'pgshift-rehearse-state-'));
  let source: LocalServer | undefined;
  let target: LocalServer | undefined;
  let bouncer: LocalPgBouncer | undefined;
  let workload: Workload | undefined;
  try {
    [source, target] = await phase('start servers', () =>
      Promise.all([startLocalServer({ major: 15, name: 'rehearse-source' }), startLocalServer({ major: 17, name: 'rehearse-target' })]),
    );
    const src = parseConnInfo(source.url(DB), 'source');
    const tgt = parseConnInfo(target.url(DB), 'target');
    await phase('load the Tasteam database', () => loadSource(source!, target!, opts.rows ?? 20_000, appPassword));
    bouncer = await phase('start PgBouncer', () =>
      startPgBouncer({
        databases: [{ name: ENTRY, host: src.host, port: src.port, dbname: DB }],
        users: [{ user: APP_ROLE, password: appPassword }],
      }),
    );
    const appUrl = bouncer.appUrl(ENTRY, APP_ROLE, appPassword);
    workload = startWorkload({ url: appUrl, ratePerSecond: rate, durationMs: 30 * 60_000, tag: 'rehearsal' });
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
      const r = await phase(label, fn, (x) => `writes frozen ${x.writeFreezeMs} ms`);
      // Writes freeze when the 'freeze writes' step starts (switchover.ts); before it, only read-only pre-checks ran.
      const freezeStep = r.steps.find((st) => st.step === 'freeze writes');
      switches.push({ label, at: t0, frozenAt: freezeStep ? Date.parse(freezeStep.startedAt) : t0, freezeMs: r.writeFreezeMs });
      return {
        writeFreezeMs: r.writeFreezeMs,
        seconds: (Date.now() - t0) / 1000,
        postCheckOk: r.postCheck.ok,
        stepMs: Object.fromEntries(r.steps.map((st) => [st.step, st.ms])),
      };
    };
    const cutover = await doSwitch('cutover', () => runCutover(switchOpts));
    await phase('traffic on the target', () => sleep(stageMs));
    const rollback = await doSwitch('rollback', async () => {
      const r = await runRollback(switchOpts);
      if (r.mode !== 'lossless') throw checkFailed('rollback was not lossless');
      return r;
    });
    await phase('traffic on the source again', () => sleep(stageMs / 2));
    const cutoverAgain = await doSwitch('cutover again', () => runCutover(switchOpts));
    await phase('traffic on the target', () => sleep(stageMs / 2));

    const traffic = await workload.stop();
    workload = undefined;
    const lost = await phase(
      'check the ledger on the final primary',
      async () => {
        const c = new pg.Client(target!.url(DB));
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
      [cutover, rollback, cutoverAgain].every((s) => s.postCheckOk && s.writeFreezeMs <= 2000);
    return result;
  } finally {
    if (workload) await workload.stop().catch(() => undefined);
    await bouncer?.stop().catch(() => undefined);
    await Promise.all([source?.destroy(), target?.destroy()].map((p) => p?.catch(() => undefined)));
    rmSync(stateDir, { recursive: true, force: true });
  }
}

/** The source as the Tasteam team has it: the service's tables, the application's role, its ledger table. */
async function loadSource(source: LocalServer, target: LocalServer, rows: number, appPassword: string): Promise<void> {
  for (const server of [source, target]) {
    const admin = new pg.Client(server.url('postgres'));
    await admin.connect();
    await admin.query(`CREATE DATABASE ${ident(DB)}`);
    await admin.end();
  }
  const c = new pg.Client(source.url(DB));
  await c.connect();
  try {
    await loadFixture(c, { rows });
    await c.query(`ALTER ROLE ${ident(APP_ROLE)} LOGIN PASSWORD ${literal(appPassword)}`);
    await c.query(ledgerTableDdl());
    await c.query(`GRANT SELECT, INSERT ON public.ledger_probe TO ${ident(APP_ROLE)}`);
    await c.query(`GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO ${ident(APP_ROLE)}`);
  } finally {
    await c.end();
  }
}

/** Lag while the application writes and CDC streams, sampled with `cdc status` (heartbeat probe). */
async function sampleLag(source: ConnInfo, target: ConnInfo, names: ReturnType<typeof migrationNames>, ms: number): Promise<LagSample[]> {
  const until = Date.now() + ms;
  const series = await watchCdc({ source, target, names, probeTimeoutMs: 1000 }, 200, () => undefined, new AbortController().signal, {
    until: () => Date.now() >= until,
  });
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
