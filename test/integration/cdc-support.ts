/**
 * What the CDC tests need around the code under test: the hand-over full-load makes (publication,
 * slot with exported snapshot, data copied inside that snapshot) and an independent comparison of
 * the two databases. Both are written here from first principles so that a bug in the engine
 * cannot hide itself in the check.
 */
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import copyStreams from 'pg-copy-streams';
import { connect } from '../../src/postgres/connect.js';
import type { ConnInfo } from '../../src/postgres/conninfo.js';
import { createSlotWithSnapshot } from '../../src/postgres/slot.js';
import { ident, quoteRelation, type RelationName } from '../../src/postgres/sql.js';
import type { MigrationNames } from '../../src/engine/names.js';

/**
 * The full-load hand-over (correctness rule 1), done by hand: publication, then the slot with an
 * exported snapshot, then every table's rows copied in a transaction that uses that snapshot.
 * The target schema must exist already. Returns the slot's consistent LSN.
 */
export async function handOverLikeFullLoad(source: ConnInfo, target: ConnInfo, names: MigrationNames): Promise<{ consistentLsn: string; copiedRows: number }> {
  const src = await connect(source);
  const tgt = await connect(target);
  try {
    await src.query(`CREATE PUBLICATION ${ident(names.publication)} FOR ALL TABLES WITH (publish_via_partition_root = true)`);
    const slot = await createSlotWithSnapshot(source, names.slot);
    let copiedRows = 0;
    try {
      await src.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
      await src.query(`SET TRANSACTION SNAPSHOT '${slot.snapshotName.replace(/'/g, "''")}'`);
      // Copies in any order: the session skips FK triggers, as the apply worker does.
      await tgt.query('SET session_replication_role = replica');
      for (const table of await leafTables(src)) {
        await pipeline(src.query(copyStreams.to(`COPY ${quoteRelation(table)} TO STDOUT`)), tgt.query(copyStreams.from(`COPY ${quoteRelation(table)} FROM STDIN`)));
        copiedRows += Number((await tgt.query(`SELECT count(*) AS n FROM ${quoteRelation(table)}`)).rows[0].n);
      }
      await src.query('COMMIT');
    } finally {
      await slot.release();
    }
    return { consistentLsn: slot.consistentLsn, copiedRows };
  } finally {
    await src.end();
    await tgt.end();
  }
}

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
      const r = await c.query(`SELECT count(*)::int AS rows, md5(string_agg(pgshift_row::text, ',' ORDER BY pgshift_row::text)) AS md5 FROM ${quoteRelation(t)} AS pgshift_row`);
      out.push({ table: `${t.schema}.${t.name}`, rows: r.rows[0].rows, md5: r.rows[0].md5 });
    }
    return out;
  } finally {
    await c.end();
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
