/**
 * Over 350 lines: every DMS call pgshift makes sits in this one adapter (the layering rule: AWS only in src/aws/),
 * with the task settings that guard against DMS's silent data loss written out beside the calls that send them.
 *
 * The only code that talks to AWS Database Migration Service (experiment 03, `--engine dms`).
 *
 * pgshift loads, DMS replicates: full-load copies the data inside the snapshot of a test_decoding slot
 * (docs/design.md rule 1), and the DMS task created here streams that slot from its consistent LSN.
 * The task is created at run time, not by Terraform: its start position is only known then, and
 * Terraform stops a running task on any change. The replication instance and both endpoints (slot
 * name, plugin, LOB truncation) come from infra stack 03-dms; this module checks them before use.
 *
 * Every call's IAM action is named in the error when AWS denies it (PGSHIFT_DMS_IAM_ACTIONS lists them
 * all; the bootstrap stack grants exactly those). Waits poll with an injectable clock, so tests run
 * the whole state sequence without sleeping.
 */
import { CloudWatchClient, GetMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import {
  CreateReplicationTaskCommand,
  DatabaseMigrationServiceClient,
  DeleteReplicationTaskCommand,
  DescribeConnectionsCommand,
  DescribeEndpointsCommand,
  DescribeReplicationInstancesCommand,
  DescribeReplicationTasksCommand,
  DescribeTableStatisticsCommand,
  type DescribeTableStatisticsCommandOutput,
  StartReplicationTaskCommand,
  StopReplicationTaskCommand,
  TestConnectionCommand,
} from '@aws-sdk/client-database-migration-service';
import { checkFailed, type PgshiftError, usageError } from '../errors.js';
import type { RelationName } from '../postgres/sql.js';
import { awsErrorName, explainAwsError, resolveRegion } from './errors.js';
import { pollUntil, type WaitOptions } from './wait.js';
import { DMS_CONTROL_SCHEMA } from '../postgres/schemas.js';

/** The two clients the DMS engine uses. Tests pass mocked ones. */
export interface DmsClients {
  region: string;
  dms: DatabaseMigrationServiceClient;
  cloudwatch: CloudWatchClient;
}

export function dmsClients(opts: { region?: string } & Partial<Omit<DmsClients, 'region'>> = {}): DmsClients {
  const region = resolveRegion(opts.region);
  return {
    region,
    dms: opts.dms ?? new DatabaseMigrationServiceClient({ region }),
    cloudwatch: opts.cloudwatch ?? new CloudWatchClient({ region }),
  };
}

/** Every DMS/CloudWatch action this module calls, with why (the bootstrap stack's migration role grants exactly these). */
export const PGSHIFT_DMS_IAM_ACTIONS: readonly { action: string; why: string }[] = [
  { action: 'dms:DescribeReplicationInstances', why: 'the instance is available and runs DMS 3.6.1+ (PostgreSQL 17)' },
  { action: 'dms:DescribeEndpoints', why: "the source endpoint's slot name, plugin and DDL capture" },
  { action: 'dms:TestConnection', why: 'both endpoints reach their database before the task starts' },
  { action: 'dms:DescribeConnections', why: 'the result of that test' },
  { action: 'dms:CreateReplicationTask', why: 'the CDC task, created at run time from the slot’s consistent LSN' },
  { action: 'dms:StartReplicationTask', why: 'starting it' },
  { action: 'dms:DescribeReplicationTasks', why: 'task status, stop reason, last failure' },
  { action: 'dms:DescribeTableStatistics', why: 'per-table state and validation' },
  { action: 'dms:StopReplicationTask', why: 'stopping the forward task after cutover, before reverse replication' },
  { action: 'dms:DeleteReplicationTask', why: 'cleanup' },
  { action: 'dms:AddTagsToResource', why: 'CreateReplicationTask with Tags needs it' },
  { action: 'cloudwatch:GetMetricData', why: 'CDCLatencySource and CDCLatencyTarget for cdc status' },
];

/** DMS 3.6.1 is the first engine version that supports PostgreSQL 17 as a source and a target. */
export const MIN_DMS_ENGINE_VERSION = '3.6.1';

/** Schema DMS keeps its control tables in, on the target (and dropped by cleanup on both sides). */
export { DMS_CONTROL_SCHEMA };

// ── replication instance and endpoints ─────────────────────────────────────────────────────────

export interface ReplicationInstance {
  arn: string;
  identifier: string;
  status: string;
  engineVersion: string;
  publiclyAccessible: boolean;
}

export async function describeReplicationInstance(c: DmsClients, arn: string): Promise<ReplicationInstance> {
  try {
    const out = await c.dms.send(
      new DescribeReplicationInstancesCommand({ Filters: [{ Name: 'replication-instance-arn', Values: [arn] }] }),
    );
    const i = out.ReplicationInstances?.[0];
    if (!i) throw notFound('replication instance', arn, c.region);
    return {
      arn: i.ReplicationInstanceArn ?? arn,
      identifier: i.ReplicationInstanceIdentifier ?? '',
      status: i.ReplicationInstanceStatus ?? 'unknown',
      engineVersion: i.EngineVersion ?? '0',
      publiclyAccessible: i.PubliclyAccessible ?? false,
    };
  } catch (err) {
    if (awsErrorName(err) === 'ResourceNotFoundFault') throw notFound('replication instance', arn, c.region);
    throw explainAwsError(err, {
      action: 'dms:DescribeReplicationInstances',
      what: 'describing the DMS replication instance',
      region: c.region,
    });
  }
}

/** `available`, at DMS 3.6.1 or later (PostgreSQL 17 needs it), and not public. */
export function checkReplicationInstance(i: ReplicationInstance): void {
  if (i.status !== 'available')
    throw checkFailed(
      `DMS replication instance ${i.identifier} is '${i.status}', not 'available'`,
      'wait for it (aws dms describe-replication-instances), or apply infra stack 03-dms',
    );
  if (compareVersions(i.engineVersion, MIN_DMS_ENGINE_VERSION) < 0)
    throw checkFailed(
      `DMS replication instance ${i.identifier} runs engine ${i.engineVersion}; PostgreSQL 17 needs ${MIN_DMS_ENGINE_VERSION} or later`,
      `set dms.engineVersion to ${MIN_DMS_ENGINE_VERSION} or later in infra/config.json and apply 03-dms (auto minor upgrade is off on purpose)`,
    );
  if (i.publiclyAccessible)
    throw checkFailed(`DMS replication instance ${i.identifier} is publicly accessible`, 'recreate it private (infra stack 03-dms does)');
}

/** Numeric comparison of dotted versions: 3.10.0 > 3.6.1. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map((x) => Number.parseInt(x, 10) || 0);
  const pb = b.split('.').map((x) => Number.parseInt(x, 10) || 0);
  for (let k = 0; k < Math.max(pa.length, pb.length); k++) {
    const d = (pa[k] ?? 0) - (pb[k] ?? 0);
    if (d !== 0) return Math.sign(d);
  }
  return 0;
}

export interface SourceEndpoint {
  arn: string;
  identifier: string;
  slotName?: string;
  pluginName?: string;
  captureDdls?: boolean;
  failTasksOnLobTruncation?: boolean;
}

export async function describeEndpoint(c: DmsClients, arn: string): Promise<SourceEndpoint> {
  try {
    const out = await c.dms.send(new DescribeEndpointsCommand({ Filters: [{ Name: 'endpoint-arn', Values: [arn] }] }));
    const e = out.Endpoints?.[0];
    if (!e) throw notFound('endpoint', arn, c.region);
    const s = e.PostgreSQLSettings;
    return {
      arn: e.EndpointArn ?? arn,
      identifier: e.EndpointIdentifier ?? '',
      slotName: s?.SlotName,
      pluginName: s?.PluginName,
      captureDdls: s?.CaptureDdls,
      failTasksOnLobTruncation: s?.FailTasksOnLobTruncation,
    };
  } catch (err) {
    if (awsErrorName(err) === 'ResourceNotFoundFault') throw notFound('endpoint', arn, c.region);
    throw explainAwsError(err, { action: 'dms:DescribeEndpoints', what: 'describing a DMS endpoint', region: c.region });
  }
}

/**
 * The source endpoint must read exactly full-load's slot with test_decoding and capture no DDL: with
 * another slot name DMS creates its own slot at "now" and every write since the snapshot is lost;
 * with pglogical it would need the extension; with CaptureDdls it installs event triggers on the source.
 */
export function checkSourceEndpoint(e: SourceEndpoint, slotName: string): void {
  const fix = 'set dms.slotName / the endpoint settings in infra/config.json and apply 03-dms';
  if (e.slotName !== slotName)
    throw checkFailed(
      `DMS source endpoint ${e.identifier} reads slot '${e.slotName ?? '(none: DMS would create its own)'}', not full-load's slot '${slotName}'`,
      fix,
    );
  if (e.pluginName !== 'test-decoding')
    throw checkFailed(`DMS source endpoint ${e.identifier} uses plugin '${e.pluginName ?? 'no-preference'}', not test-decoding`, fix);
  if (e.captureDdls !== false)
    throw checkFailed(`DMS source endpoint ${e.identifier} captures DDL (it would install event triggers on the source)`, fix);
  if (e.failTasksOnLobTruncation !== true)
    throw checkFailed(`DMS source endpoint ${e.identifier} truncates LOBs silently (FailTasksOnLobTruncation is off)`, fix);
}

/** TestConnection, then poll DescribeConnections until it is `successful` or `failed`. */
export async function testConnection(c: DmsClients, instanceArn: string, endpointArn: string, wait: WaitOptions = {}): Promise<void> {
  try {
    await c.dms.send(new TestConnectionCommand({ ReplicationInstanceArn: instanceArn, EndpointArn: endpointArn }));
  } catch (err) {
    // A test already running for this pair is as good as one we started.
    if (awsErrorName(err) !== 'InvalidResourceStateFault')
      throw explainAwsError(err, { action: 'dms:TestConnection', what: 'testing a DMS endpoint connection', region: c.region });
  }
  let failure = '';
  let endpoint = endpointArn;
  const read = async (): Promise<string> => {
    try {
      const out = await c.dms.send(
        new DescribeConnectionsCommand({
          Filters: [
            { Name: 'endpoint-arn', Values: [endpointArn] },
            { Name: 'replication-instance-arn', Values: [instanceArn] },
          ],
        }),
      );
      const conn = out.Connections?.[0];
      failure = conn?.LastFailureMessage ?? '';
      endpoint = conn?.EndpointIdentifier ?? endpointArn;
      return conn?.Status ?? 'testing';
    } catch (err) {
      throw explainAwsError(err, { action: 'dms:DescribeConnections', what: 'reading the DMS connection test', region: c.region });
    }
  };
  const { state } = await pollUntil(
    read,
    {
      ready: ['successful', 'failed'],
      failed: [],
      what: `DMS connection test of ${endpointArn}`,
      onTimeout: 'check the security groups between the replication instance and the database',
      onFailed: '',
    },
    { intervalMs: 5_000, timeoutMs: 5 * 60_000, ...wait },
  );
  if (state === 'failed') throw explainFailure(`DMS endpoint ${endpoint} cannot connect`, failure);
}

// ── the task ───────────────────────────────────────────────────────────────────────────────────

export interface DmsTaskPlan {
  identifier: string;
  replicationInstanceArn: string;
  sourceEndpointArn: string;
  targetEndpointArn: string;
  /** The slot's consistent LSN: the first change after the snapshot the data was copied in. */
  cdcStartPosition: string;
  /** Limited LOB mode's cut-off in KB, measured from the data (largest value ×2). */
  lobMaxSizeKb: number;
  /** Every table that holds rows: leaf partitions, not partitioned parents (DMS reads the leaves' changes). */
  tables: RelationName[];
  tags?: Record<string, string>;
}

/**
 * Task settings: every error policy STOP_TASK (DMS's defaults LOG_ERROR / IGNORE_RECORD drop rows and
 * carry on), limited LOB mode that fails instead of truncating, no batch apply (it reorders changes
 * and needs a primary key everywhere), nothing done to the target tables pgshift loaded.
 */
export function replicationTaskSettings(lobMaxSizeKb: number): Record<string, unknown> {
  return {
    TargetMetadata: {
      SupportLobs: true,
      FullLobMode: false,
      LimitedSizeLobMode: true,
      LobMaxSize: lobMaxSizeKb,
      BatchApplyEnabled: false,
    },
    FullLoadSettings: { TargetTablePrepMode: 'DO_NOTHING' },
    Logging: { EnableLogging: true },
    ControlTablesSettings: { ControlSchema: DMS_CONTROL_SCHEMA },
    ChangeProcessingDdlHandlingPolicy: {
      HandleSourceTableDropped: false,
      HandleSourceTableTruncated: false,
      HandleSourceTableAltered: false,
    },
    ErrorBehavior: {
      DataErrorPolicy: 'STOP_TASK',
      DataTruncationErrorPolicy: 'STOP_TASK',
      DataErrorEscalationPolicy: 'STOP_TASK',
      TableErrorPolicy: 'STOP_TASK',
      TableErrorEscalationPolicy: 'STOP_TASK',
      ApplyErrorDeletePolicy: 'STOP_TASK',
      ApplyErrorInsertPolicy: 'STOP_TASK',
      ApplyErrorUpdatePolicy: 'STOP_TASK',
      ApplyErrorEscalationPolicy: 'STOP_TASK',
      FullLoadIgnoreConflicts: false,
      ApplyErrorFailOnTruncationDdl: true,
      FailOnNoTablesCaptured: true,
    },
  };
}

/** One include rule per table (exact names, so a new table is never picked up silently), and DMS's own tables excluded. */
export function tableMappings(tables: RelationName[]): Record<string, unknown> {
  const rules: Record<string, unknown>[] = tables.map((t, i) => ({
    'rule-type': 'selection',
    'rule-id': String(i + 1),
    'rule-name': `include-${i + 1}`,
    'object-locator': { 'schema-name': t.schema, 'table-name': t.name },
    'rule-action': 'include',
  }));
  rules.push({
    'rule-type': 'selection',
    'rule-id': String(tables.length + 1),
    'rule-name': 'exclude-awsdms',
    'object-locator': { 'schema-name': '%', 'table-name': 'awsdms_%' },
    'rule-action': 'exclude',
  });
  return { rules };
}

/** Create the task (MigrationType cdc from the slot's LSN) and wait until it is `ready`. Returns its ARN. */
export async function createReplicationTask(c: DmsClients, plan: DmsTaskPlan, wait: WaitOptions = {}): Promise<string> {
  if (plan.tables.length === 0)
    throw usageError('no tables to replicate', 'run full-load first; the DMS task maps exactly the loaded tables');
  let arn: string;
  try {
    const out = await c.dms.send(
      new CreateReplicationTaskCommand({
        ReplicationTaskIdentifier: plan.identifier,
        ReplicationInstanceArn: plan.replicationInstanceArn,
        SourceEndpointArn: plan.sourceEndpointArn,
        TargetEndpointArn: plan.targetEndpointArn,
        MigrationType: 'cdc',
        CdcStartPosition: plan.cdcStartPosition,
        TableMappings: JSON.stringify(tableMappings(plan.tables)),
        ReplicationTaskSettings: JSON.stringify(replicationTaskSettings(plan.lobMaxSizeKb)),
        Tags: Object.entries(plan.tags ?? {}).map(([Key, Value]) => ({ Key, Value })),
      }),
    );
    arn = out.ReplicationTask?.ReplicationTaskArn ?? '';
  } catch (err) {
    if (awsErrorName(err) === 'ResourceAlreadyExistsFault')
      throw usageError(
        `DMS task ${plan.identifier} already exists`,
        "see it with 'pgshift cdc status --engine dms'; remove it with 'pgshift cdc stop --engine dms' before starting again",
      );
    throw explainAwsError(err, {
      action: 'dms:CreateReplicationTask',
      what: `creating DMS task ${plan.identifier}`,
      region: c.region,
      alsoNeeds: ['dms:AddTagsToResource'],
    });
  }
  await waitForTask(c, arn, ['ready'], wait);
  return arn;
}

export interface TaskState {
  arn: string;
  identifier: string;
  status: string;
  stopReason?: string;
  lastFailureMessage?: string;
  /** The task's resource id (the ARN's last segment). */
  resourceId: string;
  recoveryCheckpoint?: string;
}

/** undefined when the task does not exist. */
export async function describeTask(c: DmsClients, arn: string): Promise<TaskState | undefined> {
  return readTask(c, { Name: 'replication-task-arn', Values: [arn] }, arn);
}

/** The task pgshift named `identifier` (tasks are found by name, so no run needs another run's state file). */
export async function findTask(c: DmsClients, identifier: string): Promise<TaskState | undefined> {
  return readTask(c, { Name: 'replication-task-id', Values: [identifier] }, '');
}

async function readTask(c: DmsClients, filter: { Name: string; Values: string[] }, arn: string): Promise<TaskState | undefined> {
  try {
    const out = await c.dms.send(new DescribeReplicationTasksCommand({ Filters: [filter] }));
    const t = out.ReplicationTasks?.[0];
    if (!t) return undefined;
    return {
      arn: t.ReplicationTaskArn ?? arn,
      identifier: t.ReplicationTaskIdentifier ?? '',
      status: t.Status ?? 'unknown',
      stopReason: t.StopReason,
      lastFailureMessage: t.LastFailureMessage,
      resourceId: (t.ReplicationTaskArn ?? arn).split(':').pop() ?? '',
      recoveryCheckpoint: t.RecoveryCheckpoint,
    };
  } catch (err) {
    if (awsErrorName(err) === 'ResourceNotFoundFault') return undefined;
    throw explainAwsError(err, { action: 'dms:DescribeReplicationTasks', what: 'reading the DMS task', region: c.region });
  }
}

/** Start a `ready` task and wait until it is `running` (ready -> starting -> running). */
export async function startReplicationTask(c: DmsClients, arn: string, wait: WaitOptions = {}): Promise<TaskState> {
  try {
    await c.dms.send(new StartReplicationTaskCommand({ ReplicationTaskArn: arn, StartReplicationTaskType: 'start-replication' }));
  } catch (err) {
    throw explainAwsError(err, { action: 'dms:StartReplicationTask', what: 'starting the DMS task', region: c.region });
  }
  return waitForTask(c, arn, ['running'], wait);
}

/** Stop the task and wait for `stopped`; a task already stopped, failed or gone counts as stopped. */
export async function stopReplicationTask(c: DmsClients, arn: string, wait: WaitOptions = {}): Promise<boolean> {
  const before = await describeTask(c, arn);
  if (!before || ['stopped', 'failed', 'ready'].includes(before.status)) return false;
  try {
    await c.dms.send(new StopReplicationTaskCommand({ ReplicationTaskArn: arn }));
  } catch (err) {
    const name = awsErrorName(err);
    if (name === 'ResourceNotFoundFault') return false;
    if (name !== 'InvalidResourceStateFault')
      throw explainAwsError(err, { action: 'dms:StopReplicationTask', what: 'stopping the DMS task', region: c.region });
  }
  await waitForTask(c, arn, ['stopped'], wait, ['failed']);
  return true;
}

/** Delete the task; ResourceNotFoundFault (already gone) counts as done. Returns whether one was deleted. */
export async function deleteReplicationTask(c: DmsClients, arn: string, wait: WaitOptions = {}): Promise<boolean> {
  try {
    await c.dms.send(new DeleteReplicationTaskCommand({ ReplicationTaskArn: arn }));
  } catch (err) {
    if (awsErrorName(err) === 'ResourceNotFoundFault') return false;
    throw explainAwsError(err, { action: 'dms:DeleteReplicationTask', what: 'deleting the DMS task', region: c.region });
  }
  await pollUntil(
    async () => (await describeTask(c, arn))?.status ?? 'deleted',
    {
      ready: ['deleted'],
      failed: [],
      what: `deleting DMS task ${arn}`,
      onTimeout: 'see the task in the DMS console',
      onFailed: '',
    },
    { intervalMs: 10_000, timeoutMs: 10 * 60_000, ...wait },
  );
  return true;
}

/**
 * Poll until the task reaches one of `ready`; `failed` (or a stop with a failure) becomes one line
 * naming DMS's LastFailureMessage and the likely fix.
 */
async function waitForTask(c: DmsClients, arn: string, ready: string[], wait: WaitOptions, accept: string[] = []): Promise<TaskState> {
  let last: TaskState | undefined;
  await pollUntil(
    async () => {
      last = await describeTask(c, arn);
      if (!last) throw checkFailed(`DMS task ${arn} disappeared`, 'someone deleted it; run cdc start --engine dms again');
      if (last.status === 'failed' && !accept.includes('failed'))
        throw explainFailure(`DMS task ${last.identifier} failed`, last.lastFailureMessage);
      if (last.status === 'stopped' && !ready.includes('stopped'))
        throw explainFailure(`DMS task ${last.identifier} stopped (${last.stopReason ?? 'no reason given'})`, last.lastFailureMessage);
      return accept.includes(last.status) ? ready[0]! : last.status;
    },
    { ready, failed: [], what: `DMS task ${arn}`, onTimeout: 'see the task and its CloudWatch log in the DMS console', onFailed: '' },
    { intervalMs: 10_000, timeoutMs: 15 * 60_000, ...wait },
  );
  return last!;
}

/** Known DMS failure texts, each with what fixes it. The first that matches wins. */
const FAILURE_FIXES: Array<[RegExp, string]> = [
  [
    /replication slot .*(does not exist|not exist)/i,
    "full-load's slot is gone: run cdc stop --engine dms, then full-load --engine dms again",
  ],
  [/slot .* is active|already active/i, 'another consumer reads the slot: stop it (cdc status shows its pid)'],
  [
    /password authentication failed|authentication failed/i,
    "the password in the endpoint's Secrets Manager secret is wrong: update the secret",
  ],
  [/pg_hba|no pg_hba\.conf entry/i, "add a pg_hba.conf line for the DMS subnet, for the database and for 'replication'"],
  [/(lob|truncat)/i, 'a value is larger than LobMaxSize: run cdc start --engine dms again (it measures the largest value anew)'],
  [/no tables/i, 'the table mappings matched nothing: check that full-load ran against this database'],
  [
    /timeout|timed out|could not connect|connection refused/i,
    'the replication instance cannot reach the database: check the security groups and the Secrets Manager VPC endpoint',
  ],
  [
    /permission denied|must be superuser|replication privilege/i,
    'the DMS user lacks a privilege: GRANT rds_replication (RDS) or ALTER ROLE … REPLICATION (source)',
  ],
];

export function explainFailure(what: string, message: string | undefined): PgshiftError {
  const text = (message ?? '').replace(/\s+/g, ' ').trim().slice(0, 300);
  const fix =
    FAILURE_FIXES.find(([re]) => re.test(text))?.[1] ??
    'read the task log in CloudWatch Logs (dms-tasks-<instance>), fix the cause, then cdc start --engine dms';
  return checkFailed(text ? `${what}: ${text}` : what, fix);
}

// ── table statistics ───────────────────────────────────────────────────────────────────────────

export interface DmsTableStat extends RelationName {
  state: string;
  inserts: number;
  updates: number;
  deletes: number;
  validationState?: string;
  validationFailedRecords: number;
}

/** Every page of DescribeTableStatistics. */
export async function tableStatistics(c: DmsClients, arn: string): Promise<DmsTableStat[]> {
  const all: DmsTableStat[] = [];
  let marker: string | undefined;
  do {
    let out: DescribeTableStatisticsCommandOutput;
    try {
      out = await c.dms.send(new DescribeTableStatisticsCommand({ ReplicationTaskArn: arn, MaxRecords: 500, Marker: marker }));
    } catch (err) {
      throw explainAwsError(err, { action: 'dms:DescribeTableStatistics', what: 'reading DMS table statistics', region: c.region });
    }
    for (const t of out.TableStatistics ?? [])
      all.push({
        schema: t.SchemaName ?? '',
        name: t.TableName ?? '',
        state: t.TableState ?? 'unknown',
        inserts: t.Inserts ?? 0,
        updates: t.Updates ?? 0,
        deletes: t.Deletes ?? 0,
        validationState: t.ValidationState,
        validationFailedRecords: t.ValidationFailedRecords ?? 0,
      });
    marker = out.Marker || undefined;
  } while (marker);
  return all;
}

/** A table in `Table error` (or cancelled) no longer replicates, while the task may still say `running`. */
export const tableBroken = (t: DmsTableStat): boolean => /error/i.test(t.state) || t.state === 'Table cancelled';

/** A broken table ends the run. */
export function failOnTableErrors(stats: DmsTableStat[]): void {
  const broken = stats.filter(tableBroken);
  if (broken.length)
    throw checkFailed(
      `DMS stopped replicating ${broken.map((t) => `${t.schema}.${t.name} (${t.state})`).join(', ')}`,
      'the task log names the row; fix it, then cdc stop --engine dms and start again (pgshift verify lists what differs)',
    );
}

// ── CloudWatch ─────────────────────────────────────────────────────────────────────────────────

export interface DmsLatency {
  sourceSeconds: number | null;
  targetSeconds: number | null;
}

/**
 * The task's CDCLatencySource and CDCLatencyTarget, newest one-minute point of the last 10 minutes.
 * The task dimension is the task's resource id (the ARN's last segment) — unverified against a real
 * account (README: what was only checked against mocks). Too coarse for cutover: that waits by LSN.
 */
export async function cdcLatency(c: DmsClients, instanceIdentifier: string, taskResourceId: string, now = new Date()): Promise<DmsLatency> {
  const dims = [
    { Name: 'ReplicationInstanceIdentifier', Value: instanceIdentifier },
    { Name: 'ReplicationTaskIdentifier', Value: taskResourceId },
  ];
  const query = (Id: string, MetricName: string) => ({
    Id,
    MetricStat: { Metric: { Namespace: 'AWS/DMS', MetricName, Dimensions: dims }, Period: 60, Stat: 'Average' },
  });
  try {
    const out = await c.cloudwatch.send(
      new GetMetricDataCommand({
        StartTime: new Date(now.getTime() - 10 * 60_000),
        EndTime: now,
        ScanBy: 'TimestampDescending',
        MetricDataQueries: [query('source', 'CDCLatencySource'), query('target', 'CDCLatencyTarget')],
      }),
    );
    const newest = (id: string) => out.MetricDataResults?.find((r) => r.Id === id)?.Values?.[0] ?? null;
    return { sourceSeconds: newest('source'), targetSeconds: newest('target') };
  } catch (err) {
    throw explainAwsError(err, { action: 'cloudwatch:GetMetricData', what: 'reading DMS CDC latency', region: c.region });
  }
}

function notFound(kind: string, arn: string, region: string): PgshiftError {
  return usageError(`DMS ${kind} ${arn} does not exist in ${region}`, 'check the ARN against the outputs of infra stack 03-dms');
}
