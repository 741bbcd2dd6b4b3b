/**
 * New tables. A table created on the source is published at once (FOR ALL TABLES), but the
 * subscription skips its rows silently until `ALTER SUBSCRIPTION … REFRESH PUBLICATION` adds it,
 * and REFRESH cannot run inside the apply worker's trigger. So `cdc ddl` (and `cdc status
 * --watch`) run it: once the target has applied past the point where the tables were listed,
 * each new table must exist on the target and be empty (its rows come with the table's copy,
 * copy_data = true), then REFRESH, then wait until every new table is `ready`.
 */
import type pg from 'pg';
import { checkFailed } from '../../errors.js';
import type { ConnInfo } from '../../postgres/conninfo.js';
import { currentWalLsn, waitForApplied } from '../../postgres/lsn.js';
import { ident, quoteRelation, type RelationName } from '../../postgres/sql.js';
import type { Logger } from '../../log/logger.js';
import type { MigrationNames } from '../names.js';
import { createHelperIndexes, fullIdentityTables } from '../cdc/replica-identity.js';

export interface RefreshResult {
  added: RelationName[];
  /** Published tables the target does not have yet (their CREATE is not applied, or it stopped). */
  waiting: RelationName[];
  helperIndexes: string[];
}

export async function refreshNewTables(
  source: pg.Client,
  sourceInfo: ConnInfo,
  target: pg.Client,
  names: MigrationNames,
  log: Logger,
  timeoutMs = 60_000,
): Promise<RefreshResult> {
  const fresh = await newPublishedTables(source, target, names);
  if (!fresh.length) return { added: [], waiting: [], helperIndexes: [] };
  await waitUntilApplied(source, sourceInfo, names, timeoutMs);
  const present: RelationName[] = [];
  const waiting: RelationName[] = [];
  for (const t of fresh) {
    const exists = (await target.query('SELECT to_regclass($1) IS NOT NULL AS ok', [quoteRelation(t)])).rows[0].ok;
    (exists ? present : waiting).push(t);
  }
  if (!present.length || waiting.length) return { added: [], waiting, helperIndexes: [] };
  await checkEmpty(target, present);
  await target.query(`ALTER SUBSCRIPTION ${ident(names.subscription)} REFRESH PUBLICATION WITH (copy_data = true)`);
  log.info(`subscription ${names.subscription} refreshed: ${present.map((t) => `${t.schema}.${t.name}`).join(', ')} added with their rows`);
  await waitUntilReady(target, names.subscription, present, timeoutMs);
  const versions = Number((await target.query('SHOW server_version_num')).rows[0].server_version_num);
  const keys = new Set(present.map((t) => `${t.schema}.${t.name}`));
  const full = (await fullIdentityTables(source, target, versions)).filter((t) => keys.has(`${t.schema}.${t.name}`));
  const helpers = versions >= 160000 ? await createHelperIndexes(target, full) : [];
  return { added: present, waiting, helperIndexes: helpers.map((h) => h.index) };
}

/** Published on the source, not yet part of the subscription on the target. */
async function newPublishedTables(source: pg.Client, target: pg.Client, names: MigrationNames): Promise<RelationName[]> {
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
  const have = new Set(subscribed.rows.map((t) => `${t.schema}.${t.name}`));
  return published.rows.filter((t) => !have.has(`${t.schema}.${t.name}`));
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
