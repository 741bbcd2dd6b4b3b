/**
 * `pgshift cdc stop`: remove the subscription, the slot and the publication (docs/design.md rule 7:
 * a forgotten slot keeps WAL until the source disk is full).
 *
 * The subscription is always detached from its slot before it is dropped (DISABLE, slot_name = NONE,
 * DROP): a plain DROP SUBSCRIPTION makes the *target* connect to the source to drop the slot, and
 * fails when the target cannot reach it. The slot is then dropped from here, over the runner's own
 * connection. When the source cannot be reached at all, the result says what is left there and
 * the exact SQL to remove it. Stopping twice finds nothing to do.
 */
import type pg from 'pg';
import { connect } from '../../postgres/connect.js';
import { describe, type ConnInfo } from '../../postgres/conninfo.js';
import { dropSlotIfExists } from '../../postgres/slot.js';
import { detachAndDropSubscription } from '../../postgres/subscription.js';
import { ident, literal } from '../../postgres/sql.js';
import { redact } from '../../postgres/redact.js';
import { PgshiftError } from '../../errors.js';
import type { Logger } from '../../log/logger.js';
import type { MigrationNames } from '../names.js';

export interface StopCdcOptions {
  source: ConnInfo;
  target: ConnInfo;
  names: MigrationNames;
  log: Logger;
  /** How long to try reaching the source before treating it as unreachable (default 5 s). */
  sourceConnectTimeoutMs?: number;
}

export interface Leftover {
  kind: 'slot' | 'publication';
  name: string;
  side: 'source';
  /** Run this on the source once it is reachable. */
  sql: string;
}

export interface StopCdcResult {
  droppedSubscription: boolean;
  droppedSlots: string[];
  droppedPublication: boolean;
  sourceReachable: boolean;
  /** Why the source could not be reached (redacted), when it could not. */
  sourceError: string | null;
  leftovers: Leftover[];
  /** Nothing existed any more: a repeated stop. */
  nothingToDo: boolean;
}

/** The runbook of `cdc stop`, step by step. */
export async function stopCdc(opts: StopCdcOptions): Promise<StopCdcResult> {
  const { names, log } = opts;
  const target = await connect(opts.target, { applicationName: 'pgshift-stop' });
  let subscription: { oid: number; slotName: string | null } | undefined;
  let droppedSubscription = false;
  try {
    subscription = await readSubscription(target, names.subscription);
    if (subscription) {
      await detachAndDropSubscription(target, names.subscription);
      droppedSubscription = true;
      log.info(`subscription ${names.subscription} dropped on the ${describe(opts.target)}`);
    }
  } finally {
    await target.end().catch(() => undefined);
  }
  const slotNames = [...new Set([names.slot, subscription?.slotName].filter((s): s is string => Boolean(s)))];
  const source = await tryConnectSource(opts);
  if (!source.client) {
    const leftovers = leftoversOnSource(slotNames, names.publication, subscription?.oid);
    log.warn(
      `the ${describe(opts.source)} is unreachable (${source.error}); left there: ${leftovers.map((l) => `${l.kind} ${l.name}`).join(', ')}. Drop them with: ${leftovers.map((l) => l.sql).join(' ')}`,
    );
    return {
      droppedSubscription,
      droppedSlots: [],
      droppedPublication: false,
      sourceReachable: false,
      sourceError: source.error,
      leftovers,
      nothingToDo: false,
    };
  }
  try {
    const droppedSlots = await dropSlots(source.client, slotNames, subscription?.oid);
    for (const s of droppedSlots) log.info(`replication slot ${s} dropped on the ${describe(opts.source)}`);
    const droppedPublication = await dropPublication(source.client, names.publication);
    if (droppedPublication) log.info(`publication ${names.publication} dropped on the ${describe(opts.source)}`);
    const nothingToDo = !droppedSubscription && droppedSlots.length === 0 && !droppedPublication;
    if (nothingToDo)
      log.info(`nothing to stop: no subscription ${names.subscription}, slot ${names.slot} or publication ${names.publication}`);
    return { droppedSubscription, droppedSlots, droppedPublication, sourceReachable: true, sourceError: null, leftovers: [], nothingToDo };
  } finally {
    await source.client.end().catch(() => undefined);
  }
}

async function readSubscription(target: pg.Client, name: string): Promise<{ oid: number; slotName: string | null } | undefined> {
  const res = await target.query(
    `SELECT oid, subslotname FROM pg_subscription WHERE subname = $1 AND subdbid = (SELECT oid FROM pg_database WHERE datname = current_database())`,
    [name],
  );
  const row = res.rows[0];
  return row ? { oid: Number(row.oid), slotName: row.subslotname } : undefined;
}

async function tryConnectSource(opts: StopCdcOptions): Promise<{ client?: pg.Client; error: string | null }> {
  try {
    return {
      client: await connect(opts.source, { applicationName: 'pgshift-stop', connectTimeoutMs: opts.sourceConnectTimeoutMs ?? 5000 }),
      error: null,
    };
  } catch (err) {
    return { error: err instanceof PgshiftError ? err.oneLine() : redact(String((err as Error)?.message ?? err)) };
  }
}

/**
 * The migration's slot, plus table-sync slots a subscription-copy subscription stopped mid-copy
 * leaves behind (`pg_<suboid>_sync_<relid>_<sysid>`): DROP SUBSCRIPTION only removes those
 * itself when it may connect to the source, which a detached subscription no longer does.
 */
async function dropSlots(source: pg.Client, slotNames: string[], subscriptionOid: number | undefined): Promise<string[]> {
  const names = [...slotNames];
  if (subscriptionOid !== undefined) {
    const sync = await source.query<{ slot_name: string }>(
      `SELECT slot_name FROM pg_replication_slots WHERE database = current_database() AND slot_name LIKE $1`,
      [`pg\\_${subscriptionOid}\\_sync\\_%`],
    );
    names.push(...sync.rows.map((r) => r.slot_name));
  }
  const dropped: string[] = [];
  for (const name of names) if (await dropSlotIfExists(source, name)) dropped.push(name);
  return dropped;
}

async function dropPublication(source: pg.Client, publication: string): Promise<boolean> {
  const res = await source.query('SELECT 1 FROM pg_publication WHERE pubname = $1', [publication]);
  if (!res.rowCount) return false;
  await source.query(`DROP PUBLICATION IF EXISTS ${ident(publication)}`);
  return true;
}

function leftoversOnSource(slotNames: string[], publication: string, subscriptionOid: number | undefined): Leftover[] {
  const out: Leftover[] = slotNames.map((name) => ({
    kind: 'slot' as const,
    name,
    side: 'source' as const,
    sql: `SELECT pg_drop_replication_slot(${literal(name)}) FROM pg_replication_slots WHERE slot_name = ${literal(name)};`,
  }));
  if (subscriptionOid !== undefined) {
    out.push({
      kind: 'slot',
      name: `pg_${subscriptionOid}_sync_*`,
      side: 'source',
      sql: `SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name LIKE ${literal(`pg\\_${subscriptionOid}\\_sync\\_%`)};`,
    });
  }
  out.push({ kind: 'publication', name: publication, side: 'source', sql: `DROP PUBLICATION IF EXISTS ${ident(publication)};` });
  return out;
}
