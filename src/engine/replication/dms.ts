/**
 * The dms engine (experiment 03): an AWS DMS task reads the link's test_decoding slot and writes the
 * subscriber. pgshift loads (full-load makes the slot with an exported snapshot, docs/design.md rule 1),
 * DMS replicates. Every AWS call goes through src/aws/dms.ts; this file holds the order of the steps.
 *
 * start:   instance available at 3.6.1+ -> source endpoint reads this slot with test-decoding ->
 *          TestConnection both ways -> LobMaxSize measured from the data -> task created (cdc, from the
 *          slot's confirmed position) -> started, wait for running
 * applied: the marker round-trip (marker.ts), never CloudWatch
 * stop:    stop the task, wait for stopped, drop the slot (it would hold WAL forever: rule 7)
 * cleanup: delete the task (gone already counts as done), drop the slot, DMS's artifacts on both sides
 */
import type pg from 'pg';
import {
  cdcLatency,
  checkReplicationInstance,
  checkSourceEndpoint,
  createReplicationTask,
  deleteReplicationTask,
  describeEndpoint,
  describeReplicationInstance,
  DMS_CONTROL_SCHEMA,
  type DmsClients,
  type DmsLatency,
  type DmsTableStat,
  tableBroken,
  findTask,
  startReplicationTask,
  stopReplicationTask,
  tableStatistics,
  testConnection,
  type TaskState,
} from '../../aws/dms.js';
import type { WaitOptions } from '../../aws/wait.js';
import { checkFailed, usageError } from '../../errors.js';
import type { Logger } from '../../log/logger.js';
import { dropSlotIfExists } from '../../postgres/slot.js';
import { ident, qualified, type RelationName } from '../../postgres/sql.js';
import type { AppliedResult, Link, LinkStatus, ReplicationEngine } from './engine.js';
import { bytesToMarkerFromSlot, commitMarker, ensureMarkerTable, MARKER_SCHEMA, MARKER_TABLE, waitForMarker } from './marker.js';

export interface DmsEndpointPair {
  /** DMS endpoint that reads the publisher (type source). */
  source: string;
  /** DMS endpoint that writes the subscriber (type target). */
  target: string;
}

export interface DmsEngineOptions {
  clients: DmsClients;
  replicationInstanceArn: string;
  /**
   * forward: reads the source host, writes RDS. reverse: reads RDS, writes the source host. Both are
   * outputs of stack 03-dms; only the directions this engine serves are needed (--engine dms: forward,
   * --reverse-engine dms: reverse).
   */
  endpoints: { forward?: DmsEndpointPair; reverse?: DmsEndpointPair };
  /** The database roles the DMS endpoints log in as: the write freeze leaves their sessions alone. */
  users: string[];
  /** Task identifiers are `<migration name>-forward` / `-reverse`. */
  migrationName: string;
  tags?: Record<string, string>;
  wait?: WaitOptions;
  log: Logger;
}

/** DMS's artifacts on a PostgreSQL source when DDL capture was ever on (pgshift turns it off). */
const DMS_DDL_ARTIFACTS = { table: 'awsdms_ddl_audit', function: 'awsdms_intercept_ddl', trigger: 'awsdms_intercept_ddl' };

export class DmsEngine implements ReplicationEngine {
  readonly name = 'dms' as const;
  readonly slotPlugin = 'test_decoding' as const;
  readonly switchesInFreeze = false;

  constructor(private readonly opts: DmsEngineOptions) {
    if (opts.users.length === 0)
      throw usageError('--engine dms needs the DMS database user', 'pass --dms-user with the role the DMS endpoints log in as');
  }

  sparedRoles(): string[] {
    return [...this.opts.users];
  }

  taskIdentifier(link: Link): string {
    return `${this.opts.migrationName.replace(/_/g, '-')}-${link.direction}`;
  }

  private endpoints(link: Link): DmsEndpointPair {
    const pair = this.opts.endpoints[link.direction];
    if (!pair)
      throw usageError(
        link.direction === 'reverse'
          ? 'reverse replication with --reverse-engine dms needs DMS endpoints that read RDS and write the source'
          : 'replication with --engine dms needs DMS endpoints that read the source and write RDS',
        link.direction === 'reverse'
          ? 'pass --dms-reverse-source-endpoint-arn and --dms-reverse-target-endpoint-arn (03-dms outputs), or use --reverse-engine native'
          : 'pass --dms-source-endpoint-arn and --dms-target-endpoint-arn (03-dms outputs)',
      );
    return pair;
  }

  async prepare(link: Link): Promise<string> {
    await ensureMarkerTable(link.publisher);
    await ensureMarkerTable(link.subscriber);
    // A leftover slot of the same name from an aborted attempt would stream from an old position.
    await dropSlotIfExists(link.publisher, link.names.slot);
    const res = await link.publisher.query<{ lsn: string }>(
      `SELECT lsn::text FROM pg_create_logical_replication_slot($1, 'test_decoding')`,
      [link.names.slot],
    );
    return res.rows[0]!.lsn;
  }

  async start(link: Link): Promise<void> {
    const c = this.opts.clients;
    const wait = this.opts.wait ?? {};
    const endpoints = this.endpoints(link);
    const instance = await describeReplicationInstance(c, this.opts.replicationInstanceArn);
    checkReplicationInstance(instance);
    checkSourceEndpoint(await describeEndpoint(c, endpoints.source), link.names.slot);
    const startLsn = await readSlotStart(link);
    await ensureMarkerTable(link.publisher);
    await ensureMarkerTable(link.subscriber);
    await this.removeStoppedTask(link);
    for (const arn of [endpoints.source, endpoints.target]) await testConnection(c, instance.arn, arn, wait);
    const tables = await tablesToReplicate(link.publisher);
    const lobMaxSizeKb = await measureLobMaxSizeKb(link.publisher, tables);
    this.opts.log.info(`DMS task from ${startLsn}: ${tables.length} table(s), LobMaxSize ${lobMaxSizeKb} KB (largest value ×2)`);
    const arn = await createReplicationTask(
      c,
      {
        identifier: this.taskIdentifier(link),
        replicationInstanceArn: instance.arn,
        sourceEndpointArn: endpoints.source,
        targetEndpointArn: endpoints.target,
        cdcStartPosition: startLsn,
        lobMaxSizeKb,
        tables,
        tags: this.opts.tags,
      },
      wait,
    );
    await startReplicationTask(c, arn, wait);
  }

  /**
   * A task of this name left stopped by an earlier direction change (cutover stops the forward task; a
   * rollback starts forward replication again from a new slot) cannot be restarted at a new position:
   * it is deleted and made anew. Only a task by pgshift's own name for this migration and direction;
   * a running one is refused, never stopped here.
   */
  private async removeStoppedTask(link: Link): Promise<void> {
    const old = await findTask(this.opts.clients, this.taskIdentifier(link));
    if (!old) return;
    if (!['stopped', 'ready', 'failed'].includes(old.status))
      throw checkFailed(
        `DMS task ${old.identifier} already exists and is ${old.status}`,
        'another run is replicating this direction: stop it (cdc stop --engine dms) or wait for it to finish',
      );
    this.opts.log.info(
      `deleting the ${old.status} DMS task ${old.identifier} of an earlier run, to start anew from slot ${link.names.slot}`,
    );
    await deleteReplicationTask(this.opts.clients, old.arn, this.opts.wait);
  }

  /**
   * The task's status and, while it runs, each table's TableState. A table in error (or cancelled) no
   * longer replicates while the task may still say `running`: the link then counts as not running, and
   * the detail names the tables.
   */
  async status(link: Link): Promise<LinkStatus> {
    const task = await findTask(this.opts.clients, this.taskIdentifier(link));
    if (!task) return { exists: false, running: false, detail: `no DMS task ${this.taskIdentifier(link)}` };
    const stats = task.status === 'running' ? await tableStatistics(this.opts.clients, task.arn) : [];
    const broken = stats.filter(tableBroken);
    let detail = `DMS task ${task.identifier} ${task.status}`;
    if (broken.length) detail += `, not replicating ${broken.map((t) => `${t.schema}.${t.name} (${t.state})`).join(', ')}`;
    if (task.lastFailureMessage) detail += `: ${task.lastFailureMessage.replace(/\s+/g, ' ').slice(0, 200)}`;
    return {
      exists: true,
      running: task.status === 'running' && broken.length === 0,
      detail,
      tables: stats.map((t) => ({ table: `${t.schema}.${t.name}`, state: t.state })),
    };
  }

  /** For cdc status: the task, per-table state and validation, and CloudWatch's CDC latency (coarse: one-minute points). */
  async details(link: Link): Promise<{ task?: TaskState; tables: DmsTableStat[]; latency?: DmsLatency }> {
    const task = await findTask(this.opts.clients, this.taskIdentifier(link));
    if (!task) return { tables: [] };
    const tables = await tableStatistics(this.opts.clients, task.arn);
    const instance = await describeReplicationInstance(this.opts.clients, this.opts.replicationInstanceArn);
    const latency = await cdcLatency(this.opts.clients, instance.identifier, task.resourceId);
    return { task, tables, latency };
  }

  async readyToSwitch(link: Link): Promise<void> {
    await ensureMarkerTable(link.publisher);
    await ensureMarkerTable(link.subscriber);
  }

  async appliedPast(link: Link, _lsn: string, timeoutMs: number, signal?: AbortSignal): Promise<AppliedResult> {
    // The marker is committed after `_lsn`, so the marker applied means `_lsn` applied.
    const marker = await commitMarker(link.publisher);
    return waitForMarker({
      publisher: link.publisher,
      subscriber: link.subscriber,
      slotName: link.names.slot,
      marker,
      timeoutMs,
      confirmedToo: true,
      remainingBytes: () => bytesToMarkerFromSlot(link.publisher, link.names.slot, marker),
      pollMs: 20,
      signal,
    });
  }

  async stop(link: Link): Promise<void> {
    const task = await findTask(this.opts.clients, this.taskIdentifier(link));
    if (task) await stopReplicationTask(this.opts.clients, task.arn, this.opts.wait);
    await dropSlotIfExists(link.publisher, link.names.slot);
  }

  async cleanup(link: Link): Promise<string[]> {
    const removed: string[] = [];
    const task = await findTask(this.opts.clients, this.taskIdentifier(link));
    if (task) {
      await stopReplicationTask(this.opts.clients, task.arn, this.opts.wait);
      if (await deleteReplicationTask(this.opts.clients, task.arn, this.opts.wait)) removed.push(`DMS task ${task.identifier}`);
    }
    if (await dropSlotIfExists(link.publisher, link.names.slot)) removed.push(`slot ${link.names.slot}`);
    for (const [side, client] of [
      ['publisher', link.publisher],
      ['subscriber', link.subscriber],
    ] as const)
      for (const what of await dropDmsArtifacts(client)) removed.push(`${what} on the ${side}`);
    return removed;
  }
}

/** A slot that was never read starts at its consistent point: that is where the task must begin. */
async function readSlotStart(link: Link): Promise<string> {
  const r = await link.publisher.query<{ plugin: string; confirmed: string | null; active: boolean }>(
    'SELECT plugin, confirmed_flush_lsn::text AS confirmed, active FROM pg_replication_slots WHERE slot_name = $1 AND database = current_database()',
    [link.names.slot],
  );
  const slot = r.rows[0];
  if (!slot)
    throw usageError(
      `replication slot ${link.names.slot} does not exist`,
      `run 'pgshift full-load --engine dms --name ${link.names.slot}' first; it makes the slot with the snapshot the data is copied in`,
    );
  if (slot.plugin !== 'test_decoding')
    throw usageError(
      `replication slot ${link.names.slot} uses ${slot.plugin}, but DMS reads test_decoding`,
      'run cdc stop, then full-load --engine dms again',
    );
  if (slot.active) throw checkFailed(`replication slot ${link.names.slot} is in use by another consumer`, 'stop that consumer first');
  return slot.confirmed!;
}

/** Tables that hold rows (leaf partitions, not partitioned parents), plus the marker; not DMS's or pgshift's own. */
export async function tablesToReplicate(client: pg.Client): Promise<RelationName[]> {
  const r = await client.query<RelationName>(
    `SELECT n.nspname AS schema, c.relname AS name
       FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind = 'r'
        AND n.nspname NOT IN ('pg_catalog', 'information_schema', $1, $2)
        AND n.nspname NOT LIKE 'pg\\_%' AND c.relname NOT LIKE 'awsdms\\_%'
        AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
      ORDER BY 1, 2`,
    [MARKER_SCHEMA, DMS_CONTROL_SCHEMA],
  );
  return [...r.rows, { schema: MARKER_SCHEMA, name: MARKER_TABLE }];
}

/** Columns DMS treats as LOBs in limited LOB mode. */
const LOB_TYPES = new Set(['text', 'bytea', 'json', 'jsonb', 'xml', 'character varying']);

/**
 * Limited LOB mode truncates at LobMaxSize (and FailTasksOnLobTruncation turns that into a stop): the
 * cut-off is the largest value in the data now, doubled, in KB, at least DMS's default 32 KB. One scan
 * per table that has such columns, before the task exists.
 */
export async function measureLobMaxSizeKb(client: pg.Client, tables: RelationName[]): Promise<number> {
  let largest = 0;
  for (const t of tables) {
    const cols = await client.query<{ name: string; type: string; typmod: number }>(
      `SELECT a.attname AS name, format_type(a.atttypid, NULL) AS type, a.atttypmod AS typmod
         FROM pg_catalog.pg_attribute a
        WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped`,
      [qualified(t.schema, t.name)],
    );
    const lobs = cols.rows.filter((c) => LOB_TYPES.has(c.type) && !(c.type === 'character varying' && c.typmod > 0));
    if (!lobs.length) continue;
    const exprs = lobs.map((c) => `max(octet_length(${ident(c.name)}${c.type === 'bytea' || c.type === 'text' ? '' : '::text'}))`);
    const r = await client.query<{ m: string | null }>(
      `SELECT GREATEST(${exprs.join(', ')})::bigint AS m FROM ${qualified(t.schema, t.name)}`,
    );
    largest = Math.max(largest, Number(r.rows[0]?.m ?? 0));
  }
  return Math.max(32, Math.ceil((largest * 2) / 1024));
}

/** Drop what DMS may have left in a database; returns what was dropped. */
export async function dropDmsArtifacts(client: pg.Client): Promise<string[]> {
  const dropped: string[] = [];
  const trigger = await client.query('SELECT 1 FROM pg_event_trigger WHERE evtname = $1', [DMS_DDL_ARTIFACTS.trigger]);
  if (trigger.rowCount) {
    await client.query(`DROP EVENT TRIGGER ${ident(DMS_DDL_ARTIFACTS.trigger)}`);
    dropped.push(`event trigger ${DMS_DDL_ARTIFACTS.trigger}`);
  }
  const fns = await client.query<{ schema: string }>(
    `SELECT n.nspname AS schema FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE p.proname = $1 AND p.pronargs = 0`,
    [DMS_DDL_ARTIFACTS.function],
  );
  for (const f of fns.rows) {
    await client.query(`DROP FUNCTION ${qualified(f.schema, DMS_DDL_ARTIFACTS.function)}()`);
    dropped.push(`function ${f.schema}.${DMS_DDL_ARTIFACTS.function}`);
  }
  const tables = await client.query<{ schema: string }>(
    `SELECT n.nspname AS schema FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relname = $1 AND c.relkind = 'r'`,
    [DMS_DDL_ARTIFACTS.table],
  );
  for (const t of tables.rows) {
    await client.query(`DROP TABLE ${qualified(t.schema, DMS_DDL_ARTIFACTS.table)}`);
    dropped.push(`table ${t.schema}.${DMS_DDL_ARTIFACTS.table}`);
  }
  const control = await client.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [DMS_CONTROL_SCHEMA]);
  if (control.rowCount) {
    await client.query(`DROP SCHEMA ${ident(DMS_CONTROL_SCHEMA)} CASCADE`);
    dropped.push(`schema ${DMS_CONTROL_SCHEMA}`);
  }
  return dropped;
}
