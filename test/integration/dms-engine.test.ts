/**
 * The dms engine's database side, on real servers (AWS DMS itself cannot be reached from here):
 *  - the write freeze spares the DMS user's sessions and ends everyone else's;
 *  - the marker round-trip: appliedPast returns only once a marker committed after every acknowledged
 *    write is on the target AND the slot confirmed past it. The stand-in for DMS reads the test_decoding
 *    slot with pg_logical_slot_get_changes (which confirms as it reads) and applies the inserts.
 */
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import {
  CreateReplicationTaskCommand,
  DatabaseMigrationServiceClient,
  DeleteReplicationTaskCommand,
  DescribeConnectionsCommand,
  DescribeEndpointsCommand,
  DescribeReplicationInstancesCommand,
  DescribeReplicationTasksCommand,
  StartReplicationTaskCommand,
  StopReplicationTaskCommand,
  TestConnectionCommand,
} from '@aws-sdk/client-database-migration-service';
import { mockClient } from 'aws-sdk-client-mock';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dmsClients } from '../../src/aws/dms.js';
import { freezeDatabaseWrites, thawDatabaseWrites } from '../../src/engine/cutover/write-freeze.js';
import { DmsEngine } from '../../src/engine/replication/dms.js';
import type { Link } from '../../src/engine/replication/engine.js';
import { ensureMarkerTable, MARKER_SCHEMA, MARKER_TABLE } from '../../src/engine/replication/marker.js';
import { silentLogger } from '../../src/log/logger.js';
import { connect } from '../../src/postgres/connect.js';
import { admin, freshPair, serverUrl, type TestPair } from '../support/databases.js';

const DB = 'pgshift_dms_engine';
const suffix = Math.random().toString(36).slice(2, 8);
const DMS_ROLE = `dms_user_${suffix}`;
const APP_ROLE = `dms_app_${suffix}`;
const PASSWORD = `pw-${suffix}`;
const SLOT = 'dms_engine_fwd';
let pair: TestPair;

const REGION = 'ap-northeast-2';
// Never called here: appliedPast and the freeze talk only to PostgreSQL.
const engine = new DmsEngine({
  clients: dmsClients({
    region: REGION,
    dms: new DatabaseMigrationServiceClient({ region: REGION }),
    cloudwatch: new CloudWatchClient({ region: REGION }),
  }),
  replicationInstanceArn: 'arn:aws:dms:ap-northeast-2:123456789012:rep:X',
  endpoints: { forward: { source: 'src', target: 'tgt' } },
  users: [DMS_ROLE],
  migrationName: 'dms_engine',
  log: silentLogger,
});

function roleUrl(role: string): string {
  const u = new URL(serverUrl('source', DB));
  u.username = role;
  u.password = PASSWORD;
  return u.toString();
}

async function session(role: string): Promise<pg.Client> {
  const c = new pg.Client(roleUrl(role));
  c.on('error', () => undefined);
  await c.connect();
  return c;
}

beforeAll(async () => {
  pair = await freshPair(DB);
  await admin('source', 'postgres', async (c) => {
    for (const r of [DMS_ROLE, APP_ROLE])
      await c.query(`CREATE ROLE ${pg.escapeIdentifier(r)} LOGIN PASSWORD ${pg.escapeLiteral(PASSWORD)}`);
  });
  await pair.src(`CREATE TABLE ledger (id int PRIMARY KEY, v text NOT NULL)`);
  await pair.src(`GRANT ALL ON ledger TO ${pg.escapeIdentifier(DMS_ROLE)}, ${pg.escapeIdentifier(APP_ROLE)}`);
  await pair.tgt(`CREATE TABLE ledger (id int PRIMARY KEY, v text NOT NULL)`);
}, 60_000);

afterAll(async () => {
  await pair
    ?.src(`SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1`, [SLOT])
    .catch(() => undefined);
  await pair?.drop();
  await admin('source', 'postgres', async (c) => {
    for (const r of [DMS_ROLE, APP_ROLE]) await c.query(`DROP ROLE IF EXISTS ${pg.escapeIdentifier(r)}`);
  });
});

describe('the write freeze with the dms engine', () => {
  it("spares the DMS user's sessions (still open, still writable) and ends the application's", async () => {
    const dms = await session(DMS_ROLE);
    const app = await session(APP_ROLE);
    const migration = await connect(pair.source, { applicationName: 'pgshift-test' });
    try {
      const record = await freezeDatabaseWrites(
        migration,
        'dms_engine',
        { kind: 'cutover', to: 'target' },
        { spareRoles: engine.sparedRoles() },
      );
      try {
        expect(record.sparedRoles).toEqual([DMS_ROLE]);
        expect(record.roles).toContain(APP_ROLE);
        expect(record.roles).not.toContain(DMS_ROLE);
        expect(record.terminatedSessions).toBeGreaterThanOrEqual(1);
        // The application's session is gone; a new one is read-only.
        await expect(app.query('SELECT 1')).rejects.toThrow();
        const appAgain = await session(APP_ROLE);
        await expect(appAgain.query(`INSERT INTO ledger VALUES (1, 'app')`)).rejects.toThrow(/read-only transaction/);
        await appAgain.end();
        // The DMS session still runs, and so does a new one, writable (the database itself is frozen).
        expect((await dms.query('SELECT 1 AS ok')).rows).toEqual([{ ok: 1 }]);
        const dmsAgain = await session(DMS_ROLE);
        expect((await dmsAgain.query('SHOW default_transaction_read_only')).rows[0].default_transaction_read_only).toBe('off');
        await dmsAgain.end();
      } finally {
        await thawDatabaseWrites(migration, 'dms_engine', record);
      }
      // Thawed: no setting of ours is left for either role in this database.
      const left = await migration.query(
        `SELECT r.rolname FROM pg_db_role_setting s JOIN pg_roles r ON r.oid = s.setrole
          WHERE s.setdatabase = (SELECT oid FROM pg_database WHERE datname = current_database()) AND r.rolname = ANY($1)`,
        [[DMS_ROLE, APP_ROLE]],
      );
      expect(left.rows).toEqual([]);
    } finally {
      await Promise.all([dms.end(), app.end(), migration.end()].map((p) => p.catch(() => undefined)));
    }
  });
});

/** Reads the slot the way DMS would (confirming as it reads) and, when `apply`, writes the inserts to the target. */
function standIn(apply: boolean) {
  let stop = false;
  let applied = 0;
  const done = (async () => {
    const source = await connect(pair.source, { applicationName: 'dms-stand-in' });
    const target = await connect(pair.target, { applicationName: 'dms-stand-in' });
    try {
      while (!stop) {
        const rows = (await source.query<{ data: string }>(`SELECT data FROM pg_logical_slot_get_changes($1, NULL, NULL)`, [SLOT])).rows;
        for (const { data } of rows) {
          if (!apply) continue;
          const marker = /^table _pgshift\.replication_marker: INSERT: id\[text\]:'([^']+)'/.exec(data);
          const ledger = /^table public\.ledger: INSERT: id\[integer\]:(\d+)/.exec(data);
          if (marker) await target.query(`INSERT INTO ${MARKER_SCHEMA}.${MARKER_TABLE} (id) VALUES ($1)`, [marker[1]]);
          if (ledger) await target.query(`INSERT INTO ledger VALUES ($1, 'live')`, [Number(ledger[1])]);
          if (marker || ledger) applied += 1;
        }
        await new Promise((r) => setTimeout(r, 10));
      }
    } finally {
      await Promise.all([source.end(), target.end()]);
    }
  })();
  return {
    stop: async () => {
      stop = true;
      await done;
    },
    applied: () => applied,
  };
}

describe('the marker round-trip (appliedPast) against a stand-in for DMS', () => {
  let source: pg.Client;
  let target: pg.Client;
  let link: Link;
  let nextId = 100;

  beforeAll(async () => {
    source = await connect(pair.source, { applicationName: 'pgshift-test' });
    target = await connect(pair.target, { applicationName: 'pgshift-test' });
    link = {
      names: { publication: 'unused', slot: SLOT, subscription: 'unused' },
      publisher: source,
      subscriber: target,
      publisherInfo: pair.source,
      subscriberInfo: pair.target,
      publisherFromSubscriber: pair.source,
      direction: 'forward',
    };
    // prepare: the marker table on both sides and a fresh test_decoding slot.
    await engine.prepare(link);
    expect((await source.query(`SELECT plugin FROM pg_replication_slots WHERE slot_name = $1`, [SLOT])).rows).toEqual([
      { plugin: 'test_decoding' },
    ]);
  });

  afterAll(async () => {
    await Promise.all([source?.end(), target?.end()]);
  });

  const writeRows = async (n: number) => {
    const ids: number[] = [];
    for (let i = 0; i < n; i++) {
      const id = nextId++;
      await source.query(`INSERT INTO ledger VALUES ($1, 'live')`, [id]);
      ids.push(id);
    }
    return ids;
  };
  const lsnNow = async () => (await source.query<{ lsn: string }>('SELECT pg_current_wal_insert_lsn()::text AS lsn')).rows[0]!.lsn;

  it('returns once everything committed before it is on the target, under live writes', async () => {
    const dms = standIn(true);
    try {
      const acked = await writeRows(50);
      const r = await engine.appliedPast(link, await lsnNow(), 20_000);
      expect(r.reached).toBe(true);
      const onTarget = (await target.query<{ id: number }>(`SELECT id FROM ledger WHERE id = ANY($1)`, [acked])).rows.map((x) => x.id);
      expect(onTarget.sort((a, b) => a - b)).toEqual(acked);
    } finally {
      await dms.stop();
    }
  });

  it('does not return while the stand-in confirms the slot but has not applied the marker', async () => {
    const markersBefore = (await target.query(`SELECT count(*)::int AS n FROM _pgshift.replication_marker`)).rows[0].n;
    const reader = standIn(false);
    let before = '';
    try {
      await writeRows(5);
      before = await lsnNow();
      const r = await engine.appliedPast(link, before, 600);
      expect(r.reached).toBe(false);
      // The slot does move on past every write (the reader confirms as it reads): only the marker's absence on
      // the target held the wait. Waited for rather than read once, so a slow reader under load cannot fail
      // it; a reader that never confirmed would fail it by the test's timeout.
      for (;;) {
        const slot = await source.query(
          `SELECT confirmed_flush_lsn >= $2::pg_lsn AS moved FROM pg_replication_slots WHERE slot_name = $1`,
          [SLOT, before],
        );
        if (slot.rows[0].moved) break;
        await new Promise((r) => setTimeout(r, 20));
      }
    } finally {
      await reader.stop();
    }
    expect((await target.query(`SELECT count(*)::int AS n FROM _pgshift.replication_marker`)).rows[0].n).toBe(markersBefore);
  });

  it('does not return while nothing reads the slot, and says how far behind it is', async () => {
    await writeRows(5);
    const r = await engine.appliedPast(link, await lsnNow(), 400);
    expect(r.reached).toBe(false);
    expect(r.remainingBytes).toBeGreaterThan(0);
  });

  it('the marker table exists on both sides (the engine maps it like any table)', async () => {
    await ensureMarkerTable(source);
    for (const c of [source, target])
      expect((await c.query(`SELECT to_regclass('_pgshift.replication_marker') IS NOT NULL AS ok`)).rows[0].ok).toBe(true);
  });
});

describe('the dms engine against real PostgreSQL and a mocked DMS API', () => {
  const dmsApi = mockClient(DatabaseMigrationServiceClient);
  const TASK_ARN = 'arn:aws:dms:ap-northeast-2:123456789012:task:FWDTASK';
  const ENGINE_SLOT = 'dms_engine_start';
  let source: pg.Client;
  let target: pg.Client;
  let link: Link;
  const fast = () => {
    let t = 0;
    return { now: () => t, sleep: async (ms: number) => void (t += ms) };
  };
  const started = new DmsEngine({
    clients: dmsClients({ region: REGION }),
    replicationInstanceArn: 'arn:aws:dms:ap-northeast-2:123456789012:rep:INST',
    endpoints: { forward: { source: 'arn:src', target: 'arn:tgt' } },
    users: [DMS_ROLE],
    migrationName: 'dms_engine',
    wait: fast(),
    log: silentLogger,
  });

  /** The instance, the endpoints and the calls that succeed; tasks are answered per test. */
  function answerDmsApi(): void {
    dmsApi.on(DescribeReplicationInstancesCommand).resolves({
      ReplicationInstances: [
        {
          ReplicationInstanceArn: 'arn:aws:dms:ap-northeast-2:123456789012:rep:INST',
          ReplicationInstanceIdentifier: 'pgshift-01-dms',
          ReplicationInstanceStatus: 'available',
          EngineVersion: '3.6.1',
          PubliclyAccessible: false,
        },
      ],
    });
    dmsApi.on(DescribeEndpointsCommand).resolves({
      Endpoints: [
        {
          EndpointArn: 'arn:src',
          EndpointIdentifier: 'src',
          PostgreSQLSettings: { SlotName: ENGINE_SLOT, PluginName: 'test-decoding', CaptureDdls: false, FailTasksOnLobTruncation: true },
        },
      ],
    });
    dmsApi.on(TestConnectionCommand).resolves({});
    dmsApi.on(DescribeConnectionsCommand).resolves({ Connections: [{ Status: 'successful' }] });
    dmsApi.on(CreateReplicationTaskCommand).resolves({ ReplicationTask: { ReplicationTaskArn: TASK_ARN, Status: 'creating' } });
    dmsApi.on(StartReplicationTaskCommand).resolves({});
  }

  beforeAll(async () => {
    source = await connect(pair.source, { applicationName: 'pgshift-test' });
    target = await connect(pair.target, { applicationName: 'pgshift-test' });
    await source.query(`CREATE TABLE docs (id int PRIMARY KEY, body text, blob bytea, meta jsonb, code varchar(10))`);
    await source.query(
      `INSERT INTO docs VALUES (1, repeat('x', 100000), '\\x00', '{}', 'a'), (2, 'short', decode(repeat('ff', 3000), 'hex'), '{"k": 1}', 'b')`,
    );
    await source.query(`SELECT pg_create_logical_replication_slot($1, 'test_decoding')`, [ENGINE_SLOT]);
    link = {
      names: { publication: 'unused', slot: ENGINE_SLOT, subscription: 'unused' },
      publisher: source,
      subscriber: target,
      publisherInfo: pair.source,
      subscriberInfo: pair.target,
      publisherFromSubscriber: pair.source,
      direction: 'forward',
    };
    answerDmsApi();
  });

  afterAll(async () => {
    dmsApi.restore();
    await source
      ?.query(`SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1`, [ENGINE_SLOT])
      .catch(() => undefined);
    await Promise.all([source?.end(), target?.end()]);
  });

  const task = (Status: string) => ({
    ReplicationTasks: [{ ReplicationTaskArn: TASK_ARN, ReplicationTaskIdentifier: 'dms-engine-forward', Status }],
  });

  it("start creates the cdc task at the slot's position, over the leaf tables and the marker, with LobMaxSize from the data", async () => {
    const slotStart = (
      await source.query(`SELECT confirmed_flush_lsn::text AS lsn FROM pg_replication_slots WHERE slot_name = $1`, [ENGINE_SLOT])
    ).rows[0].lsn;
    dmsApi
      .on(DescribeReplicationTasksCommand)
      .resolvesOnce({ ReplicationTasks: [] }) // no task of this name yet
      .resolvesOnce(task('creating'))
      .resolvesOnce(task('ready'))
      .resolvesOnce(task('starting'))
      .resolves(task('running'));
    await started.start(link);
    const input = dmsApi.commandCalls(CreateReplicationTaskCommand)[0]!.args[0].input;
    expect(input.ReplicationTaskIdentifier).toBe('dms-engine-forward');
    expect(input.CdcStartPosition).toBe(slotStart);
    const included = JSON.parse(input.TableMappings!)
      .rules.filter((r: { 'rule-action': string }) => r['rule-action'] === 'include')
      .map(
        (r: { 'object-locator': { 'schema-name': string; 'table-name': string } }) =>
          `${r['object-locator']['schema-name']}.${r['object-locator']['table-name']}`,
      );
    expect(included).toEqual(['public.docs', 'public.ledger', '_pgshift.replication_marker']);
    // The largest value is the 100,000-byte text: twice that, in KB, rounded up.
    expect(JSON.parse(input.ReplicationTaskSettings!).TargetMetadata.LobMaxSize).toBe(Math.ceil(200_000 / 1024));
    expect(dmsApi.commandCalls(TestConnectionCommand).map((c) => c.args[0].input.EndpointArn)).toEqual(['arn:src', 'arn:tgt']);
  });

  it('start deletes a stopped task of the same name left by an earlier direction change, then creates it anew', async () => {
    dmsApi.reset();
    answerDmsApi();
    dmsApi.on(DeleteReplicationTaskCommand).resolves({});
    dmsApi
      .on(DescribeReplicationTasksCommand)
      .resolvesOnce(task('stopped')) // the task cutover stopped
      .resolvesOnce({ ReplicationTasks: [] }) // deleted
      .resolvesOnce(task('ready'))
      .resolves(task('running'));
    const before = dmsApi.calls().length;
    await started.start(link);
    const order = dmsApi
      .calls()
      .slice(before)
      .map((c) => c.args[0])
      .filter((cmd) => cmd instanceof DeleteReplicationTaskCommand || cmd instanceof CreateReplicationTaskCommand)
      .map((cmd) => (cmd instanceof DeleteReplicationTaskCommand ? 'delete' : 'create'));
    expect(order).toEqual(['delete', 'create']);
  });

  it('start refuses while a task of the same name is running, and neither deletes nor creates one', async () => {
    dmsApi.reset();
    answerDmsApi();
    dmsApi.on(DescribeReplicationTasksCommand).resolves(task('running'));
    const before = dmsApi.calls().length;
    const err = await started.start(link).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/dms-engine-forward already exists and is running/);
    const writes = dmsApi
      .calls()
      .slice(before)
      .filter((c) => c.args[0] instanceof DeleteReplicationTaskCommand || c.args[0] instanceof CreateReplicationTaskCommand);
    expect(writes).toEqual([]);
  });

  it('start refuses a slot that is not test_decoding, before any AWS write', async () => {
    await source.query(`SELECT pg_create_logical_replication_slot('dms_engine_pgoutput', 'pgoutput')`);
    dmsApi.on(DescribeEndpointsCommand).resolves({
      Endpoints: [
        {
          EndpointArn: 'arn:src',
          EndpointIdentifier: 'src',
          PostgreSQLSettings: {
            SlotName: 'dms_engine_pgoutput',
            PluginName: 'test-decoding',
            CaptureDdls: false,
            FailTasksOnLobTruncation: true,
          },
        },
      ],
    });
    const calls = dmsApi.commandCalls(CreateReplicationTaskCommand).length;
    const err = await started.start({ ...link, names: { ...link.names, slot: 'dms_engine_pgoutput' } }).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/uses pgoutput, but DMS reads test_decoding/);
    expect(dmsApi.commandCalls(CreateReplicationTaskCommand)).toHaveLength(calls);
    await source.query(`SELECT pg_drop_replication_slot('dms_engine_pgoutput')`);
  });

  it("cleanup stops and deletes the task, drops the slot and DMS's control schema; a second cleanup finds nothing", async () => {
    await target.query(`CREATE SCHEMA awsdms_control; CREATE TABLE awsdms_control.awsdms_status (x int)`);
    dmsApi.reset();
    dmsApi.on(StopReplicationTaskCommand).resolves({});
    dmsApi.on(DeleteReplicationTaskCommand).resolves({});
    dmsApi
      .on(DescribeReplicationTasksCommand)
      .resolvesOnce(task('running'))
      .resolvesOnce(task('running'))
      .resolvesOnce(task('stopped'))
      .resolvesOnce(task('deleting'))
      .resolves({ ReplicationTasks: [] });
    const removed = await started.cleanup(link);
    expect(removed).toEqual(['DMS task dms-engine-forward', `slot ${ENGINE_SLOT}`, 'schema awsdms_control on the subscriber']);
    expect((await source.query(`SELECT 1 FROM pg_replication_slots WHERE slot_name = $1`, [ENGINE_SLOT])).rowCount).toBe(0);
    expect(await started.cleanup(link)).toEqual([]);
  });
});
