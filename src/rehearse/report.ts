/** The rehearsal's Markdown report: the figures, the phases, and charts around the switches. */
import { table } from '../render/markdown.js';
import { xyChart } from '../render/mermaid.js';
import type { RehearsalResult } from './rehearse.js';

const BUCKET_MS = 250;

export function rehearsalMarkdown(r: RehearsalResult): string {
  const verdict = r.ok ? '✅ all goals met' : '❌ a goal was missed';
  const goals = table(
    ['goal', 'cutover', 'rollback', 'cutover again', 'target'],
    [
      ['write freeze (ms)', r.cutover.writeFreezeMs, r.rollback.writeFreezeMs, r.cutoverAgain.writeFreezeMs, '≤ 2000 (aim ≤ 1000)'],
      ['post-check write through PgBouncer', ok(r.cutover.postCheckOk), ok(r.rollback.postCheckOk), ok(r.cutoverAgain.postCheckOk), 'ok'],
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
    `Tables added to the subscription: ${r.deploy.tablesAdded.join(', ') || 'none'}`,
    '',
    ...r.series.switches.flatMap((s) => ['', `## Around the ${s.label} (writes frozen ${s.freezeMs} ms)`, latencyChart(r, s.at)]),
    '',
    '## Replication lag during CDC',
    lagChart(r),
    '',
  ].join('\n');
}

/** Worst write latency per 250 ms, from 2 s before a switch to 3 s after. */
function latencyChart(r: RehearsalResult, at: number): string {
  const from = at - 2000;
  const to = at + 3000;
  const buckets = new Map<number, number>();
  for (const l of r.series.latencies) {
    if (l.t < from || l.t >= to) continue;
    const b = Math.floor((l.t - from) / BUCKET_MS);
    buckets.set(b, Math.max(buckets.get(b) ?? 0, l.ms));
  }
  const n = Math.ceil((to - from) / BUCKET_MS);
  const labels = Array.from({ length: n }, (_, i) => `${((i * BUCKET_MS - 2000) / 1000).toFixed(2)}s`);
  return xyChart({
    title: 'worst write latency per 250 ms (0 = switch start)',
    xLabels: labels,
    yLabel: 'ms',
    series: [{ name: 'latency', values: labels.map((_, i) => buckets.get(i) ?? 0) }],
  });
}

function lagChart(r: RehearsalResult): string {
  const lag = r.series.lag;
  if (lag.length === 0) return '_no samples_';
  const t0 = lag[0]!.t;
  return xyChart({
    title: 'replication lag (heartbeat commit to apply)',
    xLabels: lag.map((s) => `${((s.t - t0) / 1000).toFixed(1)}s`),
    yLabel: 'ms',
    series: [{ name: 'lag', values: lag.map((s) => s.lagMs) }],
  });
}

const ok = (b: boolean) => (b ? 'ok' : 'FAILED');
const ms = (v: number | null) => (v === null ? '-' : `${v} ms`);
