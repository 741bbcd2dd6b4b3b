/**
 * Moving the primary role from one server to the other with writes frozen for as short a time
 * as possible. Cutover runs it source -> target; a lossless rollback runs it target -> source.
 *
 * Runbook order (each step timed in the result). Inside the freeze only what does not grow with
 * the database's size:
 *   1. pre-checks            outside the freeze: link streaming, lag under --max-lag, a marker applied within
 *                            --max-freeze (step 3's proof, asked for first), no schema drift, fast verify clean;
 *                            the sessions that will hold the switch-point snapshots are opened
 *   2. freeze writes          PgBouncer PAUSE + every login role read-only on the old primary, sessions ended
 *   3. wait for zero lag      by LSN, bounded by --max-freeze                      (abort: thaw, RESUME)
 *   4. export snapshots       both sides now hold the same data: one snapshot each, kept open (snapshot-check.ts)
 *   5. sync sequences         every sequence, standalone ones too, plus a margin
 *   6. turn replication around  new primary -> old primary, so going back loses nothing
 *                                (abort: drop the new link, restore the old one)
 *   7. switch                 point the application at the new primary, make it writable, RESUME
 *   7b. move the DDL freeze   lifted on the old primary; after a cutover the new primary refuses
 *                             DDL for the rollback window (pgshift ddl unfreeze --accept-no-rollback).
 *                             Inside the write freeze the read-only roles already refuse DDL; a DDL
 *                             freeze there would outlive a SIGKILL, which recover does not undo.
 *   8. post-check             a write through the application path lands on the new primary
 *   9. check the snapshots    count (fast) or hash (full) both sides in the step-4 snapshots: the data at
 *                             the switch point, however long it takes and whatever is written meanwhile
 * Any failure before step 7 leaves the old primary primary, its replication running, and
 * writes flowing again; the run exits 1 with the reason. So does a signal (opts.signal, fired by
 * SIGINT/SIGTERM/SIGHUP in the CLI and the actions): the run stops at the next step boundary or
 * inside its wait and takes the same abort path. After SIGKILL, the freeze markers on the old
 * primary (write-freeze.ts) let `pgshift recover` undo or finish the switch (docs/design.md rule 12).
 * A difference found in step 9 makes the result fail (exit 1); cutover.ts rolls back at once with
 * --on-mismatch rollback.
 *
 * Over 350 lines: the switchover runbook, with the undo of every step beside it and the abort path that uses them; split, the undo would sit away from what it undoes.
 */
import type pg from 'pg';
import { PgshiftError, checkFailed } from '../../errors.js';
import { Cancelled, throwIfCancelled, untilCancelled } from '../../cancel.js';
import { connect } from '../../postgres/connect.js';
import { describe, type ConnInfo } from '../../postgres/conninfo.js';
import { currentWalLsn, lsnDiff, readAppliedPosition, catchUpWaiter } from '../../postgres/lsn.js';
import { redact } from '../../postgres/redact.js';
import { applySequences, readSequences } from '../../postgres/sequences.js';
import { dropSlotIfExists } from '../../postgres/slot.js';
import { relationKey } from '../../postgres/sql.js';
import type { Logger } from '../../log/logger.js';
import type { Switch } from '../../switch/switch.js';
import { linkNames, type MigrationNames } from '../names.js';
import { freezeDdl, unfreezeDdl } from '../ddl/index.js';
import { Timeline, type StepRecord } from '../timeline.js';
import type { SnapshotIds } from '../verify/session.js';
import { runVerify } from '../verify/verify.js';
import { checkWriteThroughAppPath, serverIdentity, type AppPathCheck } from './app-path-check.js';
import type { Link, ReplicationEngine } from '../replication/engine.js';
import { NativeEngine } from '../replication/native.js';
import type { LinkNames } from './replication-link.js';
import {
  checkInSnapshots,
  closeSnapshotHolders,
  describeSnapshotCheck,
  exportSnapshots,
  openSnapshotHolders,
  type OnMismatch,
  type SnapshotCheckResult,
  type SnapshotHolders,
} from './snapshot-check.js';
import { loadState, removeState, saveState } from './state-file.js';
import { freezeDatabaseWrites, markSwitchoverDone, thawDatabaseWrites, type FreezeRecord } from './write-freeze.js';
import { STEP } from './steps.js';
import { optionDefault } from '../../options/index.js';

export type SwitchoverKind = 'cutover' | 'rollback';

export interface SwitchoverOptions {
  source: ConnInfo;
  target: ConnInfo;
  /** How the target reaches the source (the subscription's connection); default `source`. */
  sourceFromTarget?: ConnInfo;
  /** How the source reaches the target (the reverse subscription's connection); default `target`. */
  targetFromSource?: ConnInfo;
  names: MigrationNames;
  switch: Switch;
  /** Pre-check: refuse to freeze while more than this many bytes are still to apply. Default: the option table's max-lag. */
  maxLagBytes?: number;
  /** Writes stay frozen at most this long before the run gives up and resumes them. Default: the option table's max-freeze. */
  maxFreezeMs?: number;
  /** Sequences on the new primary are set to the old one's value plus this many increments. Default: the option table's sequence-margin. */
  sequenceMargin?: number;
  /**
   * The exact check of the switch point, run after writes resume in snapshots exported inside the
   * freeze: fast (row counts, the default), full (row hashes) or none.
   */
  finalVerify?: 'fast' | 'full' | 'none';
  /** On a difference found by that check: alert (exit 1, the default) or roll back at once (cutover only). */
  onMismatch?: OnMismatch;
  /** The application's own connection (e.g. through PgBouncer) for the post-check write. */
  appPath?: ConnInfo;
  stateDir: string;
  log: Logger;
  /**
   * Fired by a signal (SIGINT/SIGTERM/SIGHUP) or a cancelled job: before the switch, the run
   * stops at the next step or inside its wait and undoes what it did (docs/design.md rule 12);
   * once the switch has begun, it is finished instead.
   */
  signal?: AbortSignal;
  /** What replicates source -> target (default native). Cutover and rollback talk only to it. */
  engine?: ReplicationEngine;
  /** What replicates target -> source after cutover (default native: the source subscribes to RDS). */
  reverseEngine?: ReplicationEngine;
}

export interface SwitchoverResult {
  kind: SwitchoverKind;
  ok: boolean;
  from: string;
  to: string;
  /** From the moment writes were frozen to the moment they resumed. */
  writeFreezeMs: number;
  lagAtFreezeBytes: number;
  waitForApplyMs: number;
  sequencesSet: number;
  /** The after-resume check in the switch-point snapshots; absent with --verify none. */
  snapshotCheck?: SnapshotCheckResult;
  /** The link that now replicates the new primary back to the old one. */
  replicationBack: LinkNames;
  frozenOnOldPrimary: FreezeRecord;
  postCheck: AppPathCheck;
  /** Set when the return link could not be started after the switch (engines that stop outside the freeze). */
  replicationBackError?: string;
  steps: StepRecord[];
}

/** An abort before the switch: the reason, and the timeline up to it. */
export class SwitchoverAborted extends PgshiftError {
  constructor(
    message: string,
    hint: string,
    readonly steps: StepRecord[],
    readonly writeFreezeMs: number,
  ) {
    super('check', message, hint);
  }
}

/** Which way this switchover goes: `from` is the primary now, `to` the primary afterwards. */
interface Direction {
  kind: SwitchoverKind;
  /** The primary now, as the runner reaches it. */
  from: ConnInfo;
  fromSide: 'source' | 'target';
  /** The primary now, as the `to` server reaches it (the connection its subscription uses). */
  fromAsSeenByTo: ConnInfo;
  /** The primary afterwards, as the runner reaches it. */
  to: ConnInfo;
  toSide: 'source' | 'target';
  /** The primary afterwards, as the `from` server reaches it (the connection the return link uses). */
  toAsSeenByFrom: ConnInfo;
  /** Replication from -> to, running now; dropped when replication is turned around. */
  runningLink: LinkNames;
  /** Replication to -> from, made when replication is turned around, so going back loses nothing. */
  returnLink: LinkNames;
  /** The engines of the two links (replication/engine.ts): the only code here that knows how they replicate. */
  runningEngine: ReplicationEngine;
  returnEngine: ReplicationEngine;
}

/** How long the pre-check lets the link pass the head it read before measuring lag. */
const PRE_CHECK_CATCH_UP_MS = 10_000;

export const freezeStateKey = (names: MigrationNames, side: 'source' | 'target') => `${names.name}.freeze.${side}`;

function direction(kind: SwitchoverKind, o: SwitchoverOptions): Direction {
  const forwardEngine = o.engine ?? new NativeEngine();
  const reverseEngine = o.reverseEngine ?? new NativeEngine();
  const sourceFromTarget = o.sourceFromTarget ?? o.source;
  const targetFromSource = o.targetFromSource ?? o.target;
  return kind === 'cutover'
    ? {
        kind,
        from: o.source,
        fromSide: 'source',
        fromAsSeenByTo: sourceFromTarget,
        to: o.target,
        toSide: 'target',
        toAsSeenByFrom: targetFromSource,
        runningLink: linkNames(o.names, 'forward'),
        returnLink: linkNames(o.names, 'reverse'),
        runningEngine: forwardEngine,
        returnEngine: reverseEngine,
      }
    : {
        kind,
        from: o.target,
        fromSide: 'target',
        fromAsSeenByTo: targetFromSource,
        to: o.source,
        toSide: 'source',
        toAsSeenByFrom: sourceFromTarget,
        runningLink: linkNames(o.names, 'reverse'),
        returnLink: linkNames(o.names, 'forward'),
        runningEngine: reverseEngine,
        returnEngine: forwardEngine,
      };
}

/** Sessions the run holds for its whole length, plus the advisory lock that refuses a second run. */
interface Sessions {
  from: pg.Client;
  to: pg.Client;
  lock: pg.Client;
}

/** The two links as the engines see them: the running one (from -> to) and the return one (to -> from). */
function links(e: Direction, s: Sessions): { running: Link; return: Link } {
  const forwardRuns = e.kind === 'cutover';
  return {
    running: {
      names: e.runningLink,
      publisher: s.from,
      subscriber: s.to,
      publisherInfo: e.from,
      subscriberInfo: e.to,
      publisherFromSubscriber: e.fromAsSeenByTo,
      direction: forwardRuns ? 'forward' : 'reverse',
    },
    return: {
      names: e.returnLink,
      publisher: s.to,
      subscriber: s.from,
      publisherInfo: e.to,
      subscriberInfo: e.from,
      publisherFromSubscriber: e.toAsSeenByFrom,
      direction: forwardRuns ? 'reverse' : 'forward',
    },
  };
}

export async function runSwitchover(kind: SwitchoverKind, opts: SwitchoverOptions): Promise<SwitchoverResult> {
  const e = direction(kind, opts);
  const timeline = new Timeline(opts.log, opts.signal);
  const maxFreezeMs = opts.maxFreezeMs ?? optionDefault('max-freeze')!;
  const checkMode = opts.finalVerify ?? optionDefault('verify')!;
  const sessions = await openSessions(e, opts);
  let holders: SnapshotHolders | undefined;
  try {
    // Nothing to undo: the pre-checks read, and write only a marker row (pgshift's own table). A signal stops them.
    await timeline.run(STEP.preChecks, async () => {
      await untilCancelled(opts.signal, preChecks(e, sessions, opts));
      if (checkMode !== 'none') holders = await openSnapshotHolders(e.from, e.to);
    });
    const toIdentity = await serverIdentity(sessions.to);

    // ── writes frozen from here ──────────────────────────────────────────────────────────
    const freezeStarted = Date.now();
    const freezeLeft = () => maxFreezeMs - (Date.now() - freezeStarted);
    let frozen: FreezeRecord | undefined;
    // Set once the freeze step starts, so the abort path thaws even if the step itself was interrupted.
    let freezeStarting = false;
    let linkTurned: 'no' | 'running link dropped' | 'return link made' = 'no';
    try {
      frozen = await timeline.run(STEP.freezeWrites, () => freezeWrites(e, sessions, opts, () => (freezeStarting = true)));
      const caughtUp = await timeline.run(
        STEP.waitForZeroLag,
        () => waitForZeroLag(e, sessions, freezeLeft(), opts.signal),
        (r) => `${r.lagBytes} bytes applied in ${r.waitedMs} ms${r.detail ? ` (${r.detail})` : ''}`,
      );
      const snapshots = holders && (await timeline.run(STEP.exportSnapshots, () => exportSnapshots(holders!)));
      const sequencesSet = await timeline.run(STEP.syncSequences, async () =>
        applySequences(sessions.to, await readSequences(sessions.from), opts.sequenceMargin ?? optionDefault('sequence-margin')!),
      );
      guardFreeze(freezeLeft, 'syncing sequences');
      await timeline.run(STEP.turnReplicationAround, () => turnReplicationAround(e, sessions, (s) => (linkTurned = s)));
      await timeline.run(
        STEP.switchApplication,
        () => {
          // A signal from here on finishes the switch: undoing half of it would be the riskier way.
          timeline.pastPointOfNoReturn();
          return switchApplication(e, sessions, opts);
        },
        (ms) => `thaw ${ms.thaw} ms, point at the new primary ${ms.pointAt} ms, resume ${ms.resume} ms`,
      );
      const writeFreezeMs = Date.now() - freezeStarted;
      // ── writes flow again, to the new primary ─────────────────────────────────────────
      opts.log.info(`writes were frozen for ${writeFreezeMs} ms`);
      await timeline.run(STEP.moveDdlFreeze, () => moveDdlFreeze(e, sessions, opts));
      // Never throws: the switch is done, and an abort path from here on would undo the wrong thing.
      const returnError = turnsInFreeze(e)
        ? undefined
        : await timeline.run(STEP.returnLinkAfterResume, () => returnLinkAfterResume(e, sessions, opts));
      const postCheck = await timeline.run(STEP.postCheck, () => postCheckStep(e, opts, toIdentity));
      if (!postCheck.ok)
        opts.log.warn(
          `post-check failed: ${redact(postCheck.error ?? '')} — the switch is done; check the application path, or run pgshift ${kind === 'cutover' ? 'rollback' : 'cutover'}`,
        );
      const snapshotCheck = snapshots && (await checkSwitchPoint(e, opts, timeline, snapshots, checkMode as 'fast' | 'full'));
      return {
        kind,
        ok: postCheck.ok && returnError === undefined && (snapshotCheck?.ok ?? true),
        from: describe(e.from),
        to: describe(e.to),
        writeFreezeMs,
        lagAtFreezeBytes: caughtUp.lagBytes,
        waitForApplyMs: caughtUp.waitedMs,
        sequencesSet,
        snapshotCheck,
        replicationBack: e.returnLink,
        frozenOnOldPrimary: frozen,
        postCheck,
        ...(returnError === undefined ? {} : { replicationBackError: returnError }),
        steps: timeline.steps,
      };
    } catch (err) {
      await abortBeforeSwitch(e, sessions, opts, frozen ?? freezeStarting, linkTurned);
      const writeFreezeMs = Date.now() - freezeStarted;
      const reason = err instanceof Cancelled ? err.message : err instanceof PgshiftError ? err.oneLine() : redact((err as Error).message);
      throw new SwitchoverAborted(
        `${kind} aborted: ${reason}`,
        `writes resumed on the ${describe(e.from)}, which stays primary with replication to the ${e.toSide} running; fix the cause and run ${kind} again`,
        timeline.steps,
        writeFreezeMs,
      );
    }
  } finally {
    await closeSnapshotHolders(holders);
    await Promise.all([sessions.from.end(), sessions.to.end(), sessions.lock.end()].map((p) => p.catch(() => undefined)));
  }
}

async function openSessions(e: Direction, opts: SwitchoverOptions): Promise<Sessions> {
  const lock = await connect(opts.source, { applicationName: 'pgshift-cutover-lock' });
  try {
    // Session-level advisory lock on the source: a second cutover or rollback of this migration is refused.
    const got = (await lock.query(`SELECT pg_try_advisory_lock(hashtext($1)) AS ok`, [`pgshift:${opts.names.name}`])).rows[0].ok;
    if (!got)
      throw checkFailed(
        `another cutover or rollback of migration '${opts.names.name}' is running`,
        'wait for it to finish; never run two at once',
      );
    const from = await connect(e.from, { applicationName: `pgshift-${e.kind}` });
    const to = await connect(e.to, { applicationName: `pgshift-${e.kind}` }).catch(async (err) => {
      await from.end();
      throw err;
    });
    return { from, to, lock };
  } catch (err) {
    await lock.end().catch(() => undefined);
    throw err;
  }
}

/**
 * Bytes behind are not the whole story: the subscriber reports what it has received, so an apply worker
 * stuck behind a lock on the target, or a large transaction streamed to it and not yet applied, shows
 * almost no lag. The freeze's own wait (step 3) would then run until --max-freeze and abort: seconds of
 * downtime for nothing. So the proof that step uses is asked for here first, with nothing frozen: a
 * marker committed now must be applied within --max-freeze.
 */
async function proveTheLinkApplies(e: Direction, s: Sessions, opts: SwitchoverOptions): Promise<void> {
  const maxFreezeMs = opts.maxFreezeMs ?? optionDefault('max-freeze')!;
  const r = await e.runningEngine.appliedPast(links(e, s).running, await currentWalLsn(s.from), maxFreezeMs, opts.signal);
  if (!r.reached)
    throw checkFailed(
      `the ${describe(e.to)} did not apply a marker committed on the ${describe(e.from)} within --max-freeze ${maxFreezeMs} ms (${r.detail ?? `${r.remainingBytes} bytes to go`}), so the freeze would only have ended in an abort; nothing was frozen`,
      `find what holds the apply back on the ${describe(e.to)} — a lock on a replicated table (pg_locks) or an apply error in its log (pgshift cdc status) — then run again`,
    );
}

// ── step 1 ──────────────────────────────────────────────────────────────────────────────
async function preChecks(e: Direction, s: Sessions, opts: SwitchoverOptions): Promise<void> {
  const link = await e.runningEngine.status(links(e, s).running);
  if (!link.exists) {
    throw checkFailed(
      e.runningEngine.name === 'native' ? `no subscription ${e.runningLink.subscription} on the ${describe(e.to)}` : link.detail,
      e.kind === 'cutover'
        ? "run 'pgshift cdc start' first (or, if cutover already happened, 'pgshift rollback')"
        : 'cutover did not set up reverse replication: use rollback --accept-data-loss, which reports what would be lost',
    );
  }
  if (!link.running) {
    throw checkFailed(
      e.runningEngine.name === 'native'
        ? `subscription ${e.runningLink.subscription} on the ${describe(e.to)} is not streaming`
        : link.detail,
      "check 'pgshift cdc status' for apply errors and the target's log",
    );
  }
  // What the wait for zero lag needs to prove the apply (the marker table, subscribed), checked before the freeze.
  await e.runningEngine.readyToSwitch(links(e, s).running);
  // Lag is measured against the head read now, after giving the link a moment to pass it: a healthy
  // link is milliseconds behind, but a burst of WAL from another database on the same server (or a
  // checkpoint) can put it megabytes behind for an instant, and that must not refuse a cutover. A real
  // backlog does not drain in that moment and is refused below.
  const head = await currentWalLsn(s.from);
  await catchUpWaiter(e.from, e.runningLink.slot, PRE_CHECK_CATCH_UP_MS)(head);
  const pos = await readAppliedPosition(s.from, e.runningLink.slot);
  if (!pos?.appliedLsn)
    throw checkFailed(
      `slot ${e.runningLink.slot} on the ${describe(e.from)} has confirmed nothing yet`,
      'wait for the subscription to catch up',
    );
  const lag = Math.max(0, lsnDiff(head, pos.appliedLsn));
  const maxLag = opts.maxLagBytes ?? optionDefault('max-lag')!;
  if (lag > maxLag)
    throw checkFailed(
      `replication lag is ${lag} bytes, over --max-lag ${maxLag}`,
      'wait for the backlog to drain (pgshift cdc status --watch), then run again',
    );
  await proveTheLinkApplies(e, s, opts);
  // Under live writes row counts of busy tables cannot match at any instant; the exact check is
  // the after-resume check in the switch-point snapshots. Before the freeze, what must hold is the
  // schema, and every table present.
  const report = await runVerify({
    source: e.from,
    target: e.to,
    mode: 'fast',
    rechecks: 1,
    waitForCatchUp: catchUpWaiter(e.from, e.runningLink.slot, 5_000),
    log: opts.log,
  });
  if (report.schemaDrift.length) {
    throw checkFailed(
      `schema drift between the servers: ${report.schemaDrift
        .slice(0, 3)
        .map((d) => JSON.stringify(d))
        .join('; ')}`,
      'DDL is not replicated: apply the same DDL on the other side, then run again',
    );
  }
  const missing = report.tables.filter((t) => t.verdict === 'missing-on-target');
  if (missing.length)
    throw checkFailed(
      `tables missing on the ${describe(e.to)}: ${missing.map((t) => relationKey(t.table)).join(', ')}`,
      'create them there (DDL is not replicated), then run again',
    );
  const moving = report.tables.filter((t) => t.verdict === 'did-not-converge' || t.verdict === 'differs');
  if (moving.length)
    opts.log.info(
      `pre-check: ${moving.length} table(s) still changing under live writes (${moving.map((t) => relationKey(t.table)).join(', ')}); the after-resume check compares them exactly at the switch point`,
    );
}

// ── step 2 ──────────────────────────────────────────────────────────────────────────────
async function freezeWrites(e: Direction, s: Sessions, opts: SwitchoverOptions, starting: () => void): Promise<FreezeRecord> {
  starting();
  // A PAUSE waits for running transactions; a signal stops the wait, and the abort path's RESUME lifts the PAUSE.
  await untilCancelled(opts.signal, opts.switch.freeze?.() ?? Promise.resolve());
  throwIfCancelled(opts.signal);
  // The roles' read-only settings and their markers go in one transaction, on the server itself:
  // `pgshift recover` finds them after a SIGKILL, even on a new runner (see write-freeze.ts).
  // An engine's own sessions (the AWS DMS user) keep running: ending them would stop replication.
  const record = await freezeDatabaseWrites(
    s.from,
    opts.names.name,
    { kind: e.kind, to: e.toSide },
    { spareRoles: [...e.runningEngine.sparedRoles(), ...e.returnEngine.sparedRoles()] },
  );
  // The runner-side copy feeds the result and the summary; the server's markers are what thawing reads.
  saveState(opts.stateDir, freezeStateKey(opts.names, e.fromSide), record);
  opts.log.info(`old primary frozen: ${record.roles.length} role(s) read-only, ${record.terminatedSessions} session(s) ended`);
  return record;
}

// ── step 3 ──────────────────────────────────────────────────────────────────────────────
async function waitForZeroLag(
  e: Direction,
  s: Sessions,
  timeoutMs: number,
  signal: AbortSignal | undefined,
): Promise<{ lagBytes: number; waitedMs: number; detail?: string }> {
  const lsn = await currentWalLsn(s.from);
  const before = await readAppliedPosition(s.from, e.runningLink.slot);
  const lagBytes = before?.appliedLsn ? Math.max(0, lsnDiff(lsn, before.appliedLsn)) : 0;
  const r = await e.runningEngine.appliedPast(links(e, s).running, lsn, Math.max(0, timeoutMs), signal);
  if (!r.reached)
    throw checkFailed(
      `the ${e.toSide} did not apply up to ${lsn} within --max-freeze (${r.remainingBytes} bytes left)`,
      'raise --max-freeze or run when the write load is lower',
    );
  return { lagBytes, waitedMs: r.waitedMs, detail: r.detail };
}

function guardFreeze(left: () => number, after: string): void {
  if (left() <= 0) throw checkFailed(`--max-freeze ran out after ${after}`, 'raise --max-freeze, or run when the write load is lower');
}

// ── step 6 ──────────────────────────────────────────────────────────────────────────────
/** Both links' engines stop and start quickly enough to turn replication around with writes frozen. */
function turnsInFreeze(e: Direction): boolean {
  return e.runningEngine.switchesInFreeze && e.returnEngine.switchesInFreeze;
}

async function turnReplicationAround(
  e: Direction,
  s: Sessions,
  progress: (state: 'running link dropped' | 'return link made') => void,
): Promise<void> {
  const l = links(e, s);
  // The slot on the new primary first: it captures every write made there from now on.
  await e.returnEngine.prepare(l.return);
  // When either engine cannot stop or start within the freeze (AWS DMS), the running link is stopped
  // after writes resume and the return link starts only then (returnLinkAfterResume): never both at once.
  if (!turnsInFreeze(e)) return;
  // Then the old link goes, so nothing can loop back, and the new one starts from that slot.
  await e.runningEngine.stop(l.running);
  progress('running link dropped');
  await e.returnEngine.start(l.return);
  progress('return link made');
}

/**
 * After the switch, when an engine's stop or start takes long (AWS DMS: minutes): stop the running link
 * and wait until it is stopped, then start the return link from the slot made inside the freeze, which
 * has kept every write on the new primary since. A failure here does not undo the switch: the new primary
 * takes writes, its slot keeps them, and the message says how to start the return link.
 */
async function returnLinkAfterResume(e: Direction, s: Sessions, opts: SwitchoverOptions): Promise<string | undefined> {
  const l = links(e, s);
  let stopped = false;
  try {
    await e.runningEngine.stop(l.running);
    stopped = true;
    await e.returnEngine.start(l.return);
    return undefined;
  } catch (err) {
    const reason = err instanceof PgshiftError ? err.oneLine() : redact((err as Error).message);
    const keeps = `slot ${e.returnLink.slot} on the ${describe(e.to)} keeps every write since the switch`;
    const message = stopped
      ? `the switch to the ${describe(e.to)} is done, but replication back to the ${describe(e.from)} (${e.returnEngine.name}) did not start: ${reason} — ${keeps}; fix the cause, then start it from that slot with 'pgshift cdc start-return' (runbooks/dms.md §8); rollback is not lossless until it runs`
      : // Starting the return link while the old one may still run could loop changes between the two.
        `the switch to the ${describe(e.to)} is done, but replication to it (${e.runningEngine.name}) did not stop, so replication back was not started: ${reason} — ${keeps}; stop the old direction first, then 'pgshift cdc start-return' (runbooks/dms.md §8)`;
    opts.log.warn(message);
    return message;
  }
}

// ── step 7 ──────────────────────────────────────────────────────────────────────────────
/** Returns its parts' times: the step is frozen time, so where it goes is reported. */
async function switchApplication(
  e: Direction,
  s: Sessions,
  opts: SwitchoverOptions,
): Promise<{ thaw: number; pointAt: number; resume: number }> {
  const t0 = Date.now();
  // If this server was frozen by an earlier switchover (it was the old primary then), make it writable.
  // The server's own markers say what to thaw; a runner-side record from an older pgshift is honoured too.
  const earlier = loadState<FreezeRecord>(opts.stateDir, freezeStateKey(opts.names, e.toSide));
  await thawDatabaseWrites(s.to, opts.names.name, earlier);
  removeState(opts.stateDir, freezeStateKey(opts.names, e.toSide));
  const t1 = Date.now();
  await opts.switch.pointAt(e.to);
  const t2 = Date.now();
  await opts.switch.unfreeze?.();
  const resumed = Date.now();
  // The old primary stays frozen (it is the replica now); only "a switchover is in flight" goes.
  await markSwitchoverDone(s.from, opts.names.name);
  return { thaw: t1 - t0, pointAt: t2 - t1, resume: resumed - t2 };
}

// ── DDL freeze (docs/design.md rule 6) ──────────────────────────────────────────────────
/**
 * Step 7b: the old primary is a replica now and its DDL freeze goes. After a cutover the new
 * primary refuses DDL for the rollback window: a schema change there would break the reverse
 * replication that makes rollback lossless ('pgshift ddl unfreeze --accept-no-rollback' lifts it).
 */
async function moveDdlFreeze(e: Direction, s: Sessions, opts: SwitchoverOptions): Promise<void> {
  await unfreezeDdl(s.from);
  if (e.kind === 'cutover') {
    await freezeDdl(
      s.to,
      'after cutover, DDL here breaks the reverse replication that makes rollback lossless; pgshift ddl unfreeze --accept-no-rollback lifts this',
    );
    opts.log.info(`DDL frozen on the ${describe(e.to)} for the rollback window (pgshift ddl unfreeze --accept-no-rollback lifts it)`);
  }
}

// ── step 8 ──────────────────────────────────────────────────────────────────────────────
async function postCheckStep(
  e: Direction,
  opts: SwitchoverOptions,
  expected: Awaited<ReturnType<typeof serverIdentity>>,
): Promise<AppPathCheck> {
  return checkWriteThroughAppPath(opts.appPath ?? { ...e.to }, expected);
}

// ── step 9 ──────────────────────────────────────────────────────────────────────────────
async function checkSwitchPoint(
  e: Direction,
  opts: SwitchoverOptions,
  timeline: Timeline,
  snapshots: SnapshotIds,
  mode: 'fast' | 'full',
): Promise<SnapshotCheckResult> {
  const r = await timeline.run(
    STEP.checkSwitchPoint,
    () => checkInSnapshots({ from: e.from, to: e.to, snapshots, mode, log: opts.log }),
    describeSnapshotCheck,
  );
  if (!r.ok) opts.log.warn(`after-resume check: ${describeSnapshotCheck(r)}`);
  return r;
}

// ── abort ───────────────────────────────────────────────────────────────────────────────
async function abortBeforeSwitch(
  e: Direction,
  s: Sessions,
  opts: SwitchoverOptions,
  frozen: FreezeRecord | boolean,
  linkTurned: 'no' | 'running link dropped' | 'return link made',
): Promise<void> {
  const undo = async (what: string, fn: () => Promise<unknown>) => {
    try {
      await fn();
    } catch (err) {
      opts.log.warn(`abort: could not ${what}: ${redact((err as Error).message)} — do it by hand`);
    }
  };
  if (linkTurned !== 'no') {
    // Going back to the old link: the old primary is still frozen, so a fresh slot misses nothing.
    const l = links(e, s);
    await undo(`drop the new replication ${e.returnLink.subscription}`, () => e.returnEngine.stop(l.return));
    await undo(`restore replication ${e.runningLink.subscription}`, async () => {
      await e.runningEngine.prepare(l.running);
      await e.runningEngine.start(l.running);
    });
  } else {
    await undo(`drop the unused slot ${e.returnLink.slot}`, () => dropSlotIfExists(s.to, e.returnLink.slot));
  }
  if (frozen) {
    await undo('make the old primary writable again', async () => {
      await thawDatabaseWrites(s.from, opts.names.name, typeof frozen === 'object' ? frozen : undefined);
      removeState(opts.stateDir, freezeStateKey(opts.names, e.fromSide));
    });
  }
  await undo('resume the application (PgBouncer RESUME)', async () => opts.switch.unfreeze?.());
}
