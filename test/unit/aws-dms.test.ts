// src/aws/dms.ts against aws-sdk-client-mock: what pgshift sends to DMS, and how it reads DMS's answers.
// Nothing here reaches AWS; what only a real account can show is listed in runbooks/dms.md.
import { CloudWatchClient, GetMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import {
  AccessDeniedFault,
  CreateReplicationTaskCommand,
  DatabaseMigrationServiceClient,
  DeleteReplicationTaskCommand,
  DescribeConnectionsCommand,
  DescribeEndpointsCommand,
  DescribeReplicationInstancesCommand,
  DescribeReplicationTasksCommand,
  DescribeTableStatisticsCommand,
  ResourceNotFoundFault,
  StartReplicationTaskCommand,
  StopReplicationTaskCommand,
  TestConnectionCommand,
} from '@aws-sdk/client-database-migration-service';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import {
  cdcLatency,
  checkReplicationInstance,
  checkSourceEndpoint,
  compareVersions,
  createReplicationTask,
  deleteReplicationTask,
  describeEndpoint,
  describeReplicationInstance,
  dmsClients,
  failOnTableErrors,
  PGSHIFT_DMS_IAM_ACTIONS,
  startReplicationTask,
  stopReplicationTask,
  tableStatistics,
  testConnection,
  type DmsTaskPlan,
} from '../../src/aws/dms.js';
import { PgshiftError } from '../../src/errors.js';

const REGION = 'ap-northeast-2';
const ACCOUNT = '123456789012';
const TASK_ARN = `arn:aws:dms:${REGION}:${ACCOUNT}:task:ABCDEFGHIJKLMNOPQRSTUVWXYZ`;
const INSTANCE_ARN = `arn:aws:dms:${REGION}:${ACCOUNT}:rep:INSTANCE0123456789`;
const SOURCE_ARN = `arn:aws:dms:${REGION}:${ACCOUNT}:endpoint:SOURCE0123456789`;
const TARGET_ARN = `arn:aws:dms:${REGION}:${ACCOUNT}:endpoint:TARGET0123456789`;

const dms = mockClient(DatabaseMigrationServiceClient);
const cw = mockClient(CloudWatchClient);
const clients = () =>
  dmsClients({
    region: REGION,
    dms: new DatabaseMigrationServiceClient({ region: REGION }),
    cloudwatch: new CloudWatchClient({ region: REGION }),
  });

/** A clock that moves only when the waiter sleeps: a wait of minutes takes no real time. */
const fastWait = () => {
  let t = 0;
  return { now: () => t, sleep: async (ms: number) => void (t += ms) };
};

const task = (Status: string, extra: Record<string, unknown> = {}) => ({
  ReplicationTasks: [{ ReplicationTaskArn: TASK_ARN, ReplicationTaskIdentifier: 'pgshift-cdc', Status, ...extra }],
});

async function thrown(p: Promise<unknown>): Promise<PgshiftError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(PgshiftError);
    return err as PgshiftError;
  }
  throw new Error('expected a PgshiftError, but the call succeeded');
}

const plan: DmsTaskPlan = {
  identifier: 'pgshift-cdc',
  replicationInstanceArn: INSTANCE_ARN,
  sourceEndpointArn: SOURCE_ARN,
  targetEndpointArn: TARGET_ARN,
  cdcStartPosition: '0/1A2B3C4',
  lobMaxSizeKb: 64,
  tables: [
    { schema: 'public', name: 'orders_2026_01' },
    { schema: 'tasteam', name: '가게 리뷰' },
  ],
  tags: { Project: 'tasteam' },
};

beforeEach(() => {
  dms.reset();
  cw.reset();
});

describe('CreateReplicationTask', () => {
  it('sends exactly the cdc task pgshift needs: start at the slot LSN, STOP_TASK everywhere, limited LOBs, no batch apply', async () => {
    dms.on(CreateReplicationTaskCommand).resolves({ ReplicationTask: { ReplicationTaskArn: TASK_ARN, Status: 'creating' } });
    dms.on(DescribeReplicationTasksCommand).resolvesOnce(task('creating')).resolves(task('ready'));
    const arn = await createReplicationTask(clients(), plan, fastWait());
    expect(arn).toBe(TASK_ARN);

    const input = dms.commandCalls(CreateReplicationTaskCommand)[0]!.args[0].input;
    expect(input).toMatchObject({
      ReplicationTaskIdentifier: 'pgshift-cdc',
      ReplicationInstanceArn: INSTANCE_ARN,
      SourceEndpointArn: SOURCE_ARN,
      TargetEndpointArn: TARGET_ARN,
      MigrationType: 'cdc',
      CdcStartPosition: '0/1A2B3C4',
      Tags: [{ Key: 'Project', Value: 'tasteam' }],
    });
    expect(input.CdcStartTime).toBeUndefined();
    const settings = JSON.parse(input.ReplicationTaskSettings!);
    expect(settings.TargetMetadata).toEqual({
      SupportLobs: true,
      FullLobMode: false,
      LimitedSizeLobMode: true,
      LobMaxSize: 64,
      BatchApplyEnabled: false,
    });
    expect(settings.FullLoadSettings).toEqual({ TargetTablePrepMode: 'DO_NOTHING' });
    expect(settings.ControlTablesSettings).toEqual({ ControlSchema: 'awsdms_control' });
    const policies = Object.entries(settings.ErrorBehavior).filter(([k]) => k.endsWith('Policy'));
    expect(policies.length).toBe(9);
    for (const [name, value] of policies) expect([name, value]).toEqual([name, 'STOP_TASK']);
    expect(JSON.stringify(settings)).not.toMatch(/LOG_ERROR|IGNORE_RECORD|SUSPEND_TABLE/);
    expect(settings.ErrorBehavior).toMatchObject({
      ApplyErrorFailOnTruncationDdl: true,
      FailOnNoTablesCaptured: true,
      FullLoadIgnoreConflicts: false,
    });

    const mappings = JSON.parse(input.TableMappings!);
    expect(mappings.rules).toEqual([
      {
        'rule-type': 'selection',
        'rule-id': '1',
        'rule-name': 'include-1',
        'object-locator': { 'schema-name': 'public', 'table-name': 'orders_2026_01' },
        'rule-action': 'include',
      },
      {
        'rule-type': 'selection',
        'rule-id': '2',
        'rule-name': 'include-2',
        'object-locator': { 'schema-name': 'tasteam', 'table-name': '가게 리뷰' },
        'rule-action': 'include',
      },
      {
        'rule-type': 'selection',
        'rule-id': '3',
        'rule-name': 'exclude-awsdms',
        'object-locator': { 'schema-name': '%', 'table-name': 'awsdms_%' },
        'rule-action': 'exclude',
      },
    ]);
  });

  it('refuses a task with no tables before calling AWS', async () => {
    const err = await thrown(createReplicationTask(clients(), { ...plan, tables: [] }, fastWait()));
    expect(err.kind).toBe('usage');
    expect(dms.commandCalls(CreateReplicationTaskCommand)).toHaveLength(0);
  });

  it('AccessDeniedFault names the dms: action the role lacks', async () => {
    dms.on(CreateReplicationTaskCommand).rejects(new AccessDeniedFault({ message: 'User is not authorized', $metadata: {} }));
    const err = await thrown(createReplicationTask(clients(), plan, fastWait()));
    expect(err.oneLine()).toMatch(/AWS denied dms:CreateReplicationTask while creating DMS task pgshift-cdc in ap-northeast-2/);
    expect(err.oneLine()).toMatch(/allow dms:CreateReplicationTask and dms:AddTagsToResource/);
    expect(err.exitCode).toBe(2);
  });
});

describe('starting and watching the task', () => {
  it('goes ready -> starting -> running and returns once running', async () => {
    dms.on(StartReplicationTaskCommand).resolves({ ReplicationTask: { ReplicationTaskArn: TASK_ARN, Status: 'starting' } });
    dms
      .on(DescribeReplicationTasksCommand)
      .resolvesOnce(task('ready'))
      .resolvesOnce(task('starting'))
      .resolvesOnce(task('starting'))
      .resolves(task('running'));
    const seen: string[] = [];
    const state = await startReplicationTask(clients(), TASK_ARN, { ...fastWait(), onPoll: (s) => seen.push(s) });
    expect(state.status).toBe('running');
    expect(seen).toEqual(['ready', 'starting', 'starting', 'running']);
    expect(dms.commandCalls(StartReplicationTaskCommand)[0]!.args[0].input).toEqual({
      ReplicationTaskArn: TASK_ARN,
      StartReplicationTaskType: 'start-replication',
    });
  });

  it('failed with LastFailureMessage becomes one line with the fix', async () => {
    dms.on(StartReplicationTaskCommand).resolves({});
    dms
      .on(DescribeReplicationTasksCommand)
      .resolvesOnce(task('starting'))
      .resolves(
        task('failed', {
          StopReason: 'Stop Reason FATAL_ERROR Error Level FATAL',
          LastFailureMessage: 'Last Error Replication slot "pgshift" does not exist.\nTask error notification received from subtask 0',
        }),
      );
    const err = await thrown(startReplicationTask(clients(), TASK_ARN, fastWait()));
    expect(err.kind).toBe('check');
    expect(err.oneLine()).not.toMatch(/\n/);
    expect(err.oneLine()).toMatch(/^DMS task pgshift-cdc failed: Last Error Replication slot "pgshift" does not exist\. Task error/);
    expect(err.oneLine()).toMatch(/— full-load's slot is gone: run cdc stop --engine dms, then full-load --engine dms again$/);
  });

  it('a failure DMS gives no known cause for still says where to read more', async () => {
    dms.on(StartReplicationTaskCommand).resolves({});
    dms.on(DescribeReplicationTasksCommand).resolves(task('failed', { LastFailureMessage: 'something new' }));
    const err = await thrown(startReplicationTask(clients(), TASK_ARN, fastWait()));
    expect(err.oneLine()).toMatch(/failed: something new — read the task log in CloudWatch Logs/);
  });

  it('pages DescribeTableStatistics until there is no Marker', async () => {
    const page = (n: number, from: number) =>
      Array.from({ length: n }, (_, i) => ({ SchemaName: 'public', TableName: `t${from + i}`, TableState: 'Table completed', Inserts: i }));
    dms
      .on(DescribeTableStatisticsCommand)
      .resolvesOnce({ TableStatistics: page(500, 0), Marker: 'm1' })
      .resolvesOnce({ TableStatistics: page(500, 500), Marker: 'm2' })
      .resolvesOnce({ TableStatistics: page(7, 1000) });
    const stats = await tableStatistics(clients(), TASK_ARN);
    expect(stats).toHaveLength(1007);
    expect(stats[1006]).toMatchObject({ schema: 'public', name: 't1006', state: 'Table completed' });
    expect(dms.commandCalls(DescribeTableStatisticsCommand).map((c) => c.args[0].input.Marker)).toEqual([undefined, 'm1', 'm2']);
  });

  it("a table in 'Table error' ends the run, naming the table", async () => {
    dms.on(DescribeTableStatisticsCommand).resolves({
      TableStatistics: [
        { SchemaName: 'public', TableName: 'orders', TableState: 'Table completed' },
        { SchemaName: 'public', TableName: 'reviews', TableState: 'Table error' },
      ],
    });
    const stats = await tableStatistics(clients(), TASK_ARN);
    const err = await thrown(Promise.resolve().then(() => failOnTableErrors(stats)));
    expect(err.oneLine()).toMatch(/DMS stopped replicating public\.reviews \(Table error\)/);
    expect(err.oneLine()).not.toMatch(/orders/);
    expect(() => failOnTableErrors(stats.slice(0, 1))).not.toThrow();
  });
});

describe('stop and delete', () => {
  it('stop waits for stopped; stopping a stopped task does nothing', async () => {
    dms.on(StopReplicationTaskCommand).resolves({});
    dms.on(DescribeReplicationTasksCommand).resolvesOnce(task('running')).resolvesOnce(task('stopping')).resolves(task('stopped'));
    expect(await stopReplicationTask(clients(), TASK_ARN, fastWait())).toBe(true);
    expect(dms.commandCalls(StopReplicationTaskCommand)).toHaveLength(1);
    dms.reset();
    dms.on(DescribeReplicationTasksCommand).resolves(task('stopped'));
    expect(await stopReplicationTask(clients(), TASK_ARN, fastWait())).toBe(false);
    expect(dms.commandCalls(StopReplicationTaskCommand)).toHaveLength(0);
  });

  it('ResourceNotFoundFault on delete counts as done', async () => {
    dms.on(DeleteReplicationTaskCommand).rejects(new ResourceNotFoundFault({ message: 'Task not found', $metadata: {} }));
    expect(await deleteReplicationTask(clients(), TASK_ARN, fastWait())).toBe(false);
  });

  it('delete waits until the task is gone', async () => {
    dms.on(DeleteReplicationTaskCommand).resolves({});
    dms
      .on(DescribeReplicationTasksCommand)
      .resolvesOnce(task('deleting'))
      .rejects(new ResourceNotFoundFault({ message: 'gone', $metadata: {} }));
    expect(await deleteReplicationTask(clients(), TASK_ARN, fastWait())).toBe(true);
    expect(dms.commandCalls(DescribeReplicationTasksCommand)).toHaveLength(2);
  });
});

describe('instance and endpoints', () => {
  const instance = (over: Record<string, unknown> = {}) => ({
    ReplicationInstances: [
      {
        ReplicationInstanceArn: INSTANCE_ARN,
        ReplicationInstanceIdentifier: 'pgshift-03-dms',
        ReplicationInstanceStatus: 'available',
        EngineVersion: '3.6.1',
        PubliclyAccessible: false,
        ...over,
      },
    ],
  });

  it('accepts an available private instance at 3.6.1 or later, and says why otherwise', async () => {
    dms.on(DescribeReplicationInstancesCommand).resolves(instance());
    checkReplicationInstance(await describeReplicationInstance(clients(), INSTANCE_ARN));
    dms.on(DescribeReplicationInstancesCommand).resolves(instance({ EngineVersion: '3.5.4' }));
    const old = await thrown(describeReplicationInstance(clients(), INSTANCE_ARN).then(checkReplicationInstance));
    expect(old.oneLine()).toMatch(/runs engine 3\.5\.4; PostgreSQL 17 needs 3\.6\.1 or later/);
    dms.on(DescribeReplicationInstancesCommand).resolves(instance({ ReplicationInstanceStatus: 'modifying' }));
    expect((await thrown(describeReplicationInstance(clients(), INSTANCE_ARN).then(checkReplicationInstance))).oneLine()).toMatch(
      /is 'modifying', not 'available'/,
    );
    expect(compareVersions('3.10.0', '3.6.1')).toBe(1);
    expect(compareVersions('3.6.1', '3.6.1')).toBe(0);
  });

  it("the source endpoint must read full-load's slot with test-decoding, no DDL capture, failing on LOB truncation", async () => {
    const settings = { SlotName: 'pgshift', PluginName: 'test-decoding' as const, CaptureDdls: false, FailTasksOnLobTruncation: true };
    dms
      .on(DescribeEndpointsCommand)
      .resolves({ Endpoints: [{ EndpointArn: SOURCE_ARN, EndpointIdentifier: 'src', PostgreSQLSettings: settings }] });
    checkSourceEndpoint(await describeEndpoint(clients(), SOURCE_ARN), 'pgshift');
    for (const [change, message] of [
      [{ SlotName: undefined }, /reads slot '\(none: DMS would create its own\)'/],
      [{ PluginName: 'pglogical' as const }, /uses plugin 'pglogical'/],
      [{ CaptureDdls: true }, /captures DDL/],
      [{ FailTasksOnLobTruncation: false }, /truncates LOBs silently/],
    ] as const) {
      dms.on(DescribeEndpointsCommand).resolves({
        Endpoints: [{ EndpointArn: SOURCE_ARN, EndpointIdentifier: 'src', PostgreSQLSettings: { ...settings, ...change } }],
      });
      const err = await thrown(describeEndpoint(clients(), SOURCE_ARN).then((e) => checkSourceEndpoint(e, 'pgshift')));
      expect(err.oneLine()).toMatch(message);
    }
  });

  it('TestConnection polls until failed and reports the pg_hba fix', async () => {
    dms.on(TestConnectionCommand).resolves({ Connection: { Status: 'testing' } });
    dms
      .on(DescribeConnectionsCommand)
      .resolvesOnce({ Connections: [{ Status: 'testing', EndpointIdentifier: 'pgshift-source' }] })
      .resolves({
        Connections: [
          {
            Status: 'failed',
            EndpointIdentifier: 'pgshift-source',
            LastFailureMessage: 'FATAL: no pg_hba.conf entry for host "10.1.10.5"',
          },
        ],
      });
    const err = await thrown(testConnection(clients(), INSTANCE_ARN, SOURCE_ARN, fastWait()));
    expect(err.oneLine()).toMatch(
      /DMS endpoint pgshift-source cannot connect: FATAL: no pg_hba\.conf entry .* — add a pg_hba\.conf line for the DMS subnet/,
    );
  });

  it('TestConnection returns on successful', async () => {
    dms.on(TestConnectionCommand).resolves({});
    dms.on(DescribeConnectionsCommand).resolves({ Connections: [{ Status: 'successful' }] });
    await testConnection(clients(), INSTANCE_ARN, TARGET_ARN, fastWait());
    expect(dms.commandCalls(DescribeConnectionsCommand)[0]!.args[0].input.Filters).toEqual([
      { Name: 'endpoint-arn', Values: [TARGET_ARN] },
      { Name: 'replication-instance-arn', Values: [INSTANCE_ARN] },
    ]);
  });
});

describe('CloudWatch latency', () => {
  it('reads the newest CDCLatencySource and CDCLatencyTarget of the task', async () => {
    cw.on(GetMetricDataCommand).resolves({
      MetricDataResults: [
        { Id: 'source', Values: [3, 5] },
        { Id: 'target', Values: [] },
      ],
    });
    const now = new Date('2026-11-30T12:00:00Z');
    expect(await cdcLatency(clients(), 'pgshift-03-dms', 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', now)).toEqual({
      sourceSeconds: 3,
      targetSeconds: null,
    });
    const input = cw.commandCalls(GetMetricDataCommand)[0]!.args[0].input;
    expect(input.StartTime).toEqual(new Date('2026-11-30T11:50:00Z'));
    expect(input.MetricDataQueries!.map((q) => q.MetricStat!.Metric!.MetricName)).toEqual(['CDCLatencySource', 'CDCLatencyTarget']);
    expect(input.MetricDataQueries![0]!.MetricStat!.Metric!.Dimensions).toEqual([
      { Name: 'ReplicationInstanceIdentifier', Value: 'pgshift-03-dms' },
      { Name: 'ReplicationTaskIdentifier', Value: 'ABCDEFGHIJKLMNOPQRSTUVWXYZ' },
    ]);
  });
});

it('every DMS call the module makes is in the IAM action list the bootstrap stack grants', () => {
  const actions = PGSHIFT_DMS_IAM_ACTIONS.map((a) => a.action);
  for (const call of [
    'DescribeReplicationInstances',
    'DescribeEndpoints',
    'TestConnection',
    'DescribeConnections',
    'CreateReplicationTask',
    'StartReplicationTask',
    'DescribeReplicationTasks',
    'DescribeTableStatistics',
    'StopReplicationTask',
    'DeleteReplicationTask',
  ])
    expect(actions).toContain(`dms:${call}`);
  expect(actions).toContain('cloudwatch:GetMetricData');
});
