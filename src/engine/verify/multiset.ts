/**
 * Tables without a primary key: rows have no identity, so the table is compared as a
 * multiset of row hashes. Duplicates count: two identical rows on the source and one on
 * the target differ. First a per-bucket digest on both sides (one scan each), then only
 * the buckets that differ are fetched as (row hash, copies).
 */
import type pg from 'pg';
import type { SessionPair } from './session.js';
import type { VerifyTable } from './tables.js';
import { fromSql, rowHashSql, rowTextSql } from './row-sql.js';

const BUCKETS = 256;

export interface BucketDigest {
  rows: number;
  /** bucket -> "rows:sum of hashes" */
  buckets: Map<number, string>;
}

async function bucketDigest(client: pg.Client, table: VerifyTable): Promise<BucketDigest> {
  const { rows } = await client.query<{ b: number; n: string; h: string }>({
    text: `SELECT (s.h & $1::bigint)::int AS b, pg_catalog.count(*)::text AS n, pg_catalog.sum(s.h)::text AS h
           FROM (SELECT ${rowHashSql(table)} AS h ${fromSql(table)}) AS s GROUP BY 1`,
    values: [BUCKETS - 1],
  });
  const buckets = new Map<number, string>();
  let total = 0;
  for (const r of rows) {
    buckets.set(r.b, `${r.n}:${r.h}`);
    total += Number(r.n);
  }
  return { rows: total, buckets };
}

export interface MultisetComparison {
  source: BucketDigest;
  target: BucketDigest;
  differingBuckets: number[];
}

export async function compareMultiset(pair: SessionPair, table: VerifyTable): Promise<MultisetComparison> {
  const [source, target] = await Promise.all([bucketDigest(pair.source, table), bucketDigest(pair.target, table)]);
  const differingBuckets: number[] = [];
  for (let b = 0; b < BUCKETS; b++) if (source.buckets.get(b) !== target.buckets.get(b)) differingBuckets.push(b);
  return { source, target, differingBuckets };
}

interface HashCopies {
  copies: number;
  /** One row with that hash, as text, to show a person which row it is. */
  sample: string;
}

async function rowCopies(client: pg.Client, table: VerifyTable, buckets: number[]): Promise<Map<string, HashCopies>> {
  const { rows } = await client.query<{ h: string; n: string; sample: string }>({
    text: `SELECT s.h::text AS h, pg_catalog.count(*)::text AS n, pg_catalog.min(s.r) AS sample
           FROM (SELECT ${rowHashSql(table)} AS h, ${rowTextSql(table)} AS r ${fromSql(table)}) AS s
           WHERE (s.h & $1::bigint)::int = ANY($2::int[]) GROUP BY s.h`,
    values: [BUCKETS - 1, buckets],
  });
  return new Map(rows.map((r) => [r.h, { copies: Number(r.n), sample: r.sample }]));
}

export interface RowCopyDifference {
  /** The row's text form (truncated), the closest thing to a key such a table has. */
  row: string;
  /** Copies on the source minus copies on the target: > 0 missing on the target, < 0 extra there. */
  delta: number;
}

/** Fetch the differing buckets' rows on both sides and list the row hashes whose copy counts differ. */
export async function narrowMultiset(pair: SessionPair, table: VerifyTable, buckets: number[]): Promise<RowCopyDifference[]> {
  if (buckets.length === 0) return [];
  const [source, target] = await Promise.all([rowCopies(pair.source, table, buckets), rowCopies(pair.target, table, buckets)]);
  const out: RowCopyDifference[] = [];
  for (const h of new Set([...source.keys(), ...target.keys()])) {
    const s = source.get(h);
    const t = target.get(h);
    const delta = (s?.copies ?? 0) - (t?.copies ?? 0);
    if (delta !== 0) out.push({ row: truncate((s ?? t)!.sample), delta });
  }
  return out;
}

const truncate = (text: string): string => (text.length > 200 ? `${text.slice(0, 197)}...` : text);
