/**
 * Cutover and rollback on real servers with live application traffic at 200 writes/s through a
 * real PgBouncer: the goals of the issue (freeze ≤ 2 s, 0 failed transactions, 0 acknowledged
 * writes lost, 0 sequence collisions) and each abort path.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCdc } from '../../src/engine/cdc/index.js';
import { runCleanup } from '../../src/engine/cleanup/cleanup.js';
import { runCutover } from '../../src/engine/cutover/cutover.js';
import { runRollback } from '../../src/engine/rollback/rollback.js';
import { SwitchoverAborted, type SwitchoverOptions } from '../../src/engine/cutover/switchover.js';
import { unfreezeAfterCutover } from '../../src/engine/ddl/index.js';
import { runFullLoad } from '../../src/engine/full-load/full-load.js';
import { migrationNames } from '../../src/engine/names.js';
import { loadFixture } from '../../src/rehearse/fixture/load.js';
import type { LocalPgBouncer } from '../../src/rehearse/pgbouncer-server.js';
import { checkLedger, ledgerTableDdl, startWorkload, type Workload } from '../../src/rehearse/workload.js';
import type { Logger } from '../../src/log/logger.js';
import { makeSwitch } from '../../src/switch/switch.js';
import { tableHashes } from '../support/compare.js';
import { type Application, createApplicationRole, startApplication } from '../support/application.js';
import { freshPair, type TestPair } from '../support/databases.js';

const DB = 'pgshift_cutover';
const ENTRY = 'tasteam';
const APP_ROLE = 'cutover_app';
const APP_PASSWORD = `app-${Math.random().toString(36).slice(2)}`;
const names = migrationNames('cut_test');

let pair: TestPair;
let bouncer: LocalPgBouncer;
let app: Application;
let stateDir: string;
const lines: string[] = [];
const log: Logger = {
  info: (l) => lines.push(l),
  warn: (l) => lines.push(`WARN ${l}`),
  progress: () => undefined,
};

function options(overrides: Partial<SwitchoverOptions> = {}): SwitchoverOptions {
  return app.switchover({ names, stateDir, log }, overrides);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  pair = await freshPair(DB);
  stateDir = mkdtempSync(join(tmpdir(), 'pgshift-state-'));
  const c = new pg.Client(pair.sourceUrl);
  c.on('error', () => undefined);
  await c.connect();
  await loadFixture(c, { rows: 500 });
  await c.query(ledgerTableDdl());
  // Fires only for replicated rows (apply workers run with session_replication_role = replica):
  // identical on both sides, so no schema drift, and lets a test make the apply slow on purpose.
  await c.query(`CREATE FUNCTION public.slow_apply() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN IF current_setting('session_replication_role') = 'replica' AND NEW.payload = 'slow' THEN PERFORM pg_sleep(3); END IF; RETURN NEW; END $$`);
  await c.query(`CREATE TRIGGER slow_apply BEFORE INSERT ON public.ledger_probe FOR EACH ROW EXECUTE FUNCTION public.slow_apply()`);
  await c.query(`ALTER TABLE public.ledger_probe ENABLE ALWAYS TRIGGER slow_apply`);
  await createApplicationRole(c, APP_ROLE, APP_PASSWORD);
  await c.end();
  // full-load copies the role with its password verifier, so the application logs in on either server.
  await runFullLoad({ source: pair.source, target: pair.target, names, jobs: 2, log });
  await startCdc({ source: pair.source, target: pair.target, names, log });
  app = await startApplication(pair, ENTRY, APP_ROLE, APP_PASSWORD);
  bouncer = app.bouncer;
});

afterAll(async () => {
  await bouncer?.stop();
  await pair?.drop();
});

const serverOfEntry = () => app.serverOfEntry();

describe('abort paths leave the source primary and lose nothing', () => {
  let workload: Workload;
  beforeAll(() => {
    workload = startWorkload({ url: app.url, ratePerSecond: 200, durationMs: 60_000 });
  });
  afterAll(async () => {
    await workload.stop();
  });

  it('refuses a second cutover while one runs', async () => {
    const holder = new pg.Client(pair.sourceUrl);
    await holder.connect();
    await holder.query('SELECT pg_advisory_lock(hashtext($1))', [`pgshift:${names.name}`]);
    const err = await runCutover(options()).catch((e) => e);
    await holder.end();
    expect(err.exitCode).toBe(1);
    expect(err.oneLine()).toMatch(/another cutover or rollback .* is running/);
  });

  it('aborts when the PgBouncer admin console is unreachable, before freezing anything', async () => {
    const sw = makeSwitch({
      kind: 'pgbouncer',
      adminUrl: 'postgres://pgbouncer:nope-secret@127.0.0.1:1/pgbouncer',
      iniPath: bouncer.iniPath,
      dbEntry: ENTRY,
    });
    const err = await runCutover(options({ switch: sw })).catch((e) => e);
    expect(err).toBeInstanceOf(SwitchoverAborted);
    expect(err.exitCode).toBe(1);
    expect(err.oneLine()).not.toContain('nope-secret');
    expect(await serverOfEntry()).toBe(pair.source.port);
  });

  it('aborts when lag does not converge within --max-freeze, and writes resume on the source', async () => {
    // As the freeze starts (PgBouncer paused, the database not yet read-only), a row that the
    // target applies slowly (3 s) goes in on the source. Awaited inside the switch's own freeze
    // step, so it always commits before the cutover reads the LSN to wait for, however slow
    // the machine (fired from a log line instead, it could land after the database went read-only).
    const base = options().switch;
    const slowRowAtFreeze: typeof base = {
      kind: base.kind,
      describe: () => base.describe(),
      freeze: async () => {
        await base.freeze?.();
        await pair.src(`INSERT INTO public.ledger_probe (payload) VALUES ('slow')`);
      },
      unfreeze: () => base.unfreeze?.() ?? Promise.resolve(),
      pointAt: (target) => base.pointAt(target),
      current: () => base.current?.() ?? Promise.resolve({}),
    };
    const before = workload.snapshot();
    const err = await runCutover(options({ maxFreezeMs: 1_000, switch: slowRowAtFreeze })).catch((e) => e);
    expect(err).toBeInstanceOf(SwitchoverAborted);
    expect(err.oneLine()).toMatch(/did not apply .* within --max-freeze/);
    expect(err.writeFreezeMs).toBeLessThan(3_000);
    await sleep(1_000);
    const after = workload.snapshot();
    expect(after.acknowledged).toBeGreaterThan(before.acknowledged + 100);
    expect(after.failed).toBe(0);
    expect(await serverOfEntry()).toBe(pair.source.port);
    // The source is writable again for everyone, and forward replication still runs.
    const ro = await pair.src(
      `SELECT count(*)::int AS n FROM pg_db_role_setting WHERE setdatabase = (SELECT oid FROM pg_database WHERE datname = $1)`,
      [DB],
    );
    expect(ro.rows[0].n).toBe(0);
    const sub = await pair.tgt(`SELECT count(*)::int AS n FROM pg_stat_subscription WHERE subname = $1 AND pid IS NOT NULL`, [
      names.subscription,
    ]);
    expect(sub.rows[0].n).toBeGreaterThan(0);
  });

  it('aborts on a bad --pgbouncer-ini after turning replication around, and restores forward replication', async () => {
    const sw = makeSwitch({ kind: 'pgbouncer', adminUrl: bouncer.adminUrl, iniPath: join(stateDir, 'missing.ini'), dbEntry: ENTRY });
    const err = await runCutover(options({ switch: sw })).catch((e) => e);
    expect(err).toBeInstanceOf(SwitchoverAborted);
    expect(err.steps.map((s: { step: string }) => s.step)).toContain('turn replication around');
    await sleep(500);
    expect(workload.snapshot().failed).toBe(0);
    expect(await serverOfEntry()).toBe(pair.source.port);
    const reverse = await pair.src(`SELECT count(*)::int AS n FROM pg_subscription WHERE subname = $1`, [names.reverseSubscription]);
    expect(reverse.rows[0].n).toBe(0);
    const forwardSlot = await pair.src(`SELECT count(*)::int AS n FROM pg_replication_slots WHERE slot_name = $1`, [names.slot]);
    expect(forwardSlot.rows[0].n).toBe(1);
  });

  it('loses no acknowledged write across the aborts (every ledger entry is on the source and on the target)', async () => {
    const result = await workload.stop();
    expect(result.failed).toBe(0);
    await sleep(500);
    const onSource = await new pg.Client(pair.sourceUrl);
    await onSource.connect();
    const src = await checkLedger(onSource, result.ledger);
    await onSource.end();
    expect(src.missing).toEqual([]);
    const tgtClient = new pg.Client(pair.targetUrl);
    await tgtClient.connect();
    for (let i = 0; i < 50; i++) {
      if ((await checkLedger(tgtClient, result.ledger)).missing.length === 0) break;
      await sleep(200);
    }
    const tgt = await checkLedger(tgtClient, result.ledger);
    await tgtClient.end();
    expect(tgt.missing).toEqual([]);
  });
});

describe('cutover, traffic on the target, rollback, cutover again — under 200 writes/s', () => {
  it('freezes writes each time, fails no transaction, loses no write, collides no sequence', async () => {
    const workload = startWorkload({ url: app.url, ratePerSecond: 200, durationMs: 60_000 });
    await sleep(1_500);
    const cut = await runCutover(options());
    expect(cut.ok).toBe(true);
    expect(cut.postCheck.ok).toBe(true);
    expect(await serverOfEntry()).toBe(pair.target.port);
    await sleep(1_500);
    const back = await runRollback(options());
    expect(back.mode).toBe('lossless');
    expect(await serverOfEntry()).toBe(pair.source.port);
    await sleep(1_500);
    const again = await runCutover(options());
    await sleep(1_000);
    const result = await workload.stop();

    const freezes = [cut.writeFreezeMs, back.mode === 'lossless' ? back.writeFreezeMs : -1, again.writeFreezeMs];
    console.log(
      `write freeze ms: cutover ${freezes[0]}, rollback ${freezes[1]}, cutover again ${freezes[2]}; acknowledged ${result.acknowledged}, failed ${result.failed}`,
    );
    // How long the freeze lasts is measured by `npm run bench:freeze`, not asserted here: a timed bound
    // on a shared 2-core machine fails good code at random. What must hold is that writes were frozen.
    for (const ms of freezes) expect(ms).toBeGreaterThan(0);
    expect(result.failed).toBe(0);
    expect(result.failuresByCode['23505'] ?? 0).toBe(0);
    expect(result.acknowledged).toBeGreaterThan(100);

    const target = new pg.Client(pair.targetUrl);
    await target.connect();
    const lost = await checkLedger(target, result.ledger);
    await target.end();
    expect(lost.missing).toEqual([]);
    // Every write made on the target went back to the source by reverse replication.
    await sleep(1_000);
    const [src, tgt] = await Promise.all([tableHashes(pair.sourceUrl), tableHashes(pair.targetUrl)]);
    expect(src).toEqual(tgt);

    // After the cutover the new primary refuses DDL for the rollback window; the old primary does not.
    expect(cut.steps.map((st) => st.step)).toEqual(expect.arrayContaining(['move the DDL freeze to the new primary']));
    const refused = await pair.tgt('CREATE TABLE public.during_rollback_window (x int)').catch((e) => e);
    expect(refused.code).toBe('55000');
    expect(refused.message).toMatch(/DDL is frozen by pgshift/);
    await pair.tgt('CREATE TEMP TABLE scratch (x int)');
    expect((await pair.src(`SELECT count(*)::int AS n FROM pg_event_trigger WHERE evtname LIKE 'pgshift_ddl_freeze%'`)).rows[0].n).toBe(0);
    const unsure = await unfreezeAfterCutover({ server: pair.target, acceptNoRollback: false, log }).catch((e) => e);
    expect(unsure.oneLine()).toMatch(/breaks the reverse replication .* --accept-no-rollback/);
    expect((await unfreezeAfterCutover({ server: pair.target, acceptNoRollback: true, log })).lifted).toBe(true);
    expect((await pair.tgt(`SELECT count(*)::int AS n FROM pg_event_trigger WHERE evtname LIKE 'pgshift_ddl_freeze%'`)).rows[0].n).toBe(0);
  });

  it('cleanup drops every subscription, publication and slot on both sides', async () => {
    const r = await runCleanup({ source: pair.source, target: pair.target, names, log });
    expect(r.leftovers).toEqual([]);
    expect(r.dropped.length).toBeGreaterThan(0);
    const left = await Promise.all([
      pair.src(
        `SELECT (SELECT count(*) FROM pg_replication_slots WHERE database = $1) + (SELECT count(*) FROM pg_publication) + (SELECT count(*) FROM pg_subscription WHERE subdbid = (SELECT oid FROM pg_database WHERE datname = $1)) AS n`,
        [DB],
      ),
      pair.tgt(
        `SELECT (SELECT count(*) FROM pg_replication_slots WHERE database = $1) + (SELECT count(*) FROM pg_publication) + (SELECT count(*) FROM pg_subscription WHERE subdbid = (SELECT oid FROM pg_database WHERE datname = $1)) AS n`,
        [DB],
      ),
    ]);
    expect(left.map((r) => Number(r.rows[0].n))).toEqual([0, 0]);
  });
});
