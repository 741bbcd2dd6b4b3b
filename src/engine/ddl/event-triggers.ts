import type pg from 'pg';
import { checkFailed, type PgshiftError } from '../../errors.js';
import { redact } from '../../postgres/redact.js';

/** Which of these event triggers exist in the current database. */
export async function eventTriggersPresent(client: pg.Client, names: readonly string[]): Promise<string[]> {
  const res = await client.query<{ evtname: string }>('SELECT evtname FROM pg_event_trigger WHERE evtname = ANY($1::text[]) ORDER BY 1', [
    names,
  ]);
  return res.rows.map((r) => r.evtname);
}

/** Event triggers need a superuser (self-managed) or the RDS master user (rds_superuser). */
export function explainEventTriggerError(err: unknown, what: string): PgshiftError | unknown {
  const code = (err as { code?: string }).code;
  if (code === '42501') {
    return checkFailed(
      `could not ${what}: ${redact((err as Error).message)}`,
      'event triggers need a superuser on a self-managed server and the master user (rds_superuser) on RDS; or pass --ddl off',
    );
  }
  return err;
}
