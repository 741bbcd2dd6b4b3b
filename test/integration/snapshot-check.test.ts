/**
 * The cutover's exact check runs after writes resume, in snapshots both sides exported inside the
 * freeze. Real servers, a real PgBouncer, 200 application writes/s throughout:
 *   - untouched data checks equal although the application keeps writing during the check;
 *   - a row deleted on the target behind replication just before the cutover is caught, named
 *     with both counts, and --on-mismatch rollback moves the application back with 0 writes lost;
 *   - --verify full names a row changed behind replication; alert (the default) leaves the
 *     application on the target and fails the result.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCdc } from '../../src/engine/cdc/index.js';
import { runCutover } from '../../src/engine/cutover/cutover.js';
import { runRollback } from '../../src/engine/rollback/rollback.js';
import type { SwitchoverOptions } from '../../src/engine/cutover/switchover.js';
import { thawDatabaseWrites } from '../../src/engine/cutover/write-freeze.js';
import { runFullLoad } from '../../src/engine/full-load/full-load.js';
import { migrationNames } from '../../src/engine/names.js';
import { withClient } from '../../src/postgres/connect.js';
import { literal } from '../../src/postgres/sql.js';
import { loadFixture } from '../../src/rehearse/fixture/load.js';
import type { LocalPgBouncer } from '../../src/rehearse/pgbouncer-server.js';
import { checkLedger, ledgerTableDdl, startWorkload, type Workload } from '../../src/rehearse/workload.js';
import type { Logger } from '../../src/log/logger.js';
import { type Application, createApplicationRole, startApplication } from '../support/application.js';
import { freshPair, type TestPair } from '../support/databases.js';

const DB = 'pgshift_snapshot_check';
const ENTRY = 'tasteam';
const APP_ROLE = 'snapcheck_app';
const APP_PASSWORD = `app-${Math.random().toString(36).slice(2)}`;
const names = migrationNames('snap_test');

let pair: TestPair;
let bouncer: LocalPgBouncer;
let app: Application;
let workload: Workload;
let stateDir: string;
const log: Logger = { info: () => undefined, warn: () => undefined, progress: () => undefined };

function options(overrides: Partial<SwitchoverOptions> = {}): SwitchoverOptions {
  return app.switchover({ names, stateDir, log }, overrides);
}

const serverOfEntry = () => app.serverOfEntry();

/** Change the target where replication does not see it: apply workers never carry it back, triggers stay off. */
async function behindReplication(sql: string): Promise<number> {
  const c = new pg.Client(pair.targetUrl);
  await c.connect();
  try {
    // After a rollback the target is frozen (its roles read-only); a person with superuser gets past that.
    await c.query('SET session_replication_role = replica; SET default_transaction_read_only = off');
    return (await c.query(sql)).rowCount ?? 0;
  } finally {
    await c.end();
  }
}

beforeAll(async () => {
  pair = await freshPair(DB);
  stateDir = mkdtempSync(join(tmpdir(), 'pgshift-state-'));
  const c = new pg.Client(pair.sourceUrl);
  await c.connect();
  await loadFixture(c, { rows: 500 });
  await c.query(ledgerTableDdl());
  await createApplicationRole(c, APP_ROLE, APP_PASSWORD);
  await c.end();
  await runFullLoad({ source: pair.source, target: pair.target, names, jobs: 2, log });
  await startCdc({ source: pair.source, target: pair.target, names, log });
  app = await startApplication(pair, ENTRY, APP_ROLE, APP_PASSWORD);
  bouncer = app.bouncer;
  workload = startWorkload({ url: app.url, ratePerSecond: 200, durationMs: 5 * 60_000 });
  // Some traffic before the first switch, so the ledger table is busy on both sides.
  await new Promise((r) => setTimeout(r, 1000));
}, 120_000);

afterAll(async () => {
  await workload?.stop();
  await bouncer?.stop();
  // The last rollback left the target frozen (its roles read-only), as a real one does: thaw it so its database can be dropped.
  // The markers on the server say what was frozen.
  if (pair) await withClient(pair.target, (c) => thawDatabaseWrites(c, names.name));
  await pair?.drop();
});

describe('the switch-point check, after writes resume', () => {
  it('finds untouched data equal while the application keeps writing on the new primary', async () => {
    const r = await runCutover(options());
    expect(r.snapshotCheck, JSON.stringify(r.snapshotCheck)).toMatchObject({ ok: true, mode: 'fast', mismatched: [] });
    expect(r.snapshotCheck!.tables).toBeGreaterThan(10);
    expect(r.ok).toBe(true);
    // The check ran after the freeze, not inside it.
    const steps = r.steps.map((s) => s.step);
    expect(steps.indexOf('export snapshots')).toBeGreaterThan(steps.indexOf('wait for zero lag'));
    expect(steps.indexOf('export snapshots')).toBeLessThan(steps.indexOf('switch the application'));
    expect(steps.indexOf('check the switch-point snapshots')).toBeGreaterThan(steps.indexOf('switch the application'));
    expect(steps).not.toContain('final verify');
    const back = await runRollback(options());
    expect(back.ok).toBe(true);
    expect(await serverOfEntry()).toBe(pair.source.port);
  }, 120_000);

  it('catches a row deleted on the target behind replication, and --on-mismatch rollback goes back losing nothing', async () => {
    const deleted = await behindReplication('DELETE FROM public.ledger_probe WHERE id = (SELECT min(id) FROM public.ledger_probe)');
    expect(deleted).toBe(1);
    const r = await runCutover(options({ onMismatch: 'rollback' }));
    expect(r.ok).toBe(false);
    expect(r.snapshotCheck!.ok).toBe(false);
    expect(r.snapshotCheck!.error).toBeUndefined();
    expect(r.snapshotCheck!.mismatched).toHaveLength(1);
    const [m] = r.snapshotCheck!.mismatched;
    expect(m!.table).toBe('public.ledger_probe');
    expect(m!.toRows).toBe(m!.fromRows - 1);
    expect(r.mismatchRollback?.mode).toBe('lossless');
    expect(await serverOfEntry()).toBe(pair.source.port);

    // Every acknowledged write, before, during and after both switches, is on the source, which serves again.
    const done = await workload.stop();
    const c = new pg.Client(pair.sourceUrl);
    await c.connect();
    try {
      expect(done.failed, done.failureSamples.join('; ')).toBe(0);
      expect(done.acknowledged).toBeGreaterThan(500);
      expect((await checkLedger(c, done.ledger)).missing).toEqual([]);
    } finally {
      await c.end();
    }
    workload = startWorkload({ url: app.url, ratePerSecond: 200, durationMs: 5 * 60_000 });
  }, 120_000);

  it('--verify full names a row changed behind replication; alert leaves the application on the target', async () => {
    // The deleted ledger row from the test before is put back, so only the change below differs.
    const ledgerRow = (await pair.src('SELECT id::text, payload, written_at::text FROM public.ledger_probe ORDER BY id LIMIT 1')).rows[0];
    await behindReplication(
      `INSERT INTO public.ledger_probe (id, payload, written_at) VALUES (${literal(ledgerRow.id)}, ${literal(ledgerRow.payload)}, ${literal(ledgerRow.written_at)}) ON CONFLICT (id) DO NOTHING`,
    );
    const member = (await pair.src('SELECT min(id)::text AS id FROM public.member')).rows[0].id as string;
    expect(await behindReplication(`UPDATE public.member SET nickname = nickname || '~' WHERE id = ${literal(member)}`)).toBe(1);
    const r = await runCutover(options({ finalVerify: 'full' }));
    expect(r.ok).toBe(false);
    expect(r.snapshotCheck).toMatchObject({
      ok: false,
      mode: 'full',
      mismatched: [{ table: 'public.member', missing: 0, extra: 0, changed: 1 }],
    });
    expect(r.mismatchRollback).toBeUndefined();
    expect(await serverOfEntry()).toBe(pair.target.port);
    const back = await runRollback(options());
    expect(back.mode).toBe('lossless');
    expect(await serverOfEntry()).toBe(pair.source.port);
  }, 120_000);
});
