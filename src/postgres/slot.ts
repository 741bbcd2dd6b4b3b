import type pg from 'pg';
import { checkFailed, connectionError, PgshiftError, usageError } from '../errors.js';
import { connect } from './connect.js';
import { describe, type ConnInfo } from './conninfo.js';
import { describeOpenTransaction, terminateStatement, transactionsBlocking, type OpenTransaction } from './open-transactions.js';
import { ident } from './sql.js';

/**
 * A logical replication slot created together with an exported snapshot. The snapshot
 * lives only while `holder` — the walsender connection that created it — stays open and
 * idle, so every copy transaction must `SET TRANSACTION SNAPSHOT` before `release()`.
 */
export interface ExportedSlot {
  slotName: string;
  /** WAL position from which the slot will stream: everything before is in the snapshot. */
  consistentLsn: string;
  snapshotName: string;
  release(): Promise<void>;
}

export interface SlotWaitOptions {
  /** Give up when open transactions still hold the slot's snapshot back after this long. */
  waitForTransactionsMs: number;
  /** How often to name the sessions it waits for (default 10 s). */
  reportEveryMs?: number;
  /** Called at each report while the slot waits, with the sessions it waits for. */
  onWaiting(blockers: OpenTransaction[], waitedMs: number): void;
  /**
   * Stop waiting (a signal): the creation is cancelled like at the limit, and the signal's reason is
   * thrown. Merely abandoning the wait would not do: the walsender would create the slot — for good —
   * the moment the transactions end, with nobody left to drop it.
   */
  signal?: AbortSignal;
}

/**
 * Output plugins a pgshift slot may use: pgoutput for native logical replication (a subscription reads
 * it), test_decoding for AWS DMS (experiment 03: DMS reads test_decoding or pglogical, and pglogical would
 * need an extension on the source). The plugin only changes how the slot's changes are encoded, never
 * which changes it holds.
 */
export const SLOT_PLUGINS = ['pgoutput', 'test_decoding'] as const;
export type SlotPlugin = (typeof SLOT_PLUGINS)[number];

/**
 * docs/design.md rule 1: create the slot and export its snapshot in one step, so that the
 * copy sees exactly the data before `consistentLsn` and the slot streams exactly what came after.
 *
 * The creation waits for every transaction open on the server to end. With `wait`, the sessions it
 * waits for are named every `reportEveryMs`, and after `waitForTransactionsMs` the creation is
 * cancelled — the half-made slot is temporary and goes with it — and a check failure names them.
 */
export async function createSlotWithSnapshot(
  source: ConnInfo,
  slotName: string,
  wait?: SlotWaitOptions,
  plugin: SlotPlugin = 'pgoutput',
): Promise<ExportedSlot> {
  // The plugin name goes into a replication command, which takes no parameters: only known names pass.
  if (!SLOT_PLUGINS.includes(plugin)) throw usageError(`unknown slot plugin '${plugin}'`, `use one of ${SLOT_PLUGINS.join(', ')}`);
  const holder = await connect(source, { replication: 'database', applicationName: 'pgshift-snapshot' });
  try {
    const version = Number((await holder.query('SHOW server_version_num')).rows[0].server_version_num);
    const holderPid = Number((await holder.query('SELECT pg_backend_pid() AS pid')).rows[0].pid);
    // PostgreSQL 15 introduced the parenthesised option list; older sources need the old keyword form.
    const command =
      version >= 150000
        ? `CREATE_REPLICATION_SLOT ${ident(slotName)} LOGICAL ${plugin} (SNAPSHOT 'export')`
        : `CREATE_REPLICATION_SLOT ${ident(slotName)} LOGICAL ${plugin} EXPORT_SNAPSHOT`;
    const res = wait
      ? await whileWatchingOpenTransactions(holder.query(command), source, slotName, holderPid, wait)
      : await holder.query(command);
    const row = res.rows[0];
    return {
      slotName: row.slot_name,
      consistentLsn: row.consistent_point,
      snapshotName: row.snapshot_name,
      release: async () => {
        await holder.end().catch(() => undefined);
      },
    };
  } catch (err) {
    await holder.end().catch(() => undefined);
    if (err instanceof PgshiftError) throw err;
    const e = err as { code?: string; message?: string };
    if (e.code === '42710')
      throw usageError(
        `replication slot ${slotName} already exists on the ${describe(source)}`,
        `run 'pgshift cleanup' (or cdc stop) first, or pick another --name`,
      );
    if (e.code === '53400')
      throw checkFailed(`no free replication slot on the ${describe(source)}`, 'raise max_replication_slots on the source and restart it');
    if (e.code === '42501')
      throw checkFailed(`the source role ${source.user} may not create replication slots`, `ALTER ROLE ${source.user} WITH REPLICATION;`);
    throw connectionError(`cannot create replication slot ${slotName} on the ${describe(source)}: ${e.message}`);
  }
}

/**
 * Wait for `creating` (CREATE_REPLICATION_SLOT on the walsender `holderPid`), naming the
 * transactions it waits for every `reportEveryMs`; at the limit, end the walsender and throw a
 * check failure naming them and the line that ends them.
 */
async function whileWatchingOpenTransactions<T>(
  creating: Promise<T>,
  source: ConnInfo,
  slotName: string,
  holderPid: number,
  wait: SlotWaitOptions,
): Promise<T> {
  const started = Date.now();
  const every = wait.reportEveryMs ?? 10_000;
  const deadline = started + wait.waitForTransactionsMs;
  let created = false;
  let finished = false;
  let wake: () => void = () => undefined;
  const settled = creating.then(
    () => {
      created = true;
    },
    () => undefined,
  );
  void settled.then(() => {
    finished = true;
    wake();
  });
  const onAbort = () => wake();
  wait.signal?.addEventListener('abort', onAbort);
  let watcher: pg.Client | undefined;
  try {
    let nextReport = started + every;
    while (!finished) {
      if (!wait.signal?.aborted) {
        const pause = Math.max(0, Math.min(nextReport, deadline) - Date.now());
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, pause);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
      if (finished) break;
      watcher ??= await connect(source, { applicationName: 'pgshift-slot-wait' });
      if (wait.signal?.aborted) {
        await cancelCreation(watcher, slotName, holderPid, settled, () => created);
        throw wait.signal.reason instanceof Error ? wait.signal.reason : new Error(String(wait.signal.reason));
      }
      // The walsender's query_start is when CREATE_REPLICATION_SLOT began, on the server's clock.
      const since = (await watcher.query('SELECT query_start::text AS t FROM pg_stat_activity WHERE pid = $1', [holderPid])).rows[0]?.t;
      const blockers = since ? await transactionsBlocking(watcher, holderPid, since) : [];
      if (finished) break;
      if (Date.now() >= deadline) {
        await cancelCreation(watcher, slotName, holderPid, settled, () => created);
        throw transactionsHeldTheSlot(source, slotName, blockers, Date.now() - started);
      }
      if (Date.now() >= nextReport) {
        wait.onWaiting(blockers, Date.now() - started);
        nextReport += every;
      }
    }
    return await creating;
  } finally {
    wait.signal?.removeEventListener('abort', onAbort);
    await watcher?.end().catch(() => undefined);
  }
}

/** A logical slot stays temporary until its snapshot is consistent: ending the walsender drops it. */
async function cancelCreation(
  client: pg.Client,
  slotName: string,
  holderPid: number,
  settled: Promise<void>,
  createdMeanwhile: () => boolean,
): Promise<void> {
  await client.query('SELECT pg_terminate_backend($1)', [holderPid]);
  await settled;
  // Made in the last instant, its snapshot is gone with the walsender: drop it, it was this run's.
  if (createdMeanwhile()) await dropSlotIfExists(client, slotName);
  await waitUntilSlotGone(client, slotName);
}

async function waitUntilSlotGone(client: pg.Client, slotName: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (!(await readSlot(client, slotName))) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw checkFailed(
    `replication slot ${slotName} was still there 10 s after its creation was cancelled`,
    `SELECT pg_drop_replication_slot('${slotName}') on the source once it is inactive`,
  );
}

function transactionsHeldTheSlot(source: ConnInfo, slotName: string, blockers: OpenTransaction[], waitedMs: number): PgshiftError {
  const waited = `${Math.round(waitedMs / 1000)} s`;
  if (blockers.length === 0) {
    return checkFailed(
      `replication slot ${slotName} was not created: after ${waited} it still waited for open transactions on the ${describe(source)}, none visible to role ${source.user}`,
      'look for them as a superuser (pg_stat_activity where backend_xid is not null, and pg_prepared_xacts), end them, then run full-load again',
    );
  }
  return checkFailed(
    `replication slot ${slotName} was not created: after ${waited} it still waited for ${blockers.length} open transaction(s) on the ${describe(source)}: ${blockers.map(describeOpenTransaction).join('; ')}`,
    `let them finish, or end them with ${terminateStatement(blockers)} then run full-load again (--wait-for-transactions sets how long it waits)`,
  );
}

export interface SlotState {
  slotName: string;
  database: string;
  active: boolean;
  activePid: number | null;
  confirmedFlushLsn: string | null;
  restartLsn: string | null;
  /** Bytes of WAL the slot keeps on the source disk. */
  retainedBytes: number;
  walStatus: string | null;
}

export async function readSlot(client: pg.Client, slotName: string): Promise<SlotState | undefined> {
  const res = await client.query(
    `SELECT slot_name, database, active, active_pid, confirmed_flush_lsn::text, restart_lsn::text, wal_status,
            COALESCE(pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn), 0)::bigint AS retained
       FROM pg_replication_slots WHERE slot_name = $1`,
    [slotName],
  );
  const r = res.rows[0];
  if (!r) return undefined;
  return {
    slotName: r.slot_name,
    database: r.database,
    active: r.active,
    activePid: r.active_pid,
    confirmedFlushLsn: r.confirmed_flush_lsn,
    restartLsn: r.restart_lsn,
    retainedBytes: Number(r.retained),
    walStatus: r.wal_status,
  };
}

/** Drop a slot if it exists; ends the walsender holding it first. Returns whether one was dropped. */
export async function dropSlotIfExists(client: pg.Client, slotName: string): Promise<boolean> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const slot = await readSlot(client, slotName);
    if (!slot) return attempt > 0;
    if (slot.active && slot.activePid) {
      await client.query('SELECT pg_terminate_backend($1)', [slot.activePid]);
      await new Promise((r) => setTimeout(r, 100));
      continue;
    }
    try {
      await client.query('SELECT pg_drop_replication_slot($1)', [slotName]);
      return true;
    } catch (err) {
      // 55006: the slot became active again between our look and the drop (a subscriber reconnecting).
      if ((err as { code?: string }).code !== '55006') throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw checkFailed(
    `replication slot ${slotName} stays in use and cannot be dropped`,
    `stop the subscriber using it, then SELECT pg_drop_replication_slot('${slotName}') on the source`,
  );
}
