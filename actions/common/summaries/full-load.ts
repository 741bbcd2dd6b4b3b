/** What the full-load step shows: totals and throughput, where CDC continues from, each table's load, the steps. */
import type { FullLoadResult } from '../../../src/engine/full-load/full-load.js';
import { relationKey } from '../../../src/postgres/sql.js';
import { bytes, code, count, duration, heading, stepsSection, table } from '../render.js';

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
