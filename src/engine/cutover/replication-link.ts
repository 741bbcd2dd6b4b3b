/**
 * One direction of logical replication between the two servers: a publication and a slot on
 * the publisher, a subscription on the subscriber. Cutover turns the link around (target ->
 * source, so rollback loses nothing); rollback turns it back.
 */
import type pg from 'pg';
import { libpqConninfo, type ConnInfo } from '../../postgres/conninfo.js';
import { dropSlotIfExists } from '../../postgres/slot.js';
import { createSubscription, detachAndDropSubscription, subscriptionExists } from '../../postgres/subscription.js';
import { ident, literal } from '../../postgres/sql.js';
import type { LinkNames } from '../names.js';

export type { LinkNames };

/** Publication for every table (created when missing) and a fresh slot on the publisher. Returns the slot's start LSN. */
export async function preparePublisher(publisher: pg.Client, names: LinkNames): Promise<string> {
  const pub = await publisher.query('SELECT 1 FROM pg_publication WHERE pubname = $1', [names.publication]);
  if (!pub.rowCount)
    await publisher.query(`CREATE PUBLICATION ${ident(names.publication)} FOR ALL TABLES WITH (publish_via_partition_root = true)`);
  // A leftover slot of the same name from an aborted attempt would stream from an old position.
  await dropSlotIfExists(publisher, names.slot);
  const res = await publisher.query(`SELECT lsn::text FROM pg_create_logical_replication_slot($1, 'pgoutput')`, [names.slot]);
  return res.rows[0].lsn;
}

/**
 * Subscribe from an existing slot, copying nothing: the publisher was frozen and the
 * subscriber caught up when the slot was made, so the slot holds exactly what comes next.
 */
export async function subscribe(subscriber: pg.Client, names: LinkNames, publisherFromSubscriber: ConnInfo): Promise<void> {
  const version = Number((await subscriber.query('SHOW server_version_num')).rows[0].server_version_num);
  const options = ['create_slot = false', 'copy_data = false', `slot_name = ${literal(names.slot)}`];
  if (version >= 140000) options.push('streaming = on');
  await createSubscription(
    subscriber,
    names.subscription,
    libpqConninfo(publisherFromSubscriber, { includePassword: true }),
    names.publication,
    options,
  );
}

/** Drop the subscription; its slot on the publisher is dropped by us, not through the subscriber's connection. */
export async function unsubscribe(subscriber: pg.Client, publisher: pg.Client, names: LinkNames): Promise<void> {
  if (await subscriptionExists(subscriber, names.subscription)) await detachAndDropSubscription(subscriber, names.subscription);
  await dropSlotIfExists(publisher, names.slot);
}

export interface LinkState {
  exists: boolean;
  enabled: boolean;
  streaming: boolean;
}

export async function linkState(subscriber: pg.Client, names: LinkNames): Promise<LinkState> {
  const res = await subscriber.query(
    `SELECT s.subenabled, EXISTS (SELECT 1 FROM pg_stat_subscription w WHERE w.subid = s.oid AND w.pid IS NOT NULL AND w.relid IS NULL) AS streaming
       FROM pg_subscription s WHERE s.subname = $1 AND s.subdbid = (SELECT oid FROM pg_database WHERE datname = current_database())`,
    [names.subscription],
  );
  const r = res.rows[0];
  return r ? { exists: true, enabled: r.subenabled, streaming: r.streaming } : { exists: false, enabled: false, streaming: false };
}
