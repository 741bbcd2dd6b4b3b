/**
 * Install and remove the replay side on the target (see replay-sql.ts). `cdc start` installs it
 * before it creates the subscription: the FOR ALL TABLES publication carries `_pgshift.ddl_log`,
 * so the target needs the table even with --ddl off (then without the trigger).
 */
import type pg from 'pg';
import { REPLAY_FUNCTIONS_SQL, REPLAY_TABLES_SQL } from './replay-sql.js';

export async function sourceHasDdlLog(source: pg.Client): Promise<boolean> {
  return (await source.query(`SELECT to_regclass('_pgshift.ddl_log') IS NOT NULL AS ok`)).rows[0].ok;
}

/** Returns whether the schema _pgshift was created here (the undo then drops it). */
export async function installDdlReplay(target: pg.Client, withTrigger: boolean): Promise<boolean> {
  const existed = (await target.query(`SELECT 1 FROM pg_namespace WHERE nspname = '_pgshift'`)).rowCount === 1;
  await target.query('BEGIN');
  try {
    await target.query(REPLAY_TABLES_SQL);
    if (withTrigger) await target.query(REPLAY_FUNCTIONS_SQL);
    else await target.query('DROP TRIGGER IF EXISTS pgshift_ddl_replay ON _pgshift.ddl_log');
    await target.query('COMMIT');
  } catch (err) {
    await target.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
  return !existed;
}

/** Undo of installDdlReplay when no subscription came of it. */
export async function removeDdlReplay(target: pg.Client, createdSchema: boolean): Promise<void> {
  if (createdSchema) await target.query('DROP SCHEMA IF EXISTS _pgshift CASCADE');
  else await target.query('DROP TRIGGER IF EXISTS pgshift_ddl_replay ON _pgshift.ddl_log').catch(() => undefined);
}
