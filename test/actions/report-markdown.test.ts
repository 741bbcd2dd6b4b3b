/**
 * The Markdown and Mermaid renderers behind every job summary. Table and step names come from
 * the database (hostile identifiers are real), so what matters is that no name can break a
 * table or a chart, and that the numbers read the way an operator expects.
 */
import { describe, expect, it } from 'vitest';
import { bytes, cell, code, codeBlock, count, duration, repositoryLink, table } from '../../src/render/markdown.js';
import { downsample, label, timeline, xyChart } from '../../src/render/mermaid.js';

describe('markdown', () => {
  it('a table name with a pipe, a newline and HTML stays inside its cell', () => {
    const md = table(['table', 'rows'], [['public."a|b\nc<script>"', 3]]);
    const lines = md.split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[2]).toBe('| public."a\\|b<br>c&lt;script&gt;" | 3 |');
    // Exactly the two column separators plus the edges: the pipe inside the name is escaped.
    expect(lines[2]!.match(/(?<!\\)\|/g)).toHaveLength(3);
  });

  it('right-aligns numeric columns', () => {
    expect(table(['a', 'n'], [], ['left', 'right']).split('\n')[1]).toBe('| --- | ---: |');
  });

  it('inline code and code blocks survive backticks inside', () => {
    expect(code('a`b')).toBe('``a`b``');
    expect(codeBlock('x ``` y', 'sql')).toBe('````sql\nx ``` y\n````');
  });

  it('counts, bytes and durations read like a person writes them', () => {
    expect(count(1234567)).toBe('1,234,567');
    expect(count('9007199254740993')).toBe('9,007,199,254,740,993');
    expect(count(null)).toBe('–');
    expect(bytes(0)).toBe('0 B');
    expect(bytes(1536)).toBe('1.50 KiB');
    expect(bytes(1.06 * 1024 ** 3)).toBe('1.06 GiB');
    expect(duration(850)).toBe('850 ms');
    expect(duration(12_400)).toBe('12.4 s');
    expect(duration(185_000)).toBe('3 min 05 s');
    expect(cell(undefined)).toBe('');
  });

  it('links a runbook at the commit being run, or falls back to the path', () => {
    expect(repositoryLink('runbooks/cdc.md', { serverUrl: 'https://github.com', repository: 'o/r', sha: 'abc' })).toBe(
      'https://github.com/o/r/blob/abc/runbooks/cdc.md',
    );
    expect(repositoryLink('runbooks/cdc.md', {})).toBe('runbooks/cdc.md');
  });
});

describe('mermaid', () => {
  it('labels lose the characters Mermaid uses as syntax', () => {
    expect(label('a "b" #c;\nd')).toBe("a 'b'  c  d");
  });

  it('an xychart keeps a y range even when every value is zero, and names series in the title', () => {
    const chart = xyChart({
      title: 'lag',
      xLabels: ['0s', '1s'],
      yLabel: 'bytes',
      series: [
        { name: 'a', values: [0, 0] },
        { name: 'b', values: [null, 2.5] },
      ],
    });
    expect(chart).toContain('xychart-beta');
    expect(chart).toContain('title "lag (a, b)"');
    expect(chart).toContain('x-axis ["0s", "1s"]');
    expect(chart).toContain('y-axis "bytes" 0 --> 2.75');
    expect(chart).toContain('line [0, 0]');
    expect(chart).toContain('line [0, 2.5]');
    expect(xyChart({ title: 't', xLabels: ['x'], yLabel: 'y', series: [{ name: 's', values: [0] }] })).toContain('0 --> 1');
  });

  it('a timeline is relative to its first step, keeps instant steps visible and marks the freeze', () => {
    const g = timeline({
      title: 'cutover: timeline',
      steps: [
        { name: 'pre-checks', startMs: 1000, endMs: 1400, state: 'done' },
        { name: 'freeze writes: all roles', startMs: 1400, endMs: 1400, state: 'crit' },
      ],
    });
    expect(g.split('\n')).toEqual([
      '```mermaid',
      'gantt',
      '    title cutover  timeline',
      '    dateFormat x',
      '    axisFormat %M:%S.%L',
      '    section steps',
      '    pre-checks :done, s0, 0, 400',
      '    freeze writes  all roles :crit, s1, 400, 401',
      '```',
    ]);
    expect(timeline({ title: 'x', steps: [] })).toBe('');
  });

  it('an xychart shows at most 8 x labels, keeps the worst sample of each group, and sets a visible palette', () => {
    const chart = xyChart({
      title: 'lag',
      xLabels: Array.from({ length: 20 }, (_, i) => `${i}s`),
      yLabel: 'ms',
      series: [
        { name: 'lag', values: Array.from({ length: 20 }, (_, i) => (i === 5 ? 900 : i)) },
        { name: 'frozen', kind: 'bar', colour: '#ffb3b8', values: Array.from({ length: 20 }, () => 0) },
      ],
    });
    expect(chart).toContain('x-axis ["0s", "3s", "6s", "9s", "12s", "15s", "18s"]');
    expect(chart).toContain('line [2, 900, 8, 11, 14, 17, 19]');
    // Bars first, so the line is drawn over them; the palette follows that order.
    expect(chart).toContain('"plotColorPalette": "#ffb3b8, #1f6feb"');
    expect(chart.indexOf('bar [')).toBeLessThan(chart.indexOf('line ['));
  });

  it('downsampling keeps the first and the last sample', () => {
    const d = downsample([...Array(100).keys()], 5);
    expect(d).toHaveLength(5);
    expect(d[0]).toBe(0);
    expect(d[4]).toBe(99);
    expect(downsample([1, 2], 5)).toEqual([1, 2]);
  });
});
