/**
 * Action adapter for `rollback`: lossless through the reverse replication cutover started; without
 * it, lists per table what the source lacks and refuses unless accept-data-loss.
 */
import { runRollback, type RollbackResult } from '../../../src/engine/rollback/rollback.js';
import { SwitchoverAborted } from '../../../src/engine/cutover/switchover.js';
import { connectionsFromInputs } from '../../common/connections.js';
import { startDeployment } from '../../common/deployment.js';
import type { Annotation } from '../../common/summary.js';
import { input } from '../../common/inputs.js';
import { actionsLogger, group } from '../../common/logger.js';
import { runPhaseAction, type PhaseOutcome } from '../../common/run.js';
import { abortedOutcome, switchoverOptions } from '../../common/switchover.js';
import { lostRows, renderRollback, rollbackAnnotations, rollbackFailure, rollbackVerdict } from '../../common/summaries/rollback.js';

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
  return {
    report: result,
    outputs: {
      verdict: rollbackVerdict(result),
      ...(result.mode === 'lossless' ? { 'write-freeze-ms': result.writeFreezeMs } : {}),
      'lost-rows': result.mode === 'lossless' ? 0 : lostRows(result),
    },
    summary: renderRollback(result, opts.switch.describe()),
    annotations: [...annotations, ...rollbackAnnotations(result)],
    failure: rollbackFailure(result),
  };
}

await runPhaseAction({ phase: 'rollback', title: 'rollback', run });
