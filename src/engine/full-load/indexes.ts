/**
 * Indexes and key constraints of plain tables and leaf partitions, and foreign keys from plain
 * or partitioned tables to plain tables, are built by full-load itself as soon as their tables are ready, while other
 * tables are still copying — instead of all at the end in pg_restore's post-data pass, where
 * one big foreign-key check runs alone on one core (4.5 s of a 17.7 s load in
 * bench:full-load). They are identified by OID so that the post-data pass can skip exactly
 * these entries. A leaf's index is its own entry in pg_dump's archive; the parent's index
 * (ON ONLY) and the INDEX ATTACH entries that bind them stay in post-data.
 */
import type pg from 'pg';
import { ident, quoteRelation, type RelationName } from '../../postgres/sql.js';
import type { PartitionedTable, TableToCopy } from './tables.js';

export interface IndexBuild {
  tableOid: number;
  name: string;
  /** DDL statements, in order (index or constraint, then replica identity / cluster markers). */
  statements: string[];
  /** pg_restore TOC identity of the entry this replaces: catalog OID + object OID. */
  tocCatalog: number;
  tocOid: number;
  /**
   * Only CREATE INDEX, whose SHARE lock lets other CREATE INDEX on the table run beside it.
   * ALTER TABLE ... ADD CONSTRAINT (and REPLICA IDENTITY) lock the table exclusively.
   */
  sharedLock: boolean;
}

const PG_CLASS = 1259;
const PG_CONSTRAINT = 2606;

/** DDL for every valid index (and PK / UNIQUE / EXCLUDE constraint) of plain tables and leaf partitions. */
export async function listIndexBuilds(client: pg.Client, tables: TableToCopy[]): Promise<Map<number, IndexBuild[]>> {
  const byTable = new Map<number, IndexBuild[]>();
  const standalone = tables.filter((t) => t.standalone || t.partition);
  if (standalone.length === 0) return byTable;
  const res = await client.query(
    `SELECT i.indrelid::int AS table_oid, ic.relname AS index_name, i.indexrelid::int AS index_oid,
            con.oid::int AS con_oid, con.conname, pg_get_constraintdef(con.oid) AS condef,
            pg_get_indexdef(i.indexrelid) AS indexdef, i.indisreplident, i.indisclustered
       FROM pg_index i
       JOIN pg_class ic ON ic.oid = i.indexrelid
       LEFT JOIN pg_constraint con ON con.conindid = i.indexrelid AND con.conrelid = i.indrelid AND con.contype IN ('p', 'u', 'x')
      WHERE i.indrelid = ANY($1::oid[]) AND i.indisvalid
      ORDER BY con.contype = 'p' DESC NULLS LAST, ic.relname`,
    [standalone.map((t) => t.oid)],
  );
  const tableByOid = new Map(standalone.map((t) => [t.oid, t]));
  for (const r of res.rows) {
    const table = tableByOid.get(r.table_oid)!;
    const rel = quoteRelation(table);
    const statements = [r.con_oid ? `ALTER TABLE ONLY ${rel} ADD CONSTRAINT ${ident(r.conname)} ${r.condef}` : r.indexdef];
    if (r.indisreplident) statements.push(`ALTER TABLE ONLY ${rel} REPLICA IDENTITY USING INDEX ${ident(r.index_name)}`);
    if (r.indisclustered) statements.push(`ALTER TABLE ${rel} CLUSTER ON ${ident(r.index_name)}`);
    const build: IndexBuild = {
      tableOid: r.table_oid,
      name: r.con_oid ? r.conname : r.index_name,
      statements,
      tocCatalog: r.con_oid ? PG_CONSTRAINT : PG_CLASS,
      tocOid: r.con_oid ?? r.index_oid,
      sharedLock: statements.length === 1 && !r.con_oid,
    };
    byTable.set(r.table_oid, [...(byTable.get(r.table_oid) ?? []), build]);
  }
  return byTable;
}

/**
 * A foreign key from a plain or partitioned table to a plain table: added once both have their
 * data, indexes and statistics. On a partitioned table it is added to the parent (as pg_dump
 * has it) and PostgreSQL clones it onto every partition.
 */
export interface ForeignKeyBuild extends IndexBuild {
  referencedOid: number;
  /** The tables the check reads and locks on the referencing side: the table, or every leaf. */
  referencingOids: number[];
}

export async function listForeignKeyBuilds(
  client: pg.Client,
  tables: TableToCopy[],
  partitioned: PartitionedTable[],
): Promise<ForeignKeyBuild[]> {
  const standalone = tables.filter((t) => t.standalone);
  if (standalone.length === 0) return [];
  const referencing = new Map<number, RelationName & { leafOids?: number[] }>([...standalone, ...partitioned].map((t) => [t.oid, t]));
  const res = await client.query(
    `SELECT con.oid::int AS con_oid, con.conname, con.conrelid::int AS table_oid, con.confrelid::int AS referenced_oid,
            pg_get_constraintdef(con.oid) AS condef
       FROM pg_constraint con
      WHERE con.contype = 'f' AND con.conparentid = 0 AND con.conrelid = ANY($1::oid[]) AND con.confrelid = ANY($2::oid[])
      ORDER BY con.conname`,
    [[...referencing.keys()], standalone.map((t) => t.oid)],
  );
  return res.rows.map((r) => {
    const table = referencing.get(r.table_oid)!;
    // ONLY for a plain table, as pg_dump writes it; a partitioned table's key must recurse.
    const only = table.leafOids ? '' : 'ONLY ';
    return {
      tableOid: r.table_oid,
      referencedOid: r.referenced_oid,
      referencingOids: table.leafOids ?? [r.table_oid],
      name: r.conname,
      // pg_get_constraintdef keeps NOT VALID and ON DELETE/UPDATE actions as on the source.
      statements: [`ALTER TABLE ${only}${quoteRelation(table)} ADD CONSTRAINT ${ident(r.conname)} ${r.condef}`],
      tocCatalog: PG_CONSTRAINT,
      tocOid: r.con_oid,
      sharedLock: false,
    };
  });
}
