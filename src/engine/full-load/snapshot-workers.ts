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

export async function openSnapshotWorkers(source: ConnInfo, target: ConnInfo, snapshotName: string, count: number): Promise<SnapshotWorker[]> {
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
      w.source?.query('COMMIT').catch(() => undefined).then(() => w.source.end().catch(() => undefined)),
      w.target?.end().catch(() => undefined),
    ]),
  );
}

/**
 * Work for the pool. Copy chunks are queued up front; a table's index builds are queued when
 * its last chunk lands and go ahead of the remaining copies, so indexes build while other
 * tables still copy. A worker that finds the queue empty waits while others still run,
 * because their completion may queue more work.
 */
export class WorkQueue<T> {
  private readonly urgent: T[] = [];
  private readonly normal: T[] = [];
  private inFlight = 0;
  private waiters: (() => void)[] = [];
  private failure: unknown;

  push(task: T, urgent = false): void {
    (urgent ? this.urgent : this.normal).push(task);
    this.wake();
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const fn of w) fn();
  }

  private async take(): Promise<T | undefined> {
    for (;;) {
      if (this.failure !== undefined) return undefined;
      const task = this.urgent.shift() ?? this.normal.shift();
      if (task !== undefined) {
        this.inFlight++;
        return task;
      }
      if (this.inFlight === 0) return undefined;
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
            this.inFlight--;
            this.wake();
          }
        }
      }),
    );
    if (this.failure !== undefined) throw this.failure;
  }
}
