/**
 * Phase: rollback. The plan's rollback points DATABASE_URL back at the source and silently
 * drops every write made on the target since the switch. Ours:
 *   - with the reverse replication cutover set up: the same switchover, target -> source —
 *     freeze on the target, wait for zero reverse lag by LSN, sequences back, switch, resume.
 *     Lossless, and forward replication runs again so cutover can be retried.
 *   - without it: refuse, listing per table the rows written on the target that the source
 *     lacks; with --accept-data-loss, switch back anyway and report what was left behind.
 */
import { checkFailed } from '../../errors.js';
import { withClient } from '../../postgres/connect.js';
import { describe } from '../../postgres/conninfo.js';
import { relationKey } from '../../postgres/sql.js';
import { Timeline, type StepRecord } from '../timeline.js';
import { runVerify } from '../verify/verify.js';
import { linkBetween, type LinkStatus } from '../replication/engine.js';
import { NativeEngine } from '../replication/native.js';
import { loadState, removeState } from '../cutover/state-file.js';
import { freezeStateKey, runSwitchover, type SwitchoverOptions, type SwitchoverResult } from '../cutover/switchover.js';
import { thawDatabaseWrites, type FreezeRecord } from '../cutover/write-freeze.js';

export interface RollbackOptions extends SwitchoverOptions {
  acceptDataLoss?: boolean;
}

export interface LostRows {
  table: string;
  /** Rows on the target that the source lacks or has in another version. */
  rows: number;
  sampleKeys: Record<string, string>[];
}

export type RollbackResult =
  | ({ mode: 'lossless' } & SwitchoverResult)
  | { mode: 'data-loss-accepted'; ok: boolean; lost: LostRows[]; steps: StepRecord[] };

export async function runRollback(opts: RollbackOptions): Promise<RollbackResult> {
  if (await reverseReplicationExists(opts)) return { mode: 'lossless', ...(await runSwitchover('rollback', opts)) };
  return rollbackWithoutReverse(opts);
}

/** Asked of the reverse engine (native by default), the only code that knows what its replication looks like. */
async function reverseReplicationExists(opts: RollbackOptions): Promise<boolean> {
  return (await reverseLinkStatus(opts)).exists;
}

/** The reverse link (target -> source) as its engine reports it. */
export async function reverseLinkStatus(opts: SwitchoverOptions): Promise<LinkStatus> {
  const engine = opts.reverseEngine ?? new NativeEngine();
  return withClient(opts.source, (source) =>
    withClient(opts.target, (target) =>
      engine.status(
        linkBetween(
          'reverse',
          opts.names,
          { client: source, info: opts.source },
          { client: target, info: opts.target, seenByOther: opts.targetFromSource },
        ),
      ),
    ),
  );
}

async function rollbackWithoutReverse(opts: RollbackOptions): Promise<RollbackResult> {
  const timeline = new Timeline(opts.log);
  const lost = await timeline.run('list writes the source lacks', () => writesOnlyOnTarget(opts));
  const total = lost.reduce((s, t) => s + t.rows, 0);
  if (total > 0 && !opts.acceptDataLoss) {
    throw checkFailed(
      `no reverse replication, and rolling back would lose ${total} row(s) written on the target: ${lost.map((t) => `${t.table} ${t.rows}`).join(', ')}`,
      'copy them to the source first, or re-run with --accept-data-loss',
    );
  }
  await timeline.run('switch back to the source', async () => {
    await opts.switch.freeze?.();
    // What cutover froze on the source, from the server's own markers (and a runner-side record, if any).
    const frozen = loadState<FreezeRecord>(opts.stateDir, freezeStateKey(opts.names, 'source'));
    await withClient(opts.source, (c) => thawDatabaseWrites(c, opts.names.name, frozen));
    removeState(opts.stateDir, freezeStateKey(opts.names, 'source'));
    await opts.switch.pointAt(opts.source);
    await opts.switch.unfreeze?.();
  });
  if (total > 0)
    opts.log.warn(
      `rolled back to the ${describe(opts.source)}; ${total} row(s) written on the target were left behind (listed in the result)`,
    );
  return { mode: 'data-loss-accepted', ok: true, lost, steps: timeline.steps };
}

/** Rows present on the target but missing or different on the source, per table (full verify, target as reference). */
async function writesOnlyOnTarget(opts: RollbackOptions): Promise<LostRows[]> {
  const report = await runVerify({
    source: opts.source,
    target: opts.target,
    mode: 'full',
    rechecks: 0,
    maxKeysPerTable: 10,
    log: opts.log,
  });
  const lost: LostRows[] = [];
  for (const t of report.tables) {
    const d = t.differences;
    const onlyTarget = (d?.extraOnTarget ?? 0) + (d?.changed ?? 0);
    const byCount = t.targetRows !== null && t.sourceRows < t.targetRows && !d ? t.targetRows - t.sourceRows : 0;
    const rows = onlyTarget || byCount;
    if (rows > 0)
      lost.push({
        table: relationKey(t.table),
        rows,
        sampleKeys: [...(d?.keys.extraOnTarget ?? []), ...(d?.keys.changed ?? [])].slice(0, 10),
      });
  }
  return lost;
}
