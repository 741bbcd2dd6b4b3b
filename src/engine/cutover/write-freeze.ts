/**
 * The database-side write freeze (docs/design.md rule 4). PgBouncer's PAUSE holds the application;
 * this is the safety net for everything else on the host that writes (other services, cron,
 * a shell): every login role is made read-only in this database and its sessions are ended.
 *
 * `ALTER ROLE … IN DATABASE … SET default_transaction_read_only = on` makes new sessions
 * read-only; it is a guard, not a wall (a session may SET it back). pgshift's own sessions
 * connect with default_transaction_read_only=off in their startup options, which outranks
 * role settings, so the migration keeps working even when the application uses the same
 * superuser. Walsenders and logical replication workers are never touched.
 */
import type pg from 'pg';
import { ident } from '../../postgres/sql.js';

export interface FreezeRecord {
  database: string;
  /** Roles we set read-only (they had no such setting before): exactly these are reset on thaw. */
  roles: string[];
  /** Whether we set it at database level too (it was not set before). */
  database_level: boolean;
  frozenAt: string;
  terminatedSessions: number;
}

export async function freezeDatabaseWrites(client: pg.Client): Promise<FreezeRecord> {
  const database = (await client.query('SELECT current_database() AS db')).rows[0].db as string;
  const candidates = await client.query(
    `SELECT r.rolname,
            EXISTS (SELECT 1 FROM pg_db_role_setting s, unnest(s.setconfig) c
                     WHERE s.setrole = r.oid AND s.setdatabase = (SELECT oid FROM pg_database WHERE datname = current_database())
                       AND c LIKE 'default_transaction_read_only=%') AS has_setting
       FROM pg_roles r
      WHERE r.rolcanlogin AND r.rolname NOT LIKE 'pg\\_%' AND r.rolname NOT LIKE 'rds%'
      ORDER BY 1`,
  );
  const roles: string[] = [];
  for (const r of candidates.rows) {
    if (r.has_setting) continue; // someone chose this role's setting here; leave it as it is
    await client.query(`ALTER ROLE ${ident(r.rolname)} IN DATABASE ${ident(database)} SET default_transaction_read_only = on`);
    roles.push(r.rolname);
  }
  const dbHas = await client.query(
    `SELECT 1 FROM pg_db_role_setting s, unnest(s.setconfig) c
      WHERE s.setrole = 0 AND s.setdatabase = (SELECT oid FROM pg_database WHERE datname = current_database())
        AND c LIKE 'default_transaction_read_only=%'`,
  );
  const databaseLevel = (dbHas.rowCount ?? 0) === 0;
  if (databaseLevel) await client.query(`ALTER DATABASE ${ident(database)} SET default_transaction_read_only = on`);
  const terminated = await endWritingSessions(client);
  return { database, roles, database_level: databaseLevel, frozenAt: new Date().toISOString(), terminatedSessions: terminated };
}

/**
 * End every client session in this database except pgshift's own. Sessions held by a paused
 * PgBouncer are idle (PAUSE waits for their transactions), so nothing in flight is lost.
 */
export async function endWritingSessions(client: pg.Client): Promise<number> {
  const res = await client.query(
    `SELECT count(*) FILTER (WHERE pg_terminate_backend(pid))::int AS n
       FROM pg_stat_activity
      WHERE datname = current_database() AND pid <> pg_backend_pid()
        AND backend_type = 'client backend' AND application_name NOT LIKE 'pgshift%'`,
  );
  return res.rows[0].n;
}

/** Undo exactly what freezeDatabaseWrites did. */
export async function thawDatabaseWrites(client: pg.Client, record: FreezeRecord): Promise<void> {
  for (const role of record.roles) {
    await client.query(`ALTER ROLE ${ident(role)} IN DATABASE ${ident(record.database)} RESET default_transaction_read_only`);
  }
  if (record.database_level) await client.query(`ALTER DATABASE ${ident(record.database)} RESET default_transaction_read_only`);
}
