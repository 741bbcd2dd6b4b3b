/**
 * Action adapter for `cleanup`: drop every subscription, slot and publication this migration made
 * on both sides, then list what is still there. The step fails while anything is left.
 */
import { runCleanup, type CleanupResult } from '../../../src/engine/cleanup/cleanup.js';
import { migrationNames } from '../../../src/engine/names.js';
import { connectionsFromInputs } from '../../shared/connections.js';
import { input } from '../../shared/inputs.js';
import { enginesFromInputs } from '../../shared/engine.js';
import { actionsLogger, group } from '../../shared/logger.js';
import { code, heading, stepsSection, table } from '../../shared/render.js';
import { runPhaseAction, type PhaseOutcome } from '../../shared/run.js';

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

export function renderCleanup(r: CleanupResult): string {
  const headline = r.leftovers.length
    ? `❌ **leftovers** — ${r.leftovers.length} replication object(s) of this migration are still present.`
    : '✅ **clean** — nothing pgshift made is left on either side.';
  const dropped = r.dropped.length
    ? table(
        ['side', 'dropped', 'name'],
        r.dropped.map((o) => [o.side, o.kind, code(o.name)]),
      )
    : 'Nothing needed dropping.';
  const parts = [headline, heading(3, 'Dropped'), dropped];
  if (r.leftovers.length)
    parts.push(
      heading(3, 'Still present'),
      table(
        ['side', 'kind', 'name'],
        r.leftovers.map((o) => [o.side, o.kind, code(o.name)]),
      ),
    );
  parts.push(stepsSection('cleanup steps', r.steps));
  return parts.join('\n\n');
}

await runPhaseAction({ phase: 'cleanup', title: 'cleanup', run });
