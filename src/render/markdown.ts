/**
 * GitHub-free Markdown building blocks for phase reports: the actions put them in the job
 * summary, the CLI can print them. Every cell is escaped so that a table name with a pipe,
 * a backtick or a newline (hostile identifiers are real) cannot break the table.
 */

export type Status = 'PASS' | 'WARN' | 'FAIL';

/** Escape text for a Markdown table cell: pipes, newlines, and HTML-ish characters. */
export function cell(value: unknown): string {
  if (value === undefined || value === null || value === '') return '';
  return String(value).replace(/\\/g, '\\\\').replace(/\|/g, '\\|').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/\r?\n/g, '<br>');
}

/** Inline code that survives backticks inside the value (CommonMark: a longer fence). */
export function code(value: string): string {
  const longest = Math.max(0, ...(value.match(/`+/g) ?? []).map((m) => m.length));
  const fence = '`'.repeat(longest + 1);
  const pad = value.startsWith('`') || value.endsWith('`') ? ' ' : '';
  return `${fence}${pad}${value}${pad}${fence}`;
}

/** A Markdown table; `align` marks numeric columns right-aligned. */
export function table(headers: string[], rows: unknown[][], align?: ('left' | 'right')[]): string {
  const sep = headers.map((_, i) => (align?.[i] === 'right' ? '---:' : '---'));
  const line = (cells: unknown[]) => `| ${cells.map(cell).join(' | ')} |`;
  return [line(headers), `| ${sep.join(' | ')} |`, ...rows.map(line)].join('\n');
}

export function heading(level: 1 | 2 | 3 | 4, text: string): string {
  return `${'#'.repeat(level)} ${text.replace(/\r?\n/g, ' ')}`;
}

/** A fenced code block (SQL fixes, shell commands), fenced longer than any backtick run inside. */
export function codeBlock(text: string, lang = ''): string {
  const longest = Math.max(2, ...(text.match(/`+/g) ?? []).map((m) => m.length));
  const fence = '`'.repeat(longest + 1);
  return `${fence}${lang}\n${text.replace(/\n$/, '')}\n${fence}`;
}

/** Collapsible section for long detail (GitHub renders <details>). */
export function details(summary: string, body: string): string {
  return `<details><summary>${cell(summary)}</summary>\n\n${body}\n\n</details>`;
}

export const STATUS_ICON: Record<Status, string> = { PASS: '✅', WARN: '⚠️', FAIL: '❌' };

export function statusCell(status: Status): string {
  return `${STATUS_ICON[status]} ${status}`;
}

/** 1234567 -> "1,234,567" (en-US grouping regardless of the runner's locale). */
export function count(n: number | bigint | string | null | undefined): string {
  if (n === null || n === undefined || n === '') return '–';
  const s = typeof n === 'string' ? n : n.toString();
  if (!/^-?\d+$/.test(s)) return s;
  const neg = s.startsWith('-');
  const digits = neg ? s.slice(1) : s;
  return (neg ? '-' : '') + digits.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/** Bytes in binary units: 0 B, 12.3 KiB, 1.06 GiB. */
export function bytes(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return '–';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (Math.abs(v) >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${v} B` : `${v.toFixed(v >= 100 ? 0 : v >= 10 ? 1 : 2)} ${units[i]}`;
}

/** Milliseconds for people: 850 ms, 12.4 s, 3 min 05 s. */
export function duration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '–';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const min = Math.floor(ms / 60_000);
  const s = Math.round((ms % 60_000) / 1000);
  return `${min} min ${String(s).padStart(2, '0')} s`;
}

/** A link to a file in the repository at the commit being run, or a plain path when not in a run. */
export function repositoryLink(path: string, env: { serverUrl?: string; repository?: string; sha?: string }): string {
  if (env.serverUrl && env.repository && env.sha) return `${env.serverUrl}/${env.repository}/blob/${env.sha}/${path}`;
  return path;
}
