/**
 * The native engine: PostgreSQL logical replication, a subscription on the subscriber reading a pgoutput
 * slot. The link code is replication-link.ts; this file puts it behind the engine interface.
 *
 * "Applied up to here" is proven by the marker round-trip (marker.ts), not by the positions the
 * subscriber reports to the publisher. Measured on 15 -> 17 (issue 15): the apply worker commits with
 * synchronous_commit = off, and while its last applied commit is not flushed locally it answers a
 * keepalive that carries a newer position with nothing at all (its feedback is skipped when neither its
 * write nor its flush position changed). Inside the freeze, where traffic has stopped and only
 * non-transactional WAL or empty transactions follow the last commit, the publisher then learns the
 * position only once the subscriber's WAL writer has flushed and the apply worker woke up again
 * (wal_writer_delay, 200 ms by default): a "wait for zero lag" of 100–180 ms that depended on timers,
 * not on the data. The marker row instead must be applied like any commit, right after the last one.
 */
import { checkFailed } from '../../errors.js';
import { describe } from '../../postgres/conninfo.js';
import { compareLsn, flushWal, lsnDiff, readAppliedPosition } from '../../postgres/lsn.js';
import { dropSlotIfExists } from '../../postgres/slot.js';
import { detachAndDropSubscription, subscriptionExists } from '../../postgres/subscription.js';
import { ident } from '../../postgres/sql.js';
import { linkState, preparePublisher, subscribe, unsubscribe } from '../cutover/replication-link.js';
import type { AppliedResult, Link, LinkStatus, ReplicationEngine } from './engine.js';
import { commitMarker, ensureMarkerTable, MARKER_SCHEMA, MARKER_TABLE, markerSubscribed, waitForMarker, type Marker } from './marker.js';

export class NativeEngine implements ReplicationEngine {
  readonly name = 'native' as const;
  readonly slotPlugin = 'pgoutput' as const;
  readonly switchesInFreeze = true;

  sparedRoles(): string[] {
    // Apply workers and walsenders are not client backends: the freeze never ends them.
    return [];
  }

  async prepare(link: Link): Promise<string> {
    // The marker table on both sides before the subscription is made, so that the subscription applies it.
    await ensureMarkerTable(link.publisher);
    await ensureMarkerTable(link.subscriber);
    return preparePublisher(link.publisher, link.names);
  }

  async start(link: Link): Promise<void> {
    await subscribe(link.subscriber, link.names, link.publisherFromSubscriber);
  }

  async status(link: Link): Promise<LinkStatus> {
    const s = await linkState(link.subscriber, link.names);
    const detail = !s.exists
      ? `no subscription ${link.names.subscription}`
      : `subscription ${link.names.subscription} ${s.enabled ? 'enabled' : 'disabled'}, ${s.streaming ? 'streaming' : 'not streaming'}`;
    return { exists: s.exists, running: s.enabled && s.streaming, detail };
  }

  async readyToSwitch(link: Link): Promise<void> {
    await ensureMarkerTable(link.publisher);
    await ensureMarkerTable(link.subscriber);
    if (!(await markerSubscribed(link.subscriber, link.names.subscription))) throw notSubscribed(link);
  }

  async appliedPast(link: Link, lsn: string, timeoutMs: number, signal?: AbortSignal): Promise<AppliedResult> {
    const started = Date.now();
    // A marker in a table the subscription does not know would stop its apply worker: never write one then.
    if (!(await markerSubscribed(link.subscriber, link.names.subscription))) throw notSubscribed(link);
    // Committed after `lsn` (the caller read it first, on this session): the marker applied means `lsn` applied.
    const marker = await commitMarker(link.publisher);
    const committed = Date.now();
    if (compareLsn(marker.lsn, lsn) < 0) throw new Error(`marker at ${marker.lsn} is before ${lsn}: read the LSN on the publisher first`);
    const r = await waitForMarker({
      publisher: link.publisher,
      subscriber: link.subscriber,
      slotName: link.names.slot,
      marker,
      timeoutMs: Math.max(0, timeoutMs),
      confirmedToo: false,
      remainingBytes: () => bytesToMarker(link, marker),
      pollMs: 2,
      signal,
    });
    // Applied is visible, not yet durable: the apply worker commits with synchronous_commit = off. The
    // running link is dropped next, and with it the slot that could send these commits again, so they
    // are flushed on the subscriber now (one commit with synchronous_commit = on flushes all WAL before it).
    const arrived = Date.now();
    if (r.reached) await flushWal(link.subscriber);
    const done = Date.now();
    const detail = `marker committed in ${committed - started} ms, ${r.reached ? 'on the subscriber' : 'not there'} after ${arrived - committed} ms${r.reached ? `, flushed there in ${done - arrived} ms` : ''}`;
    return { ...r, waitedMs: done - started, detail };
  }

  stop(link: Link): Promise<void> {
    return unsubscribe(link.subscriber, link.publisher, link.names);
  }

  async cleanup(link: Link): Promise<string[]> {
    const removed: string[] = [];
    if (await subscriptionExists(link.subscriber, link.names.subscription)) {
      await detachAndDropSubscription(link.subscriber, link.names.subscription);
      removed.push(`subscription ${link.names.subscription}`);
    }
    if (await dropSlotIfExists(link.publisher, link.names.slot)) removed.push(`slot ${link.names.slot}`);
    return removed;
  }
}

/** When the wait gives up: how far the subscriber's reported position is from the marker (for the message only). */
async function bytesToMarker(link: Link, marker: Marker): Promise<number> {
  const pos = await readAppliedPosition(link.publisher, link.names.slot);
  return pos?.appliedLsn ? Math.max(0, lsnDiff(marker.lsn, pos.appliedLsn)) : Number.NaN;
}

function notSubscribed(link: Link) {
  const table = `${MARKER_SCHEMA}.${MARKER_TABLE}`;
  return checkFailed(
    `subscription ${link.names.subscription} on the ${describe(link.subscriberInfo)} does not apply pgshift's marker table ${table} (the subscription is older than the table), so the switch could not prove that everything was applied`,
    `on the ${describe(link.subscriberInfo)} run ALTER SUBSCRIPTION ${ident(link.names.subscription)} REFRESH PUBLICATION (it copies the empty marker table, and any other table published since), wait until pgshift cdc status shows no table copying, then run again`,
  );
}
