/**
 * What an earlier full-load with the same --name left behind: its slot and publication on the
 * source, the DDL freeze it set there (a killed run cannot lift it; left in place, the next run
 * would take it for somebody else's and schema changes would stay refused for good), its tables
 * on the target. Read first, all of it, touching nothing; then either refuse
 * or, with --clean, drop exactly that.
 *
 * --clean refuses without touching anything while CDC runs on it — the target's subscription
 * exists, the slot is active, or any live subscription reads the publication — because dropping
 * them would break replication that is in use. `pgshift cdc stop` first.
 */
import type pg from 'pg';
import { usageError } from '../../errors.js';
import { withClient } from '../../postgres/connect.js';
import { describe, type ConnInfo } from '../../postgres/conninfo.js';
import { readSlot, type SlotState } from '../../postgres/slot.js';
import { ident } from '../../postgres/sql.js';
import { subscriptionExists } from '../../postgres/subscription.js';
import type { Logger } from '../../log/logger.js';
import type { MigrationNames } from '../names.js';
import { ddlFrozen, unfreezeDdl } from '../ddl/freeze.js';
import { cleanTarget, userObjectsOnTarget } from './target-state.js';

/** A walsender streaming to a subscriber that reads the publication. */
export interface LiveSubscriber {
  pid: number;
  /** The subscription's name, as its walsender reports it (application_name). */
  applicationName: string;
  clientAddress: string | null;
  slotName: string | null;
  /** False when this role may not read the walsender's command: it might read the publication. */
  certain: boolean;
}

export interface Leftovers {
  slot?: SlotState;
  /** The full-load DDL freeze's event triggers are on the source. */
  ddlFreeze: boolean;
  /** Sessions of a full-load still running on this database (snapshot holder, copy workers). */
  runningLoad: { pid: number; applicationName: string }[];
  publication?: { name: string; liveSubscribers: LiveSubscriber[] };
  targetSubscription: boolean;
  targetObjects: { count: number; sample: string[] };
}

export async function findLeftovers(source: ConnInfo, target: ConnInfo, names: MigrationNames): Promise<Leftovers> {
  const onSource = await withClient(source, async (c) => {
    const slot = await readSlot(c, names.slot);
    const exists = (await c.query('SELECT 1 FROM pg_publication WHERE pubname = $1', [names.publication])).rowCount;
    const publication = exists ? { name: names.publication, liveSubscribers: await liveSubscribersOf(c, names.publication) } : undefined;
    const running = await c.query(
      `SELECT pid, application_name FROM pg_stat_activity
        WHERE datname = current_database() AND application_name IN ('pgshift-snapshot', 'pgshift-copy', 'pgshift-slot-wait') AND pid <> pg_backend_pid()
        ORDER BY pid`,
    );
    const runningLoad = running.rows.map((r) => ({ pid: r.pid as number, applicationName: r.application_name as string }));
    return { slot, publication, ddlFreeze: await ddlFrozen(c), runningLoad };
  });
  const onTarget = await withClient(target, async (c) => ({
    targetSubscription: await subscriptionExists(c, names.subscription),
    targetObjects: await userObjectsOnTarget(c),
  }));
  return { ...onSource, ...onTarget };
}

/**
 * Refuse what --clean must not touch, and what needs --clean when it is not given. Called before
 * anything is dropped, so a refusal leaves both servers exactly as they were.
 */
export function refuseUnlessCleanable(found: Leftovers, names: MigrationNames, source: ConnInfo, target: ConnInfo, clean: boolean): void {
  const stopFirst = `run 'pgshift cdc stop --name ${names.name}' first if this migration is to start over`;
  if (found.runningLoad.length > 0) {
    throw usageError(
      `a full-load is still running on the ${describe(source)} (sessions ${found.runningLoad.map((r) => `${r.pid} ${r.applicationName}`).join(', ')})`,
      `let it finish; if its process is gone, end them with ${found.runningLoad.map((r) => `SELECT pg_terminate_backend(${r.pid});`).join(' ')}`,
    );
  }
  if (found.targetSubscription) {
    throw usageError(`subscription ${names.subscription} still runs on the ${describe(target)} (CDC is running)`, stopFirst);
  }
  if (found.slot?.active) {
    throw usageError(
      `replication slot ${names.slot} is in use on the ${describe(source)} (walsender pid ${found.slot.activePid}: CDC is running)`,
      stopFirst,
    );
  }
  if (found.slot && found.slot.database !== source.database) {
    throw usageError(
      `replication slot ${names.slot} on the ${describe(source)} belongs to database ${found.slot.database}, not ${source.database}`,
      'pick another --name',
    );
  }
  const live = found.publication?.liveSubscribers ?? [];
  if (live.length > 0) {
    throw usageError(
      `publication ${names.publication} on the ${describe(source)} is read by a live subscription: ${live.map(describeSubscriber).join('; ')}`,
      `stop that subscription first (for pgshift's own: 'pgshift cdc stop --name ${names.name}')`,
    );
  }
  if (clean) return;
  const onSource = [
    found.slot ? `replication slot ${names.slot}` : undefined,
    found.publication ? `publication ${names.publication}` : undefined,
    found.ddlFreeze ? 'a DDL freeze' : undefined,
  ]
    .filter(Boolean)
    .join(' and ');
  const left = [
    onSource ? `${onSource} on the ${describe(source)} (left by an earlier full-load with --name ${names.name})` : undefined,
    found.targetObjects.count > 0
      ? `the ${describe(target)} is not empty (${found.targetObjects.count} objects, e.g. ${found.targetObjects.sample.slice(0, 3).join(', ')})`
      : undefined,
  ].filter(Boolean);
  if (left.length > 0) {
    throw usageError(left.join('; '), 're-run with --clean to drop them, point at an empty database, or pick another --name');
  }
}

/** With --clean: drop the inactive slot, the publication and the target's objects. Returns what was dropped. */
export async function cleanLeftovers(
  source: ConnInfo,
  target: ConnInfo,
  names: MigrationNames,
  found: Leftovers,
  log: Logger,
): Promise<string[]> {
  const dropped: string[] = [];
  if (found.slot || found.publication || found.ddlFreeze) {
    await withClient(source, async (c) => {
      if (found.slot) {
        await dropInactiveSlot(c, names, source);
        dropped.push(`replication slot ${names.slot}`);
      }
      if (found.publication) {
        await c.query(`DROP PUBLICATION IF EXISTS ${ident(names.publication)}`);
        dropped.push(`publication ${names.publication}`);
      }
      if (found.ddlFreeze && (await unfreezeDdl(c))) dropped.push('the DDL freeze');
    });
    log.warn(
      `--clean: dropped ${dropped.join(' and ')} on the ${describe(source)}, left by an earlier full-load with --name ${names.name}`,
    );
  }
  if (found.targetObjects.count > 0) {
    log.warn(`--clean: dropping ${found.targetObjects.count} objects on the ${describe(target)}`);
    dropped.push(...(await withClient(target, cleanTarget)));
  }
  return dropped;
}

/** Drop the slot only while nobody streams from it: a subscriber that came back in the meantime wins. */
async function dropInactiveSlot(client: pg.Client, names: MigrationNames, source: ConnInfo): Promise<void> {
  try {
    await client.query('SELECT pg_drop_replication_slot($1)', [names.slot]);
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === '42704') return; // gone meanwhile
    if (code === '55006')
      throw usageError(
        `replication slot ${names.slot} became active on the ${describe(source)} while --clean ran (CDC is running); it was not dropped`,
        `run 'pgshift cdc stop --name ${names.name}' first`,
      );
    throw err;
  }
}

/**
 * Walsenders of this database whose START_REPLICATION names the publication. A walsender's last
 * command is in pg_stat_activity.query; a subscriber's lists its publications in publication_names.
 */
export async function liveSubscribersOf(client: pg.Client, publication: string): Promise<LiveSubscriber[]> {
  const res = await client.query(
    `SELECT a.pid, a.application_name, a.client_addr::text AS addr, a.query, s.slot_name
       FROM pg_stat_activity a LEFT JOIN pg_replication_slots s ON s.active_pid = a.pid
      WHERE a.backend_type = 'walsender' AND a.datname = current_database() AND a.pid <> pg_backend_pid()`,
  );
  const out: LiveSubscriber[] = [];
  for (const r of res.rows) {
    const query: string | null = r.query;
    const visible = query !== null && !query.startsWith('<insufficient privilege>');
    if (visible && !/START_REPLICATION/i.test(query)) continue;
    const names = visible ? publicationNames(query) : [];
    if (visible && !names.includes(publication)) continue;
    out.push({ pid: r.pid, applicationName: r.application_name, clientAddress: r.addr, slotName: r.slot_name, certain: visible });
  }
  return out;
}

/** The publications in a START_REPLICATION command's `publication_names '…'` option. */
export function publicationNames(command: string): string[] {
  const m = /publication_names\s+'((?:[^']|'')*)'/i.exec(command);
  if (!m) return [];
  const list = m[1]!.replace(/''/g, "'");
  // A comma-separated list of identifiers, each double-quoted when it needs to be.
  const names: string[] = [];
  const re = /\s*(?:"((?:[^"]|"")*)"|([^,\s]+))\s*(?:,|$)/gy;
  for (let part = re.exec(list); part && part[0] !== ''; part = re.exec(list)) {
    names.push(part[1] !== undefined ? part[1].replace(/""/g, '"') : part[2]!.toLowerCase());
  }
  return names;
}

function describeSubscriber(s: LiveSubscriber): string {
  const who = `walsender pid ${s.pid} for ${s.applicationName || 'an unnamed subscriber'}${s.clientAddress ? ` at ${s.clientAddress}` : ''}${s.slotName ? ` (slot ${s.slotName})` : ''}`;
  return s.certain ? who : `${who}, whose publications this role may not see`;
}
