/**
 * Step 5 of verify: under CDC, a table that differs at the first check may only be behind.
 * Wait until the target has applied past the source's position, then compare again what
 * differed, up to `rechecks` times.
 */
import type pg from 'pg';
import { currentWalLsn } from '../../postgres/lsn.js';
import type { Logger } from '../../log/logger.js';
import { compareChunk, lastSourceKey, narrowChunks } from './chunks.js';
import { compareMultiset } from './multiset.js';
import type { KeyTuple } from './row-sql.js';
import { runOnPairs, type SessionPair } from './session.js';
import { countRows, onTable, replaceChecks, withChunks, withCounts, withMultiset, withNote, type TableCheck } from './table-check.js';

export interface RecheckOptions {
  rechecks: number;
  /** Resolves true once the target has applied past `sourceLsn`; absent without CDC (no recheck). */
  waitForCatchUp?: (sourceLsn: string) => Promise<boolean>;
  log: Logger;
}

export async function recheckUntilConverged(
  pairs: SessionPair[],
  checks: readonly TableCheck[],
  opts: RecheckOptions,
): Promise<TableCheck[]> {
  const { waitForCatchUp, log } = opts;
  let current = [...checks];
  if (!waitForCatchUp) return current;
  for (let round = 1; round <= opts.rechecks; round++) {
    const differing = current.filter((c) => !c.equal && c.kind !== 'missing');
    if (differing.length === 0) return current;
    const pending = await closeOpenEnds(pairs[0], differing);
    // Everything read from the source so far was committed at or before this LSN. The insert
    // position, not pg_current_wal_lsn() (the write position): on a source with asynchronous
    // commit a committed row can sit past the write position for a while, and a recheck that
    // waited only for that would miss it every time (seen in the rehearsal under load).
    const lsn = await currentWalLsn(pairs[0].source);
    log.info(`verify: ${pending.length} table(s) differ; waiting for the target to apply past ${lsn} (recheck ${round}/${opts.rechecks})`);
    if (!(await waitForCatchUp(lsn))) {
      log.warn(`verify: the target did not catch up to ${lsn}; reporting the differences as they are`);
      const note = `the target did not apply past the source's ${lsn} in time; not rechecked after that`;
      return replaceChecks(
        current,
        pending.map((c) => withNote(c, note)),
      );
    }
    current = replaceChecks(current, await recheck(pairs, pending));
  }
  return current;
}

/**
 * Under live inserts the open-ended last chunk never matches: the source always has a few rows
 * the target has not applied yet. A recheck therefore compares that chunk only up to the
 * source's highest key now (the bound); source rows above it were written after the first
 * check and are left to the next verify. Target rows above the bound are still looked at:
 * one whose key the source does not have is a row on the target only, whatever its key, and
 * is reported. (A quiet source — e.g. inside the cutover's freeze — is compared open-ended.)
 */
async function closeOpenEnds(pair: SessionPair, differing: TableCheck[]): Promise<TableCheck[]> {
  let bounded = false;
  const out: TableCheck[] = [];
  for (const check of differing) {
    const open = check.kind === 'chunks' ? check.chunks.findIndex((c) => !c.equal && c.range.upper === undefined) : -1;
    if (open < 0) {
      out.push(check);
      continue;
    }
    const chunk = check.chunks[open];
    const last = await lastSourceKey(pair.source, check.table);
    if (!last || (chunk.range.lower && last.join() === chunk.range.lower.join())) {
      out.push(check);
      continue;
    }
    const chunks = check.chunks.map((c, i) => (i === open ? { ...c, range: { lower: c.range.lower, upper: last } } : c));
    const note = `rechecked up to the source's key (${last.join(', ')}) at the recheck; source rows written after it are left to the next verify, target rows above it were checked for keys the source lacks`;
    out.push(withNote({ ...check, chunks, bound: last }, note));
    bounded = true;
  }
  if (bounded) await waitForWritersInFlight(pair.source);
  return out;
}

/**
 * A key below the bound can still be on its way: a sequence hands out keys at INSERT time, and
 * commits land in any order, so a slow transaction holding key 640 may commit after 647 was read.
 * Committing after the LSN the recheck waits for, its row is on the source and not yet on the
 * target: a false difference. Committing after the recheck, its row is compared by no one,
 * although the report says every row up to the bound was. So wait until the writers in flight
 * when the bounds were read have ended; bounded, because a writer left open for an hour must not
 * hold verify hostage.
 */
async function waitForWritersInFlight(source: pg.Client, timeoutMs = 5_000): Promise<void> {
  const { rows } = await source.query<{ xids: string[] | null }>(
    `SELECT array_agg(x::text) AS xids FROM pg_catalog.pg_snapshot_xip(pg_catalog.pg_current_snapshot()) AS x`,
  );
  const xids = rows[0]?.xids ?? [];
  const deadline = Date.now() + timeoutMs;
  while (xids.length > 0 && Date.now() < deadline) {
    const left = await source.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM unnest($1::text[]) AS x WHERE pg_catalog.pg_xact_status(x::xid8) = 'in progress'`,
      [xids],
    );
    if (left.rows[0]!.n === 0) return;
    await new Promise((r) => setTimeout(r, 20));
  }
}

type RecheckUnit = { check: TableCheck; chunk?: number; aboveBound?: KeyTuple };

/**
 * Recheck only what differed: the differing chunks (and what the target holds above the
 * bound), or the whole table for counts and multisets.
 */
async function recheck(pairs: SessionPair[], pending: TableCheck[]): Promise<TableCheck[]> {
  const units: RecheckUnit[] = pending.flatMap((check): RecheckUnit[] => {
    if (check.kind !== 'chunks') return [{ check }];
    const chunks = check.chunks.flatMap((c, chunk) => (c.equal ? [] : [{ check, chunk }]));
    return check.bound ? [...chunks, { check, aboveBound: check.bound }] : chunks;
  });
  const results = await runOnPairs(pairs, units, (pair, unit) =>
    onTable(unit.check.table, async () => {
      const { check } = unit;
      if (check.kind === 'count') return { counts: await countRows(pair, check) };
      if (check.kind === 'multiset') return { multiset: await compareMultiset(pair, check.table) };
      if (unit.aboveBound) return { extra: (await narrowChunks(pair, check.table, [{ lower: unit.aboveBound }])).extraOnTarget };
      return { chunk: await compareChunk(pair, check.table, check.chunks[unit.chunk!].range) };
    }),
  );
  return pending.map((check) => {
    const mine = results.filter((_, i) => units[i].check === check);
    const next = { ...check, rechecks: check.rechecks + 1 };
    if (check.kind === 'count') return withCounts(next, mine[0].counts!);
    if (check.kind === 'multiset') return withMultiset(next, mine[0].multiset!);
    const chunks = [...check.chunks];
    let extra: KeyTuple[] = [];
    mine.forEach((r, i) => {
      const unit = units.filter((u) => u.check === check)[i];
      if (r.extra) extra = r.extra;
      else chunks[unit.chunk!] = r.chunk!;
    });
    return withChunks(next, chunks, extra);
  });
}
