/**
 * What the cutover step shows: the verdict output, the job summary (the switchover, the lossless
 * rollback when on-mismatch rolled back, the pre-cutover backups), the annotations and the one-line
 * failure. A difference at the switch point is red and names every table.
 */
import type { PreCutoverBackups } from '../../../src/aws/backups.js';
import type { CutoverResult } from '../../../src/engine/cutover/cutover.js';
import { describeMismatches } from '../../../src/engine/cutover/snapshot-check.js';
import { code, heading, table } from '../render.js';
import type { Annotation } from '../summary.js';
import { renderSwitchover } from './switchover.js';

const differed = (r: CutoverResult) => r.snapshotCheck !== undefined && !r.snapshotCheck.ok && !r.snapshotCheck.error;

export function cutoverVerdict(r: CutoverResult): string {
  if (r.mismatchRollback) return 'rolled-back-after-mismatch';
  if (differed(r)) return 'switched-mismatch';
  if (r.snapshotCheck?.error) return 'switched-check-failed';
  return r.ok ? 'switched' : 'switched-post-check-failed';
}

export function renderCutover(r: CutoverResult, switchDescription: string, backups: PreCutoverBackups | null): string {
  const backupSection = backups
    ? [
        heading(3, 'Pre-cutover backups'),
        table(
          ['backup', 'id', 'state'],
          [
            ['RDS snapshot', code(backups.snapshot.snapshotIdentifier), backups.snapshot.status],
            ['source AMI', code(backups.image.imageId), backups.image.state],
          ],
        ),
      ].join('\n\n')
    : '';
  return [
    renderSwitchover(r, switchDescription),
    r.mismatchRollback?.mode === 'lossless'
      ? `${heading(3, 'Rolled back at once (on-mismatch: rollback)')}\n\n${renderSwitchover(r.mismatchRollback, switchDescription)}`
      : '',
    backupSection,
  ]
    .filter(Boolean)
    .join('\n\n');
}

export function cutoverAnnotations(r: CutoverResult): Annotation[] {
  const out: Annotation[] = [];
  const check = r.snapshotCheck;
  if (check && differed(r))
    out.push({
      level: 'error',
      title: 'the two sides differed at the switch point',
      message: `${describeMismatches(check.mismatched)} — ${
        r.mismatchRollback
          ? 'rolled back to the source at once (on-mismatch: rollback, lossless)'
          : r.mismatchRollbackError
            ? `the rollback did NOT happen: ${r.mismatchRollbackError}`
            : 'the target serves the application: see runbooks/cutover.md (rollback is lossless)'
      }`,
    });
  else if (check?.error)
    out.push({
      level: 'error',
      title: 'the switch-point check could not run',
      message: `${check.error} — run pgshift verify --mode full; see runbooks/cutover.md`,
    });
  if (!r.postCheck.ok)
    out.push({
      level: 'error',
      title: 'post-check failed',
      message: `the application path did not write to the new primary: ${r.postCheck.error ?? ''} — see runbooks/cutover.md (rollback is lossless)`,
    });
  return out;
}

export function cutoverFailure(r: CutoverResult): string {
  const check = r.snapshotCheck;
  if (check && differed(r))
    return `the two sides differed at the switch point: ${describeMismatches(check.mismatched)}${r.mismatchRollback ? ' — rolled back to the source' : ''}`;
  if (check?.error) return `cutover switched, but the switch-point check could not run: ${check.error}`;
  return `cutover switched, but the post-check write through the application path failed: ${r.postCheck.error ?? 'unknown'} — check the application, or run the rollback workflow`;
}
