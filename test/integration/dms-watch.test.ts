/**
 * `cdc status --watch --engine dms`: each sample shows the task's state and its tables' states (through the
 * engine interface, from the mocked DMS API) and the slot's lag by LSN and retained WAL (from the real
 * source). The DMS side is the stand-in for the replication instance (test/support/dms-stand-in.ts): it
 * really reads the slot, so the lag is real. Each test stops the watch once the sample it looks for has
 * come (no timing margin): a watch that never shows it fails by the test's timeout.
 */
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import {
  DatabaseMigrationServiceClient,
  DescribeReplicationTasksCommand,
  StopReplicationTaskCommand,
} from '@aws-sdk/client-database-migration-service';
import { mockClient } from 'aws-sdk-client-mock';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dmsClients } from '../../src/aws/dms.js';
import { startDmsCdc } from '../../src/engine/cdc/dms.js';
import { type LinkSample, type LinkWatchOptions, watchLink } from '../../src/engine/cdc/link-watch.js';
import { migrationNames } from '../../src/engine/names.js';
import { DmsEngine } from '../../src/engine/replication/dms.js';
import { silentLogger } from '../../src/log/logger.js';
import { compareLsn } from '../../src/postgres/lsn.js';
import { ident, literal } from '../../src/postgres/sql.js';
import { admin, freshPair, type TestPair } from '../support/databases.js';
import { DmsReplicationInstanceStandIn } from '../support/dms-stand-in.js';

const DB = 'pgshift_dms_watch';
const REGION = 'ap-northeast-2';
const INSTANCE = 'arn:aws:dms:ap-northeast-2:123456789012:rep:STANDIN';
const suffix = Math.random().toString(36).slice(2, 8);
const DMS_ROLE = `dms_watch_${suffix}`;
const PASSWORD = `pw-${suffix}`;
const names = migrationNames('dms_watch');
const dmsApi = mockClient(DatabaseMigrationServiceClient);
let pair: TestPair;
let standIn: DmsReplicationInstanceStandIn;
let watch: LinkWatchOptions;

const asDms = (url: string) => {
  const u = new URL(url);
  u.username = DMS_ROLE;
  u.password = PASSWORD;
  return u.toString();
};

beforeAll(async () => {
  pair = await freshPair(DB);
  for (const side of ['source', 'target'] as const)
    await admin(side, 'postgres', async (c) => {
      await c.query(`CREATE ROLE ${ident(DMS_ROLE)} LOGIN REPLICATION PASSWORD ${literal(PASSWORD)}`);
      await c.query(`GRANT pg_read_all_data, pg_write_all_data TO ${ident(DMS_ROLE)}`);
    });
  for (const run of [pair.src, pair.tgt]) await run('CREATE TABLE public.t (id int PRIMARY KEY, v text NOT NULL)');
  await pair.src(`SELECT pg_create_logical_replication_slot($1, 'test_decoding')`, [names.slot]);
  standIn = new DmsReplicationInstanceStandIn(dmsApi, INSTANCE, [
    { arn: 'arn:src', url: asDms(pair.sourceUrl), slot: names.slot },
    { arn: 'arn:tgt', url: asDms(pair.targetUrl) },
  ]);
  const engine = new DmsEngine({
    clients: dmsClients({
      region: REGION,
      dms: new DatabaseMigrationServiceClient({ region: REGION }),
      cloudwatch: new CloudWatchClient({ region: REGION }),
    }),
    replicationInstanceArn: INSTANCE,
    endpoints: { forward: { source: 'arn:src', target: 'arn:tgt' } },
    users: [DMS_ROLE],
    migrationName: names.name,
    wait: { intervalMs: 20, timeoutMs: 30_000 },
    log: silentLogger,
  });
  await startDmsCdc({ source: pair.source, target: pair.target, names, engine, log: silentLogger });
  watch = { source: pair.source, target: pair.target, names, engine };
}, 60_000);

afterAll(async () => {
  dmsApi.restore();
  await standIn?.close();
  await pair?.drop();
  for (const side of ['source', 'target'] as const)
    await admin(side, 'postgres', (c) => c.query(`DROP ROLE IF EXISTS ${ident(DMS_ROLE)}`)).catch(() => undefined);
});

/** Watch until a sample satisfies `until`; returns every sample taken. */
async function watchUntil(until: (s: LinkSample) => boolean, opts: LinkWatchOptions = watch): Promise<LinkSample[]> {
  const abort = new AbortController();
  return watchLink(opts, 20, (s) => (until(s) ? abort.abort() : undefined), abort.signal);
}

describe('cdc status --watch --engine dms', () => {
  let nextId = 1;
  // The writes commit with synchronous_commit = on (the test servers run it off): each commit returns only
  // once its commit record is flushed, so the pg_current_wal_lsn() read after them covers every one. With it
  // off the write position can trail an acknowledged commit, and a slot "caught up" to it may not yet carry
  // the last rows.
  const write = async (n: number) => {
    const c = new pg.Client({ connectionString: pair.sourceUrl, options: '-c synchronous_commit=on' });
    await c.connect();
    try {
      for (let i = 0; i < n; i++) await c.query('INSERT INTO public.t VALUES ($1, $2)', [nextId++, 'x'.repeat(200)]);
    } finally {
      await c.end();
    }
  };

  it('shows the task running, every mapped table completed, and the slot caught up by LSN while DMS applies live writes', async () => {
    await write(20);
    const written = (await pair.src('SELECT pg_current_wal_lsn()::text AS lsn')).rows[0].lsn as string;
    const series = await watchUntil((s) => s.running === true && s.confirmedLsn !== null && compareLsn(s.confirmedLsn, written) >= 0);
    const last = series.at(-1)!;
    expect(last.verdict).toBe('ok');
    expect(last.detail).toBe('DMS task dms-watch-forward running');
    // public.t and pgshift's marker table: what the task's table mappings include.
    expect(last.tables).toEqual({ 'Table completed': 2 });
    expect(last.retainedBytes).toBeGreaterThanOrEqual(0);
    expect(last.lagBytes).toBeGreaterThanOrEqual(0);
    // DMS confirms what it has applied: the rows the watch saw confirmed are on the target.
    expect((await pair.tgt('SELECT count(*)::int AS n FROM public.t')).rows[0].n).toBe(20);
  });

  it('a table in error while the task says running is critical, and the sample names the table', async () => {
    standIn.setTableState('public.t', 'Table error');
    const series = await watchUntil((s) => s.tables?.['Table error'] === 1);
    const last = series.at(-1)!;
    expect(last.running).toBe(false);
    expect(last.verdict).toBe('critical');
    expect(last.detail).toBe('DMS task dms-watch-forward running, not replicating public.t (Table error)');
    standIn.setTableState('public.t', undefined);
  });

  it('after the task stops: critical, and the lag grows with the writes nobody reads', async () => {
    // Someone stops the task in the console.
    const console = new DatabaseMigrationServiceClient({ region: REGION });
    const found = await console.send(
      new DescribeReplicationTasksCommand({ Filters: [{ Name: 'replication-task-id', Values: ['dms-watch-forward'] }] }),
    );
    await console.send(new StopReplicationTaskCommand({ ReplicationTaskArn: found.ReplicationTasks![0]!.ReplicationTaskArn }));
    await watchUntil((s) => s.detail === 'DMS task dms-watch-forward stopped');
    const before = (await watchUntil(() => true))[0]!;
    await write(50);
    const after = (await watchUntil(() => true))[0]!;
    expect(before.verdict).toBe('critical');
    expect(before.running).toBe(false);
    expect(after.lagBytes!).toBeGreaterThan(before.lagBytes! + 50 * 200);
  });

  it('a source it cannot reach fails the first connection (as the native watch does), naming no password', async () => {
    const err = await watchUntil(() => true, { ...watch, source: { ...pair.source, port: 1 } }).catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    expect(String((err as Error).message)).not.toContain(new URL(pair.sourceUrl).password);
  });
});
