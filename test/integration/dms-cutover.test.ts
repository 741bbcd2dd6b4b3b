/**
 * Cutover and rollback with `--engine dms`, whole, on real servers (15 -> 17) under 200 writes/s through a
 * real PgBouncer, for both reverse engines (`--reverse-engine native`, the default, and `dms`).
 *
 * AWS DMS cannot be reached from here: the DMS API is aws-sdk-client-mock, and the data is moved by the
 * stand-in for the replication instance (test/support/dms-stand-in.ts), which reads the task's
 * test_decoding slot with pg_logical_slot_get_changes and applies the mapped tables' changes to the other
 * server, logged in as the DMS user. What is asserted is what an operator would check:
 *  - the switch happened (PgBouncer points at the new primary), no transaction failed, no sequence
 *    collided, and the ledger of every acknowledged write is complete on the final primary;
 *  - the write freeze spared the DMS user (its stand-in kept applying on the frozen old primary);
 *  - the DMS calls in order: the running task is stopped, and pgshift waits for `stopped`, before the
 *    return replication is created or started (so the two directions never loop);
 *  - after cutover -> traffic -> rollback, both sides hold the same rows (nothing looped, nothing lost).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import {
  CreateReplicationTaskCommand,
  DatabaseMigrationServiceClient,
  StartReplicationTaskCommand,
  StopReplicationTaskCommand,
} from '@aws-sdk/client-database-migration-service';
import { mockClient } from 'aws-sdk-client-mock';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dmsClients } from '../../src/aws/dms.js';
import { startDmsCdc } from '../../src/engine/cdc/dms.js';
import { startReturnLink } from '../../src/engine/cdc/return-link.js';
import { runCleanup } from '../../src/engine/cleanup/cleanup.js';
import { runCutover } from '../../src/engine/cutover/cutover.js';
import type { SwitchoverOptions } from '../../src/engine/cutover/switchover.js';
import { runFullLoad } from '../../src/engine/full-load/full-load.js';
import { migrationNames } from '../../src/engine/names.js';
import { DmsEngine } from '../../src/engine/replication/dms.js';
import type { ReplicationEngine } from '../../src/engine/replication/engine.js';
import { NativeEngine } from '../../src/engine/replication/native.js';
import { runRollback } from '../../src/engine/rollback/rollback.js';
import type { Logger } from '../../src/log/logger.js';
import { ident } from '../../src/postgres/sql.js';
import { checkLedger, ledgerTableDdl, startWorkload } from '../../src/rehearse/workload.js';
import { tableHashes } from '../support/compare.js';
import { type Application, startApplication } from '../support/application.js';
import { freshPair, type TestPair } from '../support/databases.js';
import { createDmsRoles, dropRoles } from '../support/dms-roles.js';
import { DmsReplicationInstanceStandIn } from '../support/dms-stand-in.js';

const REGION = 'ap-northeast-2';
const INSTANCE = 'arn:aws:dms:ap-northeast-2:123456789012:rep:STANDIN';
const ENTRY = 'app';
const suffix = Math.random().toString(36).slice(2, 8);
const DMS_ROLE = `dms_cut_dms_${suffix}`;
const APP_ROLE = `dms_cut_app_${suffix}`;
const PASSWORD = `pw-${suffix}`;
const ARN = {
  forwardSource: 'arn:aws:dms:ap-northeast-2:123456789012:endpoint:FWDSRC',
  forwardTarget: 'arn:aws:dms:ap-northeast-2:123456789012:endpoint:FWDTGT',
  reverseSource: 'arn:aws:dms:ap-northeast-2:123456789012:endpoint:REVSRC',
  reverseTarget: 'arn:aws:dms:ap-northeast-2:123456789012:endpoint:REVTGT',
};

const dmsApi = mockClient(DatabaseMigrationServiceClient);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const lines: string[] = [];
const log: Logger = { info: (l) => lines.push(l), warn: (l) => lines.push(`WARN ${l}`), progress: () => undefined };

function asRole(url: string, role: string): string {
  const u = new URL(url);
  u.username = role;
  u.password = PASSWORD;
  return u.toString();
}

afterAll(async () => {
  dmsApi.restore();
  await dropRoles(DMS_ROLE, APP_ROLE);
});

describe.each([['native'], ['dms']] as const)('cutover and rollback with --engine dms --reverse-engine %s', (reverseName) => {
  const DB = `pgshift_dms_cut_${reverseName}`;
  const names = migrationNames(`dms_cut_${reverseName}`);
  const FORWARD_TASK = `${names.name.replace(/_/g, '-')}-forward`;
  const REVERSE_TASK = `${names.name.replace(/_/g, '-')}-reverse`;
  let pair: TestPair;
  let app: Application;
  let standIn: DmsReplicationInstanceStandIn;
  let engine: DmsEngine;
  let reverseEngine: ReplicationEngine;
  let stateDir: string;
  let callsOfFirstRun = 0;

  const options = (): SwitchoverOptions => app.switchover({ names, stateDir, log, maxFreezeMs: 15_000 }, { engine, reverseEngine });
  const serverOfEntry = () => app.serverOfEntry();

  beforeAll(async () => {
    dmsApi.reset();
    pair = await freshPair(DB);
    stateDir = mkdtempSync(join(tmpdir(), 'pgshift-dms-state-'));
    await createDmsRoles(PASSWORD, DMS_ROLE, APP_ROLE);
    await pair.src(ledgerTableDdl());
    await pair.src(`GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO ${ident(APP_ROLE)}`);
    await pair.src(`GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO ${ident(APP_ROLE)}`);
    await pair.src(`INSERT INTO public.ledger_probe (payload) SELECT 'before-' || g FROM generate_series(1, 200) g`);

    standIn = new DmsReplicationInstanceStandIn(dmsApi, INSTANCE, [
      { arn: ARN.forwardSource, url: asRole(pair.sourceUrl, DMS_ROLE), slot: names.slot },
      { arn: ARN.forwardTarget, url: asRole(pair.targetUrl, DMS_ROLE) },
      { arn: ARN.reverseSource, url: asRole(pair.targetUrl, DMS_ROLE), slot: names.reverseSlot },
      { arn: ARN.reverseTarget, url: asRole(pair.sourceUrl, DMS_ROLE) },
    ]);
    engine = new DmsEngine({
      clients: dmsClients({
        region: REGION,
        dms: new DatabaseMigrationServiceClient({ region: REGION }),
        cloudwatch: new CloudWatchClient({ region: REGION }),
      }),
      replicationInstanceArn: INSTANCE,
      endpoints: {
        forward: { source: ARN.forwardSource, target: ARN.forwardTarget },
        reverse: { source: ARN.reverseSource, target: ARN.reverseTarget },
      },
      users: [DMS_ROLE],
      migrationName: names.name,
      wait: { intervalMs: 25, timeoutMs: 60_000 },
      log,
    });
    reverseEngine = reverseName === 'dms' ? engine : new NativeEngine();

    // full-load --engine dms (test_decoding slot with the exported snapshot), then cdc start --engine dms.
    await runFullLoad({ source: pair.source, target: pair.target, names, jobs: 2, slotPlugin: 'test_decoding', log });
    await startDmsCdc({ source: pair.source, target: pair.target, names, engine, log });
    app = await startApplication(pair, ENTRY, APP_ROLE, PASSWORD);
  }, 120_000);

  afterAll(async () => {
    await standIn?.close();
    await app?.bouncer.stop();
    await pair?.drop();
  });

  it('cutover, traffic on RDS, rollback: the switch each time, no failed or lost write, the tasks stopped before the other way starts', async () => {
    expect(standIn.statusOf(FORWARD_TASK)).toBe('running');
    const workload = startWorkload({ url: app.url, ratePerSecond: 200, durationMs: 120_000 });
    await sleep(1_500);

    // ── cutover ──
    const cut = await runCutover(options());
    expect(cut.replicationBackError).toBeUndefined();
    expect(cut.ok).toBe(true);
    expect(cut.postCheck.ok).toBe(true);
    expect(await serverOfEntry()).toBe(pair.target.port);
    // The freeze left the DMS user writable on the old primary (its sessions replicate), everyone else read-only.
    expect(cut.frozenOnOldPrimary.sparedRoles).toEqual([DMS_ROLE]);
    expect(cut.frozenOnOldPrimary.roles).toContain(APP_ROLE);
    const steps = cut.steps.map((s) => s.step);
    expect(steps.indexOf('stop the running link, then start the return link')).toBeGreaterThan(steps.indexOf('switch the application'));
    expect(standIn.statusOf(FORWARD_TASK)).toBe('stopped');
    // The forward slot went with its task (docs/design.md rule 7).
    expect((await pair.src('SELECT 1 FROM pg_replication_slots WHERE slot_name = $1', [names.slot])).rowCount).toBe(0);
    if (reverseName === 'dms') {
      expect(standIn.statusOf(REVERSE_TASK)).toBe('running');
      expect(cutoverOrder()).toEqual([
        `Stop ${FORWARD_TASK}`,
        `${FORWARD_TASK} stopped`,
        `Create ${REVERSE_TASK}`,
        `Start ${REVERSE_TASK}`,
      ]);
    } else {
      expect(cutoverOrder()).toEqual([`Stop ${FORWARD_TASK}`, `${FORWARD_TASK} stopped`]);
      const sub = await pair.src('SELECT subenabled FROM pg_subscription WHERE subname = $1', [names.reverseSubscription]);
      expect(sub.rows).toEqual([{ subenabled: true }]);
    }
    await sleep(1_500);

    // ── rollback ──
    const eventsBeforeRollback = standIn.events.length;
    const back = await runRollback(options());
    expect(back.mode).toBe('lossless');
    if (back.mode !== 'lossless') return;
    expect(back.replicationBackError).toBeUndefined();
    expect(back.ok).toBe(true);
    expect(await serverOfEntry()).toBe(pair.source.port);
    // Forward DMS cannot be started within the freeze either: it starts after writes resume.
    const backSteps = back.steps.map((s) => s.step);
    expect(backSteps.indexOf('stop the running link, then start the return link')).toBeGreaterThan(
      backSteps.indexOf('switch the application'),
    );
    const rollbackEvents = standIn.events.slice(eventsBeforeRollback).filter((e) => !/ (ready|running|starting)$/.test(e));
    if (reverseName === 'dms') {
      expect(back.frozenOnOldPrimary.sparedRoles).toEqual([DMS_ROLE]);
      // The reverse task stopped (and waited for), the forward task of the cutover deleted, a new one made from the new slot.
      expect(rollbackEvents).toEqual([
        `Stop ${REVERSE_TASK}`,
        `${REVERSE_TASK} stopped`,
        `Delete ${FORWARD_TASK}`,
        `Create ${FORWARD_TASK}`,
        `Start ${FORWARD_TASK}`,
      ]);
    } else {
      expect(rollbackEvents).toEqual([`Delete ${FORWARD_TASK}`, `Create ${FORWARD_TASK}`, `Start ${FORWARD_TASK}`]);
      expect((await pair.src('SELECT 1 FROM pg_subscription WHERE subname = $1', [names.reverseSubscription])).rowCount).toBe(0);
    }
    expect(standIn.statusOf(FORWARD_TASK)).toBe('running');
    await sleep(1_500);
    const result = await workload.stop();

    console.log(
      `--reverse-engine ${reverseName}: write freeze ms cutover ${cut.writeFreezeMs}, rollback ${back.writeFreezeMs}; acknowledged ${result.acknowledged}, failed ${result.failed}`,
    );
    expect(result.failed).toBe(0);
    expect(result.failuresByCode['23505'] ?? 0).toBe(0);
    expect(result.acknowledged).toBeGreaterThan(500);
    // Writes went to RDS between cutover and rollback, and to the source before and after.
    const source = new pg.Client(pair.sourceUrl);
    await source.connect();
    try {
      expect((await checkLedger(source, result.ledger)).missing).toEqual([]);
    } finally {
      await source.end();
    }
    // Forward DMS carries the last writes to RDS: the two sides end equal (nothing looped back twice, nothing lost).
    const deadline = Date.now() + 30_000;
    let hashes = await Promise.all([tableHashes(pair.sourceUrl), tableHashes(pair.targetUrl)]);
    while (JSON.stringify(hashes[0]) !== JSON.stringify(hashes[1]) && Date.now() < deadline) {
      await sleep(200);
      hashes = await Promise.all([tableHashes(pair.sourceUrl), tableHashes(pair.targetUrl)]);
    }
    expect(hashes[1]).toEqual(hashes[0]);
    expect(standIn.statusOf(FORWARD_TASK)).toBe('running');
    callsOfFirstRun = dmsApi.calls().length;
  }, 240_000);

  /** The cutover's task calls and stops, in order (the first forward task's creation and start came from cdc start). */
  function cutoverOrder(): string[] {
    const from = standIn.events.lastIndexOf(`Stop ${FORWARD_TASK}`);
    return standIn.events.slice(from).filter((e) => !/ (ready|running|starting)$/.test(e));
  }

  // Only with the reverse task: the return link that fails to start is the DMS one.
  if (reverseName === 'dms')
    it('cutover again while the reverse endpoint cannot connect: the switch stands, writes go on, the reverse slot keeps them; started afterwards, rollback loses nothing', async () => {
      const workload = startWorkload({ url: app.url, ratePerSecond: 200, durationMs: 120_000 });
      await sleep(1_000);
      standIn.failConnection(ARN.reverseTarget, 'could not connect to server: Connection timed out');
      const cut = await runCutover(options());
      // Done, but not ok: the result and the log say what is missing and that the slot keeps the writes.
      expect(cut.ok).toBe(false);
      expect(cut.postCheck.ok).toBe(true);
      expect(cut.replicationBackError).toMatch(
        new RegExp(
          `switch to the target .* is done, but replication back to the source .*\\(dms\\) did not start: .*cannot connect.*slot ${names.reverseSlot} on the target .* keeps every write since the switch`,
        ),
      );
      expect(lines.some((l) => l.startsWith('WARN ') && l.includes('did not start'))).toBe(true);
      expect(await serverOfEntry()).toBe(pair.target.port);
      expect(standIn.statusOf(FORWARD_TASK)).toBe('stopped');
      expect(standIn.statusOf(REVERSE_TASK)).toBeUndefined();
      await sleep(1_000);
      const slot = await pair.tgt('SELECT 1 FROM pg_replication_slots WHERE slot_name = $1', [names.reverseSlot]);
      expect(slot.rowCount).toBe(1);

      // The cause fixed, `pgshift cdc start-return` starts the reverse task from that slot (runbooks/dms.md §8);
      // a second run finds it running and starts nothing.
      standIn.failConnection(ARN.reverseTarget, undefined);
      const returnLink = { source: pair.source, target: pair.target, names, engine, reverseEngine, log };
      const started = await startReturnLink(returnLink);
      expect(started.started).toBe('reverse');
      expect(started.detail).toMatch(new RegExp(`from slot ${names.reverseSlot}`));
      expect(standIn.statusOf(REVERSE_TASK)).toBe('running');
      const again = await startReturnLink(returnLink);
      expect(again.started).toBeNull();
      expect(again.detail).toMatch(/runs already/);
      await sleep(1_000);
      const back = await runRollback(options());
      expect(back.mode).toBe('lossless');
      expect(back.ok).toBe(true);
      expect(await serverOfEntry()).toBe(pair.source.port);
      await sleep(1_000);
      const result = await workload.stop();
      expect(result.failed).toBe(0);
      const check = new pg.Client(pair.sourceUrl);
      await check.connect();
      try {
        // Including every write made on RDS while nothing replicated back: the slot kept them.
        expect((await checkLedger(check, result.ledger)).missing).toEqual([]);
      } finally {
        await check.end();
      }
    }, 240_000);

  it('cleanup stops and deletes every task, and leaves no slot, subscription or publication of the migration', async () => {
    const r = await runCleanup({ source: pair.source, target: pair.target, names, engine, reverseEngine, log });
    expect(r.leftovers).toEqual([]);
    expect(standIn.statusOf(FORWARD_TASK)).toBeUndefined();
    expect(standIn.statusOf(REVERSE_TASK)).toBeUndefined();
    const left = `SELECT (SELECT count(*) FROM pg_replication_slots WHERE database = current_database())
                       + (SELECT count(*) FROM pg_publication)
                       + (SELECT count(*) FROM pg_subscription WHERE subdbid = (SELECT oid FROM pg_database WHERE datname = current_database()))
                       AS n`;
    expect([Number((await pair.src(left)).rows[0].n), Number((await pair.tgt(left)).rows[0].n)]).toEqual([0, 0]);
  });

  it('aws-sdk-client-mock saw StopReplicationTask before any reverse task was created or started', () => {
    // Every call pgshift made, in order, as "<what> <task>".
    // cdc start, the cutover and the rollback of the first test (not the later fault test and cleanup).
    const calls = dmsApi
      .calls()
      .slice(0, callsOfFirstRun)
      .map((c) => {
        const cmd = c.args[0];
        const what =
          cmd instanceof StopReplicationTaskCommand
            ? 'stop'
            : cmd instanceof CreateReplicationTaskCommand
              ? 'create'
              : cmd instanceof StartReplicationTaskCommand
                ? 'start'
                : 'other';
        const input = cmd.input as { ReplicationTaskIdentifier?: string; ReplicationTaskArn?: string };
        return `${what} ${input.ReplicationTaskIdentifier ?? input.ReplicationTaskArn ?? ''}`;
      });
    const firstStop = calls.findIndex((c) => c.startsWith('stop '));
    expect(firstStop).toBeGreaterThan(-1);
    const creates = calls.filter((c) => c.startsWith('create '));
    const starts = calls.flatMap((c, i) => (c.startsWith('start ') ? [i] : []));
    if (reverseName === 'dms') {
      expect(creates).toEqual([`create ${FORWARD_TASK}`, `create ${REVERSE_TASK}`, `create ${FORWARD_TASK}`]);
      expect(calls.indexOf(`create ${REVERSE_TASK}`)).toBeGreaterThan(firstStop);
      expect(starts).toHaveLength(3);
    } else {
      expect(creates).toEqual([`create ${FORWARD_TASK}`, `create ${FORWARD_TASK}`]);
      expect(starts).toHaveLength(2);
    }
    // Only cdc start's first start comes before the first stop.
    expect(starts.filter((i) => i < firstStop)).toHaveLength(1);
  });
});
