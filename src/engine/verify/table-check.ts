/**
 * Where one table stands after the latest check. Each step of verify takes these values and
 * hands new ones to the next step; nothing rewrites a check in place, so what the first check
 * saw (equalAtFirstCheck, firstMismatchedChunks) cannot be lost by a later step.
 */
import { PgshiftError } from '../../errors.js';
import { redact } from '../../postgres/redact.js';
import { quoteRelation, relationKey } from '../../postgres/sql.js';
import type { ChunkComparison } from './chunks.js';
import type { MultisetComparison } from './multiset.js';
import type { KeyTuple } from './row-sql.js';
import type { SessionPair } from './session.js';
import type { VerifyTable } from './tables.js';

export type CheckKind = 'missing' | 'count' | 'chunks' | 'multiset';

export interface TableCheck {
  readonly table: VerifyTable;
  readonly kind: CheckKind;
  readonly sourceRows: number;
  readonly targetRows: number | null;
  /** chunks: the latest digest of every chunk. */
  readonly chunks: readonly ChunkComparison[];
  readonly multiset?: MultisetComparison;
  /**
   * chunks, after a recheck bounded the open-ended last chunk: the source's highest key then.
   * Target rows above it are still looked at, for keys the source does not have.
   */
  readonly bound?: KeyTuple;
  /** Keys the target has above `bound` and the source does not have at all: always a difference. */
  readonly extraAboveBound: readonly KeyTuple[];
  readonly equal: boolean;
  readonly equalAtFirstCheck: boolean;
  readonly firstMismatchedChunks: number;
  readonly rechecks: number;
  /** What a person should know about this comparison, on top of the table's own notes. */
  readonly notes: readonly string[];
}

export function initialCheck(table: VerifyTable, mode: 'fast' | 'full'): TableCheck {
  return {
    table,
    kind: !table.existsOnTarget ? 'missing' : mode === 'fast' ? 'count' : table.primaryKey.length ? 'chunks' : 'multiset',
    sourceRows: 0,
    targetRows: null,
    chunks: [],
    extraAboveBound: [],
    equal: false,
    equalAtFirstCheck: false,
    firstMismatchedChunks: 0,
    rechecks: 0,
    notes: [],
  };
}

export interface RowCounts {
  sourceRows: number;
  /** null when the table is missing on the target. */
  targetRows: number | null;
}

/** Exact counts, both sides at once (the source only, for a table missing on the target). */
export async function countRows(pair: SessionPair, check: TableCheck): Promise<RowCounts> {
  const sql = `SELECT pg_catalog.count(*)::text AS n FROM ${quoteRelation(check.table)}`;
  if (check.kind === 'missing') return { sourceRows: Number((await pair.source.query<{ n: string }>(sql)).rows[0].n), targetRows: null };
  const [s, t] = await Promise.all([pair.source.query<{ n: string }>(sql), pair.target.query<{ n: string }>(sql)]);
  return { sourceRows: Number(s.rows[0].n), targetRows: Number(t.rows[0].n) };
}

export function withCounts(check: TableCheck, counts: RowCounts): TableCheck {
  return { ...check, ...counts, equal: check.kind !== 'missing' && counts.sourceRows === counts.targetRows };
}

export function withChunks(
  check: TableCheck,
  chunks: readonly ChunkComparison[],
  extraAboveBound: readonly KeyTuple[] = check.extraAboveBound,
): TableCheck {
  return {
    ...check,
    chunks,
    extraAboveBound,
    sourceRows: chunks.reduce((n, c) => n + c.source.rows, 0),
    targetRows: chunks.reduce((n, c) => n + c.target.rows, 0),
    equal: chunks.every((c) => c.equal) && extraAboveBound.length === 0,
  };
}

export function withMultiset(check: TableCheck, multiset: MultisetComparison): TableCheck {
  return {
    ...check,
    multiset,
    sourceRows: multiset.source.rows,
    targetRows: multiset.target.rows,
    equal: multiset.differingBuckets.length === 0,
  };
}

export function withNote(check: TableCheck, note: string): TableCheck {
  return { ...check, notes: [...check.notes, note] };
}

/** Replace the checks that a step produced anew, keeping the order of the table list. */
export function replaceChecks(checks: readonly TableCheck[], updated: readonly TableCheck[]): TableCheck[] {
  const byTable = new Map(updated.map((c) => [c.table, c]));
  return checks.map((c) => byTable.get(c.table) ?? c);
}

/** Table-level failures name the table; the driver's message is redacted. */
export async function onTable<T>(table: VerifyTable, fn: () => Promise<T>): Promise<T> {
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
