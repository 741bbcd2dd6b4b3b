/**
 * pgshift verify: is the target the same database as the source?
 *
 * Steps, in order:
 *   1. open pinned session pairs (identical text-form settings on both sides)
 *   2. list the tables to compare (leaf partitions, the source's column list)
 *   3. compare schemas from the catalogs (DDL is not replicated: drift shows here)
 *   4. first check of every table: counts (fast) or chunk checksums (full), both sides at once
 *   5. recheck what differed after the target applied past the source's LSN (only under CDC; recheck.ts)
 *   6. narrow what still differs to keys: missing on target, extra on target, changed
 *   7. compare sequences and materialized views (behind/stale is expected under CDC)
 *   8. build the report: per-table verdicts and `ok` (report.ts)
 */
import { PgshiftError } from '../../errors.js';
import type { ConnInfo } from '../../postgres/conninfo.js';
import { relationKey } from '../../postgres/sql.js';
import type { Logger } from '../../log/logger.js';
import { compareChunk, narrowChunks, planChunks, splitRange, type ChunkComparison } from './chunks.js';
import { compareMultiset, narrowMultiset, type MultisetComparison } from './multiset.js';
import { recheckUntilConverged } from './recheck.js';
import { buildReport, type RowDifferences, type RowKey, type VerifyMode, type VerifyReport } from './report.js';
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
import { countRows, initialCheck, onTable, withChunks, withCounts, withMultiset, withNote, type TableCheck } from './table-check.js';
import { listVerifyTables, type VerifyTable } from './tables.js';

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

export async function runVerify(opts: VerifyOptions): Promise<VerifyReport> {
  const startedAt = new Date();
  const settings = resolveSettings(opts);
  const { log } = opts;
  log.info(`verify (${opts.mode}): opening ${settings.jobs} session pair(s)`);
  const pairs = await openSessionPairs(opts.source, opts.target, settings.jobs, opts.snapshots);
  try {
    const tables = await listTables(pairs[0], opts);
    const schema = opts.rowsOnly ? { drift: [] } : await compareSchemas(pairs[0], opts);
    const firstChecks = await firstCheck(pairs, tables, opts.mode, settings, log);
    const checks = await recheckUntilConverged(pairs, firstChecks, {
      rechecks: settings.rechecks,
      waitForCatchUp: opts.waitForCatchUp,
      log,
    });
    const { checks: narrowed, differences } = await narrowDifferences(pairs, checks, settings, log);
    const sequences = opts.rowsOnly ? [] : await compareSequences(pairs[0].source, pairs[0].target);
    const materializedViews = opts.rowsOnly ? [] : await compareMaterializedViews(pairs[0].source, pairs[0].target);
    return buildReport({
      mode: opts.mode,
      strict: opts.strict ?? false,
      startedAt,
      checks: narrowed,
      differences,
      schema,
      sequences,
      materializedViews,
      hadCatchUp: opts.waitForCatchUp !== undefined,
      log,
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

// Step 4
async function firstCheck(
  pairs: SessionPair[],
  tables: VerifyTable[],
  mode: VerifyMode,
  settings: Settings,
  log: Logger,
): Promise<TableCheck[]> {
  const initial = tables.map((table) => initialCheck(table, mode));
  // Missing tables still get a source count, so the report says how many rows are absent.
  const counted = initial.filter((c) => c.kind === 'missing' || c.kind === 'count');
  const counts = await runOnPairs(pairs, counted, (pair, check) => onTable(check.table, () => countRows(pair, check)));
  const countOf = new Map(counted.map((c, i) => [c, counts[i]]));

  const chunked = initial.filter((c) => c.kind === 'chunks');
  const plans = await runOnPairs(pairs, chunked, (pair, check) =>
    onTable(check.table, () => planChunks(pair.source, check.table, settings.chunkRows)),
  );
  const units: { check: TableCheck; range?: KeyRange }[] = [
    ...chunked.flatMap((check, i) => plans[i].map((range) => ({ check, range }))),
    ...initial.filter((c) => c.kind === 'multiset').map((check) => ({ check })),
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
  const chunksOf = (check: TableCheck) => results.filter((r, i) => units[i].check === check && 'range' in r) as ChunkComparison[];
  const multisetOf = (check: TableCheck) => results.find((r, i) => units[i].check === check && !('range' in r)) as MultisetComparison;

  return initial.map((check) => {
    const checked =
      check.kind === 'chunks'
        ? withChunks(check, chunksOf(check))
        : check.kind === 'multiset'
          ? withMultiset(check, multisetOf(check))
          : withCounts(check, countOf.get(check)!);
    log.progress(`verify: ${relationKey(check.table)} ${checked.equal ? 'equal' : 'differs'} (${checked.sourceRows} rows on the source)`);
    return {
      ...checked,
      equalAtFirstCheck: checked.equal,
      firstMismatchedChunks: checked.chunks.filter((c) => !c.equal).length,
    };
  });
}

// Step 6
async function narrowDifferences(
  pairs: SessionPair[],
  checks: TableCheck[],
  settings: Settings,
  log: Logger,
): Promise<{ checks: TableCheck[]; differences: Map<VerifyTable, RowDifferences> }> {
  const differing = checks.filter((c) => !c.equal && (c.kind === 'chunks' || c.kind === 'multiset'));
  if (differing.length) log.info(`verify: narrowing ${differing.length} differing table(s) to rows`);
  const found = await runOnPairs(pairs, differing, (pair, check) =>
    onTable(check.table, () => (check.kind === 'chunks' ? narrowKeyed(pair, check, settings) : narrowUnkeyed(pair, check, settings))),
  );
  const narrowedChecks = new Map(differing.map((c, i) => [c.table, found[i].check]));
  return {
    checks: checks.map((c) => narrowedChecks.get(c.table) ?? c),
    differences: new Map(differing.map((c, i) => [c.table, found[i].differences])),
  };
}

type Narrowed = { check: TableCheck; differences: RowDifferences };

async function narrowKeyed(pair: SessionPair, check: TableCheck, settings: Settings): Promise<Narrowed> {
  const refined = await refineLargeChunks(
    pair,
    check,
    check.chunks.filter((c) => !c.equal),
    settings,
  );
  const narrowed = refined.differing.slice(0, settings.maxNarrowedChunks);
  const found = await narrowChunks(
    pair,
    check.table,
    narrowed.map((c) => c.range),
  );
  // A row the target holds above the recheck's bound, under a key the source does not have.
  const seen = new Set(found.extraOnTarget.map((k) => JSON.stringify(k)));
  const extraOnTarget = [...found.extraOnTarget, ...check.extraAboveBound.filter((k) => !seen.has(JSON.stringify(k)))];
  const asKey = (tuple: KeyTuple): RowKey => Object.fromEntries(check.table.primaryKey.map((c, i) => [c.name, tuple[i]]));
  const cap = (tuples: KeyTuple[]) => tuples.slice(0, settings.maxKeys).map(asKey);
  return {
    check: refined.check,
    differences: {
      missingOnTarget: found.missingOnTarget.length,
      extraOnTarget: extraOnTarget.length,
      changed: found.changed.length,
      keys: { missingOnTarget: cap(found.missingOnTarget), extraOnTarget: cap(extraOnTarget), changed: cap(found.changed) },
      capped:
        narrowed.length < refined.differing.length ||
        [found.missingOnTarget, extraOnTarget, found.changed].some((list) => list.length > settings.maxKeys),
    },
  };
}

/** A differing chunk far above chunkRows is split and re-hashed first; only its differing parts are narrowed. */
async function refineLargeChunks(
  pair: SessionPair,
  check: TableCheck,
  differing: ChunkComparison[],
  settings: Settings,
): Promise<{ check: TableCheck; differing: ChunkComparison[] }> {
  const out: ChunkComparison[] = [];
  let noted = check;
  for (const chunk of differing) {
    const rows = Math.max(chunk.source.rows, chunk.target.rows);
    if (rows <= 2 * settings.chunkRows) {
      out.push(chunk);
      continue;
    }
    const parts = await splitRange(pair.source, check.table, chunk.range, settings.chunkRows);
    noted = withNote(noted, `a differing chunk of ${rows} rows was split into ${parts.length} before narrowing`);
    for (const range of parts) {
      const part = await compareChunk(pair, check.table, range);
      if (!part.equal) out.push(part);
    }
  }
  return { check: noted, differing: out };
}

async function narrowUnkeyed(pair: SessionPair, check: TableCheck, settings: Settings): Promise<Narrowed> {
  const found = await narrowMultiset(pair, check.table, check.multiset!.differingBuckets);
  const missing = found.filter((d) => d.delta > 0);
  const extra = found.filter((d) => d.delta < 0);
  const total = (list: typeof found) => list.reduce((n, d) => n + Math.abs(d.delta), 0);
  const cap = (list: typeof found) => list.slice(0, settings.maxKeys).map((d) => ({ row: d.row, copies: String(Math.abs(d.delta)) }));
  return {
    check,
    differences: {
      // Without a key a changed row is one copy missing and one extra.
      missingOnTarget: total(missing),
      extraOnTarget: total(extra),
      changed: 0,
      keys: { missingOnTarget: cap(missing), extraOnTarget: cap(extra), changed: [] },
      capped: missing.length > settings.maxKeys || extra.length > settings.maxKeys,
    },
  };
}
