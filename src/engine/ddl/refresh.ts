/**
 * New tables. A table created on the source is published at once (FOR ALL TABLES), but the
 * subscription skips its rows silently until `ALTER SUBSCRIPTION … REFRESH PUBLICATION` adds it,
 * and REFRESH cannot run inside the apply worker's trigger. So `cdc ddl` and `cdc status --watch`
 * run this: once the target has applied past the point where the tables were listed, each new
 * table must exist on the target and be empty (its rows come with the table's copy,
 * copy_data = true), then REFRESH, then wait until every new table is `ready`.
 *
 * A partition detached on the source is new to the publication too (publish_via_partition_root),
 * but its rows are already on the target: they came through the root. Its DETACH waits in the
 * stream (replay-sql.ts) until the subscription lists it, so it is added with copy_data = false
 * while it is still a partition here, and every change made to it after the DETACH is applied.
 * One REFRESH has one copy_data for every table it adds: when another new table needs its rows
 * copied (it holds rows on the source, or is not on the target yet), the DETACH is applied
 * instead with the table emptied in the same transaction, and the table is copied like a new one.
 */
import type pg from 'pg';
import { checkFailed } from '../../errors.js';
import type { ConnInfo } from '../../postgres/conninfo.js';
import { currentWalLsn, waitForApplied } from '../../postgres/lsn.js';
import { ident, quoteRelation, relationKey, type RelationName } from '../../postgres/sql.js';
import type { Logger } from '../../log/logger.js';
import type { MigrationNames } from '../names.js';
import { createHelperIndexes, fullIdentityTables } from '../cdc/replica-identity.js';

export interface RefreshResult {
  /** Added with their rows copied from the source. */
  added: RelationName[];
  /** Added without a copy: detached partitions whose rows were already here, and new tables still empty on the source. */
  addedWithoutCopy: RelationName[];
  /** Detached partitions emptied at their DETACH on the target and copied again (see above). */
  recopied: RelationName[];
  /** Published tables the target does not have yet (their CREATE is not applied, or it stopped). */
  waiting: RelationName[];
  helperIndexes: string[];
}

const NOTHING: RefreshResult = { added: [], addedWithoutCopy: [], recopied: [], waiting: [], helperIndexes: [] };

export async function refreshNewTables(
  source: pg.Client,
  sourceInfo: ConnInfo,
  target: pg.Client,
  names: MigrationNames,
  log: Logger,
  timeoutMs = 60_000,
): Promise<RefreshResult> {
  const fresh = await newPublishedTables(source, target, names);
  if (!fresh.length) return NOTHING;
  const detached = await stillPartitionsOnTarget(target, fresh);
  let recopied: RelationName[] = [];
  if (detached.length) {
    const others = fresh.filter((t) => !detached.includes(t));
    if (await canAddWithoutCopy(source, target, others)) return addWithoutCopy(source, sourceInfo, target, names, fresh, log, timeoutMs);
    await recopyAtDetach(source, target, detached);
    recopied = detached;
    log.info(
      `${detached.map(relationKey).join(', ')} detached on the source while other new tables need a copy: emptied at the DETACH on the target, copied with them`,
    );
  }
  await waitUntilApplied(source, sourceInfo, names, timeoutMs);
  const present: RelationName[] = [];
  const waiting: RelationName[] = [];
  for (const t of fresh) ((await existsOnTarget(target, t)) ? present : waiting).push(t);
  if (!present.length || waiting.length) return { ...NOTHING, waiting, recopied };
  await checkEmpty(target, present);
  await target.query(`ALTER SUBSCRIPTION ${ident(names.subscription)} REFRESH PUBLICATION WITH (copy_data = true)`);
  log.info(`subscription ${names.subscription} refreshed: ${present.map(relationKey).join(', ')} added with their rows`);
  await waitUntilReady(target, names.subscription, present, timeoutMs);
  return { ...NOTHING, added: present, recopied, helperIndexes: await helperIndexesFor(source, target, present) };
}

/** Detached partitions: copy_data = false; the DETACHes waiting in the stream are applied next. */
async function addWithoutCopy(
  source: pg.Client,
  sourceInfo: ConnInfo,
  target: pg.Client,
  names: MigrationNames,
  tables: RelationName[],
  log: Logger,
  timeoutMs: number,
): Promise<RefreshResult> {
  await target.query(`ALTER SUBSCRIPTION ${ident(names.subscription)} REFRESH PUBLICATION WITH (copy_data = false)`);
  log.info(
    `subscription ${names.subscription} refreshed: ${tables.map(relationKey).join(', ')} added without a copy (detached partitions keep the rows they have here)`,
  );
  await waitUntilReady(target, names.subscription, tables, timeoutMs);
  await waitUntilApplied(source, sourceInfo, names, timeoutMs);
  return { ...NOTHING, addedWithoutCopy: tables, helperIndexes: await helperIndexesFor(source, target, tables) };
}

/**
 * New to the publication but still a partition here: detached on the source, the DETACH not
 * applied on the target yet (it waits for the subscription to list the table).
 */
async function stillPartitionsOnTarget(target: pg.Client, tables: RelationName[]): Promise<RelationName[]> {
  const out: RelationName[] = [];
  for (const t of tables) {
    const res = await target.query('SELECT relispartition FROM pg_class WHERE oid = to_regclass($1)', [quoteRelation(t)]);
    if (res.rows[0]?.relispartition) out.push(t);
  }
  return out;
}

/**
 * copy_data = false also suits another new table if it exists here and is empty on the source:
 * every change made to it on the source is then after the DETACH, which the apply worker cannot
 * pass before this REFRESH, so none is skipped.
 */
async function canAddWithoutCopy(source: pg.Client, target: pg.Client, others: RelationName[]): Promise<boolean> {
  for (const t of others) {
    if (!(await existsOnTarget(target, t))) return false;
    const any = (await source.query(`SELECT EXISTS (SELECT 1 FROM ${quoteRelation(t)}) AS any`)).rows[0].any;
    if (any) return false;
  }
  return true;
}

/** Tell the target's replay to empty these tables at their DETACH (a resolution pgshift records itself). */
async function recopyAtDetach(source: pg.Client, target: pg.Client, tables: RelationName[]): Promise<void> {
  const ids = await source.query<{ id: string }>(
    `SELECT id::text FROM _pgshift.ddl_log
      WHERE detached && ARRAY(SELECT format('%I.%I', s, n) FROM unnest($1::text[], $2::text[]) AS x(s, n))`,
    [tables.map((t) => t.schema), tables.map((t) => t.name)],
  );
  await target.query(
    `INSERT INTO _pgshift.ddl_resolution (id, mark_applied, recopy_detached)
     SELECT x::bigint, false, true FROM unnest($1::text[]) x
      WHERE NOT EXISTS (SELECT 1 FROM _pgshift.ddl_applied a WHERE a.id = x::bigint)
     ON CONFLICT (id) DO NOTHING`,
    [ids.rows.map((r) => r.id)],
  );
}

async function existsOnTarget(target: pg.Client, t: RelationName): Promise<boolean> {
  return (await target.query('SELECT to_regclass($1) IS NOT NULL AS ok', [quoteRelation(t)])).rows[0].ok;
}

/** PostgreSQL 16+ subscribers use an index to find rows of REPLICA IDENTITY FULL tables. */
async function helperIndexesFor(source: pg.Client, target: pg.Client, tables: RelationName[]): Promise<string[]> {
  const versions = Number((await target.query('SHOW server_version_num')).rows[0].server_version_num);
  if (versions < 160000) return [];
  const keys = new Set(tables.map(relationKey));
  const full = (await fullIdentityTables(source, target, versions)).filter((t) => keys.has(relationKey(t)));
  return (await createHelperIndexes(target, full)).map((h) => h.index);
}

/** Published on the source, not yet part of the subscription on the target. */
export async function newPublishedTables(source: pg.Client, target: pg.Client, names: MigrationNames): Promise<RelationName[]> {
  const published = await source.query<RelationName>(
    'SELECT schemaname AS schema, tablename AS name FROM pg_publication_tables WHERE pubname = $1 ORDER BY 1, 2',
    [names.publication],
  );
  const subscribed = await target.query<RelationName>(
    `SELECT n.nspname AS schema, c.relname AS name FROM pg_subscription_rel sr
       JOIN pg_subscription s ON s.oid = sr.srsubid JOIN pg_class c ON c.oid = sr.srrelid JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE s.subname = $1 AND s.subdbid = (SELECT oid FROM pg_database WHERE datname = current_database())`,
    [names.subscription],
  );
  const have = new Set(subscribed.rows.map(relationKey));
  return published.rows.filter((t) => !have.has(relationKey(t)));
}

/** The CREATE of every table listed must have been applied before REFRESH looks for it on the target. */
async function waitUntilApplied(source: pg.Client, sourceInfo: ConnInfo, names: MigrationNames, timeoutMs: number): Promise<void> {
  const lsn = await currentWalLsn(source);
  const waited = await waitForApplied({ source: sourceInfo, slotName: names.slot, lsn, timeoutMs });
  if (!waited.reached)
    throw checkFailed(
      `the target has not applied up to ${lsn} within ${Math.round(timeoutMs / 1000)} s; new tables are not added yet`,
      "see 'pgshift cdc status' and 'pgshift cdc ddl'",
    );
}

async function checkEmpty(target: pg.Client, tables: RelationName[]): Promise<void> {
  for (const t of tables) {
    const any = (await target.query(`SELECT EXISTS (SELECT 1 FROM ${quoteRelation(t)}) AS any`)).rows[0].any;
    if (any)
      throw checkFailed(
        `${t.schema}.${t.name} is new to the subscription but already holds rows on the target; its copy would duplicate them`,
        `empty it on the target (TRUNCATE ${quoteRelation(t)}) once you are sure the source holds every row, then run 'pgshift cdc ddl' again`,
      );
  }
}

async function waitUntilReady(target: pg.Client, subscription: string, tables: RelationName[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const wanted = tables.map(quoteRelation);
  for (;;) {
    const res = await target.query(
      `SELECT count(*)::int AS n FROM pg_subscription_rel sr JOIN pg_subscription s ON s.oid = sr.srsubid
        WHERE s.subname = $1 AND sr.srsubstate = 'r' AND sr.srrelid = ANY (SELECT to_regclass(x) FROM unnest($2::text[]) x)`,
      [subscription, wanted],
    );
    if (res.rows[0].n === tables.length) return;
    if (Date.now() > deadline)
      throw checkFailed(
        `new tables not ready after ${Math.round(timeoutMs / 1000)} s: ${wanted.join(', ')}`,
        "see 'pgshift cdc status' for the table copy's state",
      );
    await new Promise((r) => setTimeout(r, 100));
  }
}
