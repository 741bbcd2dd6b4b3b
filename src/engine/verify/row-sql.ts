/**
 * The SQL verify runs against one table, built from catalog names (always quoted) with
 * every key value a bind parameter. The same text runs on both sides, so both sides
 * hash the same column list in the same order.
 */
import { ident, quoteRelation } from '../../postgres/sql.js';
import type { ColumnInfo, VerifyTable } from './tables.js';

/** Key values as text, one per key column, as the source printed them under the pinned settings. */
export type KeyTuple = string[];

/** A half-open key range (lower, upper]; an absent bound is open, so rows beyond the source's keys are still seen. */
export interface KeyRange {
  lower?: KeyTuple;
  upper?: KeyTuple;
}

/**
 * `hashtextextended(ROW(t.a, t.b)::text, 0)`: the row's text form (same as t::text but over
 * an explicit column list), hashed to a bigint. Summing these per chunk is order-independent
 * and has no size limit, unlike string_agg (1 GB).
 */
export const rowHashSql = (table: VerifyTable): string => `pg_catalog.hashtextextended(${rowTextSql(table)}, 0)`;

/** The row's text form over the compared columns, in the source's column order. */
export const rowTextSql = (table: VerifyTable): string => `ROW(${table.columns.map((c) => `t.${ident(c.name)}`).join(', ')})::text`;

const keyExpr = (table: VerifyTable, c: ColumnInfo, expr: string): string =>
  table.keyCollateC && c.collation !== null ? `${expr} COLLATE "C"` : expr;

/** `(t.a, t.b)` for comparisons and ORDER BY, with COLLATE "C" where the sides' collations differ. */
export const keyColumnsSql = (table: VerifyTable): string =>
  `(${table.primaryKey.map((c) => keyExpr(table, c, `t.${ident(c.name)}`)).join(', ')})`;

export const keyOrderSql = (table: VerifyTable): string =>
  table.primaryKey.map((c) => keyExpr(table, c, `t.${ident(c.name)}`)).join(', ');

/** Key columns as text: how keys travel from the source back to both sides and into the report. */
export const keyTextSql = (table: VerifyTable): string =>
  table.primaryKey.map((c, i) => `t.${ident(c.name)}::text AS k${i}`).join(', ');

/** A WHERE clause for a key range, appending its bind parameters to `params`. */
export function rangeWhereSql(table: VerifyTable, range: KeyRange, params: unknown[]): string {
  const parts: string[] = [];
  const tuple = (values: KeyTuple) =>
    `(${table.primaryKey
      .map((c, i) => {
        params.push(values[i]);
        // The type comes from format_type() in the catalog; the value is a parameter.
        return keyExpr(table, c, `$${params.length}::${c.type}`);
      })
      .join(', ')})`;
  if (range.lower) parts.push(`${keyColumnsSql(table)} > ${tuple(range.lower)}`);
  if (range.upper) parts.push(`${keyColumnsSql(table)} <= ${tuple(range.upper)}`);
  return parts.length ? `WHERE ${parts.join(' AND ')}` : '';
}

export const fromSql = (table: VerifyTable): string => `FROM ${quoteRelation(table)} AS t`;
