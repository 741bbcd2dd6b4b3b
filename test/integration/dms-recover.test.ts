/**
 * `status` and `recover` after a runner running `cutover --engine dms` was killed (SIGKILL), with application
 * writes at 100/s through a real PgBouncer and a ledger of every acknowledged write:
 *   - inside the write freeze (the apply held there): the switch had not happened;
 *   - past the switch, while the forward task was being stopped (the return link not started yet).
 *
 * The cutover runs in a process of its own (test/support/dms-cutover-process.ts) with the DMS API mocked and
 * the stand-in replication instance inside it, so both die with it. What the servers keep is what a killed
 * runner leaves: pgshift's freeze records, PgBouncer's state, the DMS task's test_decoding slot. A DMS task
 * has no subscription to read, and with DMS the application is switched before replication turns around, so
 * where the application points is what says whether the switch happened. status once guessed from the
 * freeze records alone and named the target inside the freeze (recover would have moved the application to
 * a server whose sequences were never set).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { DatabaseMigrationServiceClient } from '@aws-sdk/client-database-migration-service';
import { mockClient } from 'aws-sdk-client-mock';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { dmsClients } from '../../src/aws/dms.js';
import { stopDmsCdc } from '../../src/engine/cdc/dms.js';
import { startReturnLink } from '../../src/engine/cdc/return-link.js';
import { migrationNames } from '../../src/engine/names.js';
import { DmsEngine } from '../../src/engine/replication/dms.js';
import { NativeEngine } from '../../src/engine/replication/native.js';
import { silentLogger } from '../../src/log/logger.js';
import { ident } from '../../src/postgres/sql.js';
import { checkLedger, ledgerTableDdl, startWorkload, type Workload, type WorkloadResult } from '../../src/rehearse/workload.js';
import { type Application, startApplication } from '../support/application.js';
import { runCli, waitUntil } from '../support/cli.js';
import { admin, freshPair, type TestPair } from '../support/databases.js';
import { createDmsRoles, dropRoles } from '../support/dms-roles.js';
import { DmsReplicationInstanceStandIn } from '../support/dms-stand-in.js';
import type { DmsCutoverProcessInput } from '../support/dms-cutover-process.js';

const suffix = Math.random().toString(36).slice(2, 8);
const DMS_ROLE = `dms_rec_dms_${suffix}`;
const APP_ROLE = `dms_rec_app_${suffix}`;
const PASSWORD = `pw-${suffix}`;
const root = join(import.meta.dirname, '..', '..');

/** One migration per test (slot names are cluster-wide, so each has its own name). */
interface Migration {
  name: string;
  pair: TestPair;
  app: Application;
  workload: Workload;
  env: Record<string, string>;
  runner?: ChildProcess;
}
let m: Migration | undefined;

const asRole = (url: string, role: string) => {
  const u = new URL(url);
  u.username = role;
  u.password = PASSWORD;
  return u.toString();
};

beforeAll(() => createDmsRoles(PASSWORD, DMS_ROLE, APP_ROLE));

afterEach(async () => {
  if (!m) return;
  if (m.runner?.exitCode === null && m.runner.signalCode === null) process.kill(-m.runner.pid!, 'SIGKILL');
  // PgBouncer first: should a test fail with the application still paused, the writes it holds fail
  // instead of keeping the workload's stop waiting.
  await m.app.bouncer.stop();
  await m.workload.stop();
  await m.pair.drop();
  m = undefined;
});

afterAll(() => dropRoles(DMS_ROLE, APP_ROLE));

async function startMigration(name: string): Promise<Migration> {
  const pair = await freshPair(`pgshift_${name}`);
  await pair.src(ledgerTableDdl());
  await pair.src(`GRANT SELECT, INSERT ON ALL TABLES IN SCHEMA public TO ${ident(APP_ROLE)}`);
  await pair.src(`GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO ${ident(APP_ROLE)}`);
  const app = await startApplication(pair, `app_${name}`, APP_ROLE, PASSWORD);
  const env = {
    PGSHIFT_SOURCE_URL: pair.sourceUrl,
    PGSHIFT_TARGET_URL: pair.targetUrl,
    PGSHIFT_PGBOUNCER_ADMIN_URL: app.bouncer.adminUrl,
    PGSHIFT_APP_URL: app.url,
    PGSHIFT_STATE_DIR: mkdtempSync(join(tmpdir(), 'pgshift-dms-recover-')),
  };
  const workload = startWorkload({ url: app.url, ratePerSecond: 100, durationMs: 600_000 });
  return { name, pair, app, workload, env };
}

/** cdc start and cutover --engine dms in a runner process; resolves with its output so far once `ready` says so. */
async function runnerWaiting(mig: Migration, waitIn: DmsCutoverProcessInput['waitIn'], ready: (output: string) => Promise<boolean>) {
  const input: DmsCutoverProcessInput = {
    sourceUrl: mig.pair.sourceUrl,
    targetUrl: mig.pair.targetUrl,
    dmsSourceUrl: asRole(mig.pair.sourceUrl, DMS_ROLE),
    dmsTargetUrl: asRole(mig.pair.targetUrl, DMS_ROLE),
    dmsRole: DMS_ROLE,
    name: mig.name,
    stateDir: mig.env.PGSHIFT_STATE_DIR!,
    bouncer: { adminUrl: mig.app.bouncer.adminUrl, iniPath: mig.app.bouncer.iniPath, entry: mig.app.entry, appUrl: mig.app.url },
    waitIn,
  };
  const runner = spawn(process.execPath, ['--import', 'tsx', join(root, 'test', 'support', 'dms-cutover-process.ts')], {
    cwd: root,
    env: { ...process.env, PGSHIFT_TEST_DMS_CUTOVER: JSON.stringify(input) },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  mig.runner = runner;
  let output = '';
  runner.stdout!.on('data', (d) => (output += d));
  runner.stderr!.on('data', (d) => (output += d));
  const exited = new Promise<NodeJS.Signals | null>((resolve) => runner.on('exit', (_code, signal) => resolve(signal)));
  await waitUntil(`the runner waits in the ${waitIn}`, () => ready(output), 90_000).catch((err) => {
    throw new Error(`${err.message}:\n${output}`);
  });
  return {
    kill: async () => {
      process.kill(-runner.pid!, 'SIGKILL');
      expect(await exited).toBe('SIGKILL');
    },
  };
}

/** pgshift's freeze record on the source (read from `postgres`: the freeze ends sessions in the migrated database). */
async function sourceFrozen(mig: Migration): Promise<boolean> {
  const r = await admin('source', 'postgres', (c) =>
    c.query(
      `SELECT count(*)::int AS n FROM pg_db_role_setting s, unnest(s.setconfig) c
        WHERE s.setdatabase = (SELECT oid FROM pg_database WHERE datname = $1) AND c = $2`,
      [mig.pair.name, `pgshift.frozen_by=${mig.name}`],
    ),
  );
  return r.rows[0].n > 0;
}

const flags = (mig: Migration) => [
  '--name',
  mig.name,
  '--switch',
  'pgbouncer',
  '--pgbouncer-ini',
  mig.app.bouncer.iniPath,
  '--pgbouncer-db',
  mig.app.entry,
];

/** Acknowledged writes missing on the server at `url`. */
async function ledgerOn(url: string, result: WorkloadResult): Promise<unknown[]> {
  const c = new pg.Client(url);
  await c.connect();
  try {
    return (await checkLedger(c, result.ledger)).missing;
  } finally {
    await c.end();
  }
}

describe('SIGKILL during cutover --engine dms, then status and recover', () => {
  it('inside the freeze: the application still points at the source, so the source; recover undoes it, 0 lost', async () => {
    const mig = (m = await startMigration('dms_rec_freeze'));
    const runner = await runnerWaiting(mig, 'freeze', () => sourceFrozen(mig));
    await runner.kill();
    const held = mig.workload.snapshot().acknowledged;

    // Without a way to read where the application points (--switch none), nothing is guessed and nothing changed.
    const blind = ['--name', mig.name, '--switch', 'none'];
    const unknown = JSON.parse((await runCli(['status', ...blind, '--json'], mig.env)).stdout);
    expect(unknown.primary).toBe('unknown');
    expect(unknown.primaryBecause).toMatch(/AWS DMS task \(slot dms_rec_freeze, test_decoding\).*cannot be read/);
    const refused = await runCli(['recover', ...blind], mig.env);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/recover cannot tell which server is primary.*--primary source/);
    expect(refused.stderr).not.toContain(PASSWORD);
    expect(await sourceFrozen(mig)).toBe(true);
    expect(mig.workload.snapshot().acknowledged).toBe(held); // the application still waits

    const st = JSON.parse((await runCli(['status', ...flags(mig), '--json'], mig.env)).stdout);
    expect(st.primary).toBe('source');
    expect(st.primaryBecause).toMatch(/the application points at the source/);
    expect(st.application).toMatchObject({ pointsAt: 'source', paused: true });
    // A --primary that contradicts what the servers say is refused.
    const wrong = await runCli(['recover', ...flags(mig), '--primary', 'target'], mig.env);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/--primary target, but the servers say the source is primary/);

    const rec = await runCli(['recover', ...flags(mig), '--json'], mig.env);
    expect(rec.code, rec.stderr).toBe(0);
    const r = JSON.parse(rec.stdout);
    expect([r.primary, r.decision, r.postCheck.ok]).toEqual(['source', 'undo', true]);
    await waitUntil('writes flow again', async () => mig.workload.snapshot().acknowledged > held + 50, 30_000);
    expect(await sourceFrozen(mig)).toBe(false);
    const after = JSON.parse((await runCli(['status', ...flags(mig), '--json'], mig.env)).stdout);
    expect(after.primary).toBe('source');
    const again = await runCli(['recover', ...flags(mig), '--json'], mig.env);
    expect(JSON.parse(again.stdout).decision).toBe('nothing to do');

    const result = await mig.workload.stop();
    expect(result.failed).toBe(0);
    expect(await ledgerOn(mig.pair.sourceUrl, result)).toEqual([]);
  }, 180_000);

  it('past the switch, stopping the forward task: the target, and status names the way back as missing; cdc start-return starts it, 0 lost', async () => {
    const mig = (m = await startMigration('dms_rec_turn'));
    const runner = await runnerWaiting(mig, 'turn-around', async (out) =>
      out.includes('▶ stop the running link, then start the return link'),
    );
    await runner.kill();
    // The switch was done: writes go to the target already, with nobody doing anything.
    const before = mig.workload.snapshot().acknowledged;
    await waitUntil('writes flow on the target', async () => mig.workload.snapshot().acknowledged > before + 50, 30_000);

    // The switch had recorded itself finished: the target is primary, and what is missing is the way back.
    const st = JSON.parse((await runCli(['status', ...flags(mig), '--json'], mig.env)).stdout);
    expect(st.primary).toBe('target');
    expect(st.findings.map((f: { message: string }) => f.message)).toContainEqual(
      expect.stringMatching(
        /replication back \(target -> source\) is not running: slot dms_rec_turn_reverse on the target keeps every write since the switch/,
      ),
    );
    expect(st.verdict).toBe('warn');
    expect(st.next).toMatch(/^pgshift cdc start-return/);
    const rec = await runCli(['recover', ...flags(mig), '--json'], mig.env);
    expect(rec.code, rec.stderr).toBe(0);
    expect(JSON.parse(rec.stdout).decision).toBe('nothing to do');

    // The way back, from the slot the freeze made on the target. The forward task's stop never finished, so its
    // slot is still on the source: start-return refuses until the old direction is stopped to the end.
    const dmsApi = mockClient(DatabaseMigrationServiceClient);
    try {
      new DmsReplicationInstanceStandIn(dmsApi, 'arn:aws:dms:ap-northeast-2:123456789012:rep:STANDIN', []);
      const names = migrationNames(mig.name);
      const engine = new DmsEngine({
        clients: dmsClients({
          region: 'ap-northeast-2',
          dms: new DatabaseMigrationServiceClient({ region: 'ap-northeast-2' }),
          cloudwatch: new CloudWatchClient({ region: 'ap-northeast-2' }),
        }),
        replicationInstanceArn: 'arn:aws:dms:ap-northeast-2:123456789012:rep:STANDIN',
        endpoints: { forward: { source: 'arn:fwd:src', target: 'arn:fwd:tgt' } },
        users: [DMS_ROLE],
        migrationName: names.name,
        log: silentLogger,
      });
      const returnLink = {
        source: mig.pair.source,
        target: mig.pair.target,
        names,
        engine,
        reverseEngine: new NativeEngine(),
        log: silentLogger,
      };
      const both = await startReturnLink(returnLink).catch((e: Error) => e);
      expect((both as Error).message).toMatch(/both dms_rec_turn on the source .* and dms_rec_turn_reverse on the target .* exist/);
      await stopDmsCdc({ source: mig.pair.source, target: mig.pair.target, names, engine, log: silentLogger });
      const started = await startReturnLink(returnLink);
      expect(started.started).toBe('reverse');
    } finally {
      dmsApi.restore();
    }

    const result = await mig.workload.stop();
    expect(result.failed).toBe(0);
    expect(await ledgerOn(mig.pair.targetUrl, result)).toEqual([]);
    // Every write made on the target since the switch reaches the source: a rollback now loses nothing.
    await waitUntil(
      'the source has every acknowledged write',
      async () => (await ledgerOn(mig.pair.sourceUrl, result)).length === 0,
      60_000,
    );
  }, 180_000);
});
