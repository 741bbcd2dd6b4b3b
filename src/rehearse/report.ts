/** The rehearsal's Markdown report: the figures, the phases, and charts around the switches. */
import { table } from '../render/markdown.js';
import { MAX_X_LABELS, SERIES_COLOURS, xyChart } from '../render/mermaid.js';
import { describeMismatches } from '../engine/cutover/snapshot-check.js';
import { formatBytes } from './fixture/generate.js';
import type { RehearsalResult, SwitchMark, SwitchSummary } from './rehearse.js';

export function rehearsalMarkdown(r: RehearsalResult): string {
  const verdict = r.ok ? '✅ all goals met' : '❌ a goal was missed';
  const switches = [r.cutover, r.rollback, r.cutoverAgain];
  const goals = table(
    ['goal', 'cutover', 'rollback', 'cutover again', 'target'],
    [
      ['write freeze (ms)', ...switches.map((s) => s.writeFreezeMs), '≤ 2000 (aim ≤ 1000)'],
      ['post-check write through PgBouncer', ...switches.map((s) => ok(s.postCheckOk)), 'ok'],
      ['switch-point check (after resuming, in snapshots taken inside the freeze)', ...switches.map((s) => snapshotCell(s)), 'equal'],
    ],
  );
  const writes = table(
    ['acknowledged', 'failed', 'lost', 'sequence collisions', 'rate'],
    [[r.writes.acknowledged, r.writes.failed, r.writes.lost, r.writes.sequenceCollisions, `${r.writes.ratePerSecond}/s`]],
  );
  const phases = table(
    ['phase', 'seconds', 'result'],
    r.phases.map((p) => [p.phase, p.seconds.toFixed(2), `${p.ok ? 'ok' : 'FAILED'}${p.detail ? ` — ${p.detail}` : ''}`]),
  );
  const figures = table(
    ['full-load', 'CDC lag p50 / p99 / max', 'verify', 'leftovers after cleanup'],
    [
      [
        `${r.fullLoad.rows} rows, ${(r.fullLoad.bytes / 1e6).toFixed(1)} MB in ${r.fullLoad.seconds.toFixed(1)} s (${(r.fullLoad.bytesPerSecond / 1e6).toFixed(1)} MB/s)`,
        `${ms(r.cdc.lagP50Ms)} / ${ms(r.cdc.lagP99Ms)} / ${ms(r.cdc.lagMaxMs)} (${r.cdc.samples} samples)`,
        `${r.verify.mode}: ${r.verify.ok ? 'equal' : 'DIFFERS'} (${r.verify.tables} tables)`,
        r.cleanup.leftovers,
      ],
    ],
  );
  return [
    `# pgshift rehearsal — ${verdict}`,
    '',
    `Database: **${formatBytes(r.databaseBytes)}** (source, when the traffic started); ${r.writes.ratePerSecond} writes/s through PgBouncer.`,
    '',
    '## Goals',
    goals,
    '',
    '## Application writes',
    writes,
    '',
    '## Figures',
    figures,
    '',
    '## Phases',
    phases,
    '',
    `## Deploy during CDC (applied on the target ${r.deploy.appliedAfterMs} ms after the migration committed; lag max ${ms(r.deploy.lagMaxMs)})`,
    table(
      ['#', 'statement', 'captured on the source', 'applied on the target', 'delay (ms)'],
      r.deploy.statements.map((st) => [st.id, st.statement, st.capturedAt, st.appliedAt ?? 'not applied', st.applyDelayMs ?? '-']),
    ),
    // A blank line ends the table; without it the sentence renders as one more table row.
    '',
    `Tables added to the subscription: ${r.deploy.tablesAdded.join(', ') || 'none'}`,
    '',
    ...r.series.switches.flatMap((s) => [
      '',
      `## Around the ${s.label} (writes frozen ${s.freezeMs} ms)`,
      ...(s.snapshotCheck ? ['', `Switch-point check: ${s.snapshotCheck}.`] : []),
      '',
      latencyChart(r, s),
    ]),
    '',
    '## Replication lag during CDC',
    lagChart(r),
    '',
  ].join('\n');
}

/**
 * Worst write latency around one switch, in MAX_X_LABELS intervals from 1 s before writes froze
 * to at least 1 s after they resumed, with the frozen window drawn as red bars behind the line.
 */
export function latencyChart(r: RehearsalResult, s: SwitchMark): string {
  const from = s.frozenAt - 1000;
  const bucketMs = Math.max(500, Math.ceil((s.freezeMs + 2000) / MAX_X_LABELS / 250) * 250);
  const to = from + bucketMs * MAX_X_LABELS;
  const worst = Array.from<number | null>({ length: MAX_X_LABELS }).fill(null);
  for (const l of r.series.latencies) {
    if (l.t < from || l.t >= to) continue;
    const b = Math.floor((l.t - from) / bucketMs);
    worst[b] = Math.max(worst[b] ?? 0, l.ms);
  }
  const top = Math.max(1, ...worst.map((v) => v ?? 0));
  const frozenUntil = s.frozenAt + s.freezeMs;
  // A bucket is marked frozen when any part of it lies inside the freeze.
  const frozen = worst.map((_, i) => (from + i * bucketMs < frozenUntil && from + (i + 1) * bucketMs > s.frozenAt ? top : 0));
  return xyChart({
    title: `worst write latency per ${bucketMs} ms, red = writes frozen from 0 s`,
    namesInTitle: false,
    xLabels: worst.map((_, i) => `${((i * bucketMs - 1000) / 1000).toFixed(1)}s`),
    yLabel: 'ms',
    series: [
      { name: 'frozen', kind: 'bar', colour: '#ffb3b8', values: frozen },
      { name: 'latency', colour: SERIES_COLOURS[0], values: worst },
    ],
  });
}

function lagChart(r: RehearsalResult): string {
  const lag = r.series.lag;
  if (lag.length === 0) return '_no samples_';
  const t0 = lag[0]!.t;
  return xyChart({
    title: 'replication lag, heartbeat commit to apply (worst per interval)',
    xLabels: lag.map((s) => `${((s.t - t0) / 1000).toFixed(1)}s`),
    yLabel: 'ms',
    series: [{ name: 'lag', values: lag.map((s) => s.lagMs) }],
  });
}

const ok = (b: boolean) => (b ? 'ok' : 'FAILED');

function snapshotCell(s: SwitchSummary): string {
  const c = s.snapshotCheck;
  if (!c) return 'skipped';
  if (c.error) return `FAILED: could not run (${c.error})`;
  if (c.ok) return `equal, ${c.tables} tables (${c.mode}, ${c.ms} ms)`;
  return `MISMATCH: ${describeMismatches(c.mismatched)}`;
}
const ms = (v: number | null) => (v === null ? '-' : `${v} ms`);
