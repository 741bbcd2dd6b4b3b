/**
 * Phase: full-load. Copies schema and data from the source to an empty target inside the
 * snapshot of a new logical replication slot, so that CDC later streams exactly the changes
 * made after the copy — nothing lost, nothing applied twice (design rule 1). The plan's
 * "pg_dump, then subscribe" loses every write made in between.
 *
 * Runbook order:
 *   1. check inputs            source ≠ target, pg_dump new enough
 *   2. check the target         empty, or emptied with --clean
 *   3. create the publication   FOR ALL TABLES              (undo: drop it)
 *   4. create the slot          with an exported snapshot    (undo: drop it)
 *   5. open copy workers        each inside that snapshot
 *   6. create missing roles     owners and grantees of the source database
 *   7. dump the schema          pg_dump --schema-only --snapshot
 *   8. restore pre-data         tables, types, functions, grants
 *   9. copy data + indexes      parallel streamed COPY, big tables in page ranges; each table's
 *                               indexes built as soon as its data is in
 *  10. copy large objects and sequences, as of the snapshot
 *  11. restore post-data        foreign keys, triggers, partitioned indexes (minus what step 9 built)
 *  12. refresh materialized views
 *  13. ANALYZE the target       before it takes traffic (design rule 11)
 */
import { cpus } from 'node:os';
import type pg from 'pg';
import { checkFailed, usageError } from '../../errors.js';
import { connect, withClient } from '../../postgres/connect.js';
import { describe, sameDatabase, type ConnInfo } from '../../postgres/conninfo.js';
import { locatePgTools, type PgTools, type PgToolsOptions } from '../../postgres/pg-tools.js';
import { createMissingRoles, describeRoles, rolesUsedByDatabase, type RoleCreation } from '../../postgres/roles.js';
import { applySequences, readSequences } from '../../postgres/sequences.js';
import { createSlotWithSnapshot, dropSlotIfExists, type ExportedSlot } from '../../postgres/slot.js';
import { ident, quoteRelation, relationKey } from '../../postgres/sql.js';
import type { Logger } from '../../report/logger.js';
import type { MigrationNames } from '../names.js';
import { Timeline, type StepRecord } from '../timeline.js';
import { copyChunk } from './copy-stream.js';
import { listForeignKeyBuilds, listIndexBuilds, type ForeignKeyBuild, type IndexBuild } from './indexes.js';
import { copyLargeObjects } from './large-objects.js';
import { dumpSchema, restorePostData, restorePreData, type SchemaArchive } from './schema.js';
import { closeSnapshotWorkers, openSnapshotWorkers, WorkQueue, type SnapshotWorker } from './snapshot-workers.js';
import { listTablesToCopy, planChunks, type CopyChunk, type TableToCopy } from './tables.js';
import { ensureTargetEmpty } from './target-state.js';
import { LoadProgress } from './progress.js';

export interface FullLoadOptions {
  source: ConnInfo;
  target: ConnInfo;
  names: MigrationNames;
  /** Parallel copy workers; default = cores. */
  jobs?: number;
  /** Empty a non-empty target first. */
  clean?: boolean;
  pgTools?: PgToolsOptions;
  /** Tables smaller than this are copied whole (tests lower it to exercise range splitting). */
  minChunkBytes?: number;
  log: Logger;
}

export interface TableLoadStat {
  schema: string;
  name: string;
  rows: number;
  bytes: number;
  chunks: number;
  seconds: number;
  indexes: number;
  foreignKeys: number;
}

export interface FullLoadResult {
  strategy: 'snapshot-copy';
  publication: string;
  slotName: string;
  /** The slot streams changes from here on; everything before is in the copy. */
  consistentLsn: string;
  pgDump: { major: number; where: string };
  tables: TableLoadStat[];
  totals: { tables: number; rows: number; bytes: number; seconds: number; copySeconds: number; bytesPerSecond: number };
  roles: RoleCreation;
  sequences: number;
  largeObjects: number;
  materializedViews: string[];
  droppedByClean: string[];
  steps: StepRecord[];
}

export async function runFullLoad(opts: FullLoadOptions): Promise<FullLoadResult> {
  const timeline = new Timeline(opts.log);
  const jobs = Math.max(1, opts.jobs ?? cpus().length);
  const { tools, sourceMajor } = await timeline.run('check inputs', () => checkInputs(opts));
  opts.log.info(`pg_dump ${tools.major} from ${tools.where} for a PostgreSQL ${sourceMajor} source`);
  const droppedByClean = await timeline.run('check the target', () => ensureTargetEmpty(opts.target, opts.names, opts.clean, opts.log));

  const createdPublication = await timeline.run('create the publication', () => createPublication(opts));
  let slot: ExportedSlot | undefined;
  let workers: SnapshotWorker[] = [];
  let archive: SchemaArchive | undefined;
  try {
    slot = await timeline.run('create the slot with an exported snapshot', () => createSlotWithSnapshot(opts.source, opts.names.slot), (s) => `consistent LSN ${s.consistentLsn}`);
    workers = await timeline.run('open copy workers in the snapshot', () => openSnapshotWorkers(opts.source, opts.target, slot!.snapshotName, jobs));
    const first = workers[0]!;
    const roles = await timeline.run('create missing roles', () => createRoles(first));
    archive = await timeline.run('dump the schema in the snapshot', () => dumpSchema(tools, opts.source, slot!.snapshotName));
    // Every worker has imported the snapshot and pg_dump is done with it: the exporting session can go.
    await slot.release();
    await timeline.run('restore pre-data', () => restorePreData(tools, opts.target, archive!));
    const tables = await listTablesToCopy(first.source);
    const indexBuilds = await listIndexBuilds(first.source, tables);
    const foreignKeys = await listForeignKeyBuilds(first.source, tables);
    const copied = await timeline.run('copy data and build indexes', () => copyTablesAndIndexes(opts, workers, tables, indexBuilds, foreignKeys, jobs));
    const largeObjects = await timeline.run('copy large objects', () => copyLargeObjects(first.source, first.target));
    const sequences = await timeline.run('copy sequences', async () => applySequences(first.target, await readSequences(first.source)));
    await closeSnapshotWorkers(workers);
    workers = [];
    const built = [...[...indexBuilds.values()].flat(), ...foreignKeys];
    await timeline.run('restore post-data', () => restorePostData(tools, opts.target, archive!, built, jobs));
    const materializedViews = await timeline.run('refresh materialized views', () => refreshMaterializedViews(opts));
    await timeline.run('analyze the target', () => analyzeTarget(opts.target, tables, jobs));
    const totals = summarize(copied.stats, timeline.elapsedSeconds(), copied.seconds);
    opts.log.info(`full-load done: ${totals.rows} rows, ${(totals.bytes / 1e6).toFixed(1)} MB in ${totals.seconds.toFixed(1)} s; slot ${slot.slotName} streams from ${slot.consistentLsn}`);
    return {
      strategy: 'snapshot-copy',
      publication: opts.names.publication,
      slotName: slot.slotName,
      consistentLsn: slot.consistentLsn,
      pgDump: { major: tools.major, where: tools.where },
      tables: copied.stats,
      totals,
      roles,
      sequences,
      largeObjects,
      materializedViews,
      droppedByClean,
      steps: timeline.steps,
    };
  } catch (err) {
    await closeSnapshotWorkers(workers);
    await slot?.release();
    await undoSlotAndPublication(opts, slot !== undefined, createdPublication);
    throw err;
  } finally {
    archive?.remove();
  }
}

// ── step 1 ──────────────────────────────────────────────────────────────────────────────
export async function checkInputs(opts: Pick<FullLoadOptions, 'source' | 'target' | 'pgTools'>): Promise<{ tools: PgTools; sourceMajor: number }> {
  if (sameDatabase(opts.source, opts.target)) {
    throw usageError('source and target are the same database', 'point PGSHIFT_TARGET_URL at the new server (RDS)');
  }
  const sourceMajor = await withClient(opts.source, async (c) => Math.floor(Number((await c.query('SHOW server_version_num')).rows[0].server_version_num) / 10000));
  await withClient(opts.target, async () => undefined);
  const tools = await locatePgTools(sourceMajor, opts.pgTools);
  return { tools, sourceMajor };
}

// ── step 3 ──────────────────────────────────────────────────────────────────────────────
/** Returns whether this run created it (and so must drop it on failure). */
async function createPublication(opts: FullLoadOptions): Promise<boolean> {
  return withClient(opts.source, async (c) => {
    const exists = (await c.query('SELECT 1 FROM pg_publication WHERE pubname = $1', [opts.names.publication])).rowCount;
    if (exists) {
      if (!opts.clean) throw usageError(`publication ${opts.names.publication} already exists on the ${describe(opts.source)}`, `run 'pgshift cleanup' first, re-run with --clean, or pick another --name`);
      await c.query(`DROP PUBLICATION ${ident(opts.names.publication)}`);
    }
    // Via the partition root, so a partitioned table replicates into the target's partitioning as a whole.
    await c.query(`CREATE PUBLICATION ${ident(opts.names.publication)} FOR ALL TABLES WITH (publish_via_partition_root = true)`);
    return true;
  });
}

async function undoSlotAndPublication(opts: FullLoadOptions, slotCreated: boolean, publicationCreated: boolean): Promise<void> {
  try {
    await withClient(opts.source, async (c) => {
      if (slotCreated) await dropSlotIfExists(c, opts.names.slot);
      if (publicationCreated) await c.query(`DROP PUBLICATION IF EXISTS ${ident(opts.names.publication)}`);
    });
    opts.log.warn(`full-load failed: dropped slot ${opts.names.slot} and publication ${opts.names.publication} on the source`);
  } catch (err) {
    opts.log.warn(
      `full-load failed AND the slot could not be dropped (${(err as Error).message}). A forgotten slot keeps WAL until the source disk fills: ` +
        `run SELECT pg_drop_replication_slot('${opts.names.slot}'); on the source now`,
    );
  }
}

// ── step 6 ──────────────────────────────────────────────────────────────────────────────
async function createRoles(worker: SnapshotWorker): Promise<RoleCreation> {
  const names = await rolesUsedByDatabase(worker.source);
  const specs = await describeRoles(worker.source, names);
  return createMissingRoles(worker.target, specs);
}

// ── step 9 ──────────────────────────────────────────────────────────────────────────────
type LoadTask = { kind: 'copy'; chunk: CopyChunk } | { kind: 'index'; build: IndexBuild } | { kind: 'foreign key'; build: ForeignKeyBuild };

/**
 * Copy every chunk; when a table's last chunk lands, its indexes go ahead of the remaining
 * copies; when a table has its data and indexes ("ready"), each foreign key whose both tables
 * are ready follows.
 */
async function copyTablesAndIndexes(
  opts: FullLoadOptions,
  workers: SnapshotWorker[],
  tables: TableToCopy[],
  indexBuilds: Map<number, IndexBuild[]>,
  foreignKeys: ForeignKeyBuild[],
  jobs: number,
): Promise<{ stats: TableLoadStat[]; seconds: number }> {
  const started = Date.now();
  const chunks = planChunks(tables, jobs, opts.minChunkBytes);
  const progress = new LoadProgress(tables, opts.log);
  const chunksLeft = new Map<number, number>(tables.map((t) => [t.oid, 0]));
  for (const c of chunks) chunksLeft.set(c.table.oid, chunksLeft.get(c.table.oid)! + 1);
  const indexesLeft = new Map<number, number>(tables.map((t) => [t.oid, indexBuilds.get(t.oid)?.length ?? 0]));
  const ready = new Set<number>();
  const pendingForeignKeys = new Set(foreignKeys);
  const stats = new Map<number, TableLoadStat>(tables.map((t) => [t.oid, { schema: t.schema, name: t.name, rows: 0, bytes: 0, chunks: 0, seconds: 0, indexes: 0, foreignKeys: 0 }]));
  const firstStart = new Map<number, number>();

  const queue = new WorkQueue<LoadTask>();
  const tableReady = (oid: number) => {
    ready.add(oid);
    for (const fk of pendingForeignKeys) {
      if (ready.has(fk.tableOid) && ready.has(fk.referencedOid)) {
        pendingForeignKeys.delete(fk);
        queue.push({ kind: 'foreign key', build: fk }, true);
      }
    }
  };
  for (const chunk of chunks) queue.push({ kind: 'copy', chunk });
  await queue.drain(workers, async (worker, task) => {
    if (task.kind === 'foreign key') {
      for (const sql of task.build.statements) await worker.target.query(sql);
      stats.get(task.build.tableOid)!.foreignKeys++;
      return;
    }
    if (task.kind === 'index') {
      for (const sql of task.build.statements) await worker.target.query(sql);
      stats.get(task.build.tableOid)!.indexes++;
      const left = indexesLeft.get(task.build.tableOid)! - 1;
      indexesLeft.set(task.build.tableOid, left);
      if (left === 0) tableReady(task.build.tableOid);
      return;
    }
    const { table } = task.chunk;
    if (!firstStart.has(table.oid)) firstStart.set(table.oid, Date.now());
    const moved = await copyChunk(worker.source, worker.target, task.chunk, (n) => progress.addBytes(n));
    const stat = stats.get(table.oid)!;
    stat.rows += moved.rows;
    stat.bytes += moved.bytes;
    stat.chunks++;
    const left = chunksLeft.get(table.oid)! - 1;
    chunksLeft.set(table.oid, left);
    if (left === 0) {
      stat.seconds = (Date.now() - firstStart.get(table.oid)!) / 1000;
      progress.tableDone(relationKey(table), stat.rows, stat.bytes, stat.seconds);
      const builds = indexBuilds.get(table.oid) ?? [];
      for (const build of builds) queue.push({ kind: 'index', build }, true);
      if (builds.length === 0) tableReady(table.oid);
    }
  });
  progress.finish();
  return { stats: [...stats.values()], seconds: (Date.now() - started) / 1000 };
}

// ── step 12 ─────────────────────────────────────────────────────────────────────────────
/** REFRESH in dependency order: a view built on another view fails until that one has data, so retry. */
async function refreshMaterializedViews(opts: FullLoadOptions): Promise<string[]> {
  const populatedOnSource = await withClient(opts.source, async (c) =>
    (await c.query(`SELECT schemaname AS schema, matviewname AS name FROM pg_matviews WHERE ispopulated ORDER BY 1, 2`)).rows as { schema: string; name: string }[],
  );
  return withClient(opts.target, async (c) => {
    let pending = populatedOnSource;
    const refreshed: string[] = [];
    for (let round = 0; pending.length > 0 && round < 10; round++) {
      const failed: typeof pending = [];
      for (const mv of pending) {
        try {
          await c.query(`REFRESH MATERIALIZED VIEW ${quoteRelation(mv)}`);
          refreshed.push(relationKey(mv));
        } catch {
          failed.push(mv);
        }
      }
      if (failed.length === pending.length) {
        throw checkFailed(`cannot refresh materialized views on the target: ${failed.map(relationKey).join(', ')}`, 'refresh them by hand and check their definitions');
      }
      pending = failed;
    }
    return refreshed;
  });
}

// ── step 13 ─────────────────────────────────────────────────────────────────────────────
async function analyzeTarget(target: ConnInfo, tables: TableToCopy[], jobs: number): Promise<void> {
  const queue = [...tables];
  const sessions: pg.Client[] = [];
  try {
    for (let i = 0; i < Math.min(jobs, Math.max(1, tables.length)); i++) sessions.push(await connect(target, { applicationName: 'pgshift-analyze' }));
    await Promise.all(
      sessions.map(async (s) => {
        for (let t = queue.shift(); t; t = queue.shift()) await s.query(`ANALYZE ${quoteRelation(t)}`);
      }),
    );
    // Partitioned parents keep their own statistics, gathered from the leaves; materialized views were just filled.
    await sessions[0]?.query(`DO $$ DECLARE r record; BEGIN
      FOR r IN SELECT c.oid::regclass AS rel FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE c.relkind IN ('p', 'm') AND n.nspname NOT IN ('pg_catalog', 'information_schema') LOOP
        EXECUTE format('ANALYZE %s', r.rel);
      END LOOP; END $$`);
  } finally {
    await Promise.all(sessions.map((s) => s.end().catch(() => undefined)));
  }
}

function summarize(stats: TableLoadStat[], seconds: number, copySeconds: number): FullLoadResult['totals'] {
  const rows = stats.reduce((s, t) => s + t.rows, 0);
  const bytes = stats.reduce((s, t) => s + t.bytes, 0);
  return { tables: stats.length, rows, bytes, seconds, copySeconds, bytesPerSecond: copySeconds > 0 ? Math.round(bytes / copySeconds) : 0 };
}
