/**
 * Over 350 lines: the runbook of the phase with each step's undo beside it and the abort path that uses them;
 * the scheduler is already apart (copy-and-build.ts).
 *
 * Phase: full-load. Copies schema and data from the source to an empty target inside the
 * snapshot of a new logical replication slot, so that CDC later streams exactly the changes
 * made after the copy — nothing lost, nothing applied twice (docs/design.md rule 1). The plan's
 * "pg_dump, then subscribe" loses every write made in between.
 *
 * Runbook order:
 *   1. check inputs            source ≠ target, pg_dump new enough
 *   2. check what an earlier    its slot and publication on the source, its tables on the target;
 *      attempt left             refuse (touching nothing) while CDC runs on them, or without --clean
 *   3. clean it (--clean)       the inactive slot, the publication, the target's objects
 *   3b. guard DDL                freeze DDL while copying; --ddl replay installs the capture
 *                               before the slot (docs/design.md rule 6)  (undo: lift, remove)
 *   4. create the publication   FOR ALL TABLES              (undo: drop it)
 *   5. create the slot          with an exported snapshot    (undo: drop it); waits for open
 *                               transactions, naming them every 10 s, at most --wait-for-transactions
 *   6. open copy workers        each inside that snapshot
 *   7. create missing roles     owners and grantees of the source database
 *   8. dump the schema          pg_dump --schema-only --snapshot
 *   9. restore pre-data         tables, types, functions, grants
 *  10. copy data + indexes      (copy-and-build.ts) parallel streamed COPY, big tables in page ranges; as soon as a
 *                               table's data is in: its indexes, then ANALYZE (docs/design.md rule 11),
 *                               then the foreign keys whose both sides are done
 *  11. copy large objects and sequences, as of the snapshot
 *  12. restore post-data        partitioned parents' indexes, triggers, what step 10 could not build;
 *                               then ANALYZE the inheritance tables it gave indexes to
 *  13. refresh materialized views, then ANALYZE them — side by side with step 12
 */
import { cpus } from 'node:os';
import type pg from 'pg';
import { Cancelled, untilCancelled } from '../../cancel.js';
import { checkFailed, usageError } from '../../errors.js';
import { optionDefault } from '../../options/index.js';
import { withClient } from '../../postgres/connect.js';
import { describe, sameDatabase, type ConnInfo } from '../../postgres/conninfo.js';
import { describeOpenTransaction } from '../../postgres/open-transactions.js';
import { locatePgTools, type PgTools, type PgToolsOptions } from '../../postgres/pg-tools.js';
import { createMissingRoles, describeRoles, rolesUsedByDatabase, type RoleCreation } from '../../postgres/roles.js';
import { applySequences, readSequences } from '../../postgres/sequences.js';
import { createSlotWithSnapshot, dropSlotIfExists, type ExportedSlot, type SlotPlugin } from '../../postgres/slot.js';
import { ident, quoteRelation, relationKey, type RelationName } from '../../postgres/sql.js';
import type { Logger } from '../../log/logger.js';
import { CreatedByRun } from '../created-by-run.js';
import type { MigrationNames } from '../names.js';
import { Timeline, type StepRecord } from '../timeline.js';
import { analyze, copyTablesAndIndexes, planLoad, type TableLoadStat } from './copy-and-build.js';
import { copyLargeObjects } from './large-objects.js';
import { dumpSchema, restorePostData, restorePreData, type SchemaArchive } from './schema.js';
import { closeSnapshotWorkers, openSnapshotWorkers, type SnapshotWorker } from './snapshot-workers.js';
import { cleanTarget } from './target-state.js';
import { cleanLeftovers, findLeftovers, refuseUnlessCleanable } from './leftovers.js';
import { DEFAULT_DDL_MODE, guardDdlForLoad, liftLoadFreeze, type DdlMode } from '../ddl/index.js';

export interface FullLoadOptions {
  source: ConnInfo;
  target: ConnInfo;
  names: MigrationNames;
  /** Parallel copy workers; default = cores. */
  jobs?: number;
  /** Drop what an earlier attempt with the same name left: its inactive slot and publication, the target's objects. */
  clean?: boolean;
  /** How long slot creation may wait for open transactions on the source (default 10 minutes). */
  waitForTransactionsMs?: number;
  /**
   * Where the run records what it creates. Pass one in to undo this run's objects from outside —
   * a signal handler calls `created.undo(log, 'interrupted')`; the failure path shares that one undo.
   */
  created?: CreatedByRun;
  /** Cancels the run (a signal). While the slot waits for open transactions, it cancels the creation too. */
  signal?: AbortSignal;
  pgTools?: PgToolsOptions;
  /** Tables smaller than this are copied whole (tests lower it to exercise range splitting). */
  minChunkBytes?: number;
  /** Schema changes on the source from here on: replay (captured; frozen while copying), freeze (while copying) or off. */
  ddl?: DdlMode;
  /** The slot's output plugin: pgoutput for the native engine (default), test_decoding for AWS DMS. */
  slotPlugin?: SlotPlugin;
  log: Logger;
}

export type { TableLoadStat } from './copy-and-build.js';

export interface FullLoadResult {
  strategy: 'snapshot-copy';
  publication: string;
  slotName: string;
  slotPlugin: SlotPlugin;
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
  const timeline = new Timeline(opts.log, opts.signal);
  const jobs = Math.max(1, opts.jobs ?? cpus().length);
  const { tools, sourceMajor } = await timeline.run('check inputs', () => checkInputs(opts));
  opts.log.info(`pg_dump ${tools.major} from ${tools.where} for a PostgreSQL ${sourceMajor} source`);
  const leftovers = await timeline.run('check what an earlier attempt left', async () => {
    const found = await findLeftovers(opts.source, opts.target, opts.names);
    refuseUnlessCleanable(found, opts.names, opts.source, opts.target, opts.clean === true);
    return found;
  });
  const anythingLeft = leftovers.slot || leftovers.publication || leftovers.ddlFreeze || leftovers.targetObjects.count > 0;
  const droppedByClean = anythingLeft
    ? await timeline.run('clean what an earlier attempt left', () =>
        cleanLeftovers(opts.source, opts.target, opts.names, leftovers, opts.log),
      )
    : [];

  const created = opts.created ?? new CreatedByRun('full-load');
  let slot: ExportedSlot | undefined;
  let workers: SnapshotWorker[] = [];
  let archive: SchemaArchive | undefined;
  // Known once the target is about to receive the schema: a signal after that drops what this run added.
  let extensionsBefore: string[] | undefined;
  try {
    const ddlGuard = await timeline.run('freeze DDL and install the DDL capture', () =>
      guardDdlForLoad(opts.source, opts.ddl ?? DEFAULT_DDL_MODE, created),
    );
    await timeline.run('create the publication', () => createPublication(opts, created));
    slot = await timeline.run(
      'create the slot with an exported snapshot',
      () => createSlot(opts, created),
      (s) => `consistent LSN ${s.consistentLsn}`,
    );
    workers = await timeline.run('open copy workers in the snapshot', () =>
      openSnapshotWorkers(opts.source, opts.target, slot!.snapshotName, jobs),
    );
    const first = workers[0]!;
    const roles = await timeline.run('create missing roles', () => createRoles(first));
    archive = await timeline.run('dump the schema in the snapshot', () => dumpSchema(tools, opts.source, slot!.snapshotName, opts.signal));
    // Every worker has imported the snapshot and pg_dump is done with it: the exporting session can go.
    await slot.release();
    extensionsBefore = await withClient(opts.target, extensionNames);
    await timeline.run('restore pre-data', () => restorePreData(tools, opts.target, archive!, opts.signal));
    const plan = await planLoad(first.source);
    // The long step: a signal stops waiting for it, and the abort below ends its sessions.
    const copied = await timeline.run('copy data and build indexes', () =>
      untilCancelled(opts.signal, copyTablesAndIndexes(opts, workers, plan, jobs)),
    );
    const largeObjects = await timeline.run('copy large objects', () => copyLargeObjects(first.source, first.target));
    const sequences = await timeline.run('copy sequences', async () => applySequences(first.target, await readSequences(first.source)));
    await closeSnapshotWorkers(workers);
    workers = [];
    const built = [...[...plan.indexBuilds.values()].flat(), ...plan.foreignKeys];
    // Side by side: a materialized view reads only tables (all copied by now), and post-data adds no rows.
    const materializedViews = await bothSettled(
      timeline.run('restore post-data', async () => {
        await restorePostData(tools, opts.target, archive!, built, jobs, opts.signal);
        if (copied.analyzeAfterPostData.length) await withClient(opts.target, (c) => analyze(c, copied.analyzeAfterPostData));
      }),
      timeline.run('refresh materialized views', () => refreshMaterializedViews(opts)),
    );
    await timeline.run('lift the DDL freeze', () => liftLoadFreeze(opts.source, ddlGuard));
    const totals = summarize(copied.stats, timeline.elapsedSeconds(), copied.seconds);
    opts.log.info(
      `full-load done: ${totals.rows} rows, ${(totals.bytes / 1e6).toFixed(1)} MB in ${totals.seconds.toFixed(1)} s; slot ${slot.slotName} streams from ${slot.consistentLsn}`,
    );
    return {
      strategy: 'snapshot-copy',
      publication: opts.names.publication,
      slotName: slot.slotName,
      slotPlugin: opts.slotPlugin ?? 'pgoutput',
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
    // A tool in the terminal's process group can see Ctrl-C (and exit) before our handler runs: the signal decides.
    const cancelled = err instanceof Cancelled || opts.signal?.aborted === true;
    // Cancelled: the workers may be mid-COPY; their sockets are cut so the servers abort the COPYs now.
    await (cancelled ? abandonSnapshotWorkers(opts, workers) : closeSnapshotWorkers(workers));
    await slot?.release();
    await created.undo(opts.log, cancelled ? 'stopped by a signal' : 'failed');
    // The target's schemas were empty when this run began (leftovers are refused or cleaned first),
    // so on a signal what is on them now is this run's.
    if (cancelled && extensionsBefore) await dropWhatThisRunLoaded(opts, extensionsBefore);
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

// ── step 4 ──────────────────────────────────────────────────────────────────────────────
/** Step 2 made sure no publication of this name exists (or --clean dropped it): this run creates it. */
async function createPublication(opts: FullLoadOptions, created: CreatedByRun): Promise<void> {
  const name = opts.names.publication;
  await withClient(opts.source, async (c) => {
    // Via the partition root, so a partitioned table replicates into the target's partitioning as a whole.
    await c.query(`CREATE PUBLICATION ${ident(name)} FOR ALL TABLES WITH (publish_via_partition_root = true)`);
  });
  created.record({
    what: `publication ${name} on the ${describe(opts.source)}`,
    undo: () => withClient(opts.source, async (c) => void (await c.query(`DROP PUBLICATION IF EXISTS ${ident(name)}`))),
    byHand: `DROP PUBLICATION IF EXISTS ${ident(name)}; on the source`,
  });
}

/**
 * Stop the workers now, not after their COPYs: a backend busy with rows it already received does
 * not notice its client is gone, so our own backends are ended by pid on both servers (only these
 * pids: docs/design.md rule 14), then the sockets are cut.
 */
async function abandonSnapshotWorkers(opts: FullLoadOptions, workers: SnapshotWorker[]): Promise<void> {
  const pids = (side: 'source' | 'target') =>
    workers.map((w) => (w[side] as unknown as { processID?: number })?.processID).filter((p): p is number => typeof p === 'number');
  await Promise.all(
    (['source', 'target'] as const).map((side) =>
      withClient(side === 'source' ? opts.source : opts.target, (c) =>
        c.query('SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) AS pid', [pids(side)]),
      ).catch(() => undefined),
    ),
  );
  for (const w of workers)
    for (const c of [w.source, w.target])
      (c as unknown as { connection?: { stream?: { destroy(): void } } })?.connection?.stream?.destroy();
  await closeSnapshotWorkers(workers);
}

async function extensionNames(c: pg.Client): Promise<string[]> {
  return (await c.query<{ extname: string }>('SELECT extname FROM pg_extension ORDER BY 1')).rows.map((r) => r.extname);
}

/**
 * The target's schemas were empty when this run began (leftovers refused or cleaned), so every object in
 * them is this run's; extensions that were there before stay.
 */
async function dropWhatThisRunLoaded(opts: FullLoadOptions, extensionsBefore: string[]): Promise<void> {
  try {
    const dropped = await withClient(opts.target, async (c) => {
      const added = (await extensionNames(c)).filter((e) => !extensionsBefore.includes(e));
      for (const e of added) await c.query(`DROP EXTENSION IF EXISTS ${ident(e)} CASCADE`);
      const cleaned = await cleanTarget(c, { keepExtensions: true });
      return [...added.map((e) => `extension ${e}`), ...cleaned];
    });
    opts.log.warn(
      `full-load stopped: dropped on the ${describe(opts.target)} what this run had loaded (${dropped.join(', ') || 'nothing'})`,
    );
  } catch (err) {
    opts.log.warn(
      `full-load stopped, and the target could not be emptied (${(err as Error).message}): run full-load again with --clean before CDC`,
    );
  }
}

// ── step 5 ──────────────────────────────────────────────────────────────────────────────
/** --wait-for-transactions: the one default of the CLI, the action and the workflows. */
const DEFAULT_WAIT_FOR_TRANSACTIONS_MS = optionDefault('wait-for-transactions')!;

/**
 * The slot's snapshot waits for every open transaction on the source server. Name them while
 * it waits; past the limit, give up with nothing left behind (the step 4 undo drops the publication).
 */
async function createSlot(opts: FullLoadOptions, created: CreatedByRun): Promise<ExportedSlot> {
  const limitMs = opts.waitForTransactionsMs ?? DEFAULT_WAIT_FOR_TRANSACTIONS_MS;
  const slot = await createSlotWithSnapshot(
    opts.source,
    opts.names.slot,
    {
      waitForTransactionsMs: limitMs,
      signal: opts.signal,
      onWaiting: (blockers, waitedMs) =>
        opts.log.warn(
          `the slot waits for ${blockers.length} open transaction(s) on the ${describe(opts.source)} (${Math.round(waitedMs / 1000)} s of at most ${Math.round(limitMs / 1000)} s): ${blockers.map(describeOpenTransaction).join('; ') || 'none visible to this role'}`,
        ),
    },
    opts.slotPlugin ?? 'pgoutput',
  );
  const name = opts.names.slot;
  // A forgotten slot keeps WAL until the source disk fills (docs/design.md rule 7).
  created.record({
    what: `replication slot ${name} on the ${describe(opts.source)}`,
    undo: () => withClient(opts.source, async (c) => void (await dropSlotIfExists(c, name))),
    byHand: `SELECT pg_drop_replication_slot('${name}'); on the source`,
  });
  return slot;
}

// ── step 7 ──────────────────────────────────────────────────────────────────────────────
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

// ── step 13 ─────────────────────────────────────────────────────────────────────────────
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
