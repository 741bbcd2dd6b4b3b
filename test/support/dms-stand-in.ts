/**
 * The stand-in for the AWS DMS replication instance (DMS itself cannot be reached from here).
 *
 * It answers the DMS API calls pgshift makes, through aws-sdk-client-mock, and when a task is started it
 * moves the data the way a DMS CDC task does: it reads the source endpoint's test_decoding slot
 * (pg_logical_slot_peek_changes), applies each source transaction as one transaction on the target
 * endpoint, in commit order (BatchApplyEnabled off), for the tables in the task's table mappings only,
 * and only then confirms the slot up to what it applied (pg_replication_slot_advance), as DMS
 * acknowledges only what it has written. (pg_logical_slot_get_changes confirms before applying;
 * test/integration/dms-engine.test.ts uses it to show the marker wait does not trust the slot alone.) It logs in as the DMS user on both servers, so the write freeze must
 * spare it, as it must spare the real DMS.
 *
 * Task states follow DMS: creating -> ready -> starting -> running -> stopping -> stopped, deleting ->
 * gone. `running` is reported only once the reader is connected; `stopped` only once it has let go of
 * the slot. An apply error fails the task with a LastFailureMessage, as DMS does with STOP_TASK.
 * Every API call and every state change is in `events`, in order, for the tests to assert on.
 */
import {
  CreateReplicationTaskCommand,
  type DatabaseMigrationServiceClient,
  DeleteReplicationTaskCommand,
  DescribeConnectionsCommand,
  DescribeEndpointsCommand,
  DescribeReplicationInstancesCommand,
  DescribeReplicationTasksCommand,
  DescribeTableStatisticsCommand,
  StartReplicationTaskCommand,
  StopReplicationTaskCommand,
  TestConnectionCommand,
} from '@aws-sdk/client-database-migration-service';
import type { AwsClientStub } from 'aws-sdk-client-mock';
import pg from 'pg';

export interface StandInEndpoint {
  arn: string;
  /** How the replication instance reaches the database, logged in as the DMS user. */
  url: string;
  /** Source endpoints: the slot they read (PostgreSQLSettings.SlotName). */
  slot?: string;
}

type TaskStatus = 'creating' | 'ready' | 'starting' | 'running' | 'stopping' | 'stopped' | 'failed' | 'deleting';

interface Task {
  arn: string;
  identifier: string;
  source: StandInEndpoint;
  target: StandInEndpoint;
  /** "schema.table" keys the table mappings include. */
  tables: Set<string>;
  cdcStartPosition: string;
  status: TaskStatus;
  lastFailureMessage?: string;
  stopRequested: boolean;
  reader?: Promise<void>;
  stats: Map<string, { inserts: number; updates: number; deletes: number }>;
}

export class DmsReplicationInstanceStandIn {
  /** API calls and state changes, in order: "Create <id>", "Start <id>", "Stop <id>", "<id> stopped", ... */
  readonly events: string[] = [];
  private readonly tasks = new Map<string, Task>();
  /** Endpoint ARN -> the LastFailureMessage its connection test ends with (a network or password fault). */
  private readonly connectionFailures = new Map<string, string>();
  /** "schema.table" -> TableState reported instead of the task's own, as DMS does when one table fails. */
  private readonly tableStates = new Map<string, string>();
  private seq = 0;
  /** StopReplicationTask leaves tasks `stopping` for good (holdStops). */
  private stopsHeld = false;

  constructor(
    mock: AwsClientStub<DatabaseMigrationServiceClient>,
    private readonly instanceArn: string,
    private readonly endpoints: StandInEndpoint[],
  ) {
    mock.on(DescribeReplicationInstancesCommand).resolves({
      ReplicationInstances: [
        {
          ReplicationInstanceArn: instanceArn,
          ReplicationInstanceIdentifier: 'stand-in',
          ReplicationInstanceStatus: 'available',
          EngineVersion: '3.6.1',
          PubliclyAccessible: false,
        },
      ],
    });
    mock.on(DescribeEndpointsCommand).callsFake((input) => {
      const arn = input.Filters?.[0]?.Values?.[0];
      const e = this.endpoints.find((x) => x.arn === arn);
      if (!e) return { Endpoints: [] };
      return {
        Endpoints: [
          {
            EndpointArn: e.arn,
            EndpointIdentifier: e.arn.split(':').pop(),
            EndpointType: e.slot ? 'SOURCE' : 'TARGET',
            PostgreSQLSettings: e.slot
              ? { SlotName: e.slot, PluginName: 'test-decoding', CaptureDdls: false, FailTasksOnLobTruncation: true }
              : {},
          },
        ],
      };
    });
    mock.on(TestConnectionCommand).resolves({});
    mock.on(DescribeConnectionsCommand).callsFake((input) => {
      const arn = input.Filters?.find((f: { Name?: string }) => f.Name === 'endpoint-arn')?.Values?.[0] ?? '';
      const failure = this.connectionFailures.get(arn);
      return {
        Connections: [
          failure ? { EndpointArn: arn, Status: 'failed', LastFailureMessage: failure } : { EndpointArn: arn, Status: 'successful' },
        ],
      };
    });
    mock.on(CreateReplicationTaskCommand).callsFake((input) => {
      if ([...this.tasks.values()].some((t) => t.identifier === input.ReplicationTaskIdentifier))
        throw Object.assign(new Error(`Task ${input.ReplicationTaskIdentifier} already exists`), { name: 'ResourceAlreadyExistsFault' });
      const arn = `arn:aws:dms:ap-northeast-2:123456789012:task:STANDIN${++this.seq}`;
      const rules = JSON.parse(input.TableMappings ?? '{"rules":[]}').rules as Array<{
        'rule-action': string;
        'object-locator': { 'schema-name': string; 'table-name': string };
      }>;
      const task: Task = {
        arn,
        identifier: input.ReplicationTaskIdentifier!,
        source: this.endpoint(input.SourceEndpointArn),
        target: this.endpoint(input.TargetEndpointArn),
        tables: new Set(
          rules
            .filter((r) => r['rule-action'] === 'include')
            .map((r) => `${r['object-locator']['schema-name']}.${r['object-locator']['table-name']}`),
        ),
        cdcStartPosition: input.CdcStartPosition ?? '',
        status: 'creating',
        stopRequested: false,
        stats: new Map(),
      };
      this.tasks.set(arn, task);
      this.events.push(`Create ${task.identifier}`);
      return { ReplicationTask: this.describe(task) };
    });
    mock.on(StartReplicationTaskCommand).callsFake((input) => {
      const task = this.task(input.ReplicationTaskArn);
      this.events.push(`Start ${task.identifier}`);
      task.status = 'starting';
      task.reader = this.replicate(task);
      return { ReplicationTask: this.describe(task) };
    });
    mock.on(StopReplicationTaskCommand).callsFake((input) => {
      const task = this.task(input.ReplicationTaskArn);
      this.events.push(`Stop ${task.identifier}`);
      task.status = 'stopping';
      if (this.stopsHeld) return { ReplicationTask: this.describe(task) };
      task.stopRequested = true;
      void task.reader?.finally(() => {
        if (task.status === 'stopping') this.setStatus(task, 'stopped');
      });
      return { ReplicationTask: this.describe(task) };
    });
    mock.on(DeleteReplicationTaskCommand).callsFake((input) => {
      const task = this.task(input.ReplicationTaskArn);
      if (task.status === 'running' || task.status === 'starting' || task.status === 'stopping')
        throw Object.assign(new Error('Task is running'), { name: 'InvalidResourceStateFault' });
      this.events.push(`Delete ${task.identifier}`);
      this.tasks.delete(task.arn);
      return { ReplicationTask: { ...this.describe(task), Status: 'deleting' } };
    });
    mock.on(DescribeReplicationTasksCommand).callsFake((input) => {
      const f = input.Filters?.[0];
      const found = [...this.tasks.values()].filter((t) =>
        f?.Name === 'replication-task-id' ? f.Values?.includes(t.identifier) : f?.Values?.includes(t.arn),
      );
      for (const t of found) if (t.status === 'creating') this.setStatus(t, 'ready');
      return { ReplicationTasks: found.map((t) => this.describe(t)) };
    });
    mock.on(DescribeTableStatisticsCommand).callsFake((input) => {
      const task = this.task(input.ReplicationTaskArn);
      return {
        TableStatistics: [...task.tables].map((key) => {
          const [schema, name] = key.split('.') as [string, string];
          const s = task.stats.get(key) ?? { inserts: 0, updates: 0, deletes: 0 };
          return {
            SchemaName: schema,
            TableName: name,
            TableState: this.tableStates.get(key) ?? (task.status === 'failed' ? 'Table error' : 'Table completed'),
            Inserts: s.inserts,
            Updates: s.updates,
            Deletes: s.deletes,
          };
        }),
      };
    });
  }

  /** Wait until every task's reader has ended (after the test stops them or they failed). */
  async close(): Promise<void> {
    for (const t of this.tasks.values()) t.stopRequested = true;
    await Promise.all([...this.tasks.values()].map((t) => t.reader?.catch(() => undefined)));
  }

  /** Report `state` for one table (e.g. 'Table error') while the task keeps running; undefined clears it. */
  setTableState(table: string, state: string | undefined): void {
    if (state === undefined) this.tableStates.delete(table);
    else this.tableStates.set(table, state);
  }

  /** From now on a stopped task stays `stopping` and keeps replicating (a stop DMS is slow to finish). */
  holdStops(): void {
    this.stopsHeld = true;
  }

  /** Make the connection test of one endpoint fail with `message` (undefined: succeed again). */
  failConnection(arn: string, message: string | undefined): void {
    if (message === undefined) this.connectionFailures.delete(arn);
    else this.connectionFailures.set(arn, message);
  }

  statusOf(identifier: string): string | undefined {
    return [...this.tasks.values()].find((t) => t.identifier === identifier)?.status;
  }

  private endpoint(arn: string | undefined): StandInEndpoint {
    const e = this.endpoints.find((x) => x.arn === arn);
    if (!e) throw Object.assign(new Error(`no endpoint ${arn}`), { name: 'ResourceNotFoundFault' });
    return e;
  }

  private task(arn: string | undefined): Task {
    const t = arn ? this.tasks.get(arn) : undefined;
    if (!t) throw Object.assign(new Error(`no task ${arn}`), { name: 'ResourceNotFoundFault' });
    return t;
  }

  private setStatus(task: Task, status: TaskStatus): void {
    task.status = status;
    this.events.push(`${task.identifier} ${status}`);
  }

  private describe(t: Task) {
    return {
      ReplicationTaskArn: t.arn,
      ReplicationTaskIdentifier: t.identifier,
      ReplicationInstanceArn: this.instanceArn,
      Status: t.status,
      MigrationType: 'cdc' as const,
      CdcStartPosition: t.cdcStartPosition,
      LastFailureMessage: t.lastFailureMessage,
    };
  }

  /** The CDC loop: read the slot, apply each committed transaction of the mapped tables, until stopped. */
  private async replicate(task: Task): Promise<void> {
    const source = new pg.Client({ connectionString: task.source.url, application_name: 'dms-stand-in' });
    const target = new pg.Client({ connectionString: task.target.url, application_name: 'dms-stand-in' });
    source.on('error', () => undefined);
    target.on('error', () => undefined);
    try {
      await source.connect();
      await target.connect();
      this.setStatus(task, 'running');
      const keys = new Map<string, string[]>();
      while (!task.stopRequested) {
        const rows = (
          await source.query<{ lsn: string; data: string }>('SELECT lsn::text, data FROM pg_logical_slot_peek_changes($1, NULL, NULL)', [
            task.source.slot,
          ])
        ).rows;
        let txn: Change[] = [];
        for (const { data } of rows) {
          if (data.startsWith('BEGIN')) txn = [];
          else if (data.startsWith('COMMIT')) {
            const mine = txn.filter((c) => task.tables.has(c.table));
            if (mine.length) await applyTransaction(target, mine, keys, task.stats);
          } else {
            const change = parseChange(data);
            if (change) txn.push(change);
          }
        }
        // Confirmed only once applied, as DMS acknowledges only what it has written to the target.
        if (rows.length) await source.query('SELECT pg_replication_slot_advance($1, $2::pg_lsn)', [task.source.slot, rows.at(-1)!.lsn]);
        else await new Promise((r) => setTimeout(r, 10));
      }
    } catch (err) {
      task.lastFailureMessage = (err as Error).message;
      this.setStatus(task, 'failed');
    } finally {
      await Promise.all([source.end(), target.end()].map((p) => p.catch(() => undefined)));
    }
  }
}

// ── test_decoding's text format ──────────────────────────────────────────────────────────────

export interface Change {
  /** "schema.table", unquoted. */
  table: string;
  schema: string;
  name: string;
  op: 'INSERT' | 'UPDATE' | 'DELETE' | 'TRUNCATE';
  /** Column -> value (text, or null); UPDATE's old key when the key changed. */
  columns: Map<string, string | null>;
  oldKey?: Map<string, string | null>;
}

/** `"a""b"` -> `a"b`; unquoted identifiers as they are. */
function unquoteIdent(s: string): string {
  return s.startsWith('"') ? s.slice(1, -1).replace(/""/g, '"') : s;
}

const IDENT = String.raw`(?:"(?:[^"]|"")+"|[^\s."\[]+)`;
const COLUMN = new RegExp(String.raw`(${IDENT})\[((?:[^\[\]]|\[\])+)\]:('(?:[^']|'')*'|\S+)`, 'g');
const LINE = new RegExp(String.raw`^table (${IDENT})\.(${IDENT}): (INSERT|UPDATE|DELETE|TRUNCATE): ?(.*)$`, 's');

function parseColumns(text: string): Map<string, string | null> {
  const out = new Map<string, string | null>();
  for (const m of text.matchAll(COLUMN)) {
    const raw = m[3]!;
    if (raw === 'unchanged-toast-datum') continue; // not sent: the target keeps its value
    out.set(unquoteIdent(m[1]!), raw === 'null' ? null : raw.startsWith("'") ? raw.slice(1, -1).replace(/''/g, "'") : raw);
  }
  return out;
}

/** One change line, or undefined for anything else (messages such as pgshift's heartbeats). */
export function parseChange(line: string): Change | undefined {
  const m = LINE.exec(line);
  if (!m) return undefined;
  const schema = unquoteIdent(m[1]!);
  const name = unquoteIdent(m[2]!);
  const op = m[3] as Change['op'];
  let rest = m[4]!;
  let oldKey: Map<string, string | null> | undefined;
  if (op === 'UPDATE' && rest.startsWith('old-key: ')) {
    const at = rest.indexOf(' new-tuple: ');
    oldKey = parseColumns(rest.slice('old-key: '.length, at));
    rest = rest.slice(at + ' new-tuple: '.length);
  }
  return { table: `${schema}.${name}`, schema, name, op, columns: parseColumns(rest), oldKey };
}

const q = (s: string) => pg.escapeIdentifier(s);

async function primaryKey(target: pg.Client, c: Change, cache: Map<string, string[]>): Promise<string[]> {
  let key = cache.get(c.table);
  if (!key) {
    const r = await target.query<{ name: string }>(
      `SELECT a.attname AS name FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
        WHERE i.indrelid = to_regclass($1) AND i.indisprimary ORDER BY array_position(i.indkey, a.attnum)`,
      [`${q(c.schema)}.${q(c.name)}`],
    );
    key = r.rows.map((x) => x.name);
    if (!key.length) throw new Error(`table ${c.table} has no primary key on the target`);
    cache.set(c.table, key);
  }
  return key;
}

async function applyTransaction(target: pg.Client, changes: Change[], keys: Map<string, string[]>, stats: Task['stats']): Promise<void> {
  await target.query('BEGIN');
  try {
    for (const c of changes) {
      const rel = `${q(c.schema)}.${q(c.name)}`;
      const cols = [...c.columns.keys()];
      const vals = [...c.columns.values()];
      const s = stats.get(c.table) ?? { inserts: 0, updates: 0, deletes: 0 };
      stats.set(c.table, s);
      if (c.op === 'INSERT') {
        await target.query(
          `INSERT INTO ${rel} (${cols.map(q).join(', ')}) OVERRIDING SYSTEM VALUE VALUES (${cols.map((_, i) => `$${i + 1}`).join(', ')})`,
          vals,
        );
        s.inserts += 1;
      } else if (c.op === 'UPDATE') {
        const key = await primaryKey(target, c, keys);
        const old = c.oldKey ?? c.columns;
        const set = cols.map((col, i) => `${q(col)} = $${i + 1}`).join(', ');
        const where = key.map((k, i) => `${q(k)} = $${cols.length + i + 1}`).join(' AND ');
        await target.query(`UPDATE ${rel} SET ${set} WHERE ${where}`, [...vals, ...key.map((k) => old.get(k) ?? null)]);
        s.updates += 1;
      } else if (c.op === 'DELETE') {
        const key = await primaryKey(target, c, keys);
        await target.query(`DELETE FROM ${rel} WHERE ${key.map((k, i) => `${q(k)} = $${i + 1}`).join(' AND ')}`, [
          ...key.map((k) => c.columns.get(k) ?? null),
        ]);
        s.deletes += 1;
      } else {
        await target.query(`TRUNCATE ${rel}`);
      }
    }
    await target.query('COMMIT');
  } catch (err) {
    await target.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}
