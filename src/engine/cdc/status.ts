/**
 * `pgshift cdc status`: is the target keeping up, and is the slot endangering the source?
 *
 * Lag in bytes compares LSNs (docs/design.md rule 3): the source's WAL position against what the
 * subscriber has applied (the walsender's reported apply position, or the slot's confirmed_flush_lsn).
 * Lag in milliseconds is measured, not estimated: a heartbeat is committed on the source now and
 * the clock runs until the subscriber confirms having applied past it. Because apply is in commit
 * order, that is how long any commit made now takes to reach the target. The heartbeat also keeps an
 * idle slot moving, so its retained WAL is released (docs/design.md rule 7).
 *
 * Over 350 lines: the steps of one status sample (lag by LSN and heartbeat, retained WAL, findings) and the one loop that polls them (watchCdc).
 */
import type pg from 'pg';
import { connectBoth } from '../../postgres/connect.js';
import type { ConnInfo } from '../../postgres/conninfo.js';
import { compareLsn, currentWalLsn, emitHeartbeat, lsnDiff, readAppliedPosition } from '../../postgres/lsn.js';
import { readSlot, type SlotState } from '../../postgres/slot.js';
import type { RelationName } from '../../postgres/sql.js';
import type { MigrationNames } from '../names.js';
import { fullIdentityTables } from './replica-identity.js';
import { addNewTablesDuringWatch, type WatchNewTables } from './watch-new-tables.js';
import { runWatchLoop, type WatchLoop } from './watch-loop.js';
import { silentLogger, type Logger } from '../../log/logger.js';
import { optionDefault } from '../../options/index.js';

export const GiB = 1024 ** 3;

export interface CdcStatusOptions {
  source: ConnInfo;
  target: ConnInfo;
  names: MigrationNames;
  /** Retained WAL that makes the verdict 'warn' (default: the option table's warn-retained, 2GB). */
  warnRetainedBytes?: number;
  /** Retained WAL that makes the verdict 'critical' (default: the option table's max-retained, 10GB: a third of the source's 30 GB disk). */
  maxRetainedBytes?: number;
  /** How long the heartbeat probe may take before lag in ms is reported as "more than" (default 2 s). */
  probeTimeoutMs?: number;
}

/** pg_subscription_rel states, in words. */
export type TableSyncState = 'init' | 'copying data' | 'copy finished' | 'synchronized' | 'ready' | 'unknown';
const SYNC_STATE: Record<string, TableSyncState> = { i: 'init', d: 'copying data', f: 'copy finished', s: 'synchronized', r: 'ready' };

export interface TableSync extends RelationName {
  state: TableSyncState;
  /** LSN at which the table's sync finished (null while copying). */
  lsn: string | null;
}

export interface SubscriptionState {
  name: string;
  enabled: boolean;
  slotName: string | null;
  /** The leader apply worker is running. */
  workerRunning: boolean;
  workerPid: number | null;
  /** Last source position received / reported back by the worker (target's view). */
  receivedLsn: string | null;
  latestEndLsn: string | null;
  latestEndTime: string | null;
  /** pg_stat_subscription_stats (15+): errors while applying / syncing since the stats were reset. */
  applyErrorCount: number | null;
  syncErrorCount: number | null;
}

export type Verdict = 'ok' | 'warn' | 'critical';

export interface Finding {
  level: Exclude<Verdict, 'ok'>;
  message: string;
}

export interface CdcStatus {
  at: string;
  subscription: SubscriptionState | null;
  slot: SlotState | null;
  tables: TableSync[];
  /** Source WAL insert position when read. */
  sourceLsn: string;
  /** What the subscriber has applied (walsender apply position or confirmed_flush_lsn). */
  appliedLsn: string | null;
  /** sourceLsn − appliedLsn. null when there is no slot. */
  lagBytes: number | null;
  /** Time for a commit made now to be applied; null when not measured (no worker) or slower than the probe timeout. */
  lagMs: number | null;
  /** Set when the probe timed out: the lag is at least this. */
  lagMsAtLeast: number | null;
  /** When the heartbeat behind lagMs was committed on the source (null when no probe ran). */
  heartbeatAt: string | null;
  retained: { bytes: number; warnBytes: number; maxBytes: number; walStatus: string | null; level: Verdict };
  fullIdentityWithoutIndex: RelationName[];
  findings: Finding[];
  verdict: Verdict;
}

/** One look at CDC, with fresh sessions. */
export async function cdcStatus(opts: CdcStatusOptions): Promise<CdcStatus> {
  const session = await openStatusSession(opts);
  try {
    return await session.sample();
  } finally {
    await session.close();
  }
}

interface StatusSession {
  source: pg.Client;
  target: pg.Client;
  sample(): Promise<CdcStatus>;
  close(): Promise<void>;
}

/** Sessions kept open across samples (watch), so a sample costs queries, not connections. */
async function openStatusSession(opts: CdcStatusOptions): Promise<StatusSession> {
  const { source, target, close } = await connectBoth(opts.source, opts.target, { applicationName: 'pgshift-status' });
  const targetVersion = Number((await target.query('SHOW server_version_num')).rows[0].server_version_num);
  // The catalog check of FULL tables is the costly part of a sample and changes only with DDL:
  // under --watch it is refreshed every 30 s, not every sample, to keep the watch off the apply path.
  let fullIdentity: { at: number; tables: RelationName[] } | undefined;
  const fullIdentityWithoutIndex = async () => {
    if (!fullIdentity || Date.now() - fullIdentity.at > 30_000) {
      const tables = (await fullIdentityTables(source, target, targetVersion))
        .filter((t) => !t.usableIndexOnTarget)
        .map(({ schema, name }) => ({ schema, name }));
      fullIdentity = { at: Date.now(), tables };
    }
    return fullIdentity.tables;
  };
  return {
    source,
    target,
    sample: () => readStatus(source, target, targetVersion, opts, fullIdentityWithoutIndex),
    close,
  };
}

/** The steps of one status sample, in order. */
async function readStatus(
  source: pg.Client,
  target: pg.Client,
  targetVersion: number,
  opts: CdcStatusOptions,
  fullIdentityTablesWithoutIndex: () => Promise<RelationName[]>,
): Promise<CdcStatus> {
  const { names } = opts;
  const warnBytes = opts.warnRetainedBytes ?? optionDefault('warn-retained')!;
  const maxBytes = opts.maxRetainedBytes ?? optionDefault('max-retained')!;
  const subscription = await readSubscription(target, names.subscription, targetVersion);
  const tables = subscription ? await readTableSync(target, names.subscription) : [];
  const slotName = subscription?.slotName ?? names.slot;
  const { slot, sourceLsn, appliedLsn } = await readSourcePositions(source, slotName);
  const lagBytes = appliedLsn ? Math.max(0, lsnDiff(sourceLsn, appliedLsn)) : null;
  const probe = slot?.active ? await probeLagMs(source, slotName, opts.probeTimeoutMs ?? 2000) : { lagMs: null, atLeast: null, at: null };
  const fullIdentityWithoutIndex = await fullIdentityTablesWithoutIndex();
  const retainedBytes = slot?.retainedBytes ?? 0;
  const retainedLevel: Verdict =
    retainedBytes >= maxBytes || slot?.walStatus === 'lost'
      ? 'critical'
      : retainedBytes >= warnBytes || slot?.walStatus === 'unreserved'
        ? 'warn'
        : 'ok';
  const findings = judge({
    subscription,
    slot,
    tables,
    retainedBytes,
    retainedLevel,
    warnBytes,
    maxBytes,
    fullIdentityWithoutIndex,
    probe,
    names,
  });
  return {
    at: new Date().toISOString(),
    subscription,
    slot,
    tables,
    sourceLsn,
    appliedLsn,
    lagBytes,
    lagMs: probe.lagMs,
    lagMsAtLeast: probe.atLeast,
    heartbeatAt: probe.at === null ? null : new Date(probe.at).toISOString(),
    retained: { bytes: retainedBytes, warnBytes, maxBytes, walStatus: slot?.walStatus ?? null, level: retainedLevel },
    fullIdentityWithoutIndex,
    findings,
    verdict: findings.some((f) => f.level === 'critical') ? 'critical' : findings.length ? 'warn' : 'ok',
  };
}

async function readSubscription(target: pg.Client, name: string, targetVersion: number): Promise<SubscriptionState | null> {
  const res = await target.query(
    `SELECT s.oid, s.subenabled, s.subslotname
       FROM pg_subscription s
      WHERE s.subname = $1 AND s.subdbid = (SELECT oid FROM pg_database WHERE datname = current_database())`,
    [name],
  );
  const sub = res.rows[0];
  if (!sub) return null;
  // The leader apply worker has no relid; from 16 on, parallel apply workers have a leader_pid.
  const leaderFilter = targetVersion >= 160000 ? 'AND leader_pid IS NULL' : '';
  const worker = (
    await target.query(
      `SELECT pid, received_lsn::text AS received, latest_end_lsn::text AS latest_end, latest_end_time::text AS latest_end_time
         FROM pg_stat_subscription WHERE subid = $1 AND relid IS NULL ${leaderFilter}`,
      [sub.oid],
    )
  ).rows[0];
  let applyErrorCount: number | null = null;
  let syncErrorCount: number | null = null;
  if (targetVersion >= 150000) {
    const stats = (
      await target.query('SELECT apply_error_count, sync_error_count FROM pg_stat_subscription_stats WHERE subid = $1', [sub.oid])
    ).rows[0];
    applyErrorCount = stats ? Number(stats.apply_error_count) : 0;
    syncErrorCount = stats ? Number(stats.sync_error_count) : 0;
  }
  return {
    name,
    enabled: sub.subenabled,
    slotName: sub.subslotname,
    workerRunning: Boolean(worker?.pid),
    workerPid: worker?.pid ?? null,
    receivedLsn: worker?.received ?? null,
    latestEndLsn: worker?.latest_end ?? null,
    latestEndTime: worker?.latest_end_time ?? null,
    applyErrorCount,
    syncErrorCount,
  };
}

async function readTableSync(target: pg.Client, subscription: string): Promise<TableSync[]> {
  const res = await target.query<{ schema: string; name: string; state: string; lsn: string | null }>(
    `SELECT n.nspname AS schema, c.relname AS name, r.srsubstate AS state, r.srsublsn::text AS lsn
       FROM pg_subscription_rel r
       JOIN pg_subscription s ON s.oid = r.srsubid
       JOIN pg_class c ON c.oid = r.srrelid JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE s.subname = $1 AND s.subdbid = (SELECT oid FROM pg_database WHERE datname = current_database())
      ORDER BY 1, 2`,
    [subscription],
  );
  return res.rows.map((r) => ({ schema: r.schema, name: r.name, state: SYNC_STATE[r.state] ?? 'unknown', lsn: r.lsn }));
}

async function readSourcePositions(
  source: pg.Client,
  slotName: string,
): Promise<{ slot: SlotState | null; sourceLsn: string; appliedLsn: string | null }> {
  // Applied position first, then the WAL position: read the other way round, a change landing in
  // between could make the lag look negative.
  const applied = await readAppliedPosition(source, slotName);
  const sourceLsn = await currentWalLsn(source);
  const slot = (await readSlot(source, slotName)) ?? null;
  return { slot, sourceLsn, appliedLsn: applied?.appliedLsn ?? null };
}

/**
 * Commit a heartbeat and time how long until the subscriber confirms having applied everything
 * committed before it: the lag a commit made now would see.
 */
async function probeLagMs(
  source: pg.Client,
  slotName: string,
  timeoutMs: number,
): Promise<{ lagMs: number | null; atLeast: number | null; at: number | null }> {
  const beat = await emitHeartbeat(source);
  for (;;) {
    const pos = await readAppliedPosition(source, slotName);
    const elapsed = Date.now() - beat.at;
    // Past the message's start: every transaction committed before the heartbeat is applied.
    if (pos?.appliedLsn && compareLsn(pos.appliedLsn, beat.messageLsn) > 0) return { lagMs: elapsed, atLeast: null, at: beat.at };
    if (!pos || elapsed >= timeoutMs) return { lagMs: null, atLeast: elapsed, at: beat.at };
    await new Promise((r) => setTimeout(r, 5));
  }
}

function judge(s: {
  subscription: SubscriptionState | null;
  slot: SlotState | null;
  tables: TableSync[];
  retainedBytes: number;
  retainedLevel: Verdict;
  warnBytes: number;
  maxBytes: number;
  fullIdentityWithoutIndex: RelationName[];
  probe: { lagMs: number | null; atLeast: number | null; at: number | null };
  names: MigrationNames;
}): Finding[] {
  const f: Finding[] = [];
  const gib = (b: number) => `${(b / GiB).toFixed(2)} GiB`;
  if (!s.subscription)
    f.push({
      level: 'critical',
      message: `subscription ${s.names.subscription} does not exist on the target: nothing is replicating (run cdc start)`,
    });
  else if (!s.subscription.enabled)
    f.push({
      level: 'critical',
      message: `subscription ${s.names.subscription} is disabled${s.subscription.applyErrorCount ? ` after ${s.subscription.applyErrorCount} apply error(s)` : ''}: the slot keeps WAL and nothing is applied (see the target log, then ALTER SUBSCRIPTION ... ENABLE)`,
    });
  else if (!s.subscription.workerRunning)
    f.push({
      level: 'warn',
      message: `subscription ${s.names.subscription} is enabled but its apply worker is not running (restarting after an error or a lost connection?)`,
    });
  if (s.subscription?.applyErrorCount)
    f.push({
      level: 'warn',
      message: `${s.subscription.applyErrorCount} apply error(s) recorded on the target (pg_stat_subscription_stats); see the target log`,
    });
  if (!s.slot)
    f.push({ level: 'critical', message: `replication slot ${s.subscription?.slotName ?? s.names.slot} does not exist on the source` });
  else if (s.slot.walStatus === 'lost')
    f.push({
      level: 'critical',
      message: `replication slot ${s.slot.slotName} lost WAL it needs (wal_status = lost): CDC cannot continue; stop, then full-load again`,
    });
  if (s.retainedLevel === 'critical' && s.slot?.walStatus !== 'lost')
    f.push({
      level: 'critical',
      message: `the slot retains ${gib(s.retainedBytes)} of WAL on the source (limit ${gib(s.maxBytes)}): catch up now or run cdc stop before the disk fills`,
    });
  else if (s.retainedLevel === 'warn')
    f.push({ level: 'warn', message: `the slot retains ${gib(s.retainedBytes)} of WAL on the source (warning at ${gib(s.warnBytes)})` });
  const syncing = s.tables.filter((t) => t.state !== 'ready');
  if (syncing.length)
    f.push({
      level: 'warn',
      message: `${syncing.length} table(s) still synchronizing: ${syncing
        .slice(0, 5)
        .map((t) => `${t.schema}.${t.name} (${t.state})`)
        .join(', ')}`,
    });
  if (s.probe.atLeast !== null && s.slot?.active)
    f.push({ level: 'warn', message: `a commit made now took more than ${s.probe.atLeast} ms to be applied` });
  for (const t of s.fullIdentityWithoutIndex)
    f.push({
      level: 'warn',
      message: `${t.schema}.${t.name} has REPLICA IDENTITY FULL and no usable index on the target: every replicated UPDATE/DELETE scans it (cdc start --create-helper-indexes, or add a key)`,
    });
  return f;
}

export interface CdcSample {
  at: string;
  lagBytes: number | null;
  lagMs: number | null;
  lagMsAtLeast: number | null;
  retainedBytes: number | null;
  verdict: Verdict;
  /** null when this sample could not be taken (see error). */
  status: CdcStatus | null;
  /** Why the sample failed, e.g. the source restarting; the watch reconnects on the next tick. */
  error?: string;
  /** New tables this sample added to the subscription (watch-new-tables.ts); absent when there were none. */
  newTables?: WatchNewTables;
}

export interface CdcWatchOptions extends CdcStatusOptions {
  /** Add tables created on the source to the subscription, as `cdc ddl` does (default true). */
  addNewTables?: boolean;
  log?: Logger;
}

/** How a caller stops the watch, and whether a failed sample throws (runWatchLoop). */
export type WatchOptions = Pick<WatchLoop<CdcSample>, 'until' | 'reconnect'>;

/**
 * The one loop that polls cdcStatus: `cdc status --watch`, the cdc action's wait for catch-up and
 * the rehearsal's lag series all run it (watch-loop.ts: a failed sample is critical and the watch
 * reconnects). A sample every `intervalMs` until `signal` aborts or `until` says so; returns the
 * series. The heartbeat each sample writes is what keeps an otherwise idle slot moving.
 */
export async function watchCdc(
  opts: CdcWatchOptions,
  intervalMs: number,
  onSample: (s: CdcSample) => void,
  signal: AbortSignal,
  watch: WatchOptions = {},
): Promise<CdcSample[]> {
  // The heartbeat probe may not outlast the interval, unless the caller chose its bound.
  const sessionOpts = { ...opts, probeTimeoutMs: opts.probeTimeoutMs ?? Math.min(2000, intervalMs) };
  return runWatchLoop<CdcSample>({
    open: async () => {
      const session = await openStatusSession(sessionOpts);
      return {
        sample: async () => {
          const status = await session.sample();
          const sample: CdcSample = {
            at: status.at,
            lagBytes: status.lagBytes,
            lagMs: status.lagMs,
            lagMsAtLeast: status.lagMsAtLeast,
            retainedBytes: status.retained.bytes,
            verdict: status.verdict,
            status,
          };
          if (opts.addNewTables !== false) {
            const added = await addNewTablesDuringWatch(session.source, session.target, { ...opts, log: opts.log ?? silentLogger });
            if (added) sample.newTables = added;
          }
          return sample;
        },
        close: session.close,
      };
    },
    failed: (at, error) => ({
      at,
      lagBytes: null,
      lagMs: null,
      lagMsAtLeast: null,
      retainedBytes: null,
      verdict: 'critical',
      status: null,
      error,
    }),
    intervalMs,
    onSample,
    signal,
    ...watch,
  });
}
