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
 * Built-in types whose own hash function is value-exact, stable across major versions (hash
 * partitioning depends on that) and free of OIDs: a row of these is hashed with
 * hash_record_extended, about twice as fast as building the row's text. Every other type
 * is hashed through its text form under the pinned settings: numeric and float (the type's
 * hash ignores display scale and -0), interval ('1 day' = '24 hours'), enums (their hash is
 * the label's OID, which differs between servers), arrays, domains, user types.
 * jsonb is compared by jsonb equality (keys are already normalized by the type).
 */
const NATIVE_HASH_TYPES = new Set([
  16, // bool
  17, // bytea
  18, // "char"
  19, // name
  20, // int8
  21, // int2
  23, // int4
  25, // text
  1042, // bpchar
  1043, // varchar
  1082, // date
  1083, // time
  1114, // timestamp
  1184, // timestamptz
  2950, // uuid
  3802, // jsonb
]);

function digestColumn(c: ColumnInfo): string {
  const col = `t.${ident(c.name)}`;
  if (!NATIVE_HASH_TYPES.has(c.typeOid)) return `${col}::text COLLATE "C"`;
  // A nondeterministic (ICU) collation would hash by its sort key; "C" hashes the bytes.
  return c.collation !== null ? `${col} COLLATE "C"` : col;
}

/**
 * The row's 64-bit hash over the compared columns, in the source's column order. Summing
 * these per chunk is order-independent and has no size limit, unlike string_agg (1 GB).
 */
export const rowHashSql = (table: VerifyTable): string =>
  table.rowDigest === 'record'
    ? `pg_catalog.hash_record_extended(ROW(${table.columns.map(digestColumn).join(', ')}), 0)`
    : `pg_catalog.hashtextextended(${rowTextSql(table)}, 0)`;

/** The row's text form (as t::text, but over an explicit column list in the source's order). */
export const rowTextSql = (table: VerifyTable): string => `ROW(${table.columns.map((c) => `t.${ident(c.name)}`).join(', ')})::text`;

const keyExpr = (table: VerifyTable, c: ColumnInfo, expr: string): string =>
  table.keyCollateC && c.collation !== null ? `${expr} COLLATE "C"` : expr;

/** `(t.a, t.b)` for comparisons and ORDER BY, with COLLATE "C" where the sides' collations differ. */
export const keyColumnsSql = (table: VerifyTable): string =>
  `(${table.primaryKey.map((c) => keyExpr(table, c, `t.${ident(c.name)}`)).join(', ')})`;

export const keyOrderSql = (table: VerifyTable, direction?: 'DESC'): string =>
  table.primaryKey.map((c) => `${keyExpr(table, c, `t.${ident(c.name)}`)}${direction ? ` ${direction}` : ''}`).join(', ');

/** Key columns as text: how keys travel from the source back to both sides and into the report. */
export const keyTextSql = (table: VerifyTable): string => table.primaryKey.map((c, i) => `t.${ident(c.name)}::text AS k${i}`).join(', ');

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
