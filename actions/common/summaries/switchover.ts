/**
 * The job summary of a switchover (cutover, rollback): freeze figures, the switch-point check (a
 * mismatch in red with every table and both counts), the timeline as a Gantt chart with the frozen
 * steps in red, and an abort with the timeline up to it.
 */
import { isFrozenStep } from '../../../src/engine/cutover/steps.js';
import type { SnapshotCheckResult } from '../../../src/engine/cutover/snapshot-check.js';
import type { SwitchoverAborted, SwitchoverResult } from '../../../src/engine/cutover/switchover.js';
import { code, count, duration, heading, stepsSection, table } from '../render.js';

/** The plan's goal for the write freeze. */
export const GOAL_MS = 2000;

export function renderSwitchover(r: SwitchoverResult, switchDescription: string): string {
  const freezeIcon = r.writeFreezeMs <= GOAL_MS ? '✅' : '⚠️';
  const verb = r.kind === 'cutover' ? 'switched to' : 'rolled back to';
  const mismatch = r.snapshotCheck !== undefined && !r.snapshotCheck.ok;
  const headline = `${r.ok ? '✅' : mismatch ? '❌' : '⚠️'} **${verb} ${code(r.to)}** (from ${code(r.from)}) — ${freezeIcon} writes frozen for **${duration(r.writeFreezeMs)}** (goal ≤ ${duration(GOAL_MS)}).`;
  const facts = table(
    ['item', 'value'],
    [
      ['application switch', switchDescription],
      ['lag when writes froze', `${count(r.lagAtFreezeBytes)} bytes, applied in ${duration(r.waitForApplyMs)}`],
      ['sequences set on the new primary', count(r.sequencesSet)],
      ['switch-point check (after resuming, in snapshots taken inside the freeze)', snapshotCheckCell(r.snapshotCheck)],
      [
        'replication back (so going back loses nothing)',
        `subscription ${code(r.replicationBack.subscription)}, slot ${code(r.replicationBack.slot)}`,
      ],
      ['roles made read-only on the old primary', r.frozenOnOldPrimary.roles.join(', ') || '–'],
      ['sessions ended on the old primary', count(r.frozenOnOldPrimary.terminatedSessions)],
      [
        'post-check write through the application path',
        r.postCheck.ok ? `✅ landed on the new primary (${duration(r.postCheck.ms)})` : `❌ ${r.postCheck.error ?? 'failed'}`,
      ],
    ],
  );
  return [
    headline,
    facts,
    mismatchSection(r.snapshotCheck),
    stepsSection(`${r.kind} timeline (red: writes frozen)`, r.steps, { critical: isFrozenStep }),
  ]
    .filter(Boolean)
    .join('\n\n');
}

function snapshotCheckCell(c: SnapshotCheckResult | undefined): string {
  if (!c) return 'skipped (verify: none)';
  if (c.error) return `❌ could not run: ${c.error}`;
  if (c.ok) return `✅ ${count(c.tables)} tables equal (${c.mode}, ${duration(c.ms)})`;
  return `❌ **${count(c.mismatched.length)} of ${count(c.tables)} tables differ** (${c.mode}, ${duration(c.ms)})`;
}

/** A mismatch names every table with both counts, in red, and says what to do. */
function mismatchSection(c: SnapshotCheckResult | undefined): string {
  if (!c || c.ok || c.error) return '';
  return [
    heading(3, '❌ The two sides differed at the switch point'),
    table(
      ['table', 'rows on the old primary', 'rows on the new primary', 'missing / extra / changed (full)'],
      c.mismatched.map((t) => [
        code(t.table),
        count(t.fromRows),
        t.toRows === null ? 'missing' : count(t.toRows),
        t.missing === undefined ? '–' : `${count(t.missing)} / ${count(t.extra ?? 0)} / ${count(t.changed ?? 0)}`,
      ]),
    ),
    'What to do: runbooks/cutover.md, "전환 시점 검증이 불일치를 보고했을 때".',
  ].join('\n\n');
}

/** An abort before the switch: the old primary still serves, writes flow again; show how far it got. */
export function renderAborted(kind: 'cutover' | 'rollback', err: SwitchoverAborted): string {
  return [
    `❌ **${kind} aborted before the switch** — the old primary still serves and writes flow again (frozen for ${duration(err.writeFreezeMs)}).`,
    `Reason: ${err.oneLine()}`,
    stepsSection(`${kind} timeline up to the abort`, err.steps, { critical: isFrozenStep }),
  ].join('\n\n');
}
