/**
 * Action adapter for `full-load`: inputs → runFullLoad → outputs (slot, consistent LSN) for the
 * cdc step, a per-table load table and the step timeline in the job summary.
 */
import { migrationNames } from '../../../src/engine/names.js';
import { runFullLoad, type FullLoadResult } from '../../../src/engine/full-load/full-load.js';
import { connectionsFromInputs } from '../../shared/connections.js';
import { engineName } from '../../shared/engine.js';
import { input, inputText } from '../../shared/inputs.js';
import { actionsLogger, group } from '../../shared/logger.js';
import { bytes, count, duration, heading, stepsSection, table, code } from '../../shared/render.js';
import { runPhaseAction, type PhaseOutcome } from '../../shared/run.js';
import { relationKey } from '../../../src/postgres/sql.js';

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

export function renderFullLoad(r: FullLoadResult): string {
  const t = r.totals;
  const headline =
    `✅ **Loaded ${count(t.tables)} tables, ${count(t.rows)} rows, ${bytes(t.bytes)} in ${duration(t.seconds * 1000)}** ` +
    `(copy ${duration(t.copySeconds * 1000)}, ${bytes(t.bytesPerSecond)}/s). ` +
    `CDC continues from slot ${code(r.slotName)} at LSN ${code(r.consistentLsn)} (publication ${code(r.publication)}).`;
  const facts = table(
    ['item', 'value'],
    [
      ['pg_dump', `${r.pgDump.major} (${r.pgDump.where})`],
      ['roles created', r.roles.created.join(', ') || '–'],
      ['roles needing a password', r.roles.needPassword.join(', ') || '–'],
      ['sequences set as of the snapshot', count(r.sequences)],
      ['large objects', count(r.largeObjects)],
      ['materialized views refreshed', r.materializedViews.join(', ') || '–'],
      ['dropped by clean', r.droppedByClean.length ? `${r.droppedByClean.length} objects` : '–'],
    ],
  );
  const bySize = [...r.tables].sort((a, b) => b.bytes - a.bytes);
  const rows = bySize.map((s) => [
    relationKey(s),
    count(s.rows),
    bytes(s.bytes),
    count(s.chunks),
    count(s.indexes),
    count(s.foreignKeys),
    duration(s.seconds * 1000),
    s.seconds > 0 ? `${bytes(s.bytes / s.seconds)}/s` : '–',
  ]);
  return [
    headline,
    facts,
    heading(3, 'Tables'),
    table(['table', 'rows', 'bytes', 'chunks', 'indexes', 'foreign keys', 'took', 'rate'], rows, [
      'left',
      'right',
      'right',
      'right',
      'right',
      'right',
      'right',
      'right',
    ]),
    stepsSection('Steps', r.steps),
  ].join('\n\n');
}

await runPhaseAction({ phase: 'full-load', title: 'full-load', run });
