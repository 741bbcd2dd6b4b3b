/**
 * What the rollback step shows. Lossless (through the reverse replication): the switchover summary.
 * Without it (accept-data-loss): per table, how many rows written on the target the source lacks,
 * with sample keys, and the timeline.
 */
import { isFrozenStep } from '../../../src/engine/cutover/steps.js';
import { describeSnapshotCheck } from '../../../src/engine/cutover/snapshot-check.js';
import type { RollbackResult } from '../../../src/engine/rollback/rollback.js';
import { count, stepsSection, table } from '../render.js';
import type { Annotation } from '../summary.js';
import { renderSwitchover } from './switchover.js';

type DataLoss = Extract<RollbackResult, { mode: 'data-loss-accepted' }>;

export const lostRows = (r: DataLoss) => r.lost.reduce((s, t) => s + t.rows, 0);

export function rollbackVerdict(r: RollbackResult): string {
  if (r.mode === 'data-loss-accepted') return r.ok ? 'rolled-back' : 'rolled-back-with-errors';
  return r.ok ? 'rolled-back' : r.postCheck.ok ? 'rolled-back-check-failed' : 'rolled-back-post-check-failed';
}

export function renderRollback(r: RollbackResult, switchDescription: string): string {
  if (r.mode === 'lossless') return renderSwitchover(r, switchDescription);
  const lost = lostRows(r);
  return [
    `⚠️ **rolled back without reverse replication** (accept-data-loss) — ${count(lost)} row(s) written on the target since the cutover are not on the source.`,
    r.lost.length
      ? table(
          ['table', 'rows the source lacks', 'sample keys'],
          r.lost.map((t) => [t.table, count(t.rows), t.sampleKeys.map((k) => Object.values(k).join('/')).join(', ')]),
        )
      : 'No rows were lost.',
    stepsSection('rollback timeline', r.steps, { critical: isFrozenStep }),
  ].join('\n\n');
}

export function rollbackAnnotations(r: RollbackResult): Annotation[] {
  if (r.mode === 'lossless' || lostRows(r) === 0) return [];
  return [
    {
      level: 'warning',
      title: 'writes lost in rollback',
      message: `${lostRows(r)} row(s) written on the target are not on the source: ${r.lost.map((t) => `${t.table} ${t.rows}`).join(', ')}`,
    },
  ];
}

export function rollbackFailure(r: RollbackResult): string | undefined {
  if (r.ok) return undefined;
  if (r.mode === 'data-loss-accepted')
    return 'rollback without reverse replication did not finish cleanly — read the timeline in the job summary';
  return r.snapshotCheck && !r.snapshotCheck.ok
    ? `rollback switched, but the switch-point check failed: ${describeSnapshotCheck(r.snapshotCheck)}`
    : `rollback switched, but the post-check write through the application path failed: ${r.postCheck.error ?? 'unknown'}`;
}
