/**
 * Action adapter for `rollback`: lossless through the reverse replication cutover started; without
 * it, lists per table what the source lacks and refuses unless accept-data-loss.
 */
import { runRollback, type RollbackResult } from '../../../src/engine/rollback/rollback.js';
import { describeSnapshotCheck } from '../../../src/engine/cutover/snapshot-check.js';
import { SwitchoverAborted } from '../../../src/engine/cutover/switchover.js';
import { connectionsFromInputs } from '../../shared/connections.js';
import { startDeployment } from '../../shared/deployment.js';
import type { Annotation } from '../../shared/summary.js';
import { input } from '../../shared/inputs.js';
import { actionsLogger, group } from '../../shared/logger.js';
import { count, stepsSection, table } from '../../shared/render.js';
import { runPhaseAction, type PhaseOutcome } from '../../shared/run.js';
import { abortedOutcome, isFrozenStep, renderSwitchover, switchoverOptions } from '../../shared/switchover.js';

async function run(signal: AbortSignal): Promise<PhaseOutcome> {
  const log = actionsLogger();
  const connections = await connectionsFromInputs();
  const opts = { ...switchoverOptions(connections, log), signal, acceptDataLoss: input('accept-data-loss') };
  const annotations: Annotation[] = [];
  const deployment = await startDeployment(
    'rollback',
    `${connections.source.host}:${connections.source.port}/${connections.source.database}`,
    annotations,
  );
  let result: RollbackResult;
  try {
    result = await group('rollback', () => runRollback(opts));
  } catch (err) {
    await deployment?.finish('failure', err instanceof SwitchoverAborted ? err.oneLine() : 'rollback failed');
    if (err instanceof SwitchoverAborted)
      return {
        ...abortedOutcome('rollback', err, {}),
        annotations: [...annotations, { level: 'error', title: 'rollback aborted', message: err.oneLine() }],
      };
    throw err;
  }
  await deployment?.finish(
    result.ok ? 'success' : 'failure',
    result.mode === 'lossless' ? `lossless; writes frozen ${result.writeFreezeMs} ms` : 'without reverse replication (accept-data-loss)',
  );
  if (result.mode === 'lossless') {
    return {
      report: result,
      outputs: {
        verdict: result.ok ? 'rolled-back' : result.postCheck.ok ? 'rolled-back-check-failed' : 'rolled-back-post-check-failed',
        'write-freeze-ms': result.writeFreezeMs,
        'lost-rows': 0,
      },
      summary: renderSwitchover(result, opts.switch.describe()),
      annotations,
      failure: result.ok
        ? undefined
        : result.snapshotCheck && !result.snapshotCheck.ok
          ? `rollback switched, but the switch-point check failed: ${describeSnapshotCheck(result.snapshotCheck)}`
          : `rollback switched, but the post-check write through the application path failed: ${result.postCheck.error ?? 'unknown'}`,
    };
  }
  const lostRows = result.lost.reduce((s, t) => s + t.rows, 0);
  const summary = [
    `⚠️ **rolled back without reverse replication** (accept-data-loss) — ${count(lostRows)} row(s) written on the target since the cutover are not on the source.`,
    result.lost.length
      ? table(
          ['table', 'rows the source lacks', 'sample keys'],
          result.lost.map((t) => [t.table, count(t.rows), t.sampleKeys.map((k) => Object.values(k).join('/')).join(', ')]),
        )
      : 'No rows were lost.',
    stepsSection('rollback timeline', result.steps, { critical: isFrozenStep }),
  ].join('\n\n');
  return {
    report: result,
    outputs: { verdict: result.ok ? 'rolled-back' : 'rolled-back-with-errors', 'lost-rows': lostRows },
    summary,
    annotations: lostRows
      ? [
          ...annotations,
          {
            level: 'warning',
            title: 'writes lost in rollback',
            message: `${lostRows} row(s) written on the target are not on the source: ${result.lost.map((t) => `${t.table} ${t.rows}`).join(', ')}`,
          },
        ]
      : annotations,
    failure: result.ok ? undefined : 'rollback without reverse replication did not finish cleanly — read the timeline in the job summary',
  };
}

await runPhaseAction({ phase: 'rollback', title: 'rollback', run });
