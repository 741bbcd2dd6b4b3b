/**
 * Action adapter for `full-load`: inputs → runFullLoad → outputs (slot, consistent LSN) for the
 * cdc step, a per-table load table and the step timeline in the job summary.
 */
import { migrationNames } from '../../../src/engine/names.js';
import { durationMs } from '../../../src/cli/options.js';
import { DEFAULT_WAIT_FOR_TRANSACTIONS, runFullLoad, type FullLoadResult } from '../../../src/engine/full-load/full-load.js';
import { connectionsFromInputs } from '../../shared/connections.js';
import { engineName } from '../../shared/engine.js';
import { bool, choice, int, text } from '../../shared/inputs.js';
import { actionsLogger, group } from '../../shared/logger.js';
import { DDL_MODES, DEFAULT_DDL_MODE, type DdlMode } from '../../../src/engine/ddl/index.js';
import { bytes, count, duration, heading, qualifiedName, stepsSection, table, code } from '../../shared/render.js';
import { runPhaseAction, type PhaseOutcome } from '../../shared/run.js';

async function run(): Promise<PhaseOutcome> {
  const { source, target } = await connectionsFromInputs();
  const names = migrationNames(text('name') ?? 'pgshift');
  const prefix = text('pg-command-prefix');
  const result = await group('full-load', () =>
    runFullLoad({
      source,
      target,
      names,
      jobs: int('jobs', { min: 1 }),
      clean: bool('clean'),
      waitForTransactionsMs: durationMs(text('wait-for-transactions') ?? DEFAULT_WAIT_FOR_TRANSACTIONS, 'input wait-for-transactions'),
      ddl: choice<DdlMode>('ddl', [...DDL_MODES], DEFAULT_DDL_MODE),
      pgTools: { binDir: text('pg-bin-dir'), commandPrefix: prefix ? prefix.split(/\s+/).filter(Boolean) : undefined },
      // The engine only decides the slot's plugin: DMS reads test_decoding, a subscription pgoutput.
      slotPlugin: engineName() === 'dms' ? 'test_decoding' : 'pgoutput',
      log: actionsLogger(),
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
    qualifiedName(s),
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
