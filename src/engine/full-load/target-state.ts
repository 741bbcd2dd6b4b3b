/**
 * Full-load writes into an empty target only: loading on top of existing tables mixes two
 * datasets silently. A target holding a previous attempt is emptied with --clean.
 */
import type pg from 'pg';
import { usageError } from '../../errors.js';
import { withClient } from '../../postgres/connect.js';
import { describe, type ConnInfo } from '../../postgres/conninfo.js';
import { ident } from '../../postgres/sql.js';
import { subscriptionExists } from '../../postgres/subscription.js';
import type { Logger } from '../../log/logger.js';
import type { MigrationNames } from '../names.js';
import { notSystemSchema } from '../../postgres/schemas.js';

/** Everything but the system: --clean empties the target of an earlier attempt's objects, pgshift's own schema included. */
const SYSTEM_SCHEMAS = notSystemSchema();

/** User relations, functions and types on the target, as schema.name strings (first 20). */
export async function userObjectsOnTarget(client: pg.Client): Promise<{ count: number; sample: string[] }> {
  const res = await client.query(`
    SELECT n.nspname || '.' || c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE ${SYSTEM_SCHEMAS} AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
       AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
    UNION ALL
    SELECT n.nspname || '.' || p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
     WHERE ${SYSTEM_SCHEMAS}
       AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e')
    ORDER BY 1`);
  return { count: res.rowCount ?? 0, sample: res.rows.slice(0, 20).map((r) => r.name) };
}

/**
 * Drop every user schema and extension, then give back an empty `public` as initdb makes it.
 * Subscriptions are left alone: one still attached means CDC runs, and the caller refuses.
 */
export async function cleanTarget(client: pg.Client, opts: { keepExtensions?: boolean } = {}): Promise<string[]> {
  const dropped: string[] = [];
  const exts = opts.keepExtensions ? { rows: [] } : await client.query(`SELECT extname FROM pg_extension WHERE extname <> 'plpgsql'`);
  for (const { extname } of exts.rows) {
    await client.query(`DROP EXTENSION IF EXISTS ${ident(extname)} CASCADE`);
    dropped.push(`extension ${extname}`);
  }
  const schemas = await client.query(`SELECT n.nspname FROM pg_namespace n WHERE ${SYSTEM_SCHEMAS} ORDER BY 1`);
  for (const { nspname } of schemas.rows) {
    await client.query(`DROP SCHEMA ${ident(nspname)} CASCADE`);
    dropped.push(`schema ${nspname}`);
  }
  await client.query('CREATE SCHEMA public');
  const v = Number((await client.query('SHOW server_version_num')).rows[0].server_version_num);
  // PostgreSQL 15 made pg_database_owner the owner of public and stopped granting CREATE to everyone.
  if (v >= 150000) await client.query('ALTER SCHEMA public OWNER TO pg_database_owner');
  else await client.query('GRANT ALL ON SCHEMA public TO PUBLIC');
  // Large objects live outside schemas.
  await client.query('SELECT lo_unlink(oid) FROM pg_largeobject_metadata');
  return dropped;
}

/** Refuse a non-empty target unless `clean`; with `clean`, empty it. Returns what was dropped. */
export async function ensureTargetEmpty(
  target: ConnInfo,
  names: MigrationNames | undefined,
  clean: boolean | undefined,
  log: Logger,
): Promise<string[]> {
  return withClient(target, async (c) => {
    if (names && (await subscriptionExists(c, names.subscription))) {
      throw usageError(
        `subscription ${names.subscription} still runs on the ${describe(target)}`,
        `run 'pgshift cdc stop' before loading again`,
      );
    }
    const found = await userObjectsOnTarget(c);
    if (found.count === 0) return [];
    if (!clean) {
      throw usageError(
        `the ${describe(target)} is not empty (${found.count} objects, e.g. ${found.sample.slice(0, 3).join(', ')})`,
        'point at an empty database, or re-run with --clean to drop them',
      );
    }
    log.warn(`--clean: dropping ${found.count} objects on the target`);
    return cleanTarget(c);
  });
}
