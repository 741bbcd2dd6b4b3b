/**
 * Install and remove the DDL capture on the source (see capture-sql.ts for what it records).
 * full-load installs it before it creates the slot, so every DDL after the snapshot is in the
 * log the subscription carries; cleanup removes it.
 */
import type pg from 'pg';
import {
  CAPTURE_EVENT_TRIGGERS,
  CAPTURE_FUNCTIONS_SQL,
  CAPTURE_START_SQL,
  CAPTURE_TABLE_SQL,
  CAPTURE_TRIGGERS_SQL,
} from './capture-sql.js';
import { LEXER_SQL } from './lexer-sql.js';
import { DDL_BOOKKEEPING_TABLES_SQL } from './replay-sql.js';
import { eventTriggersPresent, explainEventTriggerError } from './event-triggers.js';

/** Whether the capture's event triggers are all in place in this database. */
export async function captureInstalled(client: pg.Client): Promise<boolean> {
  return (await eventTriggersPresent(client, CAPTURE_EVENT_TRIGGERS)).length === CAPTURE_EVENT_TRIGGERS.length;
}

/** Returns whether this call installed it (and so its undo must remove it). Idempotent. */
export async function installDdlCapture(client: pg.Client): Promise<boolean> {
  if (await captureInstalled(client)) return false;
  try {
    await client.query('BEGIN');
    await client.query(CAPTURE_TABLE_SQL);
    await client.query(DDL_BOOKKEEPING_TABLES_SQL);
    await client.query(LEXER_SQL);
    await client.query(CAPTURE_FUNCTIONS_SQL);
    await client.query(CAPTURE_START_SQL);
    for (const name of CAPTURE_EVENT_TRIGGERS) await client.query(`DROP EVENT TRIGGER IF EXISTS ${name}`);
    await client.query(CAPTURE_TRIGGERS_SQL);
    await client.query('COMMIT');
    return true;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw explainEventTriggerError(err, 'install the DDL capture on the source');
  }
}

/** Undo of installDdlCapture: the event triggers go, the log table and functions with cleanup's schema drop. */
export async function removeDdlCapture(client: pg.Client): Promise<void> {
  for (const name of CAPTURE_EVENT_TRIGGERS) await client.query(`DROP EVENT TRIGGER IF EXISTS ${name}`);
}
