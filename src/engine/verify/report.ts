/** What verify hands back: per-table verdicts, sequences, materialized views, schema drift. Adapters render it. */
import type { RelationName } from '../../postgres/sql.js';
import type { SchemaChange, SchemaDifference } from './schema-snapshot.js';

export type VerifyMode = 'fast' | 'full';

/**
 * equal: same rows on both sides. differs: a difference, no recheck possible (no CDC callback).
 * converged-after-recheck: differed at first, equal once the target had applied past the source's LSN.
 * did-not-converge: still differs after the rechecks. missing-on-target: the table does not exist there.
 */
export type TableVerdictKind = 'equal' | 'differs' | 'converged-after-recheck' | 'did-not-converge' | 'missing-on-target';

/**
 * A row's key as column -> text value (under the pinned settings). A table without a key has
 * none: there it is { row: the row's text (truncated), copies: how many copies differ }.
 */
export type RowKey = Record<string, string>;

export interface RowDifferences {
  /** Totals over the narrowed chunks; the key lists below are capped at maxKeysPerTable. */
  missingOnTarget: number;
  extraOnTarget: number;
  changed: number;
  keys: { missingOnTarget: RowKey[]; extraOnTarget: RowKey[]; changed: RowKey[] };
  /** True when the key lists hold fewer keys than the totals, or not every mismatching chunk was narrowed. */
  capped: boolean;
}

export interface TableVerdict {
  table: RelationName;
  verdict: TableVerdictKind;
  /** Primary-key columns in key order; null for a table compared as a multiset of row hashes. */
  primaryKey: string[] | null;
  sourceRows: number;
  targetRows: number | null;
  /** full mode: chunks hashed and how many of them differed at the first check. */
  chunks?: number;
  mismatchedChunks?: number;
  differences?: RowDifferences;
  /** How many rechecks ran after the target caught up. */
  rechecks: number;
  /** Things a person should know about this comparison (columns only on one side, collation fallback). */
  notes: string[];
}

export type SequenceStatus = 'equal' | 'behind' | 'ahead' | 'missing-on-target';

export interface SequenceComparison {
  sequence: RelationName;
  /** last_value as text (bigint); null when the sequence was never used. */
  source: string | null;
  target: string | null;
  status: SequenceStatus;
}

export interface MaterializedViewComparison {
  view: RelationName;
  sourceRows: number | null;
  targetRows: number | null;
  /** stale: row counts differ (expected while CDC runs: materialized views are not replicated). */
  status: 'equal' | 'stale' | 'missing-on-target' | 'not-populated';
}

export interface VerifySummary {
  tables: number;
  equal: number;
  differs: number;
  convergedAfterRecheck: number;
  didNotConverge: number;
  missingOnTarget: number;
  sequencesBehind: number;
  staleMaterializedViews: number;
  schemaDifferences: number;
}

export interface VerifyReport {
  /** True when every table is equal (or converged), the schemas match, and (strict) sequences and materialized views match. */
  ok: boolean;
  mode: VerifyMode;
  strict: boolean;
  startedAt: string;
  durationMs: number;
  tables: TableVerdict[];
  sequences: SequenceComparison[];
  materializedViews: MaterializedViewComparison[];
  /** Source vs target, from the catalogs. DDL run on the source after full-load shows up here (DDL is not replicated). */
  schemaDrift: SchemaDifference[];
  /** Only with expectSchema: how the source changed since that snapshot was taken (informational; drift above is what counts). */
  sourceChangedSinceSnapshot?: SchemaChange[];
  summary: VerifySummary;
}

/** The CLI contract: 0 when everything checked is equal, 1 when anything differs (errors are 2, raised as PgshiftError). */
export const verifyExitCode = (report: VerifyReport): 0 | 1 => (report.ok ? 0 : 1);
