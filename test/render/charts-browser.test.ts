/**
 * Every chart the rehearsal report and the actions' shared renderers emit, drawn by the real
 * `mermaid` package in headless Chromium from realistic typed results: each must parse, draw a
 * non-empty SVG, show at most MAX_X_LABELS x labels, and draw its line in a colour a reader sees
 * on white. The e2e tests draw the charts of the real runs (test/e2e/actions.test.ts).
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lagChart, stepsSection } from '../../actions/common/render.js';
import type { StepRecord } from '../../src/engine/timeline.js';
import { MAX_X_LABELS } from '../../src/render/mermaid.js';
import type { RehearsalResult } from '../../src/rehearse/rehearse.js';
import { rehearsalMarkdown } from '../../src/rehearse/report.js';
import { reportHtml } from '../../src/rehearse/report-html.js';
import { type Drawing, drawCharts, launchChromium, mermaidBlocks } from '../support/mermaid-browser.js';

const T0 = Date.parse('2026-11-30T03:00:00Z');

/** Writes at 200/s for 40 s; each switch freezes writes and the writes due in the freeze wait it out. */
function rehearsal(): RehearsalResult {
  const switches = [
    { label: 'cutover', at: T0 + 10_000, frozenAt: T0 + 10_180, freezeMs: 640 },
    { label: 'rollback', at: T0 + 20_000, frozenAt: T0 + 20_150, freezeMs: 910 },
    { label: 'cutover again', at: T0 + 30_000, frozenAt: T0 + 30_170, freezeMs: 580 },
  ];
  const latencies = Array.from({ length: 40 * 200 }, (_, i) => {
    const t = T0 + i * 5;
    const inFreeze = switches.find((s) => t >= s.frozenAt && t < s.frozenAt + s.freezeMs);
    return { t, ms: inFreeze ? inFreeze.frozenAt + inFreeze.freezeMs - t + 4 : 2 + (i % 7), ok: true };
  });
  const lag = Array.from({ length: 45 }, (_, i) => ({
    t: T0 - 9_000 + i * 200,
    lagMs: 30 + ((i * 37) % 90),
    lagBytes: 4096 + ((i * 811) % 20_000),
  }));
  const sw = (freeze: number) => ({ writeFreezeMs: freeze, seconds: 1.8, postCheckOk: true, stepMs: { 'freeze writes': 40 } });
  return {
    ok: true,
    databaseBytes: 13_100_000,
    phases: [
      { phase: 'full-load', seconds: 4.2, ok: true },
      { phase: 'cutover', seconds: 1.8, ok: true, detail: 'writes frozen 640 ms' },
    ],
    fullLoad: { seconds: 4.2, rows: 120_000, bytes: 48_000_000, bytesPerSecond: 11_400_000 },
    cdc: { lagP50Ms: 60, lagP99Ms: 118, lagMaxMs: 119, samples: lag.length },
    verify: { ok: true, tables: 14, mode: 'full', notEqual: [], schemaDrift: 0 },
    cutover: sw(640),
    rollback: sw(910),
    cutoverAgain: sw(580),
    writes: { acknowledged: 8000, failed: 0, lost: 0, sequenceCollisions: 0, failuresByCode: {}, ratePerSecond: 200 },
    deploy: {
      statements: [
        {
          id: 1,
          tags: ['ALTER TABLE'],
          statement: 'ALTER TABLE public.member ADD COLUMN nickname text',
          capturedAt: new Date(T0 - 5000).toISOString(),
          appliedAt: new Date(T0 - 4880).toISOString(),
          applyDelayMs: 120,
        },
      ],
      tablesAdded: ['public.coupon'],
      appliedAfterMs: 140,
      lagMaxMs: 119,
    },
    cleanup: { leftovers: 0 },
    series: { latencies, lag, switches, startedAt: T0 - 20_000 },
  };
}

/** A cutover's steps as the engine records them (frozen steps in the middle). */
function cutoverSteps(): StepRecord[] {
  const steps: [string, number][] = [
    ['pre-checks', 180],
    ['freeze writes', 40],
    ['wait for zero lag', 120],
    ['sync sequences', 30],
    ['final verify', 260],
    ['turn replication around', 90],
    ['switch the application', 100],
    ['post-check through the application path', 25],
  ];
  let t = T0;
  return steps.map(([step, ms]) => {
    const r = { step, startedAt: new Date(t).toISOString(), ms, ok: true };
    t += ms;
    return r;
  });
}

const FROZEN = new Set([
  'freeze writes',
  'wait for zero lag',
  'sync sequences',
  'final verify',
  'turn replication around',
  'switch the application',
]);

let browser: Browser;
const pngDir = mkdtempSync(join(tmpdir(), 'pgshift-charts-'));
beforeAll(async () => {
  browser = await launchChromium();
}, 60_000);
afterAll(async () => {
  await browser?.close();
});

function expectReadable(d: Drawing): void {
  expect(d.error, d.source).toBeUndefined();
  expect(d.width).toBeGreaterThan(100);
  expect(d.height).toBeGreaterThan(100);
  expect(d.shapes).toBeGreaterThan(3);
}

function expectReadableXyChart(d: Drawing): void {
  expectReadable(d);
  expect(d.xLabels.length).toBeGreaterThan(1);
  expect(d.xLabels.length).toBeLessThanOrEqual(MAX_X_LABELS);
  // The default theme's line colour, the pale lavender the issue saw, must not come back.
  for (const c of d.lineColours) expect(c).toBe('rgb(31, 111, 235)');
  expect(d.lineColours.length).toBeGreaterThan(0);
}

describe('the rehearsal report', () => {
  it('draws the latency chart around each switch with the freeze as red bars, and the lag chart', async () => {
    const blocks = mermaidBlocks(rehearsalMarkdown(rehearsal()));
    expect(blocks).toHaveLength(4);
    const drawings = await drawCharts(browser, blocks, { pngDir, name: 'rehearsal' });
    for (const d of drawings) expectReadableXyChart(d);
    for (const d of drawings.slice(0, 3)) {
      expect(d.barColours).toEqual(['rgb(255, 179, 184)']);
      // A 580–910 ms freeze in 500 ms intervals touches two or three of them.
      expect(d.visibleBars).toBeGreaterThanOrEqual(2);
      expect(d.visibleBars).toBeLessThanOrEqual(3);
    }
    expect(drawings[3]!.visibleBars).toBe(0);
  }, 60_000);

  it('the HTML report draws its charts offline', async () => {
    const html = reportHtml(rehearsalMarkdown(rehearsal()), 'pgshift rehearsal');
    expect(html).not.toMatch(/<script[^>]+src=/);
    const page = await browser.newPage();
    // Any request leaving the page would mean the report needs the network.
    await page.setRequestInterception(true);
    const requests: string[] = [];
    page.on('request', (r) => {
      requests.push(r.url());
      void r.abort();
    });
    await page.setContent(html, { waitUntil: 'load' });
    await page.waitForFunction(() => document.querySelectorAll('pre.mermaid svg').length === 4, { timeout: 20_000 });
    const labels = await page.$$eval('pre.mermaid svg', (svgs) => svgs.map((s) => s.querySelectorAll('.bottom-axis .label text').length));
    expect(labels).toEqual([8, 8, 8, 8]);
    expect(await page.$$eval('h2', (hs) => hs.map((h) => h.textContent))).toContain('Around the cutover (writes frozen 640 ms)');
    expect(await page.$$eval('p', (ps) => ps.map((p) => p.textContent))).toContain('Tables added to the subscription: public.coupon');
    expect(requests).toEqual([]);
    await page.close();
  }, 60_000);
});

describe("the actions' job summaries", () => {
  it('draws the cutover timeline (gantt) with the frozen steps, and the CDC lag charts', async () => {
    const gantt = mermaidBlocks(stepsSection('cutover timeline (red: writes frozen)', cutoverSteps(), { critical: (s) => FROZEN.has(s) }));
    const points = Array.from({ length: 120 }, (_, i) => ({
      at: new Date(T0 + i * 1000).toISOString(),
      lagBytes: i % 10 === 0 ? null : 1000 + ((i * 977) % 50_000),
      lagMs: 20 + ((i * 13) % 400),
    }));
    const lag = mermaidBlocks(lagChart(points));
    expect(gantt).toHaveLength(1);
    expect(lag).toHaveLength(2);
    const [timeline, ...lagDrawings] = await drawCharts(browser, [...gantt, ...lag], { pngDir, name: 'actions' });
    expectReadable(timeline!);
    expect(readFileSync(timeline!.png!).length).toBeGreaterThan(1000);
    for (const d of lagDrawings) expectReadableXyChart(d);
  }, 60_000);
});
