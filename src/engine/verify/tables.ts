/**
 * Which tables verify compares, and how: the source's column list (in the source's
 * order) restricted to columns the target also has, the primary key, and whether key
 * ordering must be forced to the "C" collation because the two sides sort text differently.
 */
import type pg from 'pg';
import type { RelationName } from '../../postgres/sql.js';
import { relationKey } from '../../postgres/sql.js';
import { applicationSchema } from '../../postgres/schemas.js';

/** hash_record_extended arrived in PostgreSQL 14; both sides must hash the same way. */
export const RECORD_HASH_MIN_VERSION = 140000;

export interface ColumnInfo {
  name: string;
  /** format_type() of the column, used to cast key values passed back as parameters. */
  type: string;
  typeOid: number;
  /** Effective collation (the database's for `default`); null when the type is not collatable. */
  collation: string | null;
}

export interface VerifyTable extends RelationName {
  /** Columns hashed on both sides: the source's, in the source's order, that the target also has. */
  columns: ColumnInfo[];
  /** Primary-key columns in key order; empty when the table has none. */
  primaryKey: ColumnInfo[];
  /** Source planner estimate (pg_class.reltuples); -1 when never analyzed. */
  estimatedRows: number;
  existsOnTarget: boolean;
  /** Key columns compared under COLLATE "C" because the sides' collations differ. */
  keyCollateC: boolean;
  /** How a row is hashed: hash_record_extended over the columns (both sides 14+), or the hash of its text form. */
  rowDigest: 'record' | 'text';
  notes: string[];
}

interface CatalogTable {
  schema: string;
  name: string;
  unlogged: boolean;
  estimated_rows: string;
  columns: ColumnInfo[];
  primary_key: string[] | null;
}

/**
 * Partitioned tables: only leaf partitions hold rows, so the leaves are compared and
 * the parents skipped - each row is counted once. A pattern naming a parent selects its leaves.
 */
const TABLES_SQL = `
  SELECT n.nspname AS schema, c.relname AS name, c.reltuples::bigint::text AS estimated_rows, c.relpersistence = 'u' AS unlogged,
    (SELECT pg_catalog.json_agg(pg_catalog.json_build_object(
              'name', a.attname, 'type', pg_catalog.format_type(a.atttypid, a.atttypmod), 'typeOid', a.atttypid::int,
              'collation', CASE WHEN a.attcollation = 0 THEN NULL
                                WHEN co.collname = 'default' THEN (SELECT 'default:' || d.datcollate FROM pg_catalog.pg_database d WHERE d.datname = pg_catalog.current_database())
                                ELSE co.collname::text END)
            ORDER BY a.attnum)
       FROM pg_catalog.pg_attribute a LEFT JOIN pg_catalog.pg_collation co ON co.oid = a.attcollation
      WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped) AS columns,
    (SELECT pg_catalog.array_agg(a.attname::text ORDER BY k.ord)
       FROM pg_catalog.pg_index i
       CROSS JOIN LATERAL pg_catalog.unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
       JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
      WHERE i.indrelid = c.oid AND i.indisprimary) AS primary_key,
    (SELECT pg_catalog.format('%s.%s', rn.nspname, rc.relname) FROM pg_catalog.pg_class rc
       JOIN pg_catalog.pg_namespace rn ON rn.oid = rc.relnamespace
      WHERE c.relispartition AND rc.oid = pg_catalog.pg_partition_root(c.oid)) AS root
  FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
  WHERE c.relkind = 'r'
    AND ${applicationSchema()}
    AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp\\_%'
    AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                     WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.objid = c.oid AND d.deptype = 'e')
    AND ($1::text[] IS NULL OR (n.nspname, c.relname) IN (SELECT * FROM ROWS FROM (pg_catalog.unnest($1::text[]), pg_catalog.unnest($2::text[]))))
  ORDER BY 1, 2`;

/** `schema.name` or `name` with `*` wildcards; a pattern without a dot matches the table name in any schema. */
export function tableMatcher(patterns: string[] | undefined): (key: string, name: string, root: string | null) => boolean {
  if (!patterns || patterns.length === 0) return () => true;
  const regexes = patterns.map((p) => ({
    qualified: p.includes('.'),
    re: new RegExp(
      `^${p
        .split('*')
        .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
        .join('.*')}$`,
    ),
  }));
  return (key, name, root) =>
    regexes.some(({ qualified, re }) => {
      if (qualified) return re.test(key) || (root !== null && re.test(root));
      return re.test(name) || (root !== null && re.test(root.slice(root.indexOf('.') + 1)));
    });
}

async function readTables(client: pg.Client, only?: RelationName[]): Promise<(CatalogTable & { root: string | null })[]> {
  const params = only ? [only.map((t) => t.schema), only.map((t) => t.name)] : [null, null];
  const { rows } = await client.query<CatalogTable & { root: string | null }>(TABLES_SQL, params);
  return rows;
}

/** The tables to compare: every user table on the source matching `patterns`, with what the target has of it. */
export async function listVerifyTables(
  source: pg.Client,
  target: pg.Client,
  patterns?: string[],
  digest: 'auto' | 'text' = 'auto',
): Promise<VerifyTable[]> {
  const matches = tableMatcher(patterns);
  const sourceTables = (await readTables(source)).filter((t) => matches(relationKey(t), t.name, t.root));
  const targetTables = new Map((await readTables(target, sourceTables)).map((t) => [relationKey(t), t]));
  const versions = await Promise.all(
    [source, target].map(async (c) =>
      Number((await c.query<{ v: string }>(`SELECT pg_catalog.current_setting('server_version_num') AS v`)).rows[0].v),
    ),
  );
  const rowDigest = digest === 'auto' && Math.min(...versions) >= RECORD_HASH_MIN_VERSION ? 'record' : 'text';
  return sourceTables.map((s) => ({ ...describeComparison(s, targetTables.get(relationKey(s))), rowDigest }));
}

function describeComparison(s: CatalogTable, t: CatalogTable | undefined): Omit<VerifyTable, 'rowDigest'> {
  const notes: string[] = [];
  // Logical replication does not carry unlogged tables: under CDC they differ by design.
  if (s.unlogged) notes.push('unlogged table: not replicated by CDC, only copied by full-load');
  const base = { schema: s.schema, name: s.name, estimatedRows: Number(s.estimated_rows) };
  const byName = new Map(s.columns.map((c) => [c.name, c]));
  const primaryKey = (s.primary_key ?? []).map((n) => byName.get(n)!);
  if (!t) return { ...base, columns: s.columns, primaryKey, existsOnTarget: false, keyCollateC: false, notes };
  const targetColumns = new Map(t.columns.map((c) => [c.name, c]));
  // Hash only the columns both sides have, named in the source's order: a column added on
  // one side (or a different column order) is schema drift, reported there, not a row difference.
  const columns = s.columns.filter((c) => targetColumns.has(c.name));
  const onlySource = s.columns.filter((c) => !targetColumns.has(c.name)).map((c) => c.name);
  const onlyTarget = t.columns.filter((c) => !byName.has(c.name)).map((c) => c.name);
  if (onlySource.length) notes.push(`columns only on the source, not compared: ${onlySource.join(', ')}`);
  if (onlyTarget.length) notes.push(`columns only on the target, not compared: ${onlyTarget.join(', ')}`);
  let usableKey = primaryKey;
  if (primaryKey.some((c) => !targetColumns.has(c.name))) {
    notes.push('a primary-key column is missing on the target: compared as a multiset of row hashes');
    usableKey = [];
  }
  // Key ranges are evaluated on each side; if the sides sort text differently a row would
  // fall into different chunks. Forcing "C" keeps the order identical (at the cost of the index order).
  const keyCollateC = usableKey.some((c) => c.collation !== null && targetColumns.get(c.name)!.collation !== c.collation);
  if (keyCollateC) notes.push('key collations differ between the sides: key ranges compared under COLLATE "C"');
  return { ...base, columns, primaryKey: usableKey, existsOnTarget: true, keyCollateC, notes };
}
