/**
 * Action adapter for `recover`: after a cancelled or killed cutover/rollback job (the workflows
 * run it in an `if: cancelled() || failure()` step, and recover.yml runs it by hand), bring the
 * migration back to one primary with writes flowing; the summary says what was found and done.
 */
import { runRecover } from '../../../src/engine/recover/recover.js';
import { connectionsFromInputs } from '../../common/connections.js';
import { input } from '../../common/inputs.js';
import { actionsLogger, group } from '../../common/logger.js';
import { runPhaseAction, type PhaseOutcome } from '../../common/run.js';
import { renderRecover } from '../../common/summaries/recover.js';
import { switchoverOptions } from '../../common/switchover.js';

async function run(): Promise<PhaseOutcome> {
  const log = actionsLogger();
  const connections = await connectionsFromInputs();
  const o = switchoverOptions(connections, log);
  const dryRun = input('dry-run') ?? false;
  const r = await group('recover', () => runRecover({ ...o, dryRun, primary: input('primary'), log }));
  return {
    report: r,
    outputs: { decision: r.decision, primary: r.primary },
    summary: renderRecover(r, dryRun),
    failure: r.ok ? undefined : `recover did not bring the migration to a consistent state — read the summary and runbooks/recover.md`,
  };
}

await runPhaseAction({ phase: 'recover', title: 'recover', run });
