/**
 * The database-side write freeze (docs/design.md rule 4). PgBouncer's PAUSE holds the
 * application; this is the safety net for everything else on the host that writes (other
 * services, cron, a shell): every login role is made read-only in this database and its
 * sessions are ended.
 *
 * `ALTER ROLE … IN DATABASE … SET default_transaction_read_only = on` makes new sessions
 * read-only; it is a guard, not a wall (a session may SET it back). pgshift's own sessions
 * connect with default_transaction_read_only=off in their startup options, which outranks
 * role settings, so the migration keeps working even when the application uses the same
 * superuser. Walsenders and logical replication workers are never touched.
 *
 * Where the record of a freeze lives (docs/design.md rule 12): on the frozen server itself, as
 * a custom placeholder setting `pgshift.frozen_by = '<migration>'` written into the very
 * pg_db_role_setting row that carries the read-only setting, in the same transaction. Why there:
 *   - pg_db_role_setting is a shared catalog: logical replication (FOR ALL TABLES) never carries
 *     it, so the other server never inherits a freeze, and a freeze outlives the runner and its
 *     state directory (a replaced runner host can still thaw exactly what was frozen);
 *   - the marker sits in the same row as what it records and both are written and reset in one
 *     transaction, so there is no window in which a role is read-only without its marker;
 *   - a role that was read-only before pgshift has the setting but no marker, so thawing (which
 *     resets only marked rows) leaves it read-only;
 *   - a placeholder needs no extension, no table in the application's schema and no superuser
 *     (any role that may ALTER ROLE … SET may set it); a role comment would overwrite the
 *     owner's own comment.
 * A second placeholder, `pgshift.switchover`, on the database of the old primary says that a
 * switchover is in flight (set with the freeze, reset once the application was switched or the
 * freeze undone): `pgshift recover` reads it to know that a switch may be half done.
 */
import type pg from 'pg';
import { ident, literal } from '../../postgres/sql.js';

/** The placeholder settings pgshift writes next to a freeze (see above). */
export const FROZEN_BY = 'pgshift.frozen_by';
export const SWITCHOVER_IN_FLIGHT = 'pgshift.switchover';

export interface FreezeRecord {
  /** The migration (--name) that froze these roles. */
  migration?: string;
  database: string;
  /** Roles we set read-only (they had no such setting before): exactly these are reset on thaw. */
  roles: string[];
  /** Whether we set it at database level too (it was not set before). */
  database_level: boolean;
  frozenAt: string;
  terminatedSessions: number;
  /**
   * Roles spared from the freeze (a replication engine's own user: AWS DMS, whose sessions replicate):
   * pinned writable in this database, marked like the frozen ones so that thaw resets them too.
   */
  sparedRoles?: string[];
}

export interface FreezeOptions {
  /** Login roles whose sessions keep running and stay writable: a replication engine's own user (AWS DMS). */
  spareRoles?: string[];
}

const THIS_DATABASE = `(SELECT oid FROM pg_database WHERE datname = current_database())`;

/**
 * Freeze writes in this database for `migration`. Every setting is written in one transaction:
 * a crash leaves either the whole freeze, with its markers, or nothing.
 */
export async function freezeDatabaseWrites(
  client: pg.Client,
  migration: string,
  switchover: { kind: string; to: string },
  opts: FreezeOptions = {},
): Promise<FreezeRecord> {
  const database = (await client.query('SELECT current_database() AS db')).rows[0].db as string;
  const spare = new Set(opts.spareRoles ?? []);
  const sparedRoles: string[] = [];
  const roles: string[] = [];
  let databaseLevel = false;
  await client.query('BEGIN');
  try {
    const candidates = await client.query(
      `SELECT r.rolname,
              EXISTS (SELECT 1 FROM pg_db_role_setting s, unnest(s.setconfig) c
                       WHERE s.setrole = r.oid AND s.setdatabase = ${THIS_DATABASE}
                         AND c LIKE 'default_transaction_read_only=%') AS has_setting
         FROM pg_roles r
        WHERE r.rolcanlogin AND r.rolname NOT LIKE 'pg\\_%' AND r.rolname NOT LIKE 'rds%'
        ORDER BY 1`,
    );
    for (const r of candidates.rows) {
      if (r.has_setting) continue; // someone chose this role's setting here; leave it as it is
      const role = `ALTER ROLE ${ident(r.rolname)} IN DATABASE ${ident(database)}`;
      await client.query(`${role} SET ${FROZEN_BY} = ${literal(migration)}`);
      if (spare.has(r.rolname)) {
        // A role's own setting in this database outranks the database-level one set below.
        await client.query(`${role} SET default_transaction_read_only = off`);
        sparedRoles.push(r.rolname);
        continue;
      }
      await client.query(`${role} SET default_transaction_read_only = on`);
      roles.push(r.rolname);
    }
    const dbHas = await client.query(
      `SELECT 1 FROM pg_db_role_setting s, unnest(s.setconfig) c
        WHERE s.setrole = 0 AND s.setdatabase = ${THIS_DATABASE} AND c LIKE 'default_transaction_read_only=%'`,
    );
    databaseLevel = (dbHas.rowCount ?? 0) === 0;
    if (databaseLevel) {
      await client.query(`ALTER DATABASE ${ident(database)} SET ${FROZEN_BY} = ${literal(migration)}`);
      await client.query(`ALTER DATABASE ${ident(database)} SET default_transaction_read_only = on`);
    }
    const inFlight = `${migration} ${switchover.kind} to ${switchover.to} ${new Date().toISOString()}`;
    await client.query(`ALTER DATABASE ${ident(database)} SET ${SWITCHOVER_IN_FLIGHT} = ${literal(inFlight)}`);
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
  const terminated = await endWritingSessions(client, [...spare]);
  return {
    migration,
    database,
    roles,
    database_level: databaseLevel,
    frozenAt: new Date().toISOString(),
    terminatedSessions: terminated,
    sparedRoles,
  };
}

/**
 * End every client session in this database except pgshift's own and those of `spareRoles`. Sessions
 * held by a paused PgBouncer are idle (PAUSE waits for their transactions), so nothing in flight is lost.
 */
export async function endWritingSessions(client: pg.Client, spareRoles: string[] = []): Promise<number> {
  const res = await client.query(
    `SELECT count(*) FILTER (WHERE pg_terminate_backend(pid))::int AS n
       FROM pg_stat_activity
      WHERE datname = current_database() AND pid <> pg_backend_pid()
        AND backend_type = 'client backend' AND application_name NOT LIKE 'pgshift%'
        AND NOT (usename = ANY ($1::text[]))`,
    [spareRoles],
  );
  return res.rows[0].n;
}

/** What the server itself records about pgshift's freezes in this database. */
export interface FreezeMarkers {
  database: string;
  /** Login roles read-only in this database because `migration` froze them. */
  roles: string[];
  /** The database-level read-only setting was set by `migration`. */
  databaseLevel: boolean;
  /** A switchover of `migration` froze this server and has not finished or been undone: "<name> <kind> to <side> <when>". */
  switchoverInFlight: string | null;
  /** Login roles read-only here that pgshift did not freeze (they stay read-only). */
  readOnlyByOthers: string[];
}

export async function readFreezeMarkers(client: pg.Client, migration: string): Promise<FreezeMarkers> {
  const database = (await client.query('SELECT current_database() AS db')).rows[0].db as string;
  const { rows } = await client.query<{ role: string | null; config: string[] }>(
    `SELECT r.rolname AS role, s.setconfig AS config
       FROM pg_db_role_setting s LEFT JOIN pg_roles r ON r.oid = s.setrole
      WHERE s.setdatabase = ${THIS_DATABASE} AND (s.setrole = 0 OR r.rolcanlogin)
      ORDER BY 1 NULLS FIRST`,
  );
  const markers: FreezeMarkers = { database, roles: [], databaseLevel: false, switchoverInFlight: null, readOnlyByOthers: [] };
  for (const row of rows) {
    const settings = new Map(
      row.config.map((c) => {
        const at = c.indexOf('=');
        return [c.slice(0, at), c.slice(at + 1)] as const;
      }),
    );
    const ours = settings.get(FROZEN_BY) === migration;
    const readOnly = /^(on|true|1|yes)$/i.test(settings.get('default_transaction_read_only') ?? '');
    if (row.role === null) {
      markers.databaseLevel = ours;
      const inFlight = settings.get(SWITCHOVER_IN_FLIGHT);
      if (inFlight?.startsWith(`${migration} `)) markers.switchoverInFlight = inFlight;
    } else if (ours)
      markers.roles.push(row.role); // frozen, or spared (pinned writable): thaw resets both
    else if (readOnly) markers.readOnlyByOthers.push(row.role);
  }
  return markers;
}

/**
 * Undo a freeze of `migration` in this database: every role marked as frozen by it (plus the
 * roles of a runner-side record, for freezes made before markers existed), the database level
 * when it is ours, and the in-flight marker. One transaction; running it twice does nothing more.
 * Returns what was reset.
 */
export async function thawDatabaseWrites(
  client: pg.Client,
  migration: string,
  record?: FreezeRecord,
): Promise<{ roles: string[]; databaseLevel: boolean }> {
  const markers = await readFreezeMarkers(client, migration);
  // A runner-side record counts only for this database and for roles that still exist (a stale file must not fail a switch).
  const recorded = record && record.database === markers.database ? record : undefined;
  const existing = recorded?.roles.length
    ? (await client.query<{ rolname: string }>('SELECT rolname FROM pg_roles WHERE rolname = ANY($1)', [recorded.roles])).rows.map(
        (r) => r.rolname,
      )
    : [];
  const roles = [...new Set([...markers.roles, ...existing])].sort();
  const databaseLevel = markers.databaseLevel || (recorded?.database_level ?? false);
  await client.query('BEGIN');
  try {
    for (const role of roles) {
      const alter = `ALTER ROLE ${ident(role)} IN DATABASE ${ident(markers.database)}`;
      await client.query(`${alter} RESET default_transaction_read_only`);
      await client.query(`${alter} RESET ${FROZEN_BY}`);
    }
    if (databaseLevel) {
      await client.query(`ALTER DATABASE ${ident(markers.database)} RESET default_transaction_read_only`);
      await client.query(`ALTER DATABASE ${ident(markers.database)} RESET ${FROZEN_BY}`);
    }
    if (markers.switchoverInFlight) await client.query(`ALTER DATABASE ${ident(markers.database)} RESET ${SWITCHOVER_IN_FLIGHT}`);
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
  return { roles, databaseLevel };
}

/** The switchover finished: the old primary stays frozen (it is the replica now), only the in-flight marker goes. */
export async function markSwitchoverDone(client: pg.Client, migration: string): Promise<void> {
  const markers = await readFreezeMarkers(client, migration);
  if (markers.switchoverInFlight) await client.query(`ALTER DATABASE ${ident(markers.database)} RESET ${SWITCHOVER_IN_FLIGHT}`);
}
