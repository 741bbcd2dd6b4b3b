/**
 * What verify hands back: per-table verdicts, sequences, materialized views, schema drift —
 * and step 8, which turns the checks into that report. Adapters (CLI, action) render it as text.
 */
import type { Logger } from '../../log/logger.js';
import type { RelationName } from '../../postgres/sql.js';
import type { SchemaChange, SchemaDifference } from './schema-snapshot.js';
import type { TableCheck } from './table-check.js';

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

function verdictOf(check: TableCheck, hadCatchUp: boolean): TableVerdictKind {
  if (check.kind === 'missing') return 'missing-on-target';
  if (check.equalAtFirstCheck) return 'equal';
  if (check.equal) return 'converged-after-recheck';
  return hadCatchUp ? 'did-not-converge' : 'differs';
}

export interface ReportInput {
  mode: VerifyMode;
  strict: boolean;
  startedAt: Date;
  checks: readonly TableCheck[];
  /** Step 6's findings, per table that still differed. */
  differences: ReadonlyMap<TableCheck['table'], RowDifferences>;
  schema: { drift: SchemaDifference[]; sinceSnapshot?: SchemaChange[] };
  sequences: SequenceComparison[];
  materializedViews: MaterializedViewComparison[];
  hadCatchUp: boolean;
  log: Logger;
}

export function buildReport(input: ReportInput): VerifyReport {
  const { checks, differences, schema, sequences, materializedViews, hadCatchUp, strict } = input;
  const tables: TableVerdict[] = checks.map((check) => {
    const found = differences.get(check.table);
    return {
      table: { schema: check.table.schema, name: check.table.name },
      verdict: verdictOf(check, hadCatchUp),
      primaryKey: check.kind === 'multiset' ? null : check.table.primaryKey.length ? check.table.primaryKey.map((c) => c.name) : null,
      sourceRows: check.sourceRows,
      targetRows: check.targetRows,
      ...(check.kind === 'chunks' ? { chunks: check.chunks.length, mismatchedChunks: check.firstMismatchedChunks } : {}),
      ...(found ? { differences: found } : {}),
      rechecks: check.rechecks,
      notes: [...check.table.notes, ...check.notes],
    };
  });
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
    input.log.info(
      `verify: ${summary.sequencesBehind} sequence(s) behind, ${summary.staleMaterializedViews} materialized view(s) stale${strict ? ' (strict: counted)' : ' (expected while CDC runs)'}`,
    );
  }
  return {
    ok,
    mode: input.mode,
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
