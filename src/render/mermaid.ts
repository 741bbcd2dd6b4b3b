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
  /** A CSS colour; defaults to the next of SERIES_COLOURS. */
  colour?: string;
}

/**
 * The default theme draws xychart lines in a pale lavender that is barely visible on white;
 * these read on both GitHub's light and dark backgrounds.
 */
export const SERIES_COLOURS = ['#1f6feb', '#d1242f', '#1a7f37', '#9a6700'];
/** More category labels than this overlap into one smear at GitHub's chart width. */
export const MAX_X_LABELS = 8;

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

const finite = (v: number | null): v is number => v !== null && Number.isFinite(v);

/**
 * Merge consecutive x positions into at most `max` groups, each labelled by its first position and
 * valued by its worst (largest) sample: the charts show latency and lag, where the worst is what
 * a reader looks for, and a spike must not vanish by averaging.
 */
export function worstPerGroup(xLabels: string[], series: Series[], max = MAX_X_LABELS): { xLabels: string[]; series: Series[] } {
  if (xLabels.length <= max) return { xLabels, series };
  const size = Math.ceil(xLabels.length / max);
  const groups = Array.from(
    { length: Math.ceil(xLabels.length / size) },
    (_, g) => [g * size, Math.min(xLabels.length, (g + 1) * size)] as const,
  );
  return {
    xLabels: groups.map(([from]) => xLabels[from]!),
    series: series.map((s) => ({
      ...s,
      values: groups.map(([from, to]) => {
        const vs = s.values.slice(from, to).filter(finite);
        return vs.length === 0 ? null : Math.max(...vs);
      }),
    })),
  };
}

/**
 * An `xychart-beta` chart: x labels as categories, one line or bar per series, at most
 * MAX_X_LABELS categories (see worstPerGroup). Mermaid's xychart has no legend, so the title
 * names the series; the init directive sets the plot palette, one colour per series in order.
 * Bars are drawn first so a line stays visible on top of them.
 */
export function xyChart(opts: { title: string; xLabels: string[]; yLabel: string; series: Series[]; namesInTitle?: boolean }): string {
  const coloured = opts.series.map((s, i) => ({ ...s, colour: s.colour ?? SERIES_COLOURS[i % SERIES_COLOURS.length]! }));
  const ordered = [...coloured.filter((s) => s.kind === 'bar'), ...coloured.filter((s) => s.kind !== 'bar')];
  const { xLabels, series } = worstPerGroup(opts.xLabels, ordered);
  const names = opts.series.map((s) => s.name).join(', ');
  const title = opts.series.length > 1 && opts.namesInTitle !== false ? `${opts.title} (${names})` : opts.title;
  const max = Math.max(0, ...series.flatMap((s) => s.values.map((v) => (finite(v) ? v : 0))));
  const palette = series.map((s) => s.colour).join(', ');
  const lines = [
    '```mermaid',
    `%%{init: {"themeVariables": {"xyChart": {"plotColorPalette": "${palette}"}}}}%%`,
    'xychart-beta',
    `    title "${label(title)}"`,
    `    x-axis [${xLabels.map((l) => `"${label(l)}"`).join(', ')}]`,
    // An explicit range keeps an all-zero series (no lag at all) from collapsing the axis.
    `    y-axis "${label(opts.yLabel)}" 0 --> ${num(max > 0 ? max * 1.1 : 1)}`,
    ...series.map((s) => `    ${s.kind ?? 'line'} [${s.values.map(num).join(', ')}]`),
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
