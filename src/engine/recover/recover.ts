/**
 * `pgshift recover`: after a cutover or rollback was killed (SIGKILL, a lost runner, a crash),
 * bring the migration back to one consistent primary with writes flowing — from what the servers
 * themselves record (write-freeze.ts), so it works on a new runner with no state directory.
 *
 * Runbook order (runbooks/recover.md):
 *   1. read the whole state (status.ts) under the cutover lock, so no cutover runs meanwhile
 *   2. decide the primary: the publisher of the replication link that runs. Replication was
 *      turned around -> the switch had begun, so it is finished; not turned -> it is undone.
 *   3. a switchover that died while turning replication around: restore the old link (the old
 *      primary is still frozen, so a fresh slot misses nothing)
 *   4. thaw the primary: exactly the roles pgshift marked (a role read-only before stays so)
 *   5. point the application at the primary (only when it points elsewhere) and RESUME it
 *   6. the other server stays frozen: it is the replica; only its "in flight" marker goes
 *   7. read the state again and check a write through the application path (when given)
 * Each action is done only when the state calls for it: a second run finds nothing to do.
 */
import type pg from 'pg';
import { checkFailed } from '../../errors.js';
import { connect, withClient } from '../../postgres/connect.js';
import { describe, type ConnInfo } from '../../postgres/conninfo.js';
import { redact } from '../../postgres/redact.js';
import { dropSlotIfExists } from '../../postgres/slot.js';
import { checkWriteThroughAppPath, serverIdentity, type AppPathCheck } from '../cutover/app-path-check.js';
import { preparePublisher, subscribe, unsubscribe } from '../cutover/replication-link.js';
import { linkNames } from '../names.js';
import { loadState, removeState } from '../cutover/state-file.js';
import { freezeStateKey, type SwitchoverOptions } from '../cutover/switchover.js';
import { markSwitchoverDone, thawDatabaseWrites, type FreezeRecord } from '../cutover/write-freeze.js';
import { readStatus, type MigrationStatus, type Side } from '../status/status.js';

/** The connections, names and switch of the cutover being recovered: the same as the switchover's own. */
export type RecoverOptions = Pick<
  SwitchoverOptions,
  'source' | 'target' | 'sourceFromTarget' | 'targetFromSource' | 'names' | 'switch' | 'appPath' | 'stateDir' | 'log'
> & {
  /** Say what would be done, do nothing. */
  dryRun?: boolean;
  /**
   * The primary, as the operator knows it, when the servers cannot say (status reads "unknown": an AWS DMS
   * link, a server out of reach). Never overrides what they do say.
   */
  primary?: Side;
};

export interface RecoverAction {
  action: string;
  done: boolean;
  error?: string;
}

export interface RecoverResult {
  ok: boolean;
  dryRun: boolean;
  /** The state as found. */
  found: MigrationStatus;
  primary: Side;
  /** undo: the switch had not happened, the old primary serves again; finish: it had, the new one serves. */
  decision: 'nothing to do' | 'undo' | 'finish' | 'repair';
  actions: RecoverAction[];
  /** The state afterwards (absent on a dry run). */
  after?: MigrationStatus;
  postCheck?: AppPathCheck;
}

const other = (s: Side): Side => (s === 'source' ? 'target' : 'source');

export async function runRecover(opts: RecoverOptions): Promise<RecoverResult> {
  const lock = await connect(opts.source, { applicationName: 'pgshift-recover-lock' });
  try {
    // The lock cutover and rollback hold: recover never runs beside one (after SIGKILL the server frees it).
    const got = (await lock.query(`SELECT pg_try_advisory_lock(hashtext($1)) AS ok`, [`pgshift:${opts.names.name}`])).rows[0].ok;
    if (!got)
      throw checkFailed(
        `a cutover or rollback of migration '${opts.names.name}' is running right now`,
        'let it finish or cancel it (it undoes itself); run recover only when none runs',
      );
    const found = await readStatus({ source: opts.source, target: opts.target, names: opts.names, switch: opts.switch });
    const primary = choosePrimary(found, opts.primary);
    opts.log.info(
      found.primary === 'unknown'
        ? `the servers cannot say which is primary (${found.primaryBecause}); --primary ${primary} says the ${primary}`
        : `found: the ${primary} is primary (${found.primaryBecause})`,
    );
    const plan = planActions(found, primary, opts);
    const decision = decide(found, primary, plan.length);
    const actions: RecoverAction[] = [];
    for (const step of plan) {
      if (opts.dryRun) {
        opts.log.info(`would ${step.action}`);
        actions.push({ action: step.action, done: false });
        continue;
      }
      try {
        opts.log.info(`${step.action}`);
        await step.run();
        actions.push({ action: step.action, done: true });
      } catch (err) {
        const error = redact((err as Error).message);
        opts.log.warn(`could not ${step.action}: ${error}`);
        actions.push({ action: step.action, done: false, error });
        break; // later steps assume this one; the next recover run starts from the new state
      }
    }
    if (opts.dryRun || plan.length === 0) {
      if (plan.length === 0) opts.log.info(`nothing to do: the ${primary} is primary and writable, and the application is not held`);
      return { ok: found.findings.every((f) => f.level !== 'critical'), dryRun: !!opts.dryRun, found, primary, decision, actions };
    }
    const after = await readStatus({ source: opts.source, target: opts.target, names: opts.names, switch: opts.switch });
    const postCheck = opts.appPath
      ? await withClient(primary === 'source' ? opts.source : opts.target, async (c) =>
          checkWriteThroughAppPath(opts.appPath as ConnInfo, await serverIdentity(c)),
        )
      : undefined;
    const ok =
      actions.every((a) => a.done) &&
      after.primary === primary &&
      after.findings.every((f) => f.level !== 'critical') &&
      (postCheck?.ok ?? true);
    return { ok, dryRun: false, found, primary, decision, actions, after, postCheck };
  } finally {
    await lock.end().catch(() => undefined);
  }
}

/** What the servers say, or — only when they cannot — what the operator said with --primary. */
function choosePrimary(found: MigrationStatus, given: Side | undefined): Side {
  if (found.primary === 'unknown') {
    if (given) return given;
    throw checkFailed(
      `recover cannot tell which server is primary: ${found.primaryBecause}`,
      "run 'pgshift status' to see where the application points, then 'pgshift recover --primary source' (the switch had not happened) or '--primary target' (it had); runbooks/recover.md",
    );
  }
  if (given && given !== found.primary)
    throw checkFailed(
      `--primary ${given}, but the servers say the ${found.primary} is primary (${found.primaryBecause})`,
      'run recover without --primary; --primary is only for when status cannot tell',
    );
  return found.primary;
}

function decide(found: MigrationStatus, primary: Side, planned: number): RecoverResult['decision'] {
  if (planned === 0) return 'nothing to do';
  const inFlightOn = (['source', 'target'] as const).find((s) => found.servers[s].freeze?.switchoverInFlight);
  if (found.halfTurned || inFlightOn === primary) return 'undo';
  if (inFlightOn === other(primary)) return 'finish';
  return 'repair';
}

interface PlannedStep {
  action: string;
  run(): Promise<unknown>;
}

function planActions(found: MigrationStatus, primary: Side, opts: RecoverOptions): PlannedStep[] {
  const n = opts.names;
  const conn = (s: Side) => (s === 'source' ? opts.source : opts.target);
  const seenBy = (s: Side) => (s === 'source' ? (opts.sourceFromTarget ?? opts.source) : (opts.targetFromSource ?? opts.target));
  const forward = linkNames(n, 'forward');
  const reverse = linkNames(n, 'reverse');
  const replica = other(primary);
  const steps: PlannedStep[] = [];
  const both = async <T>(fn: (p: pg.Client, r: pg.Client) => Promise<T>) =>
    withClient(conn(primary), (p) => withClient(conn(replica), (r) => fn(p, r)));

  // 3. a link to restore: primary -> replica, from a fresh slot on the (still frozen) primary.
  if (found.halfTurned) {
    const [keep, drop] = primary === 'source' ? [forward, reverse] : [reverse, forward];
    steps.push({
      action: `restore replication ${primary} -> ${replica} (${keep.subscription}); drop the unused slot ${drop.slot} on the ${replica}`,
      run: () =>
        both(async (p, r) => {
          await dropSlotIfExists(r, drop.slot);
          await unsubscribe(r, p, keep);
          await preparePublisher(p, keep);
          await subscribe(r, keep, seenBy(primary));
        }),
    });
  }
  // 4. thaw the primary.
  const marks = found.servers[primary].freeze;
  const record = loadState<FreezeRecord>(opts.stateDir, freezeStateKey(n, primary));
  if (marks && (marks.roles.length || marks.databaseLevel || marks.switchoverInFlight || record?.roles.length)) {
    const roles = [...new Set([...marks.roles, ...(record?.roles ?? [])])];
    steps.push({
      action: `make the ${primary} writable: reset read-only for ${roles.length} role(s) pgshift froze${marks.databaseLevel ? ' and the database' : ''} (${roles.join(', ') || '–'})`,
      run: async () => {
        await withClient(conn(primary), (c) => thawDatabaseWrites(c, n.name, record));
        removeState(opts.stateDir, freezeStateKey(n, primary));
      },
    });
  }
  // 5. the application's path.
  const app = found.application;
  const target = conn(primary);
  const replicaInFlight = !!found.servers[replica].freeze?.switchoverInFlight;
  // Only away from the replica: a path that leads to a server pgshift does not know is the operator's to judge (status says so).
  const pointsElsewhere = app?.pointsAt === replica;
  const cannotRead = app?.pointsAt === 'unknown' && !opts.switch.current;
  if (pointsElsewhere || (cannotRead && replicaInFlight && opts.switch.kind !== 'none')) {
    steps.push({
      action: `point the application at the ${primary} (${describe(target)}) through ${opts.switch.describe()}`,
      run: () => opts.switch.pointAt(target),
    });
  }
  if (app?.paused || (app?.paused === null && steps.length > 0 && opts.switch.unfreeze)) {
    steps.push({ action: 'resume the application (PgBouncer RESUME)', run: async () => opts.switch.unfreeze?.() });
  }
  // 6. the replica keeps its freeze; the record that a switchover was in flight goes.
  if (replicaInFlight) {
    steps.push({
      action: `record on the ${replica} that the switchover is over (it stays read-only: it is the replica now)`,
      run: () => withClient(conn(replica), (c) => markSwitchoverDone(c, n.name)),
    });
  }
  return steps;
}
