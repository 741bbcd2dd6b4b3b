/**
 * `pgshift status`: the whole migration in one read-only look, for a person at 3 a.m., for the
 * watch workflow and for `pgshift recover`, which decides from the same reading.
 *
 *   1. each server: reachable? login roles read-only? pgshift's freeze markers (write-freeze.ts)?
 *   2. both replication links (source -> target, target -> source): subscription, slot, lag, errors
 *   3. every logical slot in the database on either side, with the WAL it retains
 *   4. the application's path: where the switch points, and whether PgBouncer is paused
 *   5. which server is primary, what is wrong, and the next sensible command
 * It writes nothing: no heartbeat, no lock (a running cutover is seen through pg_locks).
 *
 * Over 350 lines: one read-only look at every part of the migration (primary, switch, links both ways, freeze records, slots) and the next command, which depends on all of them.
 */
import type pg from 'pg';
import { connect } from '../../postgres/connect.js';
import { describe, type ConnInfo } from '../../postgres/conninfo.js';
import { currentWalLsn, lsnDiff, readAppliedPosition } from '../../postgres/lsn.js';
import { redact } from '../../postgres/redact.js';
import type { Switch, SwitchPosition } from '../../switch/switch.js';
import { readFreezeMarkers, type FreezeMarkers } from '../cutover/write-freeze.js';
import { linkNames, type MigrationNames } from '../names.js';
import { optionDefault } from '../../options/index.js';

export type Side = 'source' | 'target';
export type Level = 'ok' | 'warn' | 'critical';

export interface StatusOptions {
  source: ConnInfo;
  target: ConnInfo;
  names: MigrationNames;
  /** How the application is switched; without it the application's path is not looked at. */
  switch?: Switch;
  /** A running link further behind than this is a warning (default 256 MiB). */
  maxLagBytes?: number;
  /** Retained WAL that is a warning (default: the option table's warn-retained) and critical (max-retained, a third of a 30 GB disk). */
  warnRetainedBytes?: number;
  maxRetainedBytes?: number;
}

export interface ServerState {
  side: Side;
  where: string;
  reachable: boolean;
  error?: string;
  /** Login roles whose new sessions in this database are read-only (role, role-in-database or database setting). */
  readOnlyRoles: string[];
  loginRoles: number;
  /** What pgshift itself recorded on this server (null when unreachable). */
  freeze: FreezeMarkers | null;
  /** A cutover or rollback of this migration holds its lock right now (only read on the source). */
  switchoverRunning: boolean;
}

export interface LinkStatus {
  direction: 'source -> target' | 'target -> source';
  publisher: Side;
  subscriber: Side;
  subscription: string;
  slot: string;
  subscriptionExists: boolean;
  enabled: boolean;
  /** The apply worker runs. */
  streaming: boolean;
  slotExists: boolean;
  slotActive: boolean;
  /** The slot's output plugin: pgoutput for a native subscription, test_decoding for an AWS DMS task. */
  slotPlugin: string | null;
  /** Publisher's WAL position minus what the subscriber applied; null without a slot. */
  lagBytes: number | null;
  /** pg_stat_subscription_stats: apply errors since the stats were last reset (null when unknown). */
  applyErrors: number | null;
}

export interface SlotStatus {
  side: Side;
  name: string;
  active: boolean;
  retainedBytes: number;
  walStatus: string | null;
  /** Made by this migration. */
  ours: boolean;
  level: Level;
}

export interface ApplicationState {
  switch: string;
  pointsAt: Side | 'elsewhere' | 'unknown';
  position?: SwitchPosition;
  /** PgBouncer has the entry paused (null when the switch cannot tell). */
  paused: boolean | null;
  error?: string;
}

export interface Finding {
  level: Exclude<Level, 'ok'>;
  message: string;
}

export interface MigrationStatus {
  at: string;
  name: string;
  servers: Record<Side, ServerState>;
  links: LinkStatus[];
  slots: SlotStatus[];
  application: ApplicationState | null;
  primary: Side | 'unknown';
  /** Why that server is taken as primary. */
  primaryBecause: string;
  /** A switchover died between turning replication around and making the new link (no link at all). */
  halfTurned: 'cutover' | 'rollback' | null;
  findings: Finding[];
  verdict: Level;
  next: string;
}

export const DEFAULT_MAX_LAG_BYTES = optionDefault('lag-bound')!;

export async function readStatus(opts: StatusOptions): Promise<MigrationStatus> {
  const sessions = await Promise.all([open(opts.source), open(opts.target)]);
  try {
    const [source, target] = sessions;
    const servers = {
      source: await readServer('source', opts.source, source, opts.names),
      target: await readServer('target', opts.target, target, opts.names),
    };
    const n = opts.names;
    const links = [
      await readLink('source -> target', source, target, linkNames(n, 'forward')),
      await readLink('target -> source', target, source, linkNames(n, 'reverse')),
    ];
    const slots = [...(await readSlots('source', source, opts, [n.slot])), ...(await readSlots('target', target, opts, [n.reverseSlot]))];
    const application = opts.switch ? await readApplication(opts.switch, opts) : null;
    const { primary, because, halfTurned } = decidePrimary(servers, links, slots, application);
    const status: MigrationStatus = {
      at: new Date().toISOString(),
      name: n.name,
      servers,
      links,
      slots,
      application,
      primary,
      primaryBecause: because,
      halfTurned,
      findings: [],
      verdict: 'ok',
      next: '',
    };
    status.findings = findings(status, opts);
    status.verdict = status.findings.some((f) => f.level === 'critical') ? 'critical' : status.findings.length ? 'warn' : 'ok';
    status.next = nextCommand(status);
    return status;
  } finally {
    await Promise.all(sessions.map((s) => (s instanceof Error ? undefined : s.end().catch(() => undefined))));
  }
}

async function open(info: ConnInfo): Promise<pg.Client | Error> {
  try {
    return await connect(info, { applicationName: 'pgshift-status' });
  } catch (err) {
    return err as Error;
  }
}

const THIS_DATABASE = `(SELECT oid FROM pg_database WHERE datname = current_database())`;

async function readServer(side: Side, info: ConnInfo, c: pg.Client | Error, names: MigrationNames): Promise<ServerState> {
  const base = { side, where: describe(info), readOnlyRoles: [], loginRoles: 0, freeze: null, switchoverRunning: false };
  if (c instanceof Error) return { ...base, reachable: false, error: redact(c.message) };
  // PostgreSQL's precedence: a role's setting in this database, then the role's own, then the database's.
  const { rows } = await c.query<{ rolname: string; ro: string }>(
    `WITH cfg AS (
       SELECT s.setrole, s.setdatabase, split_part(c, '=', 2) AS v
         FROM pg_db_role_setting s, unnest(s.setconfig) c
        WHERE c LIKE 'default_transaction_read_only=%' AND s.setdatabase IN (0, ${THIS_DATABASE}))
     SELECT r.rolname,
            coalesce((SELECT v FROM cfg WHERE setrole = r.oid AND setdatabase <> 0),
                     (SELECT v FROM cfg WHERE setrole = r.oid AND setdatabase = 0),
                     (SELECT v FROM cfg WHERE setrole = 0 AND setdatabase <> 0), 'off') AS ro
       FROM pg_roles r
      WHERE r.rolcanlogin AND r.rolname NOT LIKE 'pg\\_%' AND r.rolname NOT LIKE 'rds%'
      ORDER BY 1`,
  );
  const readOnlyRoles = rows.filter((r) => /^(on|true|1|yes)$/i.test(r.ro)).map((r) => r.rolname);
  // The advisory lock cutover and rollback hold (switchover.ts): its 64-bit key is split into classid and objid.
  const running =
    side === 'source'
      ? (
          await c.query(
            `SELECT EXISTS (SELECT 1 FROM pg_locks
                             WHERE locktype = 'advisory' AND objsubid = 1 AND granted
                               AND ((classid::bigint << 32) | objid::bigint) = hashtext($1)::bigint) AS held`,
            [`pgshift:${names.name}`],
          )
        ).rows[0].held
      : false;
  return {
    ...base,
    reachable: true,
    readOnlyRoles,
    loginRoles: rows.length,
    freeze: await readFreezeMarkers(c, names.name),
    switchoverRunning: running,
  };
}

async function readLink(
  direction: LinkStatus['direction'],
  publisher: pg.Client | Error,
  subscriber: pg.Client | Error,
  n: { slot: string; subscription: string },
): Promise<LinkStatus> {
  const [pubSide, subSide]: [Side, Side] = direction === 'source -> target' ? ['source', 'target'] : ['target', 'source'];
  const link: LinkStatus = {
    direction,
    publisher: pubSide,
    subscriber: subSide,
    subscription: n.subscription,
    slot: n.slot,
    subscriptionExists: false,
    enabled: false,
    streaming: false,
    slotExists: false,
    slotActive: false,
    slotPlugin: null,
    lagBytes: null,
    applyErrors: null,
  };
  if (!(subscriber instanceof Error)) {
    const r = (
      await subscriber.query(
        `SELECT s.subenabled AS enabled,
                EXISTS (SELECT 1 FROM pg_stat_subscription w WHERE w.subid = s.oid AND w.pid IS NOT NULL AND w.relid IS NULL) AS streaming,
                (SELECT apply_error_count FROM pg_stat_subscription_stats t WHERE t.subid = s.oid)::int AS errors
           FROM pg_subscription s WHERE s.subname = $1 AND s.subdbid = ${THIS_DATABASE}`,
        [n.subscription],
      )
    ).rows[0];
    if (r) Object.assign(link, { subscriptionExists: true, enabled: r.enabled, streaming: r.streaming, applyErrors: r.errors });
  }
  if (!(publisher instanceof Error)) {
    const [pos, head] = await Promise.all([readAppliedPosition(publisher, n.slot), currentWalLsn(publisher)]);
    if (pos) {
      link.slotExists = true;
      link.slotActive = pos.active;
      link.slotPlugin =
        (await publisher.query('SELECT plugin FROM pg_replication_slots WHERE slot_name = $1', [n.slot])).rows[0]?.plugin ?? null;
      link.lagBytes = pos.appliedLsn ? Math.max(0, lsnDiff(head, pos.appliedLsn)) : null;
    }
  }
  return link;
}

async function readSlots(side: Side, c: pg.Client | Error, opts: StatusOptions, ours: string[]): Promise<SlotStatus[]> {
  if (c instanceof Error) return [];
  const warn = opts.warnRetainedBytes ?? optionDefault('warn-retained')!;
  const max = opts.maxRetainedBytes ?? optionDefault('max-retained')!;
  const { rows } = await c.query(
    `SELECT slot_name, active, wal_status, COALESCE(pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn), 0)::bigint AS retained
       FROM pg_replication_slots WHERE database = current_database() OR database IS NULL ORDER BY slot_name`,
  );
  return rows.map((r) => {
    const retained = Number(r.retained);
    return {
      side,
      name: r.slot_name,
      active: r.active,
      retainedBytes: retained,
      walStatus: r.wal_status,
      ours: ours.includes(r.slot_name),
      level: retained >= max || r.wal_status === 'lost' ? 'critical' : retained >= warn ? 'warn' : 'ok',
    };
  });
}

async function readApplication(sw: Switch, opts: StatusOptions): Promise<ApplicationState> {
  const app: ApplicationState = { switch: sw.describe(), pointsAt: 'unknown', paused: null };
  try {
    if (sw.current) {
      const position = await sw.current();
      app.position = position;
      app.pointsAt = sameServer(position, opts.source) ? 'source' : sameServer(position, opts.target) ? 'target' : 'elsewhere';
    }
    if (sw.paused) app.paused = await sw.paused();
  } catch (err) {
    app.error = redact((err as Error).message);
  }
  return app;
}

export function sameServer(p: SwitchPosition, c: ConnInfo): boolean {
  return p.host === c.host && (p.port ?? 5432) === c.port && (p.database === undefined || p.database === c.database);
}

const frozenByUs = (s: ServerState) => !!s.freeze && (s.freeze.roles.length > 0 || s.freeze.databaseLevel);

/**
 * The primary is the publisher of the link that runs (a link is there when both its subscription
 * and its slot are). With no link, a switchover may have died while turning replication around:
 * the new link's slot exists and the old primary is still frozen, so the old primary is it. Around an
 * AWS DMS link with an unfinished switchover, where the application points decides (or nobody guesses).
 */
export function decidePrimary(
  servers: Record<Side, ServerState>,
  links: LinkStatus[],
  slots: SlotStatus[],
  application: ApplicationState | null = null,
): { primary: Side | 'unknown'; because: string; halfTurned: 'cutover' | 'rollback' | null } {
  const present = links.filter((l) => l.subscriptionExists && l.slotExists);
  if (present.length === 1) return { primary: present[0].publisher, because: `replication runs ${present[0].direction}`, halfTurned: null };
  if (present.length === 2) return { primary: 'unknown', because: 'replication runs both ways at once', halfTurned: null };
  if (!servers.source.reachable || !servers.target.reachable)
    return { primary: 'unknown', because: 'a server cannot be reached and no link decides', halfTurned: null };
  // An AWS DMS task reads its slot from outside PostgreSQL: nothing here says whether it runs. And with DMS the
  // switchover moves the application first and turns replication around after writes resume, so after a
  // crash the same records can precede the switch or follow it: where the application points decides. When
  // that cannot be read (--switch none, a command without a way to ask), nothing is guessed: recover --primary.
  const dms = links.find((l) => l.slotExists && !l.subscriptionExists && l.slotPlugin === 'test_decoding');
  // Only for a switchover that did not finish: after a finished one the frozen old primary is the replica, as below.
  const unfinished = (['source', 'target'] as const).some((s) => !!servers[s].freeze?.switchoverInFlight);
  if (dms && unfinished) {
    const task = `replication ${dms.direction} is an AWS DMS task (slot ${dms.slot}, test_decoding), and a switchover did not finish`;
    const at = application?.pointsAt;
    return at === 'source' || at === 'target'
      ? {
          primary: at,
          because: `${task}; the application points at the ${at} (with DMS it is switched before replication turns around)`,
          halfTurned: null,
        }
      : {
          primary: 'unknown',
          because: `${task}; where the application points cannot be read, and it is what says whether the switch happened`,
          halfTurned: null,
        };
  }
  const has = (side: Side, slot: string) => slots.some((s) => s.side === side && s.name === slot);
  const [forward, reverse] = links;
  // A half-turned link is a switchover's, unfinished: a finished one with an AWS DMS link back (no subscription
  // to see) leaves the same slots and frozen replica, and must read as finished.
  if (unfinished && has('target', reverse.slot) && frozenByUs(servers.source) && !has('source', forward.slot))
    return {
      primary: 'source',
      because: 'a cutover stopped while turning replication around (the source is still frozen)',
      halfTurned: 'cutover',
    };
  if (
    unfinished &&
    has('source', forward.slot) &&
    frozenByUs(servers.target) &&
    !frozenByUs(servers.source) &&
    !has('target', reverse.slot)
  )
    return {
      primary: 'target',
      because: 'a rollback stopped while turning replication around (the target is still frozen)',
      halfTurned: 'rollback',
    };
  if (frozenByUs(servers.source) && !frozenByUs(servers.target))
    return { primary: 'target', because: 'no native replication link; the source was frozen by a cutover', halfTurned: null };
  return { primary: 'source', because: 'no native replication link; the source was never frozen by a cutover', halfTurned: null };
}

function findings(st: MigrationStatus, opts: StatusOptions): Finding[] {
  const out: Finding[] = [];
  for (const s of Object.values(st.servers))
    if (!s.reachable) out.push({ level: 'critical', message: `the ${s.side} (${s.where}) cannot be reached: ${s.error}` });
  if (st.servers.source.switchoverRunning) out.push({ level: 'warn', message: 'a cutover or rollback is running right now' });
  if (st.primary === 'unknown') out.push({ level: 'critical', message: `cannot tell which server is primary: ${st.primaryBecause}` });
  if (st.halfTurned) out.push({ level: 'critical', message: `${st.primaryBecause}: writes wait until 'pgshift recover'` });
  const primary = st.primary === 'unknown' ? undefined : st.servers[st.primary];
  if (primary?.freeze && !st.servers.source.switchoverRunning) {
    if (primary.freeze.roles.length || primary.freeze.databaseLevel)
      out.push({
        level: 'critical',
        message: `the primary (${primary.side}) is frozen by pgshift: ${primary.freeze.roles.length} role(s) read-only${primary.freeze.databaseLevel ? ', and the database' : ''}`,
      });
  }
  for (const s of Object.values(st.servers))
    if (s.freeze?.switchoverInFlight && !st.servers.source.switchoverRunning)
      out.push({ level: 'critical', message: `an unfinished switchover is recorded on the ${s.side}: ${s.freeze.switchoverInFlight}` });
  if (st.application && !st.servers.source.switchoverRunning) {
    if (st.application.paused) out.push({ level: 'critical', message: 'PgBouncer holds the application paused' });
    if (st.primary !== 'unknown' && (st.application.pointsAt === 'source' || st.application.pointsAt === 'target')) {
      if (st.application.pointsAt !== st.primary)
        out.push({
          level: 'critical',
          message: `the application points at the ${st.application.pointsAt}, but the primary is the ${st.primary}`,
        });
    }
    if (st.application.error) out.push({ level: 'warn', message: `cannot read the application's path: ${st.application.error}` });
  }
  const maxLag = opts.maxLagBytes ?? DEFAULT_MAX_LAG_BYTES;
  for (const l of st.links) {
    if (!l.subscriptionExists && !l.slotExists) continue;
    if (l.subscriptionExists && (!l.enabled || !l.streaming))
      out.push({
        level: 'critical',
        message: `replication ${l.direction} stopped: subscription ${l.subscription} is ${l.enabled ? 'enabled but its apply worker is not running' : 'disabled'}`,
      });
    if (l.subscriptionExists && !l.slotExists && st.servers[l.publisher].reachable)
      out.push({ level: 'critical', message: `replication ${l.direction}: slot ${l.slot} is missing on the ${l.publisher}` });
    if (l.applyErrors)
      out.push({ level: 'warn', message: `replication ${l.direction}: ${l.applyErrors} apply error(s) since the statistics were reset` });
    if (l.subscriptionExists && l.lagBytes !== null && l.lagBytes > maxLag)
      out.push({ level: 'warn', message: `replication ${l.direction} is ${l.lagBytes} bytes behind (bound ${maxLag})` });
  }
  const back = returnLinkNotRunning(st);
  if (back)
    out.push({
      level: 'warn',
      message: `replication back (${back.direction}) is not running: slot ${back.slot} on the ${back.publisher} keeps every write since the switch and nothing reads it; going back is not lossless until it runs`,
    });
  for (const s of st.slots)
    if (s.level !== 'ok')
      out.push({
        level: s.level,
        message: `slot ${s.name} on the ${s.side} retains ${s.retainedBytes} bytes of WAL${s.active ? '' : ' and nothing reads it'}${s.walStatus === 'lost' ? ' (WAL already lost)' : ''}`,
      });
  return out;
}

/**
 * The way back after a switch, when the switch made its slot (inside the freeze) but no link reads it: the
 * switchover could not start it after writes resumed (AWS DMS), or its runner died first. A slot of the
 * primary's outgoing direction with no subscription and no reader, while the other server is frozen as the
 * replica, is only ever that.
 */
function returnLinkNotRunning(st: MigrationStatus): LinkStatus | undefined {
  if (st.primary === 'unknown' || !frozenByUs(st.servers[st.primary === 'source' ? 'target' : 'source'])) return undefined;
  return st.links.find((l) => l.publisher === st.primary && l.slotExists && !l.subscriptionExists && !l.slotActive);
}

function nextCommand(st: MigrationStatus): string {
  const [forward, reverse] = st.links;
  if (st.servers.source.switchoverRunning) return 'wait: a cutover or rollback is running (pgshift status again in a minute)';
  if (st.primary === 'unknown') return 'pgshift status again once both servers answer; then pgshift recover';
  const needsRecover = st.findings.some(
    (f) => f.level === 'critical' && /frozen by pgshift|unfinished switchover|paused|points at|turning replication/.test(f.message),
  );
  if (needsRecover) return 'pgshift recover (with the same --switch flags as cutover) — see runbooks/recover.md';
  const stopped = st.links.find((l) => l.subscriptionExists && (!l.enabled || !l.streaming));
  if (stopped) return "pgshift cdc status, then the subscriber's log: fix the apply error and re-enable the subscription";
  if (returnLinkNotRunning(st))
    return 'pgshift cdc start-return (with the same engine flags as the switch) — once the old direction is stopped; runbooks/dms.md §8';
  if (st.primary === 'source') {
    if (forward.subscriptionExists) return 'pgshift verify, then pgshift cutover';
    if (forward.slotExists) return 'pgshift cdc start';
    return 'pgshift preflight, then pgshift full-load';
  }
  if (reverse.subscriptionExists) return 'all well: the target is primary; pgshift rollback to go back, pgshift cleanup after the window';
  return 'the target is primary without reverse replication; pgshift cleanup when the window is over';
}
