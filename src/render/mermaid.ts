/**
 * Mermaid charts for reports. GitHub renders ```mermaid blocks in job summaries and Markdown
 * files, so the lag chart and the cutover timeline need no image hosting.
 * Labels come from table names and step names, so they are sanitised: Mermaid's syntax uses
 * quotes, colons, commas, brackets and '#' as delimiters.
 */

export interface Series {
  name: string;
  /** One value per x label; null where there is no sample (drawn as 0, Mermaid has no gaps). */
  values: (number | null)[];
  kind?: 'line' | 'bar';
}

/** Make text safe inside a Mermaid double-quoted label. */
export function label(text: string): string {
  return text
    .replace(/["`]/g, "'")
    .replace(/[\r\n]+/g, ' ')
    .replace(/[#;]/g, ' ')
    .trim();
}

/** Round to a few significant digits so the chart source stays short and deterministic. */
function num(v: number | null): string {
  if (v === null || !Number.isFinite(v)) return '0';
  return String(Math.round(v * 1000) / 1000);
}

/**
 * An `xychart-beta` chart: x labels as categories, one line or bar per series.
 * Mermaid's xychart has no legend, so the series names go into the title.
 */
export function xyChart(opts: { title: string; xLabels: string[]; yLabel: string; series: Series[] }): string {
  const names = opts.series.map((s) => s.name).join(', ');
  const title = opts.series.length > 1 ? `${opts.title} (${names})` : opts.title;
  const max = Math.max(0, ...opts.series.flatMap((s) => s.values.map((v) => (v === null || !Number.isFinite(v) ? 0 : v))));
  const lines = [
    '```mermaid',
    'xychart-beta',
    `    title "${label(title)}"`,
    `    x-axis [${opts.xLabels.map((l) => `"${label(l)}"`).join(', ')}]`,
    // An explicit range keeps an all-zero series (no lag at all) from collapsing the axis.
    `    y-axis "${label(opts.yLabel)}" 0 --> ${num(max > 0 ? max * 1.1 : 1)}`,
    ...opts.series.map((s) => `    ${s.kind ?? 'line'} [${s.values.map(num).join(', ')}]`),
    '```',
  ];
  return lines.join('\n');
}

export interface TimelineStep {
  name: string;
  /** Epoch milliseconds. */
  startMs: number;
  endMs: number;
  /** crit marks the write freeze; done marks ordinary finished steps; active marks a step that failed or was undone. */
  state?: 'done' | 'crit' | 'active';
  section?: string;
}

/**
 * A `gantt` chart of timestamped steps (cutover, rollback). Times are relative to the first
 * step so that the axis reads in seconds since the start, independent of the runner's clock.
 */
export function timeline(opts: { title: string; steps: TimelineStep[] }): string {
  if (opts.steps.length === 0) return '';
  const t0 = Math.min(...opts.steps.map((s) => s.startMs));
  const lines = ['```mermaid', 'gantt', `    title ${label(opts.title).replace(/:/g, ' ')}`, '    dateFormat x', '    axisFormat %M:%S.%L'];
  let section: string | undefined;
  opts.steps.forEach((s, i) => {
    const sec = s.section ?? 'steps';
    if (sec !== section) {
      lines.push(`    section ${label(sec).replace(/:/g, ' ')}`);
      section = sec;
    }
    const start = Math.round(s.startMs - t0);
    // Mermaid drops zero-length tasks; a 1 ms bar keeps an instant step visible.
    const end = Math.max(start + 1, Math.round(s.endMs - t0));
    const tags = s.state ? `${s.state}, ` : '';
    lines.push(`    ${label(s.name).replace(/:/g, ' ')} :${tags}s${i}, ${start}, ${end}`);
  });
  lines.push('```');
  return lines.join('\n');
}

/** Pick at most `max` evenly spaced samples so a long series stays readable as a chart. */
export function downsample<T>(items: T[], max: number): T[] {
  if (items.length <= max) return items;
  const out: T[] = [];
  for (let i = 0; i < max; i++) out.push(items[Math.round((i * (items.length - 1)) / (max - 1))]!);
  return out;
}
