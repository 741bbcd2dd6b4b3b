/** Plain-text renderings of phase results for a terminal (the actions render Markdown instead). */
import type { DumpRestoreResult } from '../engine/full-load/dump-restore.js';
import type { FullLoadResult } from '../engine/full-load/full-load.js';

const mb = (b: number) => `${(b / 1e6).toFixed(1)} MB`;

export function table(headers: string[], rows: (string | number)[][]): string {
  const cells = [headers, ...rows.map((r) => r.map(String))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(cells[0]!), line(widths.map((w) => '-'.repeat(w))), ...cells.slice(1).map(line)].join('\n');
}

export function renderSteps(steps: { step: string; ms: number; ok: boolean }[]): string {
  return table(['step', 'ms', ''], steps.map((s) => [s.step, s.ms, s.ok ? 'ok' : 'FAILED']));
}

export function renderFullLoad(r: FullLoadResult | DumpRestoreResult): string {
  if (r.strategy === 'dump-restore') {
    return `${renderSteps(r.steps)}\n\ndump-restore done in ${r.totals.seconds.toFixed(1)} s (dump file ${mb(r.dumpBytes)}). No slot was made: CDC cannot follow this load.`;
  }
  const tables = table(
    ['table', 'rows', 'size', 'chunks', 'indexes', 'seconds'],
    r.tables.map((t) => [`${t.schema}.${t.name}`, t.rows, mb(t.bytes), t.chunks, t.indexes, t.seconds.toFixed(1)]),
  );
  const notes = [
    `full-load: ${r.totals.rows} rows, ${mb(r.totals.bytes)} in ${r.totals.seconds.toFixed(1)} s (copy ${r.totals.copySeconds.toFixed(1)} s, ${mb(r.totals.bytesPerSecond)}/s)`,
    `slot ${r.slotName} (publication ${r.publication}) streams from LSN ${r.consistentLsn} — next: pgshift cdc start`,
    `roles created on the target: ${r.roles.created.join(', ') || 'none'}`,
  ];
  if (r.roles.needPassword.length) notes.push(`set their passwords on the target: ${r.roles.needPassword.map((n) => `ALTER ROLE "${n}" PASSWORD '...';`).join(' ')}`);
  notes.push(`sequences ${r.sequences}, large objects ${r.largeObjects}, materialized views refreshed: ${r.materializedViews.join(', ') || 'none'}`);
  return `${tables}\n\n${renderSteps(r.steps)}\n\n${notes.join('\n')}`;
}
