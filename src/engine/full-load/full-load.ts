/**
 * Phase: full-load. Copies schema and data from the source to an empty target inside the
 * snapshot of a new logical replication slot, so that CDC later streams exactly the changes
 * made after the copy — nothing lost, nothing applied twice (docs/design.md rule 1). The plan's
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
 *   9. copy data + indexes      (copy-and-build.ts) parallel streamed COPY, big tables in page ranges; as soon as a
 *                               table's data is in: its indexes, then ANALYZE (docs/design.md rule 11),
 *                               then the foreign keys whose both sides are done
 *  10. copy large objects and sequences, as of the snapshot
 *  11. restore post-data        partitioned parents' indexes, triggers, what step 9 could not build;
 *                               then ANALYZE the inheritance tables it gave indexes to
 *  12. refresh materialized views, then ANALYZE them — side by side with step 11
 */
import { cpus } from 'node:os';
import { checkFailed, usageError } from '../../errors.js';
import { withClient } from '../../postgres/connect.js';
import { describe, sameDatabase, type ConnInfo } from '../../postgres/conninfo.js';
import { locatePgTools, type PgTools, type PgToolsOptions } from '../../postgres/pg-tools.js';
import { createMissingRoles, describeRoles, rolesUsedByDatabase, type RoleCreation } from '../../postgres/roles.js';
import { applySequences, readSequences } from '../../postgres/sequences.js';
import { createSlotWithSnapshot, dropSlotIfExists, type ExportedSlot } from '../../postgres/slot.js';
import { ident, quoteRelation, relationKey, type RelationName } from '../../postgres/sql.js';
import type { Logger } from '../../log/logger.js';
import type { MigrationNames } from '../names.js';
import { Timeline, type StepRecord } from '../timeline.js';
import { analyze, copyTablesAndIndexes, planLoad, type TableLoadStat } from './copy-and-build.js';
import { copyLargeObjects } from './large-objects.js';
import { dumpSchema, restorePostData, restorePreData, type SchemaArchive } from './schema.js';
import { closeSnapshotWorkers, openSnapshotWorkers, type SnapshotWorker } from './snapshot-workers.js';
import { ensureTargetEmpty } from './target-state.js';

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

export type { TableLoadStat } from './copy-and-build.js';

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
    slot = await timeline.run(
      'create the slot with an exported snapshot',
      () => createSlotWithSnapshot(opts.source, opts.names.slot),
      (s) => `consistent LSN ${s.consistentLsn}`,
    );
    workers = await timeline.run('open copy workers in the snapshot', () =>
      openSnapshotWorkers(opts.source, opts.target, slot!.snapshotName, jobs),
    );
    const first = workers[0]!;
    const roles = await timeline.run('create missing roles', () => createRoles(first));
    archive = await timeline.run('dump the schema in the snapshot', () => dumpSchema(tools, opts.source, slot!.snapshotName));
    // Every worker has imported the snapshot and pg_dump is done with it: the exporting session can go.
    await slot.release();
    await timeline.run('restore pre-data', () => restorePreData(tools, opts.target, archive!));
    const plan = await planLoad(first.source);
    const copied = await timeline.run('copy data and build indexes', () => copyTablesAndIndexes(opts, workers, plan, jobs));
    const largeObjects = await timeline.run('copy large objects', () => copyLargeObjects(first.source, first.target));
    const sequences = await timeline.run('copy sequences', async () => applySequences(first.target, await readSequences(first.source)));
    await closeSnapshotWorkers(workers);
    workers = [];
    const built = [...[...plan.indexBuilds.values()].flat(), ...plan.foreignKeys];
    // Side by side: a materialized view reads only tables (all copied by now), and post-data adds no rows.
    const materializedViews = await bothSettled(
      timeline.run('restore post-data', async () => {
        await restorePostData(tools, opts.target, archive!, built, jobs);
        if (copied.analyzeAfterPostData.length) await withClient(opts.target, (c) => analyze(c, copied.analyzeAfterPostData));
      }),
      timeline.run('refresh materialized views', () => refreshMaterializedViews(opts)),
    );
    const totals = summarize(copied.stats, timeline.elapsedSeconds(), copied.seconds);
    opts.log.info(
      `full-load done: ${totals.rows} rows, ${(totals.bytes / 1e6).toFixed(1)} MB in ${totals.seconds.toFixed(1)} s; slot ${slot.slotName} streams from ${slot.consistentLsn}`,
    );
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
export async function checkInputs(
  opts: Pick<FullLoadOptions, 'source' | 'target' | 'pgTools'>,
): Promise<{ tools: PgTools; sourceMajor: number }> {
  if (sameDatabase(opts.source, opts.target)) {
    throw usageError('source and target are the same database', 'point PGSHIFT_TARGET_URL at the new server (RDS)');
  }
  const sourceMajor = await withClient(opts.source, async (c) =>
    Math.floor(Number((await c.query('SHOW server_version_num')).rows[0].server_version_num) / 10000),
  );
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
      if (!opts.clean)
        throw usageError(
          `publication ${opts.names.publication} already exists on the ${describe(opts.source)}`,
          `run 'pgshift cleanup' first, re-run with --clean, or pick another --name`,
        );
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
/** Wait for both (so nothing still runs when the failure path starts); the first failure wins. */
async function bothSettled<A, B>(a: Promise<A>, b: Promise<B>): Promise<B> {
  const [ra, rb] = await Promise.allSettled([a, b]);
  if (ra.status === 'rejected') throw ra.reason;
  if (rb.status === 'rejected') throw rb.reason;
  return rb.value;
}

// ── step 12 ─────────────────────────────────────────────────────────────────────────────
/** REFRESH in dependency order: a view built on another view fails until that one has data, so retry. */
async function refreshMaterializedViews(opts: FullLoadOptions): Promise<string[]> {
  const populatedOnSource = await withClient(
    opts.source,
    async (c) =>
      (await c.query(`SELECT schemaname AS schema, matviewname AS name FROM pg_matviews WHERE ispopulated ORDER BY 1, 2`)).rows as {
        schema: string;
        name: string;
      }[],
  );
  return withClient(opts.target, async (c) => {
    let pending = populatedOnSource;
    const refreshed: RelationName[] = [];
    for (let round = 0; pending.length > 0 && round < 10; round++) {
      const failed: typeof pending = [];
      for (const mv of pending) {
        try {
          await c.query(`REFRESH MATERIALIZED VIEW ${quoteRelation(mv)}`);
          refreshed.push(mv);
        } catch {
          failed.push(mv);
        }
      }
      if (failed.length === pending.length) {
        throw checkFailed(
          `cannot refresh materialized views on the target: ${failed.map(relationKey).join(', ')}`,
          'refresh them by hand and check their definitions',
        );
      }
      pending = failed;
    }
    // Their rows are new: statistics now, like every table's (docs/design.md rule 11).
    await analyze(c, refreshed);
    return refreshed.map(relationKey);
  });
}

function summarize(stats: TableLoadStat[], seconds: number, copySeconds: number): FullLoadResult['totals'] {
  const rows = stats.reduce((s, t) => s + t.rows, 0);
  const bytes = stats.reduce((s, t) => s + t.bytes, 0);
  return { tables: stats.length, rows, bytes, seconds, copySeconds, bytesPerSecond: copySeconds > 0 ? Math.round(bytes / copySeconds) : 0 };
}
