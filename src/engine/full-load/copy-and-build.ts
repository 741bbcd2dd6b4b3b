/**
 * Step 9 of full-load: copy every table's data and build what depends on it, on the pool of
 * snapshot workers. This is the scheduler: what to copy first (copyRank), which follow-up
 * tasks each finished copy releases (indexes, then ANALYZE, then foreign keys whose both sides
 * are in), and which tasks may not run side by side because they would wait on each other's
 * table lock (tasksConflict).
 */
import type pg from 'pg';
import type { Logger } from '../../log/logger.js';
import { quoteRelation, relationKey, type RelationName } from '../../postgres/sql.js';
import { copyChunk } from './copy-stream.js';
import { listForeignKeyBuilds, listIndexBuilds, type ForeignKeyBuild, type IndexBuild } from './indexes.js';
import { LoadProgress } from './progress.js';
import type { SnapshotWorker } from './snapshot-workers.js';
import { listPartitionedTables, listTablesToCopy, planChunks, type CopyChunk, type PartitionedTable, type TableToCopy } from './tables.js';
import { WorkQueue } from './work-queue.js';

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

export interface LoadPlan {
  tables: TableToCopy[];
  partitioned: PartitionedTable[];
  indexBuilds: Map<number, IndexBuild[]>;
  foreignKeys: ForeignKeyBuild[];
}

export interface CopyAndBuildResult {
  stats: TableLoadStat[];
  seconds: number;
  /** Inheritance tables whose indexes come from post-data: analyzed after it. */
  analyzeAfterPostData: TableToCopy[];
}

/** What step 10 does, read from the source inside the snapshot. */
export async function planLoad(source: pg.Client): Promise<LoadPlan> {
  const tables = await listTablesToCopy(source);
  const partitioned = await listPartitionedTables(source);
  const indexBuilds = await listIndexBuilds(source, tables);
  const foreignKeys = await listForeignKeyBuilds(source, tables, partitioned);
  return { tables, partitioned, indexBuilds, foreignKeys };
}

type LoadTask =
  | { kind: 'copy'; chunk: CopyChunk }
  | { kind: 'index'; build: IndexBuild }
  | { kind: 'analyze'; table: RelationName & { oid: number } }
  | { kind: 'foreign key'; build: ForeignKeyBuild };

/** Tables a task locks beyond what a COPY takes (ROW EXCLUSIVE, which blocks none of these). */
function lockedTables(task: LoadTask): number[] {
  switch (task.kind) {
    case 'copy':
      return [];
    case 'index':
      return [task.build.tableOid];
    case 'analyze':
      return [task.table.oid];
    case 'foreign key':
      return [task.build.tableOid, ...task.build.referencingOids, task.build.referencedOid];
  }
}

/**
 * Two tasks that would wait on each other's table lock: ADD CONSTRAINT takes ACCESS EXCLUSIVE,
 * ADD FOREIGN KEY takes SHARE ROW EXCLUSIVE on both tables (which conflicts with itself), and
 * ANALYZE conflicts with both. Only plain CREATE INDEX (SHARE) on one table run side by side.
 */
function tasksConflict(a: LoadTask, b: LoadTask): boolean {
  if (a.kind === 'index' && b.kind === 'index' && a.build.sharedLock && b.build.sharedLock) return false;
  const locked = lockedTables(b);
  return lockedTables(a).some((oid) => locked.includes(oid));
}

/**
 * Which tables to copy first. A foreign-key check can only start once both its tables are in,
 * and the tables other tables point at are mostly small (members, restaurants): copied last,
 * as size order has it, they left the checks of the biggest tables queued up at the very end.
 * Tables with nothing to build after their copy (no index, no foreign key, not a partition)
 * go last: nothing waits on them, so they fill the gaps while the last checks run.
 */
function copyRank(plan: LoadPlan): (t: TableToCopy) => number {
  const referenced = new Set(plan.foreignKeys.map((fk) => fk.referencedOid));
  const referencing = new Set(plan.foreignKeys.flatMap((fk) => fk.referencingOids));
  return (t) => {
    if (referenced.has(t.oid)) return 0;
    const followUps = (plan.indexBuilds.get(t.oid)?.length ?? 0) > 0 || referencing.has(t.oid) || t.partition;
    return followUps ? 1 : 2;
  };
}

/**
 * Copy every chunk. When a table's last chunk lands, its indexes go ahead of the remaining
 * copies; once they are built the table is analyzed, so foreign-key checks are planned with
 * real statistics and no ANALYZE pass over everything is left for the end. A partitioned
 * table is analyzed once all its leaves are. Then each foreign key whose both sides are
 * ready follows.
 */
export async function copyTablesAndIndexes(
  opts: { minChunkBytes?: number; log: Logger },
  workers: SnapshotWorker[],
  plan: LoadPlan,
  jobs: number,
): Promise<CopyAndBuildResult> {
  const started = Date.now();
  const { tables, partitioned, indexBuilds, foreignKeys } = plan;
  const chunks = planChunks(tables, jobs, opts.minChunkBytes, copyRank(plan));
  const progress = new LoadProgress(tables, opts.log);
  const tableByOid = new Map<number, RelationName & { oid: number }>([...tables, ...partitioned].map((t) => [t.oid, t]));
  const chunksLeft = new Map<number, number>(tables.map((t) => [t.oid, 0]));
  for (const c of chunks) chunksLeft.set(c.table.oid, chunksLeft.get(c.table.oid)! + 1);
  const indexesLeft = new Map<number, number>(tables.map((t) => [t.oid, indexBuilds.get(t.oid)?.length ?? 0]));
  const leavesLeft = new Map<number, number>(partitioned.map((p) => [p.oid, p.leafOids.length]));
  const ready = new Set<number>();
  const pendingForeignKeys = new Set(foreignKeys);
  const stats = new Map<number, TableLoadStat>(
    tables.map((t) => [t.oid, { schema: t.schema, name: t.name, rows: 0, bytes: 0, chunks: 0, seconds: 0, indexes: 0, foreignKeys: 0 }]),
  );
  const firstStart = new Map<number, number>();
  const analyzeAfterPostData: TableToCopy[] = [];

  const queue = new WorkQueue<LoadTask>(tasksConflict);
  const queueAnalyze = (oid: number) => queue.push({ kind: 'analyze', table: tableByOid.get(oid)! }, true);
  const tableReady = (oid: number) => {
    ready.add(oid);
    for (const parent of partitioned) {
      if (!parent.leafOids.includes(oid)) continue;
      const left = leavesLeft.get(parent.oid)! - 1;
      leavesLeft.set(parent.oid, left);
      if (left === 0) queueAnalyze(parent.oid);
    }
    for (const fk of pendingForeignKeys) {
      if (ready.has(fk.tableOid) && ready.has(fk.referencedOid)) {
        pendingForeignKeys.delete(fk);
        queue.push({ kind: 'foreign key', build: fk }, true);
      }
    }
  };
  // A partitioned table with no leaves holds no rows: nothing to wait for.
  for (const parent of partitioned) if (parent.leafOids.length === 0) queueAnalyze(parent.oid);
  for (const chunk of chunks) queue.push({ kind: 'copy', chunk });

  await queue.drain(workers, async (worker, task) => {
    switch (task.kind) {
      case 'foreign key': {
        for (const sql of task.build.statements) await worker.target.query(sql);
        const stat = stats.get(task.build.tableOid);
        if (stat) stat.foreignKeys++;
        return;
      }
      case 'analyze': {
        await analyze(worker.target, [task.table]);
        tableReady(task.table.oid);
        return;
      }
      case 'index': {
        for (const sql of task.build.statements) await worker.target.query(sql);
        stats.get(task.build.tableOid)!.indexes++;
        const left = indexesLeft.get(task.build.tableOid)! - 1;
        indexesLeft.set(task.build.tableOid, left);
        if (left === 0) queueAnalyze(task.build.tableOid);
        return;
      }
      case 'copy': {
        const { table } = task.chunk;
        if (!firstStart.has(table.oid)) firstStart.set(table.oid, Date.now());
        const moved = await copyChunk(worker.source, worker.target, task.chunk, (n) => progress.addBytes(n));
        const stat = stats.get(table.oid)!;
        stat.rows += moved.rows;
        stat.bytes += moved.bytes;
        stat.chunks++;
        const left = chunksLeft.get(table.oid)! - 1;
        chunksLeft.set(table.oid, left);
        if (left > 0) return;
        stat.seconds = (Date.now() - firstStart.get(table.oid)!) / 1000;
        progress.tableDone(relationKey(table), stat.rows, stat.bytes, stat.seconds);
        const builds = indexBuilds.get(table.oid) ?? [];
        for (const build of builds) queue.push({ kind: 'index', build }, true);
        if (builds.length > 0) return;
        // An inheritance parent or child gets its indexes from post-data; analyzed before them,
        // it would miss the statistics of expression indexes. Nothing here waits on it.
        if (table.standalone || table.partition) queueAnalyze(table.oid);
        else analyzeAfterPostData.push(table);
      }
    }
  });
  progress.finish();
  await finishWhatNeverBecameReady(
    workers[0]!.target,
    partitioned.filter((p) => leavesLeft.get(p.oid)! > 0),
    [...pendingForeignKeys],
    opts.log,
  );
  return { stats: [...stats.values()], seconds: (Date.now() - started) / 1000, analyzeAfterPostData };
}

/**
 * Should a table never have become ready (a leaf the plan did not list, say), its parent's
 * ANALYZE and its foreign keys would be silently missing — post-data skips them, as built
 * here. Run them now instead, one after the other.
 */
async function finishWhatNeverBecameReady(
  target: pg.Client,
  parents: PartitionedTable[],
  foreignKeys: ForeignKeyBuild[],
  log: Logger,
): Promise<void> {
  if (parents.length === 0 && foreignKeys.length === 0) return;
  log.warn(
    `${parents.length + foreignKeys.length} step(s) waited on a table that never became ready; running them now: ${[...parents.map((p) => `ANALYZE ${relationKey(p)}`), ...foreignKeys.map((fk) => fk.name)].join(', ')}`,
  );
  await analyze(target, parents);
  for (const fk of foreignKeys) for (const sql of fk.statements) await target.query(sql);
}

/** ANALYZE each relation in turn on one session: every path that gives the target new rows ends here (docs/design.md rule 11). */
export async function analyze(client: pg.Client, relations: RelationName[]): Promise<void> {
  for (const rel of relations) await client.query(`ANALYZE ${quoteRelation(rel)}`);
}
