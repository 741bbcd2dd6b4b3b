/**
 * Independent checks of "target equals source", written without any pgshift code so a bug in
 * the engine cannot hide itself: ordered per-table hashes, and catalog descriptions.
 */
import pg from 'pg';

type Run = (sql: string, params?: unknown[]) => Promise<pg.QueryResult>;

const PIN = `SET TimeZone = 'UTC'; SET DateStyle = 'ISO'; SET IntervalStyle = 'postgres'; SET extra_float_digits = 3; SET bytea_output = 'hex';`;

/** md5 of every row's text, ordered by that text, for each table with data (leaf tables). */
export async function tableHashes(url: string): Promise<Record<string, string>> {
  const c = new pg.Client(url);
  c.on('error', () => undefined);
  await c.connect();
  try {
    await c.query(PIN);
    const tables = await c.query(`
      SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema', '_pgshift') AND n.nspname NOT LIKE 'pg\\_%'
       ORDER BY 1, 2`);
    const out: Record<string, string> = {};
    for (const { nspname, relname } of tables.rows) {
      const rel = `${pg.escapeIdentifier(nspname)}.${pg.escapeIdentifier(relname)}`;
      const r = await c.query(
        `SELECT count(*)::int AS n, md5(coalesce(string_agg(t::text, E'\\n' ORDER BY t::text), '')) AS h FROM ONLY ${rel} t`,
      );
      out[`${nspname}.${relname}`] = `${r.rows[0].n}:${r.rows[0].h}`;
    }
    return out;
  } finally {
    await c.end();
  }
}

/** Columns, constraints, indexes, grants, triggers, views, sequences and large objects, as comparable text. */
export async function catalogDescription(url: string): Promise<Record<string, string[]>> {
  const c = new pg.Client(url);
  c.on('error', () => undefined);
  await c.connect();
  const q = async (sql: string) => (await c.query(sql)).rows.map((r) => Object.values(r).join(' | '));
  const user = `NOT IN ('pg_catalog', 'information_schema', '_pgshift') AND %s NOT LIKE 'pg\\_%'`;
  const nsp = (col: string) => `${col} ${user.replace('%s', col)}`;
  try {
    return {
      columns: await q(`SELECT table_schema, table_name, column_name, data_type, udt_name, coalesce(column_default, ''), is_nullable
                          FROM information_schema.columns WHERE ${nsp('table_schema')} ORDER BY 1, 2, ordinal_position`),
      constraints: await q(`SELECT n.nspname, c.relname, con.conname, pg_get_constraintdef(con.oid)
                              FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
                             WHERE ${nsp('n.nspname')} ORDER BY 1, 2, 3`),
      indexes: await q(`SELECT schemaname, tablename, indexname, indexdef FROM pg_indexes WHERE ${nsp('schemaname')} ORDER BY 1, 2, 3`),
      // PostgreSQL 17 added the MAINTAIN privilege to owners' defaults; it has no equivalent on 15.
      grants: await q(`SELECT n.nspname, c.relname, pg_get_userbyid(c.relowner),
                              (SELECT string_agg(pg_get_userbyid(a.grantee) || '=' || a.privilege_type || '/' || pg_get_userbyid(a.grantor), ',' ORDER BY 1)
                                 FROM aclexplode(c.relacl) a WHERE a.privilege_type <> 'MAINTAIN')
                         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE ${nsp('n.nspname')} AND c.relkind IN ('r','p','v','m','S') ORDER BY 1, 2`),
      schemaGrants: await q(`SELECT nspname, coalesce(nspacl::text, '') FROM pg_namespace n WHERE ${nsp('n.nspname')} ORDER BY 1`),
      triggers: await q(`SELECT event_object_schema, event_object_table, trigger_name, action_timing, event_manipulation, action_statement
                           FROM information_schema.triggers WHERE ${nsp('event_object_schema')} ORDER BY 1, 2, 3, 5`),
      views: await q(`SELECT schemaname, viewname, definition FROM pg_views WHERE ${nsp('schemaname')} ORDER BY 1, 2`),
      matviews: await q(`SELECT schemaname, matviewname, ispopulated FROM pg_matviews WHERE ${nsp('schemaname')} ORDER BY 1, 2`),
      functions: await q(`SELECT n.nspname, p.proname, pg_get_function_identity_arguments(p.oid), coalesce(p.proacl::text, '')
                            FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE ${nsp('n.nspname')} ORDER BY 1, 2, 3`),
      sequences: await q(
        `SELECT schemaname, sequencename, coalesce(last_value::text, 'null'), increment_by FROM pg_sequences WHERE ${nsp('schemaname')} ORDER BY 1, 2`,
      ),
      replicaIdentity: await q(`SELECT n.nspname, c.relname, c.relreplident FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                                 WHERE ${nsp('n.nspname')} AND c.relkind IN ('r','p') ORDER BY 1, 2`),
      largeObjects: await q(`SELECT l.oid, pg_get_userbyid(l.lomowner), md5(lo_get(l.oid)) FROM pg_largeobject_metadata l ORDER BY 1`),
    };
  } finally {
    await c.end();
  }
}

export type { Run };
