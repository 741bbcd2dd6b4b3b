/**
 * Phase results rendered as job-summary Markdown. GitHub-free (only src/render primitives), so
 * the same sections can be printed by the CLI or tested without a runner.
 */
import type { StepRecord } from '../../src/engine/timeline.js';
import { bytes, code, codeBlock, count, details, duration, heading, statusCell, table, type Status } from '../../src/render/markdown.js';
import { downsample, timeline, xyChart } from '../../src/render/mermaid.js';

/** The phase's named steps as a Gantt chart and a table (the chart for the eye, the table for the numbers). */
export function stepsSection(title: string, steps: StepRecord[], opts: { critical?: (step: string) => boolean } = {}): string {
  if (steps.length === 0) return '';
  const chart = timeline({
    title,
    steps: steps.map((s) => {
      const start = Date.parse(s.startedAt);
      return { name: s.step, startMs: start, endMs: start + s.ms, state: !s.ok ? 'active' : opts.critical?.(s.step) ? 'crit' : 'done' };
    }),
  });
  const rows = steps.map((s) => [s.ok ? '✅' : '❌', s.step, duration(s.ms), s.detail ?? '']);
  return [heading(3, title), chart, table(['', 'step', 'took', 'detail'], rows, ['left', 'left', 'right', 'left'])].join('\n\n');
}

export interface CheckRow {
  id: string;
  scope: string;
  status: Status;
  title?: string;
  detail: string;
  remediation?: string;
}

/** The preflight checks table, failures first, with each fix in a collapsible block below. */
export function checksSection(checks: CheckRow[]): string {
  const order: Record<Status, number> = { FAIL: 0, WARN: 1, PASS: 2 };
  const sorted = [...checks].sort((a, b) => order[a.status] - order[b.status]);
  const rows = sorted.map((c) => [statusCell(c.status), c.scope, c.id, c.title ? `${c.title}: ${c.detail}` : c.detail]);
  const fixes = sorted
    .filter((c) => c.status !== 'PASS' && c.remediation)
    .map((c) => details(`${c.status} ${c.id} — how to fix`, codeBlock(c.remediation!)));
  return [table(['status', 'scope', 'check', 'detail'], rows), ...fixes].join('\n\n');
}

export interface LagPoint {
  at: string;
  lagBytes: number | null;
  lagMs: number | null;
}

/** Replication lag over the observation window as a Mermaid line chart (bytes and ms). */
export function lagChart(points: LagPoint[]): string {
  const sampled = downsample(points, 30);
  if (sampled.length === 0) return '';
  const t0 = Date.parse(sampled[0]!.at);
  const xLabels = sampled.map((p) => `${Math.round((Date.parse(p.at) - t0) / 1000)}s`);
  const byteChart = xyChart({
    title: 'replication lag (bytes, by LSN)',
    xLabels,
    yLabel: 'bytes',
    series: [{ name: 'lag bytes', values: sampled.map((p) => p.lagBytes) }],
  });
  const msChart = xyChart({
    title: 'replication lag (ms, heartbeat)',
    xLabels,
    yLabel: 'ms',
    series: [{ name: 'lag ms', values: sampled.map((p) => p.lagMs) }],
  });
  return [byteChart, msChart].join('\n\n');
}

export { bytes, code, count, duration, heading, table };
