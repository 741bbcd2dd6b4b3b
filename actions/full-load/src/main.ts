/**
 * Action adapter for `full-load`: inputs → runFullLoad → outputs (slot, consistent LSN) for the
 * cdc step, a per-table load table and the step timeline in the job summary.
 */
import { migrationNames } from '../../../src/engine/names.js';
import { runFullLoad } from '../../../src/engine/full-load/full-load.js';
import { connectionsFromInputs } from '../../common/connections.js';
import { engineName } from '../../common/engine.js';
import { input, inputText } from '../../common/inputs.js';
import { actionsLogger, group } from '../../common/logger.js';
import { runPhaseAction, type PhaseOutcome } from '../../common/run.js';
import { renderFullLoad } from '../../common/summaries/full-load.js';

async function run(signal: AbortSignal): Promise<PhaseOutcome> {
  const { source, target } = await connectionsFromInputs();
  const names = migrationNames(input('name')!);
  const prefix = inputText('pg-command-prefix');
  const result = await group('full-load', () =>
    runFullLoad({
      source,
      target,
      names,
      jobs: input('jobs') || undefined,
      clean: input('clean'),
      waitForTransactionsMs: input('wait-for-transactions'),
      ddl: input('ddl'),
      pgTools: { binDir: inputText('pg-bin-dir'), commandPrefix: prefix ? prefix.split(/\s+/).filter(Boolean) : undefined },
      // The engine only decides the slot's plugin: DMS reads test_decoding, a subscription pgoutput.
      slotPlugin: engineName() === 'dms' ? 'test_decoding' : 'pgoutput',
      log: actionsLogger(),
      signal,
    }),
  );
  return {
    report: result,
    outputs: {
      'slot-name': result.slotName,
      publication: result.publication,
      'consistent-lsn': result.consistentLsn,
      tables: result.totals.tables,
      rows: result.totals.rows,
      bytes: result.totals.bytes,
      seconds: result.totals.seconds.toFixed(1),
      verdict: 'loaded',
    },
    summary: renderFullLoad(result),
    annotations: result.roles.needPassword.length
      ? [
          {
            level: 'warning',
            title: 'roles without a password',
            message: `created on the target without a password: ${result.roles.needPassword.join(', ')} — set each with ALTER ROLE ... PASSWORD before the application switches`,
          },
        ]
      : [],
  };
}

await runPhaseAction({ phase: 'full-load', title: 'full-load', run });
