/**
 * Action adapter for `recover`: after a cancelled or killed cutover/rollback job (the workflows
 * run it in an `if: cancelled() || failure()` step, and recover.yml runs it by hand), bring the
 * migration back to one primary with writes flowing; the summary says what was found and done.
 */
import { runRecover } from '../../../src/engine/recover/recover.js';
import { connectionsFromInputs } from '../../shared/connections.js';
import { input } from '../../shared/inputs.js';
import { actionsLogger, group } from '../../shared/logger.js';
import { code, table } from '../../shared/render.js';
import { runPhaseAction, type PhaseOutcome } from '../../shared/run.js';
import { renderStatusMarkdown } from '../../shared/status.js';
import { switchoverOptions } from '../../shared/switchover.js';

async function run(): Promise<PhaseOutcome> {
  const log = actionsLogger();
  const connections = await connectionsFromInputs();
  const o = switchoverOptions(connections, log);
  const dryRun = input('dry-run') ?? false;
  const r = await group('recover', () => runRecover({ ...o, dryRun, log }));
  const headline =
    r.actions.length === 0
      ? `✅ **nothing to do** — the ${code(r.primary)} is primary and writable, and the application is not held.`
      : `${r.ok ? '✅' : '❌'} **${dryRun ? 'would' : r.decision === 'finish' ? 'finished the switch' : r.decision === 'undo' ? 'undid the switch' : 'repaired'}** — the ${code(r.primary)} is primary (${r.found.primaryBecause}).`;
  const done = r.actions.length
    ? table(
        ['action', 'result'],
        r.actions.map((a) => [a.action, dryRun ? 'not done (dry run)' : a.done ? '✅ done' : `❌ ${a.error ?? 'not reached'}`]),
      )
    : '';
  const post = r.postCheck
    ? r.postCheck.ok
      ? `✅ a write through the application path landed on the ${r.primary}.`
      : `❌ the write through the application path failed: ${r.postCheck.error ?? ''}`
    : '';
  return {
    report: r,
    outputs: { decision: r.decision, primary: r.primary },
    summary: [headline, done, post, '### What recover found', renderStatusMarkdown(r.found)].filter(Boolean).join('\n\n'),
    failure: r.ok ? undefined : `recover did not bring the migration to a consistent state — read the summary and runbooks/recover.md`,
  };
}

await runPhaseAction({ phase: 'recover', title: 'recover', run });
