/**
 * Draws Mermaid charts the way a reader sees them: the real `mermaid` package in headless
 * Chromium (Debian's `chromium`, from scripts/system-deps.sh; puppeteer-core downloads nothing).
 * Returns what a person would check on each drawing: that it parsed, that the SVG has a size and
 * content, how many x labels an xychart shows and in which colours its plots are drawn.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import puppeteer, { type Browser } from 'puppeteer-core';
import { mermaidBundle } from '../../src/rehearse/report-html.js';

export const CHROMIUM = process.env.PGSHIFT_CHROMIUM ?? '/usr/bin/chromium';

export interface Drawing {
  source: string;
  /** Mermaid's parse or render error; undefined when it drew. */
  error?: string;
  width: number;
  height: number;
  /** Drawn shapes (paths, rects, lines) with a non-zero size. */
  shapes: number;
  /** Text on the x axis of an xychart. */
  xLabels: string[];
  /** Stroke of each xychart line and fill of each bar series, in plot order. */
  lineColours: string[];
  barColours: string[];
  /** Bars of the xychart taller than 10 px (Mermaid draws a zero as a stub of a few pixels). */
  visibleBars: number;
  png?: string;
}

/** The bodies of the ```mermaid blocks in a Markdown document, in order. */
export function mermaidBlocks(markdown: string): string[] {
  return [...markdown.matchAll(/```mermaid\n([\s\S]*?)\n```/g)].map((m) => m[1]!);
}

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: run scripts/system-deps.sh (or set PGSHIFT_CHROMIUM)`);
  return puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    // The test runner is often root in a container, where Chromium's sandbox cannot start.
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
  });
}

/** Draw each chart on its own page; with pngDir, keep a screenshot of each as <name>-<i>.png. */
export async function drawCharts(browser: Browser, charts: string[], opts: { pngDir?: string; name?: string } = {}): Promise<Drawing[]> {
  const page = await browser.newPage();
  await page.setViewport({ width: 900, height: 600 });
  await page.setContent('<!doctype html><html><body style="background:#fff;margin:0"><div id="out"></div></body></html>');
  await page.addScriptTag({ content: mermaidBundle() });
  await page.evaluate(() => (globalThis as any).mermaid.initialize({ startOnLoad: false, securityLevel: 'strict' }));
  const out: Drawing[] = [];
  for (const [i, source] of charts.entries()) {
    const drawn = await page.evaluate(
      async (src: string, id: string) => {
        const m = (globalThis as any).mermaid;
        const host = document.getElementById('out')!;
        host.innerHTML = '';
        try {
          await m.parse(src);
          const { svg } = await m.render(id, src);
          host.innerHTML = svg;
        } catch (err) {
          return { error: String((err as Error)?.message ?? err) };
        }
        const el = host.querySelector('svg');
        if (!el) return { error: 'no <svg> element' };
        const box = el.getBoundingClientRect();
        const sized = (e: Element) => {
          const b = (e as SVGGraphicsElement).getBoundingClientRect();
          return b.width > 0 || b.height > 0;
        };
        const colour = (e: Element, prop: 'stroke' | 'fill') => getComputedStyle(e)[prop];
        return {
          width: box.width,
          height: box.height,
          shapes: [...el.querySelectorAll('path, rect, line')].filter(sized).length,
          xLabels: [...el.querySelectorAll('.bottom-axis .label text')].map((t) => t.textContent ?? ''),
          lineColours: [...el.querySelectorAll('[class^="line-plot-"] path')].map((p) => colour(p, 'stroke')),
          barColours: [...el.querySelectorAll('[class^="bar-plot-"]')].map((g) => colour(g.querySelector('rect') ?? g, 'fill')),
          visibleBars: [...el.querySelectorAll('[class^="bar-plot-"] rect')].filter((r) => r.getBoundingClientRect().height > 10).length,
        };
      },
      source,
      `chart${i}`,
    );
    const drawing: Drawing = {
      source,
      width: 0,
      height: 0,
      shapes: 0,
      xLabels: [],
      lineColours: [],
      barColours: [],
      visibleBars: 0,
      ...drawn,
    };
    if (opts.pngDir && !drawing.error) {
      mkdirSync(opts.pngDir, { recursive: true });
      drawing.png = join(opts.pngDir, `${opts.name ?? 'chart'}-${i}.png`);
      const svg = await page.$('#out svg');
      writeFileSync(drawing.png, (await svg!.screenshot({ type: 'png' })) as Uint8Array);
    }
    out.push(drawing);
  }
  await page.close();
  return out;
}
