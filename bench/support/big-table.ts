/**
 * One big table of the issue's shape (issue 12: 6 M rows per 1.1 GB of table data, a primary
 * key and two secondary indexes), generated on the server: INSERT ... SELECT generate_series in
 * batches over two sessions, so nothing crosses the wire but the statements. The indexes are
 * built after the rows (faster than maintaining them row by row), then VACUUM (FREEZE, ANALYZE)
 * sets every hint bit and the visibility map, so no load tool pays for that first read and
 * none reads a table the others did not.
 */
import type pg from 'pg';
import { connect } from '../../src/postgres/connect.js';
import type { ConnInfo } from '../../src/postgres/conninfo.js';
import { ident } from '../../src/postgres/sql.js';

export const BIG_TABLE = 'big_events';

/** Rows per GiB of table data in the issue's measurement: 6 M rows in 1.1 GB. */
export const ROWS_PER_GIB = 6_000_000 / 1.1;

const CREATE = `
  CREATE TABLE ${ident(BIG_TABLE)} (
    id bigint NOT NULL,
    account_id int NOT NULL,
    created_at timestamptz NOT NULL,
    amount numeric(12,2) NOT NULL,
    status text NOT NULL,
    payload text NOT NULL
  )`;

/**
 * About 197 bytes a row on disk (tuple header, line pointer, page overhead included), which is
 * 6 M rows in 1.1 GiB. Deterministic in id, so every run generates the same data.
 */
const INSERT = `
  INSERT INTO ${ident(BIG_TABLE)} (id, account_id, created_at, amount, status, payload)
  SELECT i, (i * 7919) % 100000, timestamptz '2024-01-01' + i * interval '5 seconds',
         ((i * 31) % 1000000) / 100.0, (ARRAY['new', 'paid', 'shipped', 'cancelled'])[1 + i % 4],
         left(repeat(md5(i::text), 4), 126)
    FROM generate_series($1::bigint, $2::bigint) i`;

const INDEXES = [
  `ALTER TABLE ${ident(BIG_TABLE)} ADD CONSTRAINT ${ident(`${BIG_TABLE}_pkey`)} PRIMARY KEY (id)`,
  `CREATE INDEX ${ident(`${BIG_TABLE}_account_created`)} ON ${ident(BIG_TABLE)} (account_id, created_at)`,
  `CREATE INDEX ${ident(`${BIG_TABLE}_created`)} ON ${ident(BIG_TABLE)} (created_at)`,
];

export interface BigTableShape {
  rows: number;
  /** pg_table_size: heap + TOAST + maps (bytes). */
  tableBytes: number;
  /** pg_total_relation_size: with the indexes (bytes). */
  totalBytes: number;
  indexes: number;
  seconds: number;
}

const BATCH = 500_000;

/** Create and fill the table with enough rows for `gib` GiB of table data (ROWS_PER_GIB). */
export async function createBigTable(info: ConnInfo, gib: number): Promise<BigTableShape> {
  const started = Date.now();
  const rows = Math.max(1000, Math.round(gib * ROWS_PER_GIB));
  const sessions = await Promise.all([0, 1].map(() => connect(info, { applicationName: 'bench-generate' })));
  try {
    for (const c of sessions) {
      await c.query('SET synchronous_commit = off');
      await c.query(`SET maintenance_work_mem = '256MB'`);
    }
    await sessions[0]!.query(CREATE);
    let next = 1;
    // Two sessions take batches in turn until every id is written.
    await Promise.all(
      sessions.map(async (c) => {
        while (next <= rows) {
          const from = next;
          const to = Math.min(rows, from + BATCH - 1);
          next = to + 1;
          await c.query(INSERT, [from, to]);
        }
      }),
    );
    // The primary key locks the table exclusively; the two plain indexes then build side by side.
    await sessions[0]!.query(INDEXES[0]!);
    await Promise.all([sessions[0]!.query(INDEXES[1]!), sessions[1]!.query(INDEXES[2]!)]);
    await sessions[0]!.query(`VACUUM (FREEZE, ANALYZE) ${ident(BIG_TABLE)}`);
    return { ...(await describeBigTable(sessions[0]!)), seconds: (Date.now() - started) / 1000 };
  } finally {
    await Promise.all(sessions.map((c) => c.end()));
  }
}

/** Exact row count, sizes and index count of the big table. */
export async function describeBigTable(c: pg.Client): Promise<Omit<BigTableShape, 'seconds'>> {
  const r = await c.query(
    `SELECT (SELECT count(*) FROM ${ident(BIG_TABLE)})::bigint AS rows,
            pg_table_size($1::regclass)::bigint AS table_bytes, pg_total_relation_size($1::regclass)::bigint AS total_bytes,
            (SELECT count(*) FROM pg_index WHERE indrelid = $1::regclass AND indisvalid)::int AS indexes`,
    [BIG_TABLE],
  );
  const row = r.rows[0];
  return { rows: Number(row.rows), tableBytes: Number(row.table_bytes), totalBytes: Number(row.total_bytes), indexes: row.indexes };
}
