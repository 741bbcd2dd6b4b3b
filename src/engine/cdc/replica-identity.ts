/**
 * REPLICA IDENTITY FULL tables on the target side of CDC.
 *
 * For a FULL table the source sends the whole old row with every UPDATE/DELETE, and the subscriber
 * has to find that row. Without an index it scans the table once per replicated row: a 5,000-row
 * table updated a few hundred rows at a time stalled apply for over a minute. Subscribers from
 * PostgreSQL 16 on use any b-tree index whose first key is a plain column for that lookup (17 also
 * hash); older ones only the primary key or replica identity index.
 */
import { createHash } from 'node:crypto';
import type pg from 'pg';
import { ident, quoteRelation, type RelationName } from '../../postgres/sql.js';
import { applicationSchema } from '../../postgres/schemas.js';

export interface FullIdentityTable extends RelationName {
  /** Whether the target has an index the subscriber can use to find old rows. */
  usableIndexOnTarget: boolean;
  /** Row estimate on the source (pg_class.reltuples; -1 when never analyzed). */
  estimatedRows: number;
}

/** Tables the source publishes with REPLICA IDENTITY FULL, and whether the target can look their rows up by index. */
export async function fullIdentityTables(source: pg.Client, target: pg.Client, targetVersion: number): Promise<FullIdentityTable[]> {
  const res = await source.query<{ schema: string; name: string; rows: number }>(
    `SELECT n.nspname AS schema, c.relname AS name, c.reltuples::float8 AS rows
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind = 'r' AND c.relreplident = 'f' AND c.relpersistence = 'p'
        AND ${applicationSchema()}
      ORDER BY 1, 2`,
  );
  const out: FullIdentityTable[] = [];
  for (const r of res.rows) {
    out.push({
      schema: r.schema,
      name: r.name,
      estimatedRows: Number(r.rows),
      usableIndexOnTarget: await hasUsableIndex(target, r, targetVersion),
    });
  }
  return out;
}

/** The subscriber's own rule (FindUsableIndexForReplicaIdentityFull, PostgreSQL 16/17), read from the catalog. */
async function hasUsableIndex(target: pg.Client, table: RelationName, targetVersion: number): Promise<boolean> {
  const ams = targetVersion >= 170000 ? ['btree', 'hash'] : targetVersion >= 160000 ? ['btree'] : [];
  const res = await target.query<{ ok: boolean }>(
    `SELECT EXISTS (
       SELECT 1 FROM pg_index i
         JOIN pg_class t ON t.oid = i.indrelid JOIN pg_namespace n ON n.oid = t.relnamespace
         JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_am am ON am.oid = ic.relam
        WHERE n.nspname = $1 AND t.relname = $2 AND i.indisvalid AND i.indisready
          AND (i.indisprimary OR i.indisreplident
               OR (am.amname = ANY($3::text[]) AND i.indpred IS NULL AND i.indkey[0] <> 0))) AS ok`,
    [table.schema, table.name, ams],
  );
  return res.rows[0].ok;
}

export interface HelperIndex extends RelationName {
  index: string;
  column: string;
  /** false when the index already existed (a re-run). */
  created: boolean;
}

/**
 * Create one b-tree index per FULL table that has no usable index on the target, on the column
 * with the most distinct values (from the target's statistics, analyzing the table first when it
 * has none). Narrow columns first: an index entry must stay under ~2.7 kB, so a TOAST-sized text
 * column cannot be the key. A column whose type has no b-tree operator class is skipped.
 */
export async function createHelperIndexes(target: pg.Client, tables: FullIdentityTable[]): Promise<HelperIndex[]> {
  const made: HelperIndex[] = [];
  for (const table of tables.filter((t) => !t.usableIndexOnTarget)) {
    const index = helperIndexName(table);
    for (const column of await indexCandidates(target, table)) {
      const existed = await indexExists(target, table.schema, index);
      try {
        await target.query(`CREATE INDEX IF NOT EXISTS ${ident(index)} ON ${quoteRelation(table)} USING btree (${ident(column)})`);
        made.push({ ...table, index, column, created: !existed });
        break;
      } catch (err) {
        // 42704: no default b-tree operator class for this type; 54000: an index row too large. Try the next column.
        await target.query(`DROP INDEX IF EXISTS ${ident(table.schema)}.${ident(index)}`).catch(() => undefined);
        const code = (err as { code?: string }).code;
        if (code !== '42704' && code !== '54000' && code !== '42883') throw err;
      }
    }
  }
  return made;
}

async function indexExists(target: pg.Client, schema: string, index: string): Promise<boolean> {
  const res = await target.query(
    `SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2`,
    [schema, index],
  );
  return (res.rowCount ?? 0) > 0;
}

/** Columns ordered by how well they pick out one row: most distinct first, narrow before wide. */
async function indexCandidates(target: pg.Client, table: RelationName): Promise<string[]> {
  const read = () =>
    target.query<{ column: string; distinct: number | null; width: number | null }>(
      `SELECT a.attname AS column,
              CASE WHEN s.n_distinct IS NULL THEN NULL
                   WHEN s.n_distinct < 0 THEN -s.n_distinct * greatest(c.reltuples, 1)
                   ELSE s.n_distinct END::float8 AS distinct,
              s.avg_width AS width
         FROM pg_attribute a
         JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
         LEFT JOIN pg_stats s ON s.schemaname = n.nspname AND s.tablename = c.relname AND s.attname = a.attname
        WHERE n.nspname = $1 AND c.relname = $2 AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
        ORDER BY a.attnum`,
      [table.schema, table.name],
    );
  let rows = (await read()).rows;
  if (rows.every((r) => r.distinct === null)) {
    await target.query(`ANALYZE ${quoteRelation(table)}`);
    rows = (await read()).rows;
  }
  const narrow = (w: number | null) => (w ?? 0) <= 256;
  return [...rows]
    .sort(
      (a, b) =>
        Number(narrow(b.width)) - Number(narrow(a.width)) || (b.distinct ?? 0) - (a.distinct ?? 0) || (a.width ?? 0) - (b.width ?? 0),
    )
    .map((r) => r.column);
}

/** `pgshift_ri_<table>_<hash>`, cut to PostgreSQL's 63-byte limit without splitting a character. */
export function helperIndexName(table: RelationName): string {
  const hash = createHash('sha1').update(`${table.schema}\u0000${table.name}`).digest('hex').slice(0, 8);
  const prefix = 'pgshift_ri_';
  const room = 63 - Buffer.byteLength(prefix) - 1 - hash.length;
  let body = '';
  for (const ch of table.name) {
    if (Buffer.byteLength(body + ch) > room) break;
    body += ch;
  }
  return `${prefix}${body}_${hash}`;
}
