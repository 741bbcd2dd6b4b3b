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
