/**
 * `pgshift cdc start`: subscribe the target to the source.
 *
 * Strategy 'slot' (the default) continues exactly where full-load's copy ended (docs/design.md rule 1):
 * the subscription attaches to full-load's slot with create_slot = false and copy_data = false, so
 * the first change it applies is the first one after the snapshot the data was copied in — nothing
 * between copy and stream is lost or applied twice.
 *
 * Strategy 'subscription-copy' is the simple alternative for small databases: a schema-only target,
 * and the subscription copies the tables itself (copy_data = true) from a slot it creates.
 *
 * Over 350 lines: the start runbook for both strategies, with each refusal and undo beside its step; split, the undo would sit away from what it undoes.
 */
import type pg from 'pg';
import { checkFailed, connectionError, type PgshiftError, usageError } from '../../errors.js';
import { Cancelled, throwIfCancelled } from '../../cancel.js';
import { withClients } from '../../postgres/connect.js';
import { dropSlotIfExists } from '../../postgres/slot.js';
import { detachAndDropSubscription } from '../../postgres/subscription.js';
import { describe, libpqConninfo, type ConnInfo } from '../../postgres/conninfo.js';
import { redact } from '../../postgres/redact.js';
import { ident, literal, quoteRelation, type RelationName } from '../../postgres/sql.js';
import type { Logger } from '../../log/logger.js';
import type { MigrationNames } from '../names.js';
import { createHelperIndexes, fullIdentityTables, type FullIdentityTable, type HelperIndex } from './replica-identity.js';
import {
  chooseSubscriptionOptions,
  DEFAULT_CDC_OPTIONS,
  type CdcOptions,
  type ChosenOption,
  type ServerVersions,
  type SkippedOption,
} from './subscription-options.js';
import { createSubscription as createSubscriptionQuietly } from '../../postgres/subscription.js';
import { cancelQueriesOnAbort, type QueryCanceller } from '../../postgres/cancel-query.js';
import { DEFAULT_DDL_MODE, prepareDdl, undoPrepareDdl, type DdlMode, type DdlSetup } from '../ddl/index.js';

export type CdcStrategy = 'slot' | 'subscription-copy';

export interface StartCdcOptions {
  source: ConnInfo;
  /** The address the target uses to reach the source (on EC2: the private IP, not the runner's localhost). Default: `source`. */
  sourceFromTarget?: ConnInfo;
  target: ConnInfo;
  names: MigrationNames;
  strategy?: CdcStrategy;
  options?: Partial<CdcOptions>;
  /** Create a b-tree index on the target for REPLICA IDENTITY FULL tables that have none (used by 16+ subscribers). */
  createHelperIndexes?: boolean;
  /** Schema changes on the source: replayed on the target (default), refused, or left alone. */
  ddl?: DdlMode;
  /** How long to wait for the apply worker to start streaming (default 30 s). */
  startTimeoutMs?: number;
  log: Logger;
  /** A signal (SIGINT/SIGTERM/SIGHUP) stops the start and drops what this run made (docs/design.md rule 12). */
  signal?: AbortSignal;
}

export interface StartCdcResult {
  subscription: string;
  publication: string;
  slotName: string;
  strategy: CdcStrategy;
  versions: ServerVersions;
  options: ChosenOption[];
  skippedOptions: SkippedOption[];
  /** REPLICA IDENTITY FULL tables still without a usable index on the target: every UPDATE/DELETE there is a full scan. */
  fullIdentityWithoutIndex: RelationName[];
  helperIndexes: HelperIndex[];
  /** Whether the publication was created here (subscription-copy only). */
  createdPublication: boolean;
  /** The slot's confirmed position when the subscription started streaming. */
  startLsn: string | null;
  ddl: DdlMode;
  /** A subscription disabled by an error (e.g. a DDL stop) was enabled again instead of created. */
  resumed: boolean;
  /** An earlier cdc start (e.g. one killed after its CREATE SUBSCRIPTION committed) had made the subscription; nothing was changed. */
  alreadyRunning: boolean;
  seconds: number;
}

/** The runbook of `cdc start`, step by step. */
export async function startCdc(opts: StartCdcOptions): Promise<StartCdcResult> {
  const started = Date.now();
  const strategy = opts.strategy ?? 'slot';
  const ddl = opts.ddl ?? (strategy === 'slot' ? DEFAULT_DDL_MODE : 'off');
  // disable_on_error is NOT forced with DDL replay: measured on PostgreSQL 17, it also disables the
  // subscription when the walsender connection drops or the source restarts, and a disabled
  // subscription keeps the slot's WAL until someone acts (docs/design.md rule 7). A DDL stop
  // instead makes the apply worker retry its transaction every wal_retrieve_retry_interval
  // (5 s), rolled back each time, until `cdc ddl resolve` records the way past it.
  const wanted = { ...DEFAULT_CDC_OPTIONS, ...opts.options };
  const { names, log } = opts;
  return withClients(opts.source, opts.target, async (source, target) => {
    // A signal cancels the statement either session waits in (a CREATE SUBSCRIPTION behind a lock on a
    // target table), so the undo runs now, not when the lock goes (docs/design.md rule 12).
    const canceller = cancelQueriesOnAbort(opts.signal, [
      { client: source, info: opts.source },
      { client: target, info: opts.target },
    ]);
    try {
      return await startWith(source, target, canceller);
    } finally {
      canceller.dispose();
    }
  });

  async function startWith(source: pg.Client, target: pg.Client, canceller: QueryCanceller): Promise<StartCdcResult> {
    const versions = await readVersions(source, target);
    if (await resumeDisabledSubscription(source, target, opts)) {
      const startLsn = await waitForStreaming(source, target, opts, opts.startTimeoutMs ?? 30_000);
      return resumedResult(opts, strategy, ddl, versions, startLsn, started);
    }
    await checkNoEarlierStartRunning(target, opts.target, names);
    if (await alreadyRunning(source, target, opts, strategy)) {
      const startLsn = await waitForStreaming(source, target, opts, opts.startTimeoutMs ?? 30_000);
      return { ...resumedResult(opts, strategy, ddl, versions, startLsn, started), resumed: false, alreadyRunning: true };
    }
    await checkNoSubscription(target, opts.target, names);
    // subscription-copy makes the publication, so everything that can refuse is checked before it.
    if (strategy === 'subscription-copy') await checkSlot(source, opts.source, names, strategy);
    const createdPublication = await checkPublication(source, opts.source, names, strategy, log);
    if (strategy === 'slot') await checkSlot(source, opts.source, names, strategy);
    let chosen: ChosenOption[];
    let skipped: SkippedOption[];
    let prepared: { fullIdentityWithoutIndex: RelationName[]; helperIndexes: HelperIndex[] } | undefined;
    let ddlSetup: DdlSetup | undefined;
    try {
      if (strategy === 'subscription-copy') await checkTargetTablesEmpty(source, target, opts.target, names);
      prepared = await prepareFullIdentityTables(source, target, versions, opts.createHelperIndexes ?? false, log);
      ({ chosen, skipped } = chooseSubscriptionOptions(wanted, versions));
      for (const s of skipped) log.info(`subscription option ${s.option} left out: ${s.reason}`);
      ddlSetup = await prepareDdl(source, target, ddl, strategy, opts.source, log);
      throwIfCancelled(opts.signal);
      await createSubscription(target, opts, strategy, chosen);
    } catch (err) {
      // Undo: what the DDL step made, and a publication made here for subscription-copy, go again when no subscription came of it.
      const stopped = opts.signal?.aborted === true;
      if (stopped) await canceller.settled();
      const undone = ddlSetup ? await undoPrepareDdl(source, target, ddlSetup) : [];
      undone.push(...(await dropHelperIndexesMadeHere(target, prepared?.helperIndexes ?? [])));
      if (createdPublication) {
        await dropPublicationMadeHere(source, names, log);
        undone.push(`publication ${names.publication} on the source`);
      }
      if (stopped) {
        reportStopped(opts, undone);
        throw opts.signal?.reason instanceof Cancelled ? opts.signal.reason : err;
      }
      throw err;
    }
    const { fullIdentityWithoutIndex, helperIndexes } = prepared;
    log.info(
      `subscription ${names.subscription} created on the ${describe(opts.target)} (${strategy === 'slot' ? `slot ${names.slot}, copy_data = false` : 'copy_data = true'})`,
    );
    let startLsn: string | null;
    try {
      startLsn = await waitForStreaming(source, target, opts, opts.startTimeoutMs ?? 30_000);
    } catch (err) {
      if (err instanceof Cancelled) {
        await canceller.settled();
        const undone = await undoStart(source, target, opts, strategy, createdPublication);
        if (ddlSetup) undone.push(...(await undoPrepareDdl(source, target, ddlSetup)));
        undone.push(...(await dropHelperIndexesMadeHere(target, helperIndexes)));
        reportStopped(opts, undone);
      }
      throw err;
    }
    return {
      subscription: names.subscription,
      publication: names.publication,
      slotName: names.slot,
      strategy,
      versions,
      options: chosen,
      skippedOptions: skipped,
      fullIdentityWithoutIndex,
      helperIndexes,
      createdPublication,
      startLsn,
      ddl,
      resumed: false,
      alreadyRunning: false,
      seconds: (Date.now() - started) / 1000,
    };
  }
}

async function readVersions(source: pg.Client, target: pg.Client): Promise<ServerVersions> {
  const num = async (c: pg.Client) => Number((await c.query('SHOW server_version_num')).rows[0].server_version_num);
  return { source: await num(source), target: await num(target) };
}

/**
 * After a DDL stop (or any apply error with disable_on_error) the subscription is disabled, its
 * slot still holding the transaction it stopped on. Once `cdc ddl resolve` recorded the way past
 * it, `cdc start` enables it again; the apply worker retries that transaction from its start.
 */
async function resumeDisabledSubscription(source: pg.Client, target: pg.Client, opts: StartCdcOptions): Promise<boolean> {
  const res = await target.query(
    `SELECT subenabled FROM pg_subscription WHERE subname = $1 AND subdbid = (SELECT oid FROM pg_database WHERE datname = current_database())`,
    [opts.names.subscription],
  );
  if (!res.rowCount || res.rows[0].subenabled) return false;
  const slot = await source.query('SELECT 1 FROM pg_replication_slots WHERE slot_name = $1', [opts.names.slot]);
  if (!slot.rowCount) return false;
  await target.query(`ALTER SUBSCRIPTION ${ident(opts.names.subscription)} ENABLE`);
  opts.log.info(`subscription ${opts.names.subscription} was disabled; enabled again (it retries the transaction it stopped on)`);
  return true;
}

function resumedResult(
  opts: StartCdcOptions,
  strategy: CdcStrategy,
  ddl: DdlMode,
  versions: ServerVersions,
  startLsn: string | null,
  started: number,
): StartCdcResult {
  return {
    subscription: opts.names.subscription,
    publication: opts.names.publication,
    slotName: opts.names.slot,
    strategy,
    versions,
    options: [],
    skippedOptions: [],
    fullIdentityWithoutIndex: [],
    helperIndexes: [],
    createdPublication: false,
    startLsn,
    ddl,
    resumed: true,
    alreadyRunning: false,
    seconds: (Date.now() - started) / 1000,
  };
}

/** A second subscription under the same name would fail half-way; say how to see or stop the running one. */
async function checkNoSubscription(target: pg.Client, info: ConnInfo, names: MigrationNames): Promise<void> {
  const res = await target.query(
    `SELECT subenabled FROM pg_subscription WHERE subname = $1 AND subdbid = (SELECT oid FROM pg_database WHERE datname = current_database())`,
    [names.subscription],
  );
  if (res.rowCount) {
    throw usageError(
      `subscription ${names.subscription} already exists on the ${describe(info)} (${res.rows[0].subenabled ? 'enabled' : 'disabled'})`,
      `see it with 'pgshift cdc status --name ${names.name}'; stop it with 'pgshift cdc stop --name ${names.name}' before starting again`,
    );
  }
}

/** Strategy 'slot' needs full-load's publication; 'subscription-copy' creates it when missing. */
async function checkPublication(
  source: pg.Client,
  info: ConnInfo,
  names: MigrationNames,
  strategy: CdcStrategy,
  log: Logger,
): Promise<boolean> {
  const res = await source.query('SELECT 1 FROM pg_publication WHERE pubname = $1', [names.publication]);
  if (res.rowCount) return false;
  if (strategy === 'slot') {
    throw usageError(
      `publication ${names.publication} does not exist on the ${describe(info)}`,
      `run 'pgshift full-load --name ${names.name}' first (it creates the publication and the slot), or use --cdc-strategy subscription-copy`,
    );
  }
  const versionNum = Number((await source.query('SHOW server_version_num')).rows[0].server_version_num);
  // publish_via_partition_root (13+): partitioned tables arrive as their root, whatever the target's partitions.
  const withRoot = versionNum >= 130000 ? ' WITH (publish_via_partition_root = true)' : '';
  await source.query(`CREATE PUBLICATION ${ident(names.publication)} FOR ALL TABLES${withRoot}`);
  log.info(`publication ${names.publication} created on the ${describe(info)}`);
  return true;
}

async function dropPublicationMadeHere(source: pg.Client, names: MigrationNames, log: Logger): Promise<void> {
  await source.query(`DROP PUBLICATION IF EXISTS ${ident(names.publication)}`).catch(() => undefined);
  log.info(`publication ${names.publication} dropped again (no subscription was created)`);
}

/**
 * Strategy 'slot': full-load's slot must exist in this database, be a pgoutput slot and be free —
 * checked here because CREATE SUBSCRIPTION with create_slot = false succeeds on a missing slot and
 * only the apply worker fails later, in the target's log.
 * Strategy 'subscription-copy': the subscription creates the slot, so none may exist yet.
 */
async function checkSlot(source: pg.Client, info: ConnInfo, names: MigrationNames, strategy: CdcStrategy): Promise<void> {
  const res = await source.query<{
    plugin: string | null;
    database: string | null;
    active: boolean;
    active_pid: number | null;
    wal_status: string | null;
  }>('SELECT plugin, database, active, active_pid, wal_status FROM pg_replication_slots WHERE slot_name = $1', [names.slot]);
  const slot = res.rows[0];
  if (strategy === 'subscription-copy') {
    if (slot)
      throw usageError(
        `replication slot ${names.slot} already exists on the ${describe(info)}`,
        `the subscription-copy strategy creates its own slot: run 'pgshift cdc stop --name ${names.name}' to drop the old one, or use the default --cdc-strategy slot after full-load`,
      );
    return;
  }
  if (!slot) {
    throw usageError(
      `replication slot ${names.slot} does not exist on the ${describe(info)}`,
      `run 'pgshift full-load --name ${names.name}' first; it creates the slot with the snapshot the data is copied in`,
    );
  }
  if (slot.plugin !== 'pgoutput' || slot.database !== info.database) {
    throw usageError(
      `replication slot ${names.slot} on the ${describe(info)} is not a pgoutput slot of database ${info.database}`,
      'it was not made by pgshift full-load for this database; pick another --name',
    );
  }
  if (slot.wal_status === 'lost') {
    throw checkFailed(
      `replication slot ${names.slot} has lost WAL it needs (wal_status = lost)`,
      'the copy can no longer be continued: run cdc stop, then full-load again',
    );
  }
  if (slot.active) {
    throw usageError(
      `replication slot ${names.slot} is in use by another consumer (pid ${slot.active_pid})`,
      'another subscription streams from it: find it with cdc status, or stop that consumer first',
    );
  }
}

/** copy_data = true into a table that already holds rows would duplicate them (or fail on the key half-way). */
async function checkTargetTablesEmpty(source: pg.Client, target: pg.Client, targetInfo: ConnInfo, names: MigrationNames): Promise<void> {
  const published = await source.query<{ schema: string; name: string }>(
    `SELECT DISTINCT schemaname AS schema, tablename AS name FROM pg_publication_tables WHERE pubname = $1 ORDER BY 1, 2`,
    [names.publication],
  );
  const nonEmpty: string[] = [];
  for (const t of published.rows) {
    const exists = await target.query(`SELECT to_regclass($1) IS NOT NULL AS ok`, [quoteRelation(t)]);
    if (!exists.rows[0].ok) continue;
    const rows = await target.query(`SELECT EXISTS (SELECT 1 FROM ${quoteRelation(t)}) AS any`);
    if (rows.rows[0].any) nonEmpty.push(`${t.schema}.${t.name}`);
  }
  if (nonEmpty.length) {
    throw usageError(
      `--cdc-strategy subscription-copy needs empty tables on the ${describe(targetInfo)}, but ${nonEmpty.slice(0, 5).join(', ')}${nonEmpty.length > 5 ? ` and ${nonEmpty.length - 5} more` : ''} hold rows`,
      'load the schema only (pg_dump --schema-only), or use the default --cdc-strategy slot after full-load',
    );
  }
}

/** Warn about FULL tables the target must scan for every change; create helper indexes when asked. */
async function prepareFullIdentityTables(
  source: pg.Client,
  target: pg.Client,
  versions: ServerVersions,
  create: boolean,
  log: Logger,
): Promise<{ fullIdentityWithoutIndex: RelationName[]; helperIndexes: HelperIndex[] }> {
  const tables: FullIdentityTable[] = await fullIdentityTables(source, target, versions.target);
  let helperIndexes: HelperIndex[] = [];
  if (create && versions.target >= 160000) {
    helperIndexes = await createHelperIndexes(target, tables);
    for (const h of helperIndexes)
      log.info(`helper index ${h.index} on ${h.schema}.${h.name} (${h.column})${h.created ? '' : ' already existed'}`);
  } else if (create) {
    log.warn(
      `the target is PostgreSQL ${Math.floor(versions.target / 10000)}: only 16+ subscribers use a plain index for REPLICA IDENTITY FULL tables; no helper index created`,
    );
  }
  const covered = new Set(helperIndexes.map((h) => `${h.schema}.${h.name}`));
  const without = tables
    .filter((t) => !t.usableIndexOnTarget && !covered.has(`${t.schema}.${t.name}`))
    .map(({ schema, name }) => ({ schema, name }));
  for (const t of without) {
    log.warn(
      `${t.schema}.${t.name} has REPLICA IDENTITY FULL and no usable index on the target: each replicated UPDATE/DELETE scans the whole table (add a primary key, or cdc start --create-helper-indexes)`,
    );
  }
  return { fullIdentityWithoutIndex: without, helperIndexes };
}

/**
 * The subscription from full-load's slot (or, for subscription-copy, with its own slot and copy).
 * createSubscription keeps the password out of the target's log; errors are redacted here.
 */
async function createSubscription(target: pg.Client, opts: StartCdcOptions, strategy: CdcStrategy, chosen: ChosenOption[]): Promise<void> {
  const { names } = opts;
  const from = opts.sourceFromTarget ?? opts.source;
  const conninfo = libpqConninfo(from, { includePassword: true });
  const withOptions: string[] =
    strategy === 'slot'
      ? ['create_slot = false', `slot_name = ${literal(names.slot)}`, 'copy_data = false']
      : ['create_slot = true', `slot_name = ${literal(names.slot)}`, 'copy_data = true'];
  for (const o of chosen) withOptions.push(`${o.option} = ${o.value === 'true' || o.value === 'false' ? o.value : literal(o.value)}`);
  try {
    await createSubscriptionQuietly(target, names.subscription, conninfo, names.publication, withOptions);
  } catch (err) {
    throw explainCreateSubscriptionError(err, from, opts.target);
  }
}

function explainCreateSubscriptionError(err: unknown, from: ConnInfo, target: ConnInfo): PgshiftError {
  const message = redact((err as Error)?.message ?? String(err));
  if (/could not connect to the publisher/i.test(message)) {
    return connectionError(
      `the ${describe(target)} cannot reach the source at ${from.host}:${from.port}/${from.database}: ${message.replace(/\s+/g, ' ')}`,
      'pass --source-from-target-url with the address the target uses (e.g. the EC2 private IP), and check the security group and pg_hba.conf',
    );
  }
  if ((err as { code?: string }).code === '42501') {
    return checkFailed(
      `the target role ${target.user} may not create subscriptions: ${message}`,
      'on RDS grant rds_superuser, elsewhere run as a superuser or grant pg_create_subscription (16+)',
    );
  }
  return connectionError(
    `CREATE SUBSCRIPTION failed on the ${describe(target)}: ${message}`,
    'see the target log; then run cdc stop before trying again',
  );
}

/** Stopped by a signal after the subscription was made: drop it (and, for subscription-copy, the slot and publication this run made). Full-load's slot stays. */
async function undoStart(
  source: pg.Client,
  target: pg.Client,
  opts: StartCdcOptions,
  strategy: CdcStrategy,
  createdPublication: boolean,
): Promise<string[]> {
  const undone = [`subscription ${opts.names.subscription} on the target`];
  await detachAndDropSubscription(target, opts.names.subscription);
  if (strategy === 'subscription-copy') {
    if (await dropSlotIfExists(source, opts.names.slot)) undone.push(`replication slot ${opts.names.slot} on the source`);
    if (createdPublication) {
      await dropPublicationMadeHere(source, opts.names, opts.log);
      undone.push(`publication ${opts.names.publication} on the source`);
    }
  }
  return undone;
}

/** Helper indexes this run created (not those a re-run found) go with a start that did not happen (docs/design.md rule 13). */
async function dropHelperIndexesMadeHere(target: pg.Client, made: HelperIndex[]): Promise<string[]> {
  const dropped: string[] = [];
  for (const h of made.filter((m) => m.created)) {
    const ok = await target.query(`DROP INDEX IF EXISTS ${ident(h.schema)}.${ident(h.index)}`).then(
      () => true,
      () => false,
    );
    if (ok) dropped.push(`helper index ${h.index} on the target`);
  }
  return dropped;
}

/** The abort path's one line: exactly what this run had created and removed again (docs/design.md rule 13). */
function reportStopped(opts: StartCdcOptions, undone: string[]): void {
  const reason = opts.signal?.reason instanceof Cancelled ? opts.signal.reason.signalName : 'a signal';
  opts.log.warn(
    `cdc start stopped by ${reason}: ${undone.length ? `dropped what this run created: ${undone.join(', ')}` : 'this run had created nothing'}; full-load's slot ${opts.names.slot} and publication ${opts.names.publication} stay for the next cdc start`,
  );
}

/**
 * A cdc start killed (SIGKILL, a lost runner) while its CREATE SUBSCRIPTION waited on a lock leaves
 * that statement running on the target: it still commits once the lock goes. A second start now
 * would queue behind it and fail on the name; say which session it is instead.
 */
async function checkNoEarlierStartRunning(target: pg.Client, info: ConnInfo, names: MigrationNames): Promise<void> {
  // The statement text holds the connection string: only pids and timings are read from it.
  const res = await target.query<{ pid: number; state: string; waiting: string | null; seconds: number }>(
    `SELECT pid, state, wait_event_type AS waiting, round(extract(epoch FROM now() - query_start))::int AS seconds
       FROM pg_stat_activity
      WHERE datname = current_database() AND pid <> pg_backend_pid() AND state <> 'idle' AND starts_with(query, $1)`,
    [`CREATE SUBSCRIPTION ${ident(names.subscription)} `],
  );
  if (!res.rowCount) return;
  const sessions = res.rows.map((r) => `pid ${r.pid} (${r.waiting === 'Lock' ? 'waiting on a lock' : r.state}, for ${r.seconds} s)`);
  throw usageError(
    `an earlier cdc start's CREATE SUBSCRIPTION ${names.subscription} is still running on the ${describe(info)}: ${sessions.join('; ')}`,
    `it commits once what it waits for is released: then run 'pgshift cdc start --name ${names.name}' again (it finds the subscription running); or end it with ${res.rows.map((r) => `SELECT pg_cancel_backend(${r.pid});`).join(' ')} and start again`,
  );
}

/**
 * The subscription this migration's cdc start makes already exists, enabled, on this name's slot and
 * publication (an earlier start was killed after it committed): cdc start has nothing left to do.
 */
async function alreadyRunning(source: pg.Client, target: pg.Client, opts: StartCdcOptions, strategy: CdcStrategy): Promise<boolean> {
  const { names } = opts;
  const res = await target.query<{ enabled: boolean; slot: string | null; publications: string[] }>(
    `SELECT subenabled AS enabled, subslotname AS slot, subpublications AS publications FROM pg_subscription
      WHERE subname = $1 AND subdbid = (SELECT oid FROM pg_database WHERE datname = current_database())`,
    [names.subscription],
  );
  const sub = res.rows[0];
  if (!sub?.enabled || sub.slot !== names.slot || sub.publications.length !== 1 || sub.publications[0] !== names.publication) return false;
  const slot = await source.query('SELECT 1 FROM pg_replication_slots WHERE slot_name = $1 AND database = current_database()', [
    names.slot,
  ]);
  if (!slot.rowCount) return false;
  opts.log.info(
    `subscription ${names.subscription} already exists on the ${describe(opts.target)}, enabled, on slot ${names.slot} (made by an earlier cdc start${strategy === 'slot' ? '' : ` with --strategy ${strategy}`}): nothing to create; waiting until it streams`,
  );
  return true;
}

/**
 * The subscription is only useful once its apply worker streams from the slot. Waiting here turns
 * "created but never connected" (pg_hba, password, a firewall between the target and the source)
 * into an error now instead of a lag that grows silently.
 */
async function waitForStreaming(source: pg.Client, target: pg.Client, opts: StartCdcOptions, timeoutMs: number): Promise<string | null> {
  const { names } = opts;
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    throwIfCancelled(opts.signal);
    const slot = await source.query<{ active: boolean; confirmed: string | null }>(
      'SELECT active, confirmed_flush_lsn::text AS confirmed FROM pg_replication_slots WHERE slot_name = $1',
      [names.slot],
    );
    if (slot.rows[0]?.active) return slot.rows[0].confirmed;
    await new Promise((r) => setTimeout(r, 100));
  }
  const worker = await target.query(`SELECT pid FROM pg_stat_subscription WHERE subname = $1 AND relid IS NULL AND pid IS NOT NULL`, [
    names.subscription,
  ]);
  throw checkFailed(
    `subscription ${names.subscription} was created but is not streaming from slot ${names.slot} after ${Math.round(timeoutMs / 1000)} s (apply worker ${worker.rowCount ? 'running' : 'not running'})`,
    `check the target's log for the apply worker's error (often pg_hba.conf or the password on the source); 'pgshift cdc stop --name ${names.name}' removes it`,
  );
}
