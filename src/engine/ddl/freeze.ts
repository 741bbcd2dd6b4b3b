/**
 * Freeze and unfreeze DDL on one server (see freeze-sql.ts). The reason is kept as the comment
 * of the _pgshift schema, so a refused statement tells the person why and for how long.
 */
import type pg from 'pg';
import { literal } from '../../postgres/sql.js';
import { eventTriggersPresent, explainEventTriggerError } from './event-triggers.js';
import { FREEZE_EVENT_TRIGGERS, FREEZE_FUNCTIONS_SQL, FREEZE_TRIGGERS_SQL } from './freeze-sql.js';

export async function ddlFrozen(client: pg.Client): Promise<boolean> {
  return (await eventTriggersPresent(client, FREEZE_EVENT_TRIGGERS)).length > 0;
}

/** Returns whether this call froze DDL (false: it already was), so an undo lifts only its own freeze (docs/design.md rule 13). */
export async function freezeDdl(client: pg.Client, why: string): Promise<boolean> {
  if (await ddlFrozen(client)) return false;
  try {
    await client.query('BEGIN');
    await client.query(FREEZE_FUNCTIONS_SQL);
    await client.query(`COMMENT ON SCHEMA _pgshift IS ${literal(why)}`);
    await client.query(FREEZE_TRIGGERS_SQL);
    await client.query('COMMIT');
    return true;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw explainEventTriggerError(err, 'freeze DDL');
  }
}

/** Undo of freezeDdl. Returns whether there was a freeze to lift. */
export async function unfreezeDdl(client: pg.Client): Promise<boolean> {
  const present = await eventTriggersPresent(client, FREEZE_EVENT_TRIGGERS);
  for (const name of present) await client.query(`DROP EVENT TRIGGER IF EXISTS ${name}`);
  if (present.length) await client.query('COMMENT ON SCHEMA _pgshift IS NULL').catch(() => undefined);
  return present.length > 0;
}
