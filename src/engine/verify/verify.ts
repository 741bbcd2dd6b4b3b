/**
 * pgshift verify: is the target the same database as the source?
 *
 * Steps, in order:
 *   1. open pinned session pairs (identical text-form settings on both sides)
 *   2. list the tables to compare (leaf partitions, the source's column list)
 *   3. compare schemas from the catalogs (DDL is not replicated: drift shows here)
 *   4. first check of every table: counts (fast) or chunk checksums (full), both sides at once
 *   5. recheck what differed after the target applied past the source's LSN (only under CDC)
 *   6. narrow what still differs to keys: missing on target, extra on target, changed
 *   7. compare sequences and materialized views (behind/stale is expected under CDC)
 *   8. build the report: per-table verdicts and `ok`
 */
import type pg from 'pg';
import { PgshiftError } from '../../errors.js';
import type { ConnInfo } from '../../postgres/conninfo.js';
import { currentWalLsn } from '../../postgres/lsn.js';
import { redact } from '../../postgres/redact.js';
import { quoteRelation, relationKey } from '../../postgres/sql.js';
import type { Logger } from '../../report/logger.js';
import { compareChunk, lastSourceKey, narrowChunks, planChunks, splitRange, type ChunkComparison } from './chunks.js';
import { compareMultiset, narrowMultiset, type MultisetComparison } from './multiset.js';
import type { KeyRange, KeyTuple } from './row-sql.js';
import {
  diffSchemas,
  schemaChangesSince,
  snapshotSchema,
  type SchemaChange,
  type SchemaDifference,
  type SchemaSnapshot,
} from './schema-snapshot.js';
import { compareMaterializedViews, compareSequences } from './sequences.js';
import { closeSessionPairs, openSessionPairs, runOnPairs, type SessionPair, type SnapshotIds } from './session.js';
import { listVerifyTables, type VerifyTable } from './tables.js';
import type { RowDifferences, RowKey, TableVerdict, TableVerdictKind, VerifyMode, VerifyReport, VerifySummary } from './report.js';

export interface VerifyOptions {
  source: ConnInfo;
  target: ConnInfo;
  mode: VerifyMode;
  /** `schema.name` or `name` patterns with `*`; default every user table. */
  tables?: string[];
  /** Sequences behind and stale materialized views count as differences. */
  strict?: boolean;
  /** Parallel workers, each with one session per side. Default 2. */
  jobs?: number;
  /** Keys listed per table and category. Default 20. */
  maxKeysPerTable?: number;
  /** Rechecks of a differing table after catch-up (only with waitForCatchUp). Default 3. */
  rechecks?: number;
  /** Rows per checksum chunk (full mode). Default 100,000. */
  chunkRows?: number;
  /** Differing chunks narrowed to keys per table; beyond this the report says it is capped. Default 10. */
  maxNarrowedChunks?: number;
  /**
   * Supplied by the CDC layer while a subscription runs: resolves true once the target has
   * applied past `sourceLsn`, false if it did not within its own time limit.
   */
  waitForCatchUp?: (sourceLsn: string) => Promise<boolean>;
  /**
   * auto: hash rows with hash_record_extended when both servers are 14+, else by their text form.
   * text: always by the text form (what a PostgreSQL 13 side forces; slower, same verdicts).
   */
  rowDigest?: 'auto' | 'text';
  /** A snapshot (e.g. taken at full-load) to tell how the source's schema changed since. */
  expectSchema?: SchemaSnapshot;
  /**
   * Compare table rows only: no schema, sequence or materialized-view comparison. The cutover's
   * final check inside the write freeze uses it; the schema was compared just before the freeze.
   */
  rowsOnly?: boolean;
  /**
   * Read both sides inside these exported snapshots (the cutover's after-resume check): the
   * comparison sees the data as it was at the switch point, whatever is written afterwards.
   */
  snapshots?: SnapshotIds;
  log: Logger;
}

interface Settings {
  jobs: number;
  maxKeys: number;
  rechecks: number;
  chunkRows: number;
  maxNarrowedChunks: number;
}

/** Where one table stands after the latest check. */
interface TableCheck {
  table: VerifyTable;
  kind: 'missing' | 'count' | 'chunks' | 'multiset';
  sourceRows: number;
  targetRows: number | null;
  /** chunks: the latest digest of every chunk. */
  chunks: ChunkComparison[];
  firstMismatchedChunks: number;
  multiset?: MultisetComparison;
  equal: boolean;
  equalAtFirstCheck: boolean;
  rechecks: number;
  differences?: RowDifferences;
}

export async function runVerify(opts: VerifyOptions): Promise<VerifyReport> {
  const startedAt = new Date();
  const settings = resolveSettings(opts);
  const { log } = opts;
  log.info(`verify (${opts.mode}): opening ${settings.jobs} session pair(s)`);
  const pairs = await openSessionPairs(opts.source, opts.target, settings.jobs, opts.snapshots);
  try {
    const tables = await listTables(pairs[0], opts);
    const schema = opts.rowsOnly ? { drift: [] } : await compareSchemas(pairs[0], opts);
    const checks = await firstCheck(pairs, tables, opts.mode, settings, log);
    await recheckUntilConverged(pairs, checks, settings, opts);
    await narrowDifferences(pairs, checks, settings, log);
    const sequences = opts.rowsOnly ? [] : await compareSequences(pairs[0].source, pairs[0].target);
    const materializedViews = opts.rowsOnly ? [] : await compareMaterializedViews(pairs[0].source, pairs[0].target);
    return buildReport({
      opts,
      startedAt,
      checks,
      schema,
      sequences,
      materializedViews,
      hadCatchUp: opts.waitForCatchUp !== undefined,
      settings,
    });
  } finally {
    await closeSessionPairs(pairs);
  }
}

function resolveSettings(opts: VerifyOptions): Settings {
  const positive = (value: number | undefined, fallback: number, name: string): number => {
    if (value === undefined) return fallback;
    if (!Number.isInteger(value) || value < 0 || (value === 0 && name !== 'rechecks')) {
      throw new PgshiftError('usage', `verify: ${name} must be a positive whole number, got ${value}`, `pass a value such as ${fallback}`);
    }
    return value;
  };
  return {
    jobs: positive(opts.jobs, 2, 'jobs'),
    maxKeys: positive(opts.maxKeysPerTable, 20, 'maxKeysPerTable'),
    rechecks: positive(opts.rechecks, 3, 'rechecks'),
    chunkRows: positive(opts.chunkRows, 100_000, 'chunkRows'),
    maxNarrowedChunks: positive(opts.maxNarrowedChunks, 10, 'maxNarrowedChunks'),
  };
}

// Step 2
async function listTables(pair: SessionPair, opts: VerifyOptions): Promise<VerifyTable[]> {
  const tables = await listVerifyTables(pair.source, pair.target, opts.tables, opts.rowDigest ?? 'auto');
  if (opts.tables?.length && tables.length === 0) {
    throw new PgshiftError(
      'usage',
      `verify: no table on the source matches ${opts.tables.join(', ')}`,
      'use schema.name patterns, * as a wildcard',
    );
  }
  opts.log.info(`verify: ${tables.length} table(s) to compare`);
  return tables;
}

// Step 3
async function compareSchemas(
  pair: SessionPair,
  opts: VerifyOptions,
): Promise<{ drift: SchemaDifference[]; sinceSnapshot?: SchemaChange[] }> {
  const [source, target] = await Promise.all([snapshotSchema(pair.source), snapshotSchema(pair.target)]);
  const drift = diffSchemas(source, target);
  if (drift.length) opts.log.warn(`verify: ${drift.length} schema difference(s) between source and target`);
  return { drift, sinceSnapshot: opts.expectSchema ? schemaChangesSince(opts.expectSchema, source) : undefined };
}

/** Table-level failures name the table; the driver's message is redacted. */
async function onTable<T>(table: VerifyTable, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof PgshiftError) throw err;
    const message = redact((err as Error)?.message ?? String(err));
    throw new PgshiftError(
      'internal',
      `verify could not compare ${relationKey(table)}: ${message}`,
      'check that the verify user can SELECT the table on both sides, then rerun',
    );
  }
}

// Step 4
async function firstCheck(
  pairs: SessionPair[],
  tables: VerifyTable[],
  mode: VerifyMode,
  settings: Settings,
  log: Logger,
): Promise<TableCheck[]> {
  const checks: TableCheck[] = tables.map((table) => ({
    table,
    kind: !table.existsOnTarget ? 'missing' : mode === 'fast' ? 'count' : table.primaryKey.length ? 'chunks' : 'multiset',
    sourceRows: 0,
    targetRows: null,
    chunks: [],
    firstMismatchedChunks: 0,
    equal: false,
    equalAtFirstCheck: false,
    rechecks: 0,
  }));
  // Missing tables still get a source count, so the report says how many rows are absent.
  const counted = checks.filter((c) => c.kind === 'missing' || c.kind === 'count');
  await runOnPairs(pairs, counted, (pair, check) => onTable(check.table, () => countBoth(pair, check)));

  const chunked = checks.filter((c) => c.kind === 'chunks');
  const plans = await runOnPairs(pairs, chunked, (pair, check) =>
    onTable(check.table, () => planChunks(pair.source, check.table, settings.chunkRows)),
  );
  const units: { check: TableCheck; range?: KeyRange }[] = [
    ...chunked.flatMap((check, i) => plans[i].map((range) => ({ check, range }))),
    ...checks.filter((c) => c.kind === 'multiset').map((check) => ({ check })),
  ];
  log.info(`verify: hashing ${units.length} chunk(s) on both sides with ${pairs.length} worker(s)`);
  let done = 0;
  const results = await runOnPairs(pairs, units, async (pair, unit) => {
    const result = await onTable(unit.check.table, async () =>
      unit.range ? compareChunk(pair, unit.check.table, unit.range) : compareMultiset(pair, unit.check.table),
    );
    if (++done % 50 === 0) log.progress(`verify: ${done}/${units.length} chunks`);
    return result;
  });
  results.forEach((result, i) => {
    const { check } = units[i];
    if ('range' in result) check.chunks.push(result);
    else check.multiset = result;
  });
  for (const check of checks) {
    if (check.kind === 'chunks') summarizeChunks(check);
    if (check.kind === 'multiset') summarizeMultiset(check);
    check.equalAtFirstCheck = check.equal;
    check.firstMismatchedChunks = check.chunks.filter((c) => !c.equal).length;
    log.progress(`verify: ${relationKey(check.table)} ${check.equal ? 'equal' : 'differs'} (${check.sourceRows} rows on the source)`);
  }
  return checks;
}

async function countBoth(pair: SessionPair, check: TableCheck): Promise<void> {
  const sql = `SELECT pg_catalog.count(*)::text AS n FROM ${quoteRelation(check.table)}`;
  if (check.kind === 'missing') {
    check.sourceRows = Number((await pair.source.query<{ n: string }>(sql)).rows[0].n);
    return;
  }
  const [s, t] = await Promise.all([pair.source.query<{ n: string }>(sql), pair.target.query<{ n: string }>(sql)]);
  check.sourceRows = Number(s.rows[0].n);
  check.targetRows = Number(t.rows[0].n);
  check.equal = check.sourceRows === check.targetRows;
}

function summarizeChunks(check: TableCheck): void {
  check.sourceRows = check.chunks.reduce((n, c) => n + c.source.rows, 0);
  check.targetRows = check.chunks.reduce((n, c) => n + c.target.rows, 0);
  check.equal = check.chunks.every((c) => c.equal);
}

function summarizeMultiset(check: TableCheck): void {
  const m = check.multiset!;
  check.sourceRows = m.source.rows;
  check.targetRows = m.target.rows;
  check.equal = m.differingBuckets.length === 0;
}

// Step 5
async function recheckUntilConverged(pairs: SessionPair[], checks: TableCheck[], settings: Settings, opts: VerifyOptions): Promise<void> {
  const { waitForCatchUp, log } = opts;
  if (!waitForCatchUp) return;
  for (let round = 1; round <= settings.rechecks; round++) {
    const pending = checks.filter((c) => !c.equal && c.kind !== 'missing');
    if (pending.length === 0) return;
    await closeOpenEnds(pairs[0], pending);
    // Everything read from the source so far was committed at or before this LSN. The insert
    // position, not pg_current_wal_lsn() (the write position): on a source with asynchronous
    // commit a committed row can sit past the write position for a while, and a recheck that
    // waited only for that would miss it every time (seen in the rehearsal under load).
    const lsn = await currentWalLsn(pairs[0].source);
    log.info(
      `verify: ${pending.length} table(s) differ; waiting for the target to apply past ${lsn} (recheck ${round}/${settings.rechecks})`,
    );
    if (!(await waitForCatchUp(lsn))) {
      log.warn(`verify: the target did not catch up to ${lsn}; reporting the differences as they are`);
      for (const check of pending)
        check.table.notes.push(`the target did not apply past the source's ${lsn} in time; not rechecked after that`);
      return;
    }
    await recheck(pairs, pending);
  }
}

/**
 * Under live inserts the open-ended last chunk never matches: the source always has a few rows
 * the target has not applied yet. A recheck therefore compares that chunk only up to the
 * source's highest key now; rows above it were written after the first check, and the report
 * says so. (A quiet source — e.g. inside the cutover's freeze — is compared open-ended.)
 */
async function closeOpenEnds(pair: SessionPair, pending: TableCheck[]): Promise<void> {
  let bounded = false;
  for (const check of pending.filter((c) => c.kind === 'chunks')) {
    for (const chunk of check.chunks.filter((c) => !c.equal && c.range.upper === undefined)) {
      const last = await lastSourceKey(pair.source, check.table);
      if (!last || (chunk.range.lower && last.join() === chunk.range.lower.join())) continue;
      chunk.range = { lower: chunk.range.lower, upper: last };
      check.table.notes.push(
        `rechecked up to the source's key (${last.join(', ')}) at the recheck; rows written after it are left to the next verify`,
      );
      bounded = true;
    }
  }
  if (bounded) await waitForWritersInFlight(pair.source);
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

/** Recheck only what differed: the differing chunks, or the whole table for counts and multisets. */
async function recheck(pairs: SessionPair[], pending: TableCheck[]): Promise<void> {
  const units: { check: TableCheck; index?: number }[] = pending.flatMap((check) =>
    check.kind === 'chunks' ? check.chunks.flatMap((c, index) => (c.equal ? [] : [{ check, index }])) : [{ check }],
  );
  await runOnPairs(pairs, units, (pair, { check, index }) =>
    onTable(check.table, async () => {
      if (check.kind === 'count') return countBoth(pair, check);
      if (check.kind === 'multiset') {
        check.multiset = await compareMultiset(pair, check.table);
        return;
      }
      check.chunks[index!] = await compareChunk(pair, check.table, check.chunks[index!].range);
    }),
  );
  for (const check of pending) {
    check.rechecks += 1;
    if (check.kind === 'chunks') summarizeChunks(check);
    if (check.kind === 'multiset') summarizeMultiset(check);
  }
}

// Step 6
async function narrowDifferences(pairs: SessionPair[], checks: TableCheck[], settings: Settings, log: Logger): Promise<void> {
  const differing = checks.filter((c) => !c.equal && (c.kind === 'chunks' || c.kind === 'multiset'));
  if (differing.length) log.info(`verify: narrowing ${differing.length} differing table(s) to rows`);
  await runOnPairs(pairs, differing, (pair, check) =>
    onTable(check.table, async () => {
      check.differences = check.kind === 'chunks' ? await narrowKeyed(pair, check, settings) : await narrowUnkeyed(pair, check, settings);
    }),
  );
}

async function narrowKeyed(pair: SessionPair, check: TableCheck, settings: Settings): Promise<RowDifferences> {
  const differing = await refineLargeChunks(
    pair,
    check,
    check.chunks.filter((c) => !c.equal),
    settings,
  );
  const narrowed = differing.slice(0, settings.maxNarrowedChunks);
  const found = await narrowChunks(
    pair,
    check.table,
    narrowed.map((c) => c.range),
  );
  const asKey = (tuple: KeyTuple): RowKey => Object.fromEntries(check.table.primaryKey.map((c, i) => [c.name, tuple[i]]));
  const cap = (tuples: KeyTuple[]) => tuples.slice(0, settings.maxKeys).map(asKey);
  return {
    missingOnTarget: found.missingOnTarget.length,
    extraOnTarget: found.extraOnTarget.length,
    changed: found.changed.length,
    keys: { missingOnTarget: cap(found.missingOnTarget), extraOnTarget: cap(found.extraOnTarget), changed: cap(found.changed) },
    capped:
      narrowed.length < differing.length ||
      [found.missingOnTarget, found.extraOnTarget, found.changed].some((list) => list.length > settings.maxKeys),
  };
}

/** A differing chunk far above chunkRows is split and re-hashed first; only its differing parts are narrowed. */
async function refineLargeChunks(
  pair: SessionPair,
  check: TableCheck,
  differing: ChunkComparison[],
  settings: Settings,
): Promise<ChunkComparison[]> {
  const out: ChunkComparison[] = [];
  for (const chunk of differing) {
    const rows = Math.max(chunk.source.rows, chunk.target.rows);
    if (rows <= 2 * settings.chunkRows) {
      out.push(chunk);
      continue;
    }
    const parts = await splitRange(pair.source, check.table, chunk.range, settings.chunkRows);
    check.table.notes.push(`a differing chunk of ${rows} rows was split into ${parts.length} before narrowing`);
    for (const range of parts) {
      const part = await compareChunk(pair, check.table, range);
      if (!part.equal) out.push(part);
    }
  }
  return out;
}

async function narrowUnkeyed(pair: SessionPair, check: TableCheck, settings: Settings): Promise<RowDifferences> {
  const found = await narrowMultiset(pair, check.table, check.multiset!.differingBuckets);
  const missing = found.filter((d) => d.delta > 0);
  const extra = found.filter((d) => d.delta < 0);
  const total = (list: typeof found) => list.reduce((n, d) => n + Math.abs(d.delta), 0);
  const cap = (list: typeof found) => list.slice(0, settings.maxKeys).map((d) => ({ row: d.row, copies: String(Math.abs(d.delta)) }));
  return {
    // Without a key a changed row is one copy missing and one extra.
    missingOnTarget: total(missing),
    extraOnTarget: total(extra),
    changed: 0,
    keys: { missingOnTarget: cap(missing), extraOnTarget: cap(extra), changed: [] },
    capped: missing.length > settings.maxKeys || extra.length > settings.maxKeys,
  };
}

// Step 8
function verdictOf(check: TableCheck, hadCatchUp: boolean): TableVerdictKind {
  if (check.kind === 'missing') return 'missing-on-target';
  if (check.equalAtFirstCheck) return 'equal';
  if (check.equal) return 'converged-after-recheck';
  return hadCatchUp ? 'did-not-converge' : 'differs';
}

function buildReport(input: {
  opts: VerifyOptions;
  startedAt: Date;
  checks: TableCheck[];
  schema: { drift: SchemaDifference[]; sinceSnapshot?: SchemaChange[] };
  sequences: VerifyReport['sequences'];
  materializedViews: VerifyReport['materializedViews'];
  hadCatchUp: boolean;
  settings: Settings;
}): VerifyReport {
  const { opts, checks, schema, sequences, materializedViews, hadCatchUp } = input;
  const strict = opts.strict ?? false;
  const tables: TableVerdict[] = checks.map((check) => ({
    table: { schema: check.table.schema, name: check.table.name },
    verdict: verdictOf(check, hadCatchUp),
    primaryKey: check.kind === 'multiset' ? null : check.table.primaryKey.length ? check.table.primaryKey.map((c) => c.name) : null,
    sourceRows: check.sourceRows,
    targetRows: check.targetRows,
    ...(check.kind === 'chunks' ? { chunks: check.chunks.length, mismatchedChunks: check.firstMismatchedChunks } : {}),
    ...(check.differences ? { differences: check.differences } : {}),
    rechecks: check.rechecks,
    notes: check.table.notes,
  }));
  const count = (v: TableVerdictKind) => tables.filter((t) => t.verdict === v).length;
  const summary: VerifySummary = {
    tables: tables.length,
    equal: count('equal'),
    differs: count('differs'),
    convergedAfterRecheck: count('converged-after-recheck'),
    didNotConverge: count('did-not-converge'),
    missingOnTarget: count('missing-on-target'),
    sequencesBehind: sequences.filter((s) => s.status === 'behind').length,
    staleMaterializedViews: materializedViews.filter((m) => m.status === 'stale' || m.status === 'not-populated').length,
    schemaDifferences: schema.drift.length,
  };
  const dataOk = summary.equal + summary.convergedAfterRecheck === summary.tables;
  // Sequences behind and stale materialized views are normal while CDC runs; cutover fixes sequences.
  const catchUpObjectsOk = !strict || (summary.sequencesBehind === 0 && summary.staleMaterializedViews === 0);
  const ok = dataOk && schema.drift.length === 0 && catchUpObjectsOk;
  if (!catchUpObjectsOk || (!strict && (summary.sequencesBehind || summary.staleMaterializedViews))) {
    opts.log.info(
      `verify: ${summary.sequencesBehind} sequence(s) behind, ${summary.staleMaterializedViews} materialized view(s) stale${strict ? ' (strict: counted)' : ' (expected while CDC runs)'}`,
    );
  }
  return {
    ok,
    mode: opts.mode,
    strict,
    startedAt: input.startedAt.toISOString(),
    durationMs: Date.now() - input.startedAt.getTime(),
    tables,
    sequences,
    materializedViews,
    schemaDrift: schema.drift,
    ...(schema.sinceSnapshot ? { sourceChangedSinceSnapshot: schema.sinceSnapshot } : {}),
    summary,
  };
}
