/**
 * The marker round-trip: how cutover knows, by LSN and not by CloudWatch's one-minute latency, that an
 * engine without a subscription (AWS DMS) has applied everything up to a point.
 *
 * A marker row is committed on the publisher inside the freeze; its position is read in the same
 * transaction, after the insert. The wait is over when both hold:
 *   - the row is on the subscriber: the engine applies in commit order (DMS with batch apply off), so
 *     every transaction committed before the marker is applied too;
 *   - the slot's confirmed_flush_lsn has passed the marker's position: the engine has told PostgreSQL
 *     it is done with it (docs/design.md rule 3: lag by LSN).
 * The table lives in pgshift's own schema on both sides; verify and the sequence sync leave it out.
 */
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { compareLsn, lsnDiff } from '../../postgres/lsn.js';
import { ident } from '../../postgres/sql.js';
import type { AppliedResult } from './engine.js';

export const MARKER_SCHEMA = '_pgshift';
export const MARKER_TABLE = 'replication_marker';
const qualifiedMarker = `${ident(MARKER_SCHEMA)}.${ident(MARKER_TABLE)}`;

/** Create the marker table when missing (both sides need it: the engine maps it like any table). */
export async function ensureMarkerTable(client: pg.Client): Promise<void> {
  await client.query(`CREATE SCHEMA IF NOT EXISTS ${ident(MARKER_SCHEMA)}`);
  await client.query(`CREATE TABLE IF NOT EXISTS ${qualifiedMarker} (id text PRIMARY KEY, written_at timestamptz NOT NULL DEFAULT now())`);
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

/** Wait until the marker is on the subscriber and the slot has confirmed past it, at most `timeoutMs`. */
export async function waitForMarker(
  publisher: pg.Client,
  subscriber: pg.Client,
  slotName: string,
  marker: Marker,
  timeoutMs: number,
  pollMs = 20,
  signal?: AbortSignal,
): Promise<AppliedResult> {
  const started = Date.now();
  for (;;) {
    const slot = await publisher.query<{ confirmed: string | null }>(
      'SELECT confirmed_flush_lsn::text AS confirmed FROM pg_replication_slots WHERE slot_name = $1',
      [slotName],
    );
    const confirmed = slot.rows[0]?.confirmed ?? null;
    const confirmedPast = confirmed !== null && compareLsn(confirmed, marker.lsn) >= 0;
    const arrived = confirmedPast && (await subscriber.query(`SELECT 1 FROM ${qualifiedMarker} WHERE id = $1`, [marker.id])).rowCount === 1;
    const waitedMs = Date.now() - started;
    if (arrived) return { reached: true, remainingBytes: 0, waitedMs };
    // A signal ends the wait as a timeout would: the caller's abort path takes over.
    if (waitedMs >= timeoutMs || signal?.aborted)
      return { reached: false, remainingBytes: confirmed ? Math.max(0, lsnDiff(marker.lsn, confirmed)) : Number.NaN, waitedMs };
    await new Promise((r) => setTimeout(r, Math.min(pollMs, Math.max(1, timeoutMs - waitedMs))));
  }
}
