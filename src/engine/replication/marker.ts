/**
 * The marker round-trip: how cutover knows, inside the write freeze, that the subscriber has applied
 * everything the publisher committed before a point — by a row that must arrive, never by a timer.
 *
 * A marker row is committed on the publisher inside the freeze, by pgshift's own session (exempt from
 * the freeze), after the point the caller waits for; its position is read in the same transaction,
 * after the insert. The subscriber applies transactions in the publisher's commit order (native: one
 * apply worker; with streaming = parallel the leader still commits in order; DMS: batch apply off), so
 * the marker visible on the subscriber means every transaction committed before it is applied and
 * visible there too. Engines add what else they need:
 *   - native: nothing from the publisher's side. The slot's positions are not needed and not trusted
 *     for this: an apply worker whose last applied commit is not yet flushed locally reports nothing
 *     new (measured: up to one wal_writer_delay, see native.ts);
 *   - dms: the slot's confirmed_flush_lsn past the marker too: DMS has told PostgreSQL it is done with
 *     it (docs/design.md rule 3: lag by LSN).
 * The table lives in pgshift's own schema on both sides; verify and the sequence sync leave it out.
 * A native subscription applies its rows only if the table was there when it was created (or
 * refreshed): `markerSubscribed` says whether it was, and a marker is never written otherwise — the
 * apply worker would stop on a table it does not know.
 */
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { throwIfCancelled } from '../../cancel.js';
import { compareLsn, lsnDiff } from '../../postgres/lsn.js';
import { PGSHIFT_SCHEMA } from '../../postgres/schemas.js';
import { ident } from '../../postgres/sql.js';
import type { AppliedResult } from './engine.js';

export const MARKER_SCHEMA = PGSHIFT_SCHEMA;
export const MARKER_TABLE = 'replication_marker';
const qualifiedMarker = `${ident(MARKER_SCHEMA)}.${ident(MARKER_TABLE)}`;

/**
 * Create the marker table when missing (both sides need it: the engine maps it like any table).
 * Looked up first, so that on every later call it is one read and no DDL. Returns whether it made it.
 */
export async function ensureMarkerTable(client: pg.Client): Promise<boolean> {
  const present = await client.query<{ ok: boolean }>('SELECT to_regclass($1) IS NOT NULL AS ok', [qualifiedMarker]);
  if (present.rows[0]!.ok) return false;
  await client.query(`CREATE SCHEMA IF NOT EXISTS ${ident(MARKER_SCHEMA)}`);
  await client.query(`CREATE TABLE IF NOT EXISTS ${qualifiedMarker} (id text PRIMARY KEY, written_at timestamptz NOT NULL DEFAULT now())`);
  return true;
}

/** Whether the native subscription `subscription` on `subscriber` applies the marker table's rows (state ready). */
export async function markerSubscribed(subscriber: pg.Client, subscription: string): Promise<boolean> {
  const res = await subscriber.query(
    `SELECT 1 FROM pg_catalog.pg_subscription_rel sr JOIN pg_catalog.pg_subscription s ON s.oid = sr.srsubid
      WHERE s.subname = $1 AND s.subdbid = (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database())
        AND sr.srrelid = to_regclass($2) AND sr.srsubstate = 'r'`,
    [subscription, qualifiedMarker],
  );
  return (res.rowCount ?? 0) > 0;
}

export interface Marker {
  id: string;
  /** WAL position just after the marker's insert, inside its transaction: its commit ends later. */
  lsn: string;
}

/** Commit a marker row; flushed at once (synchronous_commit on), whatever the server's setting. */
export async function commitMarker(publisher: pg.Client): Promise<Marker> {
  const id = randomUUID();
  await publisher.query('BEGIN');
  try {
    await publisher.query('SET LOCAL synchronous_commit = on');
    // pgshift's sessions write through the freeze: they connect with default_transaction_read_only off.
    await publisher.query(`INSERT INTO ${qualifiedMarker} (id) VALUES ($1)`, [id]);
    const lsn = (await publisher.query<{ lsn: string }>('SELECT pg_current_wal_insert_lsn()::text AS lsn')).rows[0]!.lsn;
    await publisher.query('COMMIT');
    return { id, lsn };
  } catch (err) {
    await publisher.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

/** Whether the marker row is visible on the subscriber. */
export async function markerArrived(subscriber: pg.Client, marker: Marker): Promise<boolean> {
  return (await subscriber.query(`SELECT 1 FROM ${qualifiedMarker} WHERE id = $1`, [marker.id])).rowCount === 1;
}

export interface MarkerWait {
  publisher: pg.Client;
  subscriber: pg.Client;
  slotName: string;
  marker: Marker;
  timeoutMs: number;
  /** Also wait until the slot's confirmed_flush_lsn has passed the marker (dms); native does not. */
  confirmedToo: boolean;
  /** How far the subscriber is from the marker, in bytes, when the wait gives up (NaN when unknown). */
  remainingBytes: () => Promise<number>;
  pollMs?: number;
  signal?: AbortSignal;
}

/** Wait until the marker is on the subscriber (and, with `confirmedToo`, the slot confirmed past it), at most `timeoutMs`. */
export async function waitForMarker(w: MarkerWait): Promise<AppliedResult> {
  const started = Date.now();
  const pollMs = w.pollMs ?? 20;
  for (;;) {
    // A signal stops the wait with Cancelled, as it does every wait of the switchover: its abort path takes over.
    throwIfCancelled(w.signal);
    const arrived =
      (!w.confirmedToo || (await confirmedPast(w.publisher, w.slotName, w.marker))) && (await markerArrived(w.subscriber, w.marker));
    const waitedMs = Date.now() - started;
    if (arrived) return { reached: true, remainingBytes: 0, waitedMs };
    if (waitedMs >= w.timeoutMs) return { reached: false, remainingBytes: await w.remainingBytes(), waitedMs };
    await new Promise((r) => setTimeout(r, Math.min(pollMs, Math.max(1, w.timeoutMs - waitedMs))));
  }
}

async function confirmedPast(publisher: pg.Client, slotName: string, marker: Marker): Promise<boolean> {
  const confirmed = await confirmedFlush(publisher, slotName);
  return confirmed !== null && compareLsn(confirmed, marker.lsn) >= 0;
}

async function confirmedFlush(publisher: pg.Client, slotName: string): Promise<string | null> {
  const slot = await publisher.query<{ confirmed: string | null }>(
    'SELECT confirmed_flush_lsn::text AS confirmed FROM pg_replication_slots WHERE slot_name = $1',
    [slotName],
  );
  return slot.rows[0]?.confirmed ?? null;
}

/** Bytes from the slot's confirmed_flush_lsn to the marker (NaN when the slot confirmed nothing). */
export async function bytesToMarkerFromSlot(publisher: pg.Client, slotName: string, marker: Marker): Promise<number> {
  const confirmed = await confirmedFlush(publisher, slotName);
  return confirmed ? Math.max(0, lsnDiff(marker.lsn, confirmed)) : Number.NaN;
}
