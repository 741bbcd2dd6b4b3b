/**
 * The native engine: PostgreSQL logical replication, a subscription on the subscriber reading a pgoutput
 * slot. The code is replication-link.ts and lsn.ts as cutover used them before the engine interface;
 * this file only puts them behind it.
 */
import { flushWal, waitForApplied } from '../../postgres/lsn.js';
import { dropSlotIfExists } from '../../postgres/slot.js';
import { detachAndDropSubscription, subscriptionExists } from '../../postgres/subscription.js';
import { linkState, preparePublisher, subscribe, unsubscribe } from '../cutover/replication-link.js';
import type { AppliedResult, Link, LinkStatus, ReplicationEngine } from './engine.js';

export class NativeEngine implements ReplicationEngine {
  readonly name = 'native' as const;
  readonly slotPlugin = 'pgoutput' as const;
  readonly switchesInFreeze = true;

  sparedRoles(): string[] {
    // Apply workers and walsenders are not client backends: the freeze never ends them.
    return [];
  }

  prepare(link: Link): Promise<string> {
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

  async appliedPast(link: Link, lsn: string, timeoutMs: number, signal?: AbortSignal): Promise<AppliedResult> {
    const r = await waitForApplied({
      source: link.publisherInfo,
      slotName: link.names.slot,
      lsn,
      timeoutMs: Math.max(0, timeoutMs),
      client: link.publisher,
      nudgeMs: 50,
      pollMs: 5,
      // The subscriber reports its position only once its last applied commit is flushed (up to
      // wal_writer_delay later when traffic stops, i.e. inside the freeze): flush it at each nudge.
      onNudge: () => flushWal(link.subscriber),
      signal,
    });
    return { reached: r.reached, remainingBytes: r.remainingBytes, waitedMs: r.waitedMs };
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
