/**
 * Everything of pgshift's DDL machinery on one server: the capture and freeze event triggers,
 * the replay trigger, their functions and the _pgshift schema with its log. Event triggers are
 * database-wide and would outlive the schema's functions' purpose, so they are dropped by name
 * first; the schema then goes with everything in it.
 */
import type pg from 'pg';
import { CAPTURE_EVENT_TRIGGERS } from './capture-sql.js';
import { FREEZE_EVENT_TRIGGERS } from './freeze-sql.js';
import { eventTriggersPresent } from './event-triggers.js';

export const ALL_EVENT_TRIGGERS = [...CAPTURE_EVENT_TRIGGERS, ...FREEZE_EVENT_TRIGGERS];

export interface DdlCleanup {
  eventTriggers: string[];
  schema: boolean;
}

export async function removeDdlMachinery(client: pg.Client): Promise<DdlCleanup> {
  const eventTriggers = await eventTriggersPresent(client, ALL_EVENT_TRIGGERS);
  for (const name of eventTriggers) await client.query(`DROP EVENT TRIGGER IF EXISTS ${name}`);
  const schema = (await client.query(`SELECT 1 FROM pg_namespace WHERE nspname = '_pgshift'`)).rowCount === 1;
  if (schema) await client.query('DROP SCHEMA _pgshift CASCADE');
  return { eventTriggers, schema };
}

/** What is left of it (cleanup's leftover listing). */
export async function ddlLeftovers(client: pg.Client): Promise<string[]> {
  const res = await client.query<{ what: string }>(
    `SELECT 'event trigger ' || evtname AS what FROM pg_event_trigger WHERE evtname LIKE 'pgshift%'
     UNION ALL SELECT 'schema _pgshift' FROM pg_namespace WHERE nspname = '_pgshift'
     UNION ALL SELECT 'function ' || p.oid::regprocedure FROM pg_proc p WHERE p.proname LIKE 'ddl\\_%' AND p.pronamespace::regnamespace::text = '_pgshift'`,
  );
  return res.rows.map((r) => r.what);
}
