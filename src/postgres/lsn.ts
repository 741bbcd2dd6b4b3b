/**
 * WAL positions (LSNs) and "has the target applied past this point?" (docs/design.md rule 3).
 *
 * Lag is always a comparison of two LSNs: a position on the source's WAL against the position the
 * subscriber has reported as applied. `replay_lag` and friends are time estimates the walsender
 * interpolates and they stay stale on an idle slot, so nothing here reads them.
 */
import type pg from 'pg';
import { throwIfCancelled } from '../cancel.js';
import { checkFailed } from '../errors.js';
import { connect, withClient } from './connect.js';
import { describe, type ConnInfo } from './conninfo.js';

/** A WAL position as a 64-bit integer. */
export type Lsn = bigint;

const LSN_TEXT = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/;

/** Parse `16/B374D848` (PostgreSQL's text form). */
export function parseLsn(text: string): Lsn {
  const m = LSN_TEXT.exec(text.trim());
  if (!m) throw new Error(`not an LSN: ${JSON.stringify(text)}`);
  return (BigInt(`0x${m[1]}`) << 32n) | BigInt(`0x${m[2]}`);
}

/** The text form PostgreSQL prints (upper-case hex, no leading zeros). */
export function formatLsn(lsn: Lsn): string {
  return `${(lsn >> 32n).toString(16).toUpperCase()}/${(lsn & 0xffffffffn).toString(16).toUpperCase()}`;
}

/** -1, 0 or 1, like a comparator. */
export function compareLsn(a: string | Lsn, b: string | Lsn): number {
  const x = typeof a === 'string' ? parseLsn(a) : a;
  const y = typeof b === 'string' ? parseLsn(b) : b;
  return x < y ? -1 : x > y ? 1 : 0;
}

/** Bytes from `from` to `to` (negative when `to` is behind). */
export function lsnDiff(to: string | Lsn, from: string | Lsn): number {
  const x = typeof to === 'string' ? parseLsn(to) : to;
  const y = typeof from === 'string' ? parseLsn(from) : from;
  return Number(x - y);
}

export function maxLsn(...values: (string | null | undefined)[]): string | null {
  let best: string | null = null;
  for (const v of values) if (v && (best === null || compareLsn(v, best) > 0)) best = v;
  return best;
}

/**
 * The source's current WAL position: everything committed before this call lies at or before it.
 * This is the *insert* position, not pg_current_wal_lsn() (the write position): with
 * synchronous_commit=off a transaction can be committed and visible while its commit record is not
 * written yet, and waiting for the write position could then declare it applied too early.
 */
export async function currentWalLsn(client: pg.Client): Promise<string> {
  const res = await client.query<{ lsn: string }>('SELECT pg_current_wal_insert_lsn()::text AS lsn');
  return res.rows[0].lsn;
}

export interface AppliedPosition {
  /** Highest source LSN the subscriber has applied, or null when the slot has never confirmed anything. */
  appliedLsn: string | null;
  /** The slot's confirmed_flush_lsn: applied and flushed on the target; what a restart resumes from. */
  confirmedFlushLsn: string | null;
  /** Whether a walsender is streaming the slot right now. */
  active: boolean;
}

/**
 * Where the subscriber of `slotName` stands, read on the source.
 *
 * A PostgreSQL subscriber reports three positions. `write_lsn` is the last message it has received;
 * its apply loop applies (commits locally) each message before it reads the next one, and reports
 * only after the messages it has read are dispatched, so every transaction that ends before that
 * position is applied and visible on the target. `replay_lsn` is the end of the last transaction it
 * committed. The slot's confirmed_flush_lsn trails both by the target's WAL flush: it is what a
 * restart resumes from, and the fallback when no walsender runs.
 * One limit, from the subscriber: while its last applied commit is not yet flushed on the target
 * (subscriptions commit with synchronous_commit = off), it reports nothing new, so after a burst
 * an idle subscriber confirms a heartbeat only after the target's WAL writer has run and its apply
 * worker woke up (wal_writer_delay, 200 ms by default; measured in issue 15). Under steady traffic
 * every applied commit is reported. Good enough for lag; the cutover's wait inside the write freeze
 * does not use it (replication/marker.ts).
 */
export async function readAppliedPosition(source: pg.Client, slotName: string): Promise<AppliedPosition | undefined> {
  const res = await source.query<{ confirmed: string | null; replay: string | null; write: string | null; active: boolean }>(
    `SELECT s.confirmed_flush_lsn::text AS confirmed, r.replay_lsn::text AS replay, r.write_lsn::text AS write, s.active
       FROM pg_replication_slots s
       LEFT JOIN pg_stat_replication r ON r.pid = s.active_pid
      WHERE s.slot_name = $1`,
    [slotName],
  );
  const row = res.rows[0];
  if (!row) return undefined;
  return { appliedLsn: maxLsn(row.confirmed, row.replay, row.write), confirmedFlushLsn: row.confirmed, active: row.active };
}

/** Prefix of pgshift's heartbeat messages in the source WAL. */
export const HEARTBEAT_PREFIX = 'pgshift.heartbeat';

/**
 * Write a heartbeat into the source WAL and return the position just after it.
 *
 * A logical message (pg_logical_emit_message) rather than a heartbeat table: a table would be
 * published by `FOR ALL TABLES`, so it would have to exist on the target too, show up in verify's
 * schema diff and travel back through the reverse replication at cutover. The message is decoded by
 * the slot (it is written in the slot's database) and dropped by pgoutput, since subscribers do not
 * ask for messages — yet the walsender moves past it and the subscriber confirms it, so an idle slot
 * advances and its retained WAL is released. The message is transactional and committed with
 * synchronous_commit=on so it is flushed (and so streamed) at once, whatever the server's setting.
 */
export async function emitHeartbeat(source: pg.Client): Promise<{ lsn: string; messageLsn: string; at: number }> {
  await source.query('BEGIN');
  try {
    await source.query('SET LOCAL synchronous_commit = on');
    const res = await source.query<{ lsn: string }>('SELECT pg_logical_emit_message(true, $1, $2)::text AS lsn', [
      HEARTBEAT_PREFIX,
      new Date().toISOString(),
    ]);
    // Every commit acknowledged before this moment lies before the message in the WAL.
    const at = Date.now();
    await source.query('COMMIT');
    // The commit record follows the message: the insert position after COMMIT covers both.
    return { lsn: await currentWalLsn(source), messageLsn: res.rows[0].lsn, at };
  } catch (err) {
    await source.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

export interface WaitForAppliedOptions {
  source: ConnInfo;
  /** The slot the subscriber streams from (full-load's slot)... */
  slotName?: string;
  /** ...or the subscription on the target, whose slot is looked up there. */
  subscription?: { target: ConnInfo; name: string };
  /** Wait until the subscriber has applied at least this source LSN. */
  lsn: string;
  timeoutMs: number;
  /** How often to look (default 10 ms: a caught-up subscriber confirms within a few ms). */
  pollMs?: number;
  /** Heartbeat period while waiting, so an idle subscriber gets something past `lsn` to confirm (default 500 ms). */
  nudgeMs?: number;
  /** Reuse an open source session instead of opening one. */
  client?: pg.Client;
  /** Stop waiting (throwing Cancelled) when this fires. */
  signal?: AbortSignal;
}

export interface WaitForAppliedResult {
  reached: boolean;
  appliedLsn: string | null;
  /** Bytes still to apply when the wait ended (0 when reached). */
  remainingBytes: number;
  waitedMs: number;
}

/**
 * Return once the target has applied (confirmed) the source up to `lsn`, or when `timeoutMs` runs out.
 * Compares LSNs only. While waiting it writes a heartbeat every `nudgeMs`: after the last real change
 * the walsender may have nothing to send, and an LSN that sits exactly at a page boundary is only
 * passed once another record is written.
 */
export async function waitForApplied(opts: WaitForAppliedOptions): Promise<WaitForAppliedResult> {
  const started = Date.now();
  const slotName = opts.slotName ?? (await resolveSlot(opts));
  const client = opts.client ?? (await connect(opts.source, { applicationName: 'pgshift-lag' }));
  const pollMs = opts.pollMs ?? 10;
  const nudgeMs = opts.nudgeMs ?? 500;
  try {
    let lastNudge = 0;
    for (;;) {
      throwIfCancelled(opts.signal);
      const pos = await readAppliedPosition(client, slotName);
      if (!pos)
        throw checkFailed(
          `replication slot ${slotName} does not exist on the ${describe(opts.source)}`,
          'run full-load and cdc start first, or check --name',
        );
      if (pos.appliedLsn && compareLsn(pos.appliedLsn, opts.lsn) >= 0) {
        return { reached: true, appliedLsn: pos.appliedLsn, remainingBytes: 0, waitedMs: Date.now() - started };
      }
      const now = Date.now();
      if (now - started >= opts.timeoutMs) {
        const remaining = pos.appliedLsn ? Math.max(0, lsnDiff(opts.lsn, pos.appliedLsn)) : Number.NaN;
        return { reached: false, appliedLsn: pos.appliedLsn, remainingBytes: remaining, waitedMs: now - started };
      }
      if (now - lastNudge >= nudgeMs) {
        await emitHeartbeat(client);
        lastNudge = Date.now();
      }
      await sleep(Math.min(pollMs, Math.max(1, opts.timeoutMs - (Date.now() - started))));
    }
  } finally {
    if (!opts.client) await client.end().catch(() => undefined);
  }
}

/**
 * Flush the WAL of the server `client` is connected to, now: one empty transaction that takes an
 * xid and commits with synchronous_commit = on (XLogFlush up to its commit record, which covers
 * every record inserted before it).
 *
 * Why, on a subscriber: its apply worker commits with synchronous_commit = off, so a change it has
 * applied is visible at once but durable only once the WAL writer has run (wal_writer_delay). Cutover
 * flushes it once the marker has arrived (replication/native.ts), before the slot that could send
 * those changes again is dropped.
 */
export async function flushWal(client: pg.Client): Promise<void> {
  // One round trip; no bind parameters (simple protocol), so the four statements run as one batch.
  await client.query('BEGIN; SET LOCAL synchronous_commit = on; SELECT pg_catalog.txid_current(); COMMIT');
}

async function resolveSlot(opts: WaitForAppliedOptions): Promise<string> {
  if (!opts.subscription) throw new Error('waitForApplied needs slotName or subscription');
  const { target, name } = opts.subscription;
  const slot = await withClient(target, (c) => slotOfSubscription(c, name));
  if (!slot)
    throw checkFailed(`subscription ${name} does not exist on the ${describe(target)} or has no slot`, 'run pgshift cdc start first');
  return slot;
}

/**
 * The callback verify takes to re-check a mismatch under live CDC: `waitForCatchUp(sourceLsn)`
 * resolves true once the target has applied past `sourceLsn`, false after `timeoutMs`.
 */
export function catchUpWaiter(source: ConnInfo, slotName: string, timeoutMs = 30_000): (sourceLsn: string) => Promise<boolean> {
  return async (sourceLsn: string) => (await waitForApplied({ source, slotName, lsn: sourceLsn, timeoutMs })).reached;
}

/**
 * Resolve the slot a subscription on the target streams from, for callers that know only the
 * subscription (e.g. a migration created with another tool).
 */
export async function slotOfSubscription(target: pg.Client, subscription: string): Promise<string | undefined> {
  const res = await target.query<{ slot: string | null }>(
    `SELECT subslotname AS slot FROM pg_subscription
      WHERE subname = $1 AND subdbid = (SELECT oid FROM pg_database WHERE datname = current_database())`,
    [subscription],
  );
  return res.rows[0]?.slot ?? undefined;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
