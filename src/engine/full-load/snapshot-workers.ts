/**
 * A pool of copy workers. Each worker holds one source session inside the slot's exported
 * snapshot (REPEATABLE READ, read only) for its whole life, and one target session.
 */
import type pg from 'pg';
import { connect } from '../../postgres/connect.js';
import type { ConnInfo } from '../../postgres/conninfo.js';
import { literal } from '../../postgres/sql.js';

export interface SnapshotWorker {
  id: number;
  source: pg.Client;
  target: pg.Client;
}

export async function openSnapshotWorkers(
  source: ConnInfo,
  target: ConnInfo,
  snapshotName: string,
  count: number,
): Promise<SnapshotWorker[]> {
  const workers: SnapshotWorker[] = [];
  try {
    for (let id = 0; id < count; id++) {
      const s = await connect(source, { applicationName: 'pgshift-copy' });
      workers.push({ id, source: s, target: undefined as unknown as pg.Client });
      await s.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      // SET TRANSACTION SNAPSHOT takes no bind parameter; the name comes from the server.
      await s.query(`SET TRANSACTION SNAPSHOT ${literal(snapshotName)}`);
      const t = await connect(target, { applicationName: 'pgshift-copy' });
      workers[id]!.target = t;
      // The load is re-runnable from scratch, so losing the last commits in a crash costs nothing.
      await t.query(`SET synchronous_commit = off`);
      await t.query(`SET maintenance_work_mem = '256MB'`);
    }
    return workers;
  } catch (err) {
    await closeSnapshotWorkers(workers);
    throw err;
  }
}

export async function closeSnapshotWorkers(workers: SnapshotWorker[]): Promise<void> {
  await Promise.all(
    workers.flatMap((w) => [
      w.source
        ?.query('COMMIT')
        .catch(() => undefined)
        .then(() => w.source.end().catch(() => undefined)),
      w.target?.end().catch(() => undefined),
    ]),
  );
}

/**
 * Work for the pool. Copy chunks are queued up front; a table's index builds are queued when
 * its last chunk lands and go ahead of the remaining copies, so indexes build while other
 * tables still copy. A worker that finds the queue empty waits while others still run,
 * because their completion may queue more work.
 *
 * `conflicts` says when two tasks would block each other on a table lock (two foreign keys on
 * one table, an index build and an ANALYZE...): a worker then takes the next task that does
 * not, instead of sitting in the lock queue while a core stays idle.
 */
export class WorkQueue<T> {
  private readonly urgent: T[] = [];
  private readonly normal: T[] = [];
  private readonly running = new Set<T>();
  private waiters: (() => void)[] = [];
  private failure: unknown;

  constructor(private readonly conflicts: (a: T, b: T) => boolean = () => false) {}

  push(task: T, urgent = false): void {
    (urgent ? this.urgent : this.normal).push(task);
    this.wake();
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const fn of w) fn();
  }

  private takeFrom(list: T[]): T | undefined {
    const running = [...this.running];
    const at = list.findIndex((task) => !running.some((other) => this.conflicts(task, other)));
    return at < 0 ? undefined : list.splice(at, 1)[0];
  }

  private async take(): Promise<T | undefined> {
    for (;;) {
      if (this.failure !== undefined) return undefined;
      const task = this.takeFrom(this.urgent) ?? this.takeFrom(this.normal);
      if (task !== undefined) {
        this.running.add(task);
        return task;
      }
      if (this.running.size === 0) return undefined;
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  /** Run every task on the workers; the first failure stops the others taking new work. */
  async drain(workers: SnapshotWorker[], run: (worker: SnapshotWorker, task: T) => Promise<void>): Promise<void> {
    await Promise.all(
      workers.map(async (worker) => {
        for (let task = await this.take(); task !== undefined; task = await this.take()) {
          try {
            await run(worker, task);
          } catch (err) {
            this.failure ??= err;
          } finally {
            this.running.delete(task);
            this.wake();
          }
        }
      }),
    );
    if (this.failure !== undefined) throw this.failure;
  }
}
