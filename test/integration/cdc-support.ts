/**
 * What the CDC tests need around the code under test: an independent comparison of the two
 * databases, written here from first principles so that a bug in the engine (or in verify)
 * cannot hide itself in the check.
 */
import pg from 'pg';
import { quoteRelation, type RelationName } from '../../src/postgres/sql.js';

/** Tables that hold rows (plain tables and partitions), outside the system schemas. */
export async function leafTables(client: pg.Client): Promise<RelationName[]> {
  const res = await client.query<RelationName>(
    `SELECT n.nspname AS schema, c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'
      ORDER BY 1, 2`,
  );
  return res.rows;
}

/** Pinned on both sides so that the text form of a row is the same wherever it is computed. */
const SAME_TEXT = `SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD'; SET IntervalStyle = 'postgres'; SET extra_float_digits = 3; SET bytea_output = 'hex'`;

export interface TableFingerprint {
  table: string;
  rows: number;
  md5: string | null;
}

/** Row count and an order-independent digest of every row's text form, per table. Fine for test-sized tables. */
export async function fingerprints(url: string, tables: RelationName[]): Promise<TableFingerprint[]> {
  const c = new pg.Client(url);
  c.on('error', () => undefined);
  await c.connect();
  try {
    await c.query(SAME_TEXT);
    const out: TableFingerprint[] = [];
    for (const t of tables) {
      // The alias names the whole row; no fixture table has a column called pgshift_row.
      const r = await c.query(
        `SELECT count(*)::int AS rows, md5(string_agg(pgshift_row::text, ',' ORDER BY pgshift_row::text)) AS md5 FROM ${quoteRelation(t)} AS pgshift_row`,
      );
      out.push({ table: `${t.schema}.${t.name}`, rows: r.rows[0].rows, md5: r.rows[0].md5 });
    }
    return out;
  } finally {
    await c.end();
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
