/**
 * Action adapter for `cleanup`: drop every subscription, slot and publication this migration made
 * on both sides, then list what is still there. The step fails while anything is left.
 */
import { runCleanup } from '../../../src/engine/cleanup/cleanup.js';
import { migrationNames } from '../../../src/engine/names.js';
import { connectionsFromInputs } from '../../common/connections.js';
import { input } from '../../common/inputs.js';
import { enginesFromInputs } from '../../common/engine.js';
import { actionsLogger, group } from '../../common/logger.js';
import { runPhaseAction, type PhaseOutcome } from '../../common/run.js';
import { renderCleanup } from '../../common/summaries/cleanup.js';

async function run(): Promise<PhaseOutcome> {
  const { source, target } = await connectionsFromInputs();
  const name = input('name')!;
  const log = actionsLogger();
  const result = await group('cleanup', () =>
    runCleanup({ source, target, names: migrationNames(name), ...enginesFromInputs(name, log), log }),
  );
  const left = result.leftovers.map((o) => `${o.side} ${o.kind} ${o.name}`);
  return {
    report: result,
    outputs: { verdict: result.leftovers.length ? 'leftovers' : 'clean', leftovers: left.join(',') },
    summary: renderCleanup(result),
    annotations: left.map((l) => ({ level: 'error', title: 'left after cleanup', message: l })),
    failure: left.length ? `cleanup: ${left.length} object(s) still present (${left.join(', ')}) — see runbooks/cleanup.md` : undefined,
  };
}

await runPhaseAction({ phase: 'cleanup', title: 'cleanup', run });
