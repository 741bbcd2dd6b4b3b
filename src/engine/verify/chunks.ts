/**
 * Tables with a primary key: split the source's key space into chunks, hash each chunk
 * on both sides at once, and narrow a chunk that differs down to the rows that differ.
 */
import type pg from 'pg';
import type { SessionPair } from './session.js';
import type { VerifyTable } from './tables.js';
import { fromSql, keyOrderSql, keyTextSql, rangeWhereSql, rowHashSql, type KeyRange, type KeyTuple } from './row-sql.js';

const INTEGER_TYPES = new Set([20, 21, 23]); // int8, int2, int4

/**
 * Chunk boundaries from the source's key. A single integer key with a row estimate is
 * split by value (two index probes for min and max); any other key is walked once in key
 * order, taking every chunkRows-th key. The first and last chunks are open-ended so rows
 * the target has beyond the source's keys land in a chunk too.
 */
export async function planChunks(source: pg.Client, table: VerifyTable, chunkRows: number): Promise<KeyRange[]> {
  const boundaries =
    table.primaryKey.length === 1 && INTEGER_TYPES.has(table.primaryKey[0].typeOid) && table.estimatedRows > 0
      ? await integerBoundaries(source, table, chunkRows)
      : await walkedBoundaries(source, table, chunkRows);
  const ranges: KeyRange[] = [];
  let lower: KeyTuple | undefined;
  for (const upper of boundaries) {
    ranges.push({ lower, upper });
    lower = upper;
  }
  ranges.push({ lower });
  return ranges;
}

async function integerBoundaries(source: pg.Client, table: VerifyTable, chunkRows: number): Promise<KeyTuple[]> {
  const key = keyOrderSql(table);
  const { rows } = await source.query<{ lo: string | null; hi: string | null }>(
    `SELECT min(${key})::text AS lo, max(${key})::text AS hi ${fromSql(table)}`,
  );
  if (rows[0].lo === null || rows[0].hi === null) return [];
  const lo = BigInt(rows[0].lo);
  const span = BigInt(rows[0].hi) - lo + 1n;
  // Width in key values that holds about chunkRows rows at the table's density (gaps widen it).
  const estimate = BigInt(Math.max(1, Math.round(table.estimatedRows)));
  let width = (BigInt(chunkRows) * span + estimate - 1n) / estimate;
  if (width < 1n) width = 1n;
  const out: KeyTuple[] = [];
  for (let upper = lo + width - 1n; upper < lo + span - 1n; upper += width) out.push([upper.toString()]);
  return out;
}

async function walkedBoundaries(source: pg.Client, table: VerifyTable, chunkRows: number, within: KeyRange = {}): Promise<KeyTuple[]> {
  const cols = table.primaryKey.map((_, i) => `s.k${i}`).join(', ');
  const params: unknown[] = [chunkRows];
  const where = rangeWhereSql(table, within, params);
  const { rows } = await source.query<Record<string, string>>(
    `SELECT ${cols} FROM (SELECT ${keyTextSql(table)}, pg_catalog.row_number() OVER (ORDER BY ${keyOrderSql(table)}) AS rn ${fromSql(table)} ${where}) AS s
     WHERE s.rn % $1 = 0 ORDER BY s.rn`,
    params,
  );
  return rows.map((r) => table.primaryKey.map((_, i) => r[`k${i}`]));
}

/**
 * Split one key range into sub-ranges of about chunkRows source rows, walking the source's
 * keys inside it. Used before narrowing a chunk that came out much larger than planned (a
 * stale row estimate widens value-split chunks), so narrowing never holds a huge chunk's keys.
 */
export async function splitRange(source: pg.Client, table: VerifyTable, range: KeyRange, chunkRows: number): Promise<KeyRange[]> {
  const ranges: KeyRange[] = [];
  let lower = range.lower;
  for (const upper of await walkedBoundaries(source, table, chunkRows, range)) {
    ranges.push({ lower, upper });
    lower = upper;
  }
  ranges.push({ lower, upper: range.upper });
  return ranges;
}

/** The source's highest key right now, or undefined for an empty table. */
export async function lastSourceKey(source: pg.Client, table: VerifyTable): Promise<KeyTuple | undefined> {
  const { rows } = await source.query<Record<string, string>>(
    `SELECT ${keyTextSql(table)} ${fromSql(table)} ORDER BY ${keyOrderSql(table, 'DESC')} LIMIT 1`,
  );
  return rows[0] ? table.primaryKey.map((_, i) => rows[0][`k${i}`]) : undefined;
}

export interface ChunkDigest {
  rows: number;
  /** Sum of the rows' 64-bit hashes, as numeric text. */
  hash: string;
}

export interface ChunkComparison {
  range: KeyRange;
  source: ChunkDigest;
  target: ChunkDigest;
  equal: boolean;
}

async function digestChunk(client: pg.Client, table: VerifyTable, range: KeyRange): Promise<ChunkDigest> {
  const params: unknown[] = [];
  const where = rangeWhereSql(table, range, params);
  const { rows } = await client.query<{ n: string; h: string }>(
    `SELECT pg_catalog.count(*)::text AS n, COALESCE(pg_catalog.sum(${rowHashSql(table)}), 0)::text AS h ${fromSql(table)} ${where}`,
    params,
  );
  return { rows: Number(rows[0].n), hash: rows[0].h };
}

/** Hash one chunk on both sides at the same moment. */
export async function compareChunk(pair: SessionPair, table: VerifyTable, range: KeyRange): Promise<ChunkComparison> {
  const [source, target] = await Promise.all([digestChunk(pair.source, table, range), digestChunk(pair.target, table, range)]);
  return { range, source, target, equal: source.rows === target.rows && source.hash === target.hash };
}

/** key (JSON of the key tuple) -> row hash. */
async function rowHashes(client: pg.Client, table: VerifyTable, range: KeyRange): Promise<Map<string, string>> {
  const params: unknown[] = [];
  const where = rangeWhereSql(table, range, params);
  const { rows } = await client.query<Record<string, string>>(
    `SELECT ${keyTextSql(table)}, ${rowHashSql(table)}::text AS h ${fromSql(table)} ${where}`,
    params,
  );
  const out = new Map<string, string>();
  for (const r of rows) out.set(JSON.stringify(table.primaryKey.map((_, i) => r[`k${i}`])), r.h);
  return out;
}

export interface KeyDifferences {
  missingOnTarget: KeyTuple[];
  extraOnTarget: KeyTuple[];
  changed: KeyTuple[];
}

/**
 * Fetch (key, row hash) for every row of the given chunks on both sides and compare.
 * The chunks are pooled before comparing: if the two sides ever placed a row in
 * different chunks, it is still matched by key and not reported as missing and extra.
 */
export async function narrowChunks(pair: SessionPair, table: VerifyTable, ranges: KeyRange[]): Promise<KeyDifferences> {
  const source = new Map<string, string>();
  const target = new Map<string, string>();
  for (const range of ranges) {
    const [s, t] = await Promise.all([rowHashes(pair.source, table, range), rowHashes(pair.target, table, range)]);
    for (const [k, h] of s) source.set(k, h);
    for (const [k, h] of t) target.set(k, h);
  }
  const out: KeyDifferences = { missingOnTarget: [], extraOnTarget: [], changed: [] };
  for (const [k, h] of source) {
    const th = target.get(k);
    if (th === undefined) out.missingOnTarget.push(JSON.parse(k));
    else if (th !== h) out.changed.push(JSON.parse(k));
  }
  for (const k of target.keys()) if (!source.has(k)) out.extraOnTarget.push(JSON.parse(k));
  return out;
}
