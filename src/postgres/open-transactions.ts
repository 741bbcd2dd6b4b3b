/**
 * The sessions a logical slot's creation waits for. CREATE_REPLICATION_SLOT cannot hand out a
 * consistent snapshot until every transaction that held a transaction id when it started has
 * ended — in any database of the server. One session left "idle in transaction" after an
 * INSERT holds it up for as long as it stays open.
 */
import type pg from 'pg';

export interface OpenTransaction {
  pid: number;
  user: string | null;
  applicationName: string | null;
  database: string | null;
  /** 'idle in transaction', 'active', …; null when this role may not see the session's details. */
  state: string | null;
  /** Seconds since its transaction began; null when not visible. */
  ageSeconds: number | null;
}

/**
 * Sessions `waiterPid` (the walsender creating the slot) is waiting for: the one it waits on
 * right now (pg_blocking_pids: the snapshot builder waits on each transaction's lock in turn),
 * and every other transaction that held an id when the wait began (`since`, server time).
 */
export async function transactionsBlocking(client: pg.Client, waiterPid: number, since: string): Promise<OpenTransaction[]> {
  const res = await client.query(
    `SELECT a.pid, a.usename, a.application_name, a.datname, a.state,
            extract(epoch FROM clock_timestamp() - a.xact_start)::float8 AS age
       FROM pg_stat_activity a
      WHERE a.pid <> $1 AND a.pid <> pg_backend_pid()
        AND (a.pid = ANY (pg_blocking_pids($1)) OR (a.backend_xid IS NOT NULL AND a.xact_start < $2::timestamptz))
      ORDER BY a.xact_start NULLS LAST, a.pid`,
    [waiterPid, since],
  );
  return res.rows.map((r) => ({
    pid: r.pid,
    user: r.usename,
    applicationName: r.application_name,
    database: r.datname,
    state: r.state,
    ageSeconds: r.age === null ? null : Math.round(Number(r.age)),
  }));
}

/** "pid 4242 (user app, application psql, idle in transaction, open 25 s)" */
export function describeOpenTransaction(t: OpenTransaction): string {
  const parts = [
    `user ${t.user ?? '?'}`,
    `application ${t.applicationName || '–'}`,
    t.database ? `database ${t.database}` : undefined,
    t.state ?? 'state not visible to this role',
    t.ageSeconds === null ? undefined : `open ${t.ageSeconds} s`,
  ].filter(Boolean);
  return `pid ${t.pid} (${parts.join(', ')})`;
}

/** The line that ends them, for the operator to run once they have decided to. */
export function terminateStatement(transactions: OpenTransaction[]): string {
  return transactions.map((t) => `SELECT pg_terminate_backend(${t.pid});`).join(' ');
}
