/**
 * A replication engine: what moves changes from the current primary to the other server. Cutover and
 * rollback talk only to this interface (docs/design.md "Replication engines"), so a third engine is a new
 * file here and nothing in the phases.
 *
 *   native  a subscription on the subscriber reading a pgoutput slot (the default)
 *   dms     an AWS DMS task reading a test_decoding slot (experiment 03)
 *
 * One engine object serves one direction of one link at a time; the `Link` says which.
 */
import type pg from 'pg';
import type { ConnInfo } from '../../postgres/conninfo.js';
import type { SlotPlugin } from '../../postgres/slot.js';
import { type LinkNames, linkNames, type MigrationNames } from '../names.js';

export const ENGINE_NAMES = ['native', 'dms'] as const;
export type EngineName = (typeof ENGINE_NAMES)[number];

/** One direction of replication: `publisher` (the current primary) streams to `subscriber`. */
export interface Link {
  names: LinkNames;
  publisher: pg.Client;
  subscriber: pg.Client;
  /** How this run reaches the publisher and the subscriber. */
  publisherInfo: ConnInfo;
  subscriberInfo: ConnInfo;
  /** How the subscriber reaches the publisher (a native subscription connects from there). */
  publisherFromSubscriber: ConnInfo;
  /** forward = source -> target, reverse = target -> source. */
  direction: 'forward' | 'reverse';
}

/** One server's end of a link: the session this run holds on it, and how this run and the other server reach it. */
export interface LinkEnd {
  client: pg.Client;
  info: ConnInfo;
  /** How the other server reaches this one (a native subscription connects from there); `info` when the same. */
  seenByOther?: ConnInfo;
}

/** The migration's link in `direction`: forward, the source publishes to the target; reverse, the other way. */
export function linkBetween(direction: Link['direction'], names: MigrationNames, source: LinkEnd, target: LinkEnd): Link {
  const [publisher, subscriber] = direction === 'forward' ? [source, target] : [target, source];
  return {
    names: linkNames(names, direction),
    publisher: publisher.client,
    subscriber: subscriber.client,
    publisherInfo: publisher.info,
    subscriberInfo: subscriber.info,
    publisherFromSubscriber: publisher.seenByOther ?? publisher.info,
    direction,
  };
}

export interface LinkStatus {
  exists: boolean;
  /** Replicating now (subscription enabled and streaming / task running). */
  running: boolean;
  /** One line for a person: subscription state or task status. */
  detail: string;
  /** Per-table state where the engine reports one (DMS's TableState); absent otherwise. */
  tables?: { table: string; state: string }[];
}

export interface AppliedResult {
  reached: boolean;
  /** Bytes of WAL still to apply when the wait ended (0 when reached; NaN when unknown). */
  remainingBytes: number;
  waitedMs: number;
  /** Where the wait went, in one line (e.g. the marker's commit, arrival and flush times), for the step's record. */
  detail?: string;
}

export interface ReplicationEngine {
  readonly name: EngineName;
  /** The output plugin of the slots this engine reads. */
  readonly slotPlugin: SlotPlugin;
  /**
   * Whether `stop` and `start` are quick enough to run with writes frozen. Native: yes (DROP/CREATE
   * SUBSCRIPTION). DMS: no (stopping a task, or creating and starting one, takes minutes). When either
   * link's engine says no, the switchover resumes writes first, then stops the old direction, waits until
   * it is stopped, and only then starts the new one: the two can never loop.
   */
  readonly switchesInFreeze: boolean;
  /** Login roles whose sessions the write freeze must leave alone (ending them would stop replication). */
  sparedRoles(): string[];
  /** Publication (if the engine needs one) and a fresh slot on the publisher. Returns the slot's start LSN. */
  prepare(link: Link): Promise<string>;
  /** Start replicating from the link's slot, copying nothing. */
  start(link: Link): Promise<void>;
  status(link: Link): Promise<LinkStatus>;
  /**
   * Before the write freeze: make sure `appliedPast` can prove the apply on this link (the marker table
   * on both sides, and for native in the subscription), or throw a check failure that says how.
   */
  readyToSwitch(link: Link): Promise<void>;
  /**
   * Wait until the subscriber has applied every commit up to `lsn` on the publisher, at most `timeoutMs`.
   * Called with writes frozen, on the publisher session that read `lsn`: both engines commit a marker
   * row there and wait for it on the subscriber (marker.ts). `signal` stops the wait with Cancelled.
   */
  appliedPast(link: Link, lsn: string, timeoutMs: number, signal?: AbortSignal): Promise<AppliedResult>;
  /** Stop replicating, and drop the slot so it holds no WAL (docs/design.md rule 7). What cleanup needs stays. */
  stop(link: Link): Promise<void>;
  /** Remove everything the engine made for the link. Returns what it removed, for the report. */
  cleanup(link: Link): Promise<string[]>;
}
