/**
 * `recover` after a runner running `cutover --engine dms` was killed (SIGKILL) inside the write freeze, with
 * application writes at 100/s through a real PgBouncer and a ledger of every acknowledged write.
 *
 * The cutover runs in a process of its own (test/support/dms-cutover-process.ts) with the DMS API mocked and
 * the stand-in replication instance inside it, so both die with it. What the servers keep is what a killed
 * runner leaves: the source frozen with pgshift's records, PgBouncer paused, the DMS task's test_decoding
 * slot. status reads native links only, so it must not guess which server is primary from that — it once
 * named the target (writes would have gone to a server without its sequences set). It says it cannot tell;
 * recover refuses and changes nothing; the operator, who sees where the application points, says
 * `--primary source`, and writes flow again with 0 failed and 0 lost.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ident, literal } from '../../src/postgres/sql.js';
import { checkLedger, ledgerTableDdl, startWorkload, type Workload } from '../../src/rehearse/workload.js';
import { type Application, startApplication } from '../support/application.js';
import { runCli, waitUntil } from '../support/cli.js';
import { admin, freshPair, type TestPair } from '../support/databases.js';
import type { DmsCutoverProcessInput } from '../support/dms-cutover-process.js';

const DB = 'pgshift_dms_recover';
const NAME = 'dms_rec';
const ENTRY = 'app_dms_rec';
const suffix = Math.random().toString(36).slice(2, 8);
const DMS_ROLE = `dms_rec_dms_${suffix}`;
const APP_ROLE = `dms_rec_app_${suffix}`;
const PASSWORD = `pw-${suffix}`;
const root = join(import.meta.dirname, '..', '..');

let pair: TestPair;
let app: Application;
let workload: Workload;
let env: Record<string, string>;

const asRole = (url: string, role: string) => {
  const u = new URL(url);
  u.username = role;
  u.password = PASSWORD;
  return u.toString();
};

beforeAll(async () => {
  pair = await freshPair(DB);
  for (const side of ['source', 'target'] as const)
    await admin(side, 'postgres', async (c) => {
      for (const [role, attrs] of [
        [DMS_ROLE, 'LOGIN REPLICATION'],
        [APP_ROLE, 'LOGIN'],
      ] as const) {
        const exists = (await c.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [role])).rowCount;
        await c.query(`${exists ? 'ALTER' : 'CREATE'} ROLE ${ident(role)} ${attrs} PASSWORD ${literal(PASSWORD)}`);
      }
      await c.query(`GRANT pg_read_all_data, pg_write_all_data TO ${ident(DMS_ROLE)}`);
    });
  await pair.src(ledgerTableDdl());
  await pair.src(`GRANT SELECT, INSERT ON ALL TABLES IN SCHEMA public TO ${ident(APP_ROLE)}`);
  await pair.src(`GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO ${ident(APP_ROLE)}`);
  app = await startApplication(pair, ENTRY, APP_ROLE, PASSWORD);
  env = {
    PGSHIFT_SOURCE_URL: pair.sourceUrl,
    PGSHIFT_TARGET_URL: pair.targetUrl,
    PGSHIFT_PGBOUNCER_ADMIN_URL: app.bouncer.adminUrl,
    PGSHIFT_APP_URL: app.url,
    PGSHIFT_STATE_DIR: mkdtempSync(join(tmpdir(), 'pgshift-dms-recover-')),
  };
  workload = startWorkload({ url: app.url, ratePerSecond: 100, durationMs: 600_000 });
}, 120_000);

afterAll(async () => {
  // PgBouncer first: should the test fail with the application still paused, the writes it holds fail
  // instead of keeping the workload's stop waiting.
  await app?.bouncer.stop();
  await workload?.stop();
  await pair?.drop();
  for (const side of ['source', 'target'] as const)
    await admin(side, 'postgres', async (c) => {
      for (const r of [DMS_ROLE, APP_ROLE]) await c.query(`DROP ROLE IF EXISTS ${ident(r)}`).catch(() => undefined);
    });
});

/** pgshift's freeze record on the source (read from `postgres`: the freeze ends sessions in the migrated database). */
async function sourceFrozen(): Promise<boolean> {
  const r = await admin('source', 'postgres', (c) =>
    c.query(
      `SELECT count(*)::int AS n FROM pg_db_role_setting s, unnest(s.setconfig) c
        WHERE s.setdatabase = (SELECT oid FROM pg_database WHERE datname = $1) AND c = $2`,
      [DB, `pgshift.frozen_by=${NAME}`],
    ),
  );
  return r.rows[0].n > 0;
}

const switchFlags = () => ['--name', NAME, '--switch', 'pgbouncer', '--pgbouncer-ini', app.bouncer.iniPath, '--pgbouncer-db', ENTRY];

describe('SIGKILL inside the write freeze of cutover --engine dms, then recover', () => {
  it('status cannot tell the primary and recover refuses, changing nothing; recover --primary source brings writes back', async () => {
    const input: DmsCutoverProcessInput = {
      sourceUrl: pair.sourceUrl,
      targetUrl: pair.targetUrl,
      dmsSourceUrl: asRole(pair.sourceUrl, DMS_ROLE),
      dmsTargetUrl: asRole(pair.targetUrl, DMS_ROLE),
      dmsRole: DMS_ROLE,
      name: NAME,
      stateDir: env.PGSHIFT_STATE_DIR!,
      bouncer: { adminUrl: app.bouncer.adminUrl, iniPath: app.bouncer.iniPath, entry: ENTRY, appUrl: app.url },
    };
    const runner = spawn(process.execPath, ['--import', 'tsx', join(root, 'test', 'support', 'dms-cutover-process.ts')], {
      cwd: root,
      env: { ...process.env, PGSHIFT_TEST_DMS_CUTOVER: JSON.stringify(input) },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let output = '';
    runner.stdout.on('data', (d) => (output += d));
    runner.stderr.on('data', (d) => (output += d));
    const exited = new Promise<NodeJS.Signals | null>((resolve) => runner.on('exit', (_code, signal) => resolve(signal)));
    await waitUntil('the cutover froze the source', sourceFrozen, 90_000).catch((err) => {
      throw new Error(`${err.message}:\n${output}`);
    });
    process.kill(-runner.pid!, 'SIGKILL');
    expect(await exited).toBe('SIGKILL');
    const held = workload.snapshot().acknowledged;

    const status = await runCli(['status', ...switchFlags(), '--json'], env);
    const st = JSON.parse(status.stdout);
    expect(st.primary).toBe('unknown');
    expect(st.primaryBecause).toMatch(/AWS DMS task \(slot dms_rec, test_decoding\)/);
    expect(st.application).toMatchObject({ pointsAt: 'source', paused: true });

    const refused = await runCli(['recover', ...switchFlags(), '--json'], env);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/recover cannot tell which server is primary/);
    expect(refused.stderr).toMatch(/--primary source/);
    expect(refused.stderr).not.toContain(PASSWORD);
    expect(await sourceFrozen()).toBe(true);
    expect(workload.snapshot().acknowledged).toBe(held); // nothing was changed: the application still waits

    const wrong = await runCli(['recover', ...switchFlags(), '--primary', 'sideways'], env);
    expect(wrong.code).toBe(2);

    const rec = await runCli(['recover', ...switchFlags(), '--primary', 'source', '--json'], env);
    expect(rec.code, rec.stderr).toBe(0);
    const r = JSON.parse(rec.stdout);
    expect(r.primary).toBe('source');
    expect(r.decision).toBe('undo');
    expect(r.postCheck.ok).toBe(true);
    await waitUntil('writes flow again', async () => workload.snapshot().acknowledged > held + 50, 30_000);
    expect(await sourceFrozen()).toBe(false);
    // Afterwards the servers say it themselves again (no unfinished switchover left), and a second recover has nothing to do.
    const after = JSON.parse((await runCli(['status', ...switchFlags(), '--json'], env)).stdout);
    expect(after.primary).toBe('source');
    expect(after.application).toMatchObject({ pointsAt: 'source', paused: false });
    const again = await runCli(['recover', ...switchFlags(), '--json'], env);
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout).decision).toBe('nothing to do');

    const result = await workload.stop();
    expect(result.failed).toBe(0);
    const c = new pg.Client(pair.sourceUrl);
    await c.connect();
    try {
      expect((await checkLedger(c, result.ledger)).missing).toEqual([]);
    } finally {
      await c.end();
    }
  }, 180_000);
});
