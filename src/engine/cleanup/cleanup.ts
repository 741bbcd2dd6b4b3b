/**
 * Phase: cleanup, after the plan's 24-hour window. Drops every subscription, publication and
 * slot pgshift made, on both sides, then lists what is left — which should be nothing. A
 * forgotten slot keeps WAL until the disk fills (docs/design.md rule 7).
 *
 *   1. detach and drop the subscriptions (forward on the target, reverse on the source)
 *   2. drop the slots (forward and probe on the source, reverse on the target)
 *   3. drop the publications
 *   4. remove the DDL machinery: capture and freeze event triggers, the replay trigger, their
 *      functions and the _pgshift schema, on both sides (docs/design.md rule 6)
 *   5. list leftovers on both sides
 */
import type pg from 'pg';
import { withClients } from '../../postgres/connect.js';
import { describe, type ConnInfo } from '../../postgres/conninfo.js';
import { dropSlotIfExists } from '../../postgres/slot.js';
import { detachAndDropSubscription, subscriptionExists } from '../../postgres/subscription.js';
import { ident } from '../../postgres/sql.js';
import type { Logger } from '../../log/logger.js';
import type { MigrationNames } from '../names.js';
import { Timeline, type StepRecord } from '../timeline.js';
import { ddlLeftovers, removeDdlMachinery } from '../ddl/index.js';
import { type Link, linkBetween, type ReplicationEngine } from '../replication/engine.js';

export interface CleanupOptions {
  source: ConnInfo;
  target: ConnInfo;
  names: MigrationNames;
  /** Engines other than native (AWS DMS) remove what they made first: tasks, slots, DMS's schemas. */
  engine?: ReplicationEngine;
  reverseEngine?: ReplicationEngine;
  log: Logger;
}

export interface CleanupObject {
  side: 'source' | 'target';
  kind: 'subscription' | 'slot' | 'publication' | 'event trigger' | 'schema' | 'function' | 'engine';
  name: string;
}

export interface CleanupResult {
  ok: boolean;
  dropped: CleanupObject[];
  /** Replication objects of this migration still present afterwards. */
  leftovers: CleanupObject[];
  steps: StepRecord[];
}

export async function runCleanup(opts: CleanupOptions): Promise<CleanupResult> {
  const timeline = new Timeline(opts.log);
  return withClients(opts.source, opts.target, async (source, target) => {
    const sides = { source, target };
    const dropped: CleanupObject[] = [];
    const n = opts.names;
    await timeline.run('remove what the replication engines made', async () => {
      for (const [engine, link] of engineLinks(opts, source, target))
        for (const what of await engine.cleanup(link))
          dropped.push({ side: link.direction === 'forward' ? 'source' : 'target', kind: 'engine', name: what });
    });
    await timeline.run('drop subscriptions', async () => {
      if (await dropSubscription(target, n.subscription)) dropped.push({ side: 'target', kind: 'subscription', name: n.subscription });
      if (await dropSubscription(target, n.probeSubscription))
        dropped.push({ side: 'target', kind: 'subscription', name: n.probeSubscription });
      if (await dropSubscription(source, n.reverseSubscription))
        dropped.push({ side: 'source', kind: 'subscription', name: n.reverseSubscription });
    });
    await timeline.run('drop slots', async () => {
      for (const [side, slot] of [
        ['source', n.slot],
        ['target', n.reverseSlot],
      ] as const) {
        if (await dropSlotIfExists(sides[side], slot)) dropped.push({ side, kind: 'slot', name: slot });
      }
    });
    await timeline.run('drop publications', async () => {
      for (const [side, pub] of [
        ['source', n.publication],
        ['source', n.probePublication],
        ['target', n.reversePublication],
      ] as const) {
        const r = await sides[side].query('SELECT 1 FROM pg_publication WHERE pubname = $1', [pub]);
        if (r.rowCount) {
          await sides[side].query(`DROP PUBLICATION ${ident(pub)}`);
          dropped.push({ side, kind: 'publication', name: pub });
        }
      }
    });
    await timeline.run('remove the DDL capture, freeze and _pgshift', async () => {
      for (const side of ['source', 'target'] as const) {
        const removed = await removeDdlMachinery(sides[side]);
        for (const name of removed.eventTriggers) dropped.push({ side, kind: 'event trigger', name });
        if (removed.schema) dropped.push({ side, kind: 'schema', name: '_pgshift' });
      }
    });
    const leftovers = await timeline.run('list leftovers', async () => [
      ...(await listMine(source, 'source', n)),
      ...(await listMine(target, 'target', n)),
      ...(await listDdlLeftovers(source, 'source')),
      ...(await listDdlLeftovers(target, 'target')),
    ]);
    for (const l of leftovers)
      opts.log.warn(`left on the ${l.side === 'source' ? describe(opts.source) : describe(opts.target)}: ${l.kind} ${l.name}`);
    return { ok: leftovers.length === 0, dropped, leftovers, steps: timeline.steps };
  });
}

/** Detached first, so dropping never needs the other server. Returns whether there was one. */
async function dropSubscription(client: pg.Client, name: string): Promise<boolean> {
  if (!(await subscriptionExists(client, name))) return false;
  await detachAndDropSubscription(client, name);
  return true;
}

async function listDdlLeftovers(client: pg.Client, side: 'source' | 'target'): Promise<CleanupObject[]> {
  return (await ddlLeftovers(client)).map((what) => {
    const [kind, ...rest] = what.startsWith('event trigger ') ? ['event trigger', what.slice(14)] : what.split(' ');
    return { side, kind: kind as CleanupObject['kind'], name: rest.join(' ') };
  });
}

/** Everything named after this migration: the exact names, and `<name>_*` leftovers of other attempts. */
async function listMine(client: pg.Client, side: 'source' | 'target', n: MigrationNames): Promise<CleanupObject[]> {
  const res = await client.query(
    `SELECT 'subscription' AS kind, subname::text AS name FROM pg_subscription WHERE subdbid = (SELECT oid FROM pg_database WHERE datname = current_database())
     UNION ALL SELECT 'slot', slot_name::text FROM pg_replication_slots WHERE database = current_database()
     UNION ALL SELECT 'publication', pubname::text FROM pg_publication`,
  );
  const mine = (name: string) => name === n.name || name.startsWith(`${n.name}_`);
  return res.rows.filter((r) => mine(r.name)).map((r) => ({ side, kind: r.kind, name: r.name }));
}

/** The links whose engine is not native (native's objects are what the steps below drop by name). */
function engineLinks(opts: CleanupOptions, source: pg.Client, target: pg.Client): Array<[ReplicationEngine, Link]> {
  const ends = [
    { client: source, info: opts.source },
    { client: target, info: opts.target },
  ] as const;
  const out: Array<[ReplicationEngine, Link]> = [];
  if (opts.engine && opts.engine.name !== 'native') out.push([opts.engine, linkBetween('forward', opts.names, ...ends)]);
  if (opts.reverseEngine && opts.reverseEngine.name !== 'native')
    out.push([opts.reverseEngine, linkBetween('reverse', opts.names, ...ends)]);
  return out;
}
