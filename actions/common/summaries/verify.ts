/** What the verify step shows: equal or differs, every table's verdict (differences first, in red), the differing keys, sequences, views and schema drift. */
import type { TableVerdict, VerifyReport } from '../../../src/engine/verify/report.js';
import { relationKey } from '../../../src/postgres/sql.js';
import { code, count, duration, heading, table } from '../render.js';

/** Verdicts that fail the step. */
export const BAD = new Set(['differs', 'did-not-converge', 'missing-on-target']);

export function describeDifference(t: TableVerdict): string {
  const d = t.differences;
  const counts = `source ${count(t.sourceRows)} rows, target ${count(t.targetRows)}`;
  if (!d) return counts;
  return `${counts}; missing on target ${count(d.missingOnTarget)}, extra on target ${count(d.extraOnTarget)}, changed ${count(d.changed)}`;
}

const keyText = (k: Record<string, string>) =>
  Object.entries(k)
    .map(([c, v]) => `${c}=${v}`)
    .join(', ');

export function renderVerify(r: VerifyReport): string {
  const s = r.summary;
  const headline = r.ok
    ? `✅ **equal** — ${count(s.tables)} tables compared (${r.mode}) in ${duration(r.durationMs)}${s.convergedAfterRecheck ? `; ${count(s.convergedAfterRecheck)} converged after the target caught up` : ''}.`
    : `❌ **differs** — ${count(s.differs + s.didNotConverge + s.missingOnTarget)} of ${count(s.tables)} tables differ, ${count(s.schemaDifferences)} schema differences (${r.mode}, ${duration(r.durationMs)}).`;
  const parts = [headline];
  const order = (t: TableVerdict) => (BAD.has(t.verdict) ? 0 : t.verdict === 'converged-after-recheck' ? 1 : 2);
  const rows = [...r.tables]
    .sort((a, b) => order(a) - order(b) || relationKey(a.table).localeCompare(relationKey(b.table)))
    .map((t) => [
      BAD.has(t.verdict)
        ? `❌ ${t.verdict}`
        : t.verdict === 'converged-after-recheck'
          ? `✅ converged (${t.rechecks} rechecks)`
          : '✅ equal',
      relationKey(t.table),
      count(t.sourceRows),
      count(t.targetRows),
      t.chunks !== undefined ? `${count(t.mismatchedChunks ?? 0)} / ${count(t.chunks)}` : '–',
      t.primaryKey ? t.primaryKey.join(', ') : '(no key: row multiset)',
      t.notes.join('; '),
    ]);
  parts.push(
    heading(3, 'Tables'),
    table(['verdict', 'table', 'source rows', 'target rows', 'differing chunks', 'key', 'notes'], rows, [
      'left',
      'left',
      'right',
      'right',
      'right',
      'left',
      'left',
    ]),
  );
  const keyed = r.tables.filter((t) => t.differences && BAD.has(t.verdict));
  if (keyed.length) {
    parts.push(heading(3, 'Differing keys'));
    for (const t of keyed) {
      const d = t.differences!;
      const keyRows = [
        ...d.keys.missingOnTarget.map((k) => ['missing on target', keyText(k)]),
        ...d.keys.extraOnTarget.map((k) => ['extra on target', keyText(k)]),
        ...d.keys.changed.map((k) => ['changed', keyText(k)]),
      ];
      parts.push(
        `**${relationKey(t.table)}** — ${describeDifference(t)}${d.capped ? ' (list capped)' : ''}`,
        table(['difference', 'key'], keyRows),
      );
    }
  }
  const seq = r.sequences.filter((q) => q.status !== 'equal');
  if (seq.length) {
    parts.push(
      heading(3, 'Sequences'),
      `${r.strict ? 'Counted as differences (strict).' : 'Expected while CDC runs (sequences are not replicated); cutover sets them.'}`,
      table(
        ['sequence', 'source', 'target', 'status'],
        seq.map((q) => [relationKey(q.sequence), q.source ?? '–', q.target ?? '–', q.status]),
      ),
    );
  }
  const mv = r.materializedViews.filter((m) => m.status !== 'equal');
  if (mv.length)
    parts.push(
      heading(3, 'Materialized views'),
      table(
        ['view', 'source rows', 'target rows', 'status'],
        mv.map((m) => [relationKey(m.view), count(m.sourceRows), count(m.targetRows), m.status]),
      ),
    );
  if (r.schemaDrift.length) {
    parts.push(heading(3, 'Schema drift (DDL is not replicated: apply it on the target, then verify again)'));
    parts.push(
      table(
        ['kind', 'object', 'change', 'source', 'target'],
        r.schemaDrift.map((d) => [d.kind, code(d.object), d.change, d.source ?? '–', d.target ?? '–']),
      ),
    );
  }
  return parts.join('\n\n');
}
