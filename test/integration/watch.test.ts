/**
 * The watch (watch.yml runs the status action every 10 minutes): a stopped subscription and a
 * slot retaining WAL past the bound each fail the run and reach the alert webhook, here a local
 * HTTP server standing in for Slack. Run as a person and as the runner run them: the CLI in a
 * child process, and the committed action bundle with INPUT_* variables and a job summary file.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import YAML from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCdc } from '../../src/engine/cdc/index.js';
import { runFullLoad } from '../../src/engine/full-load/full-load.js';
import { migrationNames } from '../../src/engine/names.js';
import { loadFixture } from '../../src/rehearse/fixture/load.js';
import { runCli } from '../support/cli.js';
import { freshPair, type TestPair } from '../support/databases.js';

const root = join(import.meta.dirname, '..', '..');
const DB = 'pgshift_watch';
const NAME = 'watch_test';
const names = migrationNames(NAME);
const FORGOTTEN = 'watch_test_forgotten';
const log = { info: () => undefined, warn: () => undefined, progress: () => undefined };

let pair: TestPair;
let hook: Server;
let hookUrl = '';
const posts: { contentType: string; body: { text?: string } }[] = [];
let env: Record<string, string>;

beforeAll(async () => {
  pair = await freshPair(DB);
  const c = new pg.Client(pair.sourceUrl);
  await c.connect();
  await loadFixture(c, { rows: 100 });
  await c.end();
  await runFullLoad({ source: pair.source, target: pair.target, names, jobs: 1, log });
  await startCdc({ source: pair.source, target: pair.target, names, log });
  hook = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      posts.push({ contentType: String(req.headers['content-type']), body: JSON.parse(body) });
      res.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
  hookUrl = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/services/T000/B000/secret-hook-path`;
  env = { PGSHIFT_SOURCE_URL: pair.sourceUrl, PGSHIFT_TARGET_URL: pair.targetUrl, PGSHIFT_ALERT_WEBHOOK_URL: hookUrl };
});

afterAll(async () => {
  await pair?.src('SELECT pg_drop_replication_slot($1) FROM pg_replication_slots WHERE slot_name = $1', [FORGOTTEN]).catch(() => undefined);
  await new Promise((r) => hook?.close(r));
  await pair?.drop();
});

const status = (extra: string[] = []) => runCli(['status', '--name', NAME, '--switch', 'none', '--json', ...extra], env);

/** The status action bundle as the runner runs it. */
function runStatusAction(inputs: Record<string, string>): Promise<{ code: number; summary: string; out: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'pgshift-watch-action-'));
  const summaryFile = join(dir, 'summary.md');
  writeFileSync(summaryFile, '');
  writeFileSync(join(dir, 'output'), '');
  const spec = YAML.parse(readFileSync(join(root, 'actions', 'status', 'action.yml'), 'utf8'));
  const all: Record<string, string> = {};
  for (const [k, v] of Object.entries<{ default?: unknown }>(spec.inputs)) if (v.default !== undefined) all[k] = String(v.default);
  Object.assign(all, inputs);
  const runEnv: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    GITHUB_ACTIONS: 'true',
    RUNNER_TEMP: dir,
    GITHUB_OUTPUT: join(dir, 'output'),
    GITHUB_STEP_SUMMARY: summaryFile,
  };
  for (const [k, v] of Object.entries(all)) runEnv[`INPUT_${k.toUpperCase()}`] = v;
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [join(root, 'actions', 'status', 'dist', 'index.js')],
      { env: runEnv, timeout: 120_000 },
      (err, stdout, stderr) => {
        const code = err ? Number((err as { code?: unknown }).code) : 0;
        resolve({ code, summary: readFileSync(summaryFile, 'utf8'), out: stdout + stderr });
      },
    );
  });
}

describe('watch', () => {
  it('a healthy migration: exit 0, nothing posted, and the next command is named', async () => {
    const r = await status();
    expect(r.code, r.stderr).toBe(0);
    const st = JSON.parse(r.stdout);
    expect(st.verdict).toBe('ok');
    expect(st.primary).toBe('source');
    expect(st.links[0]).toMatchObject({ direction: 'source -> target', subscriptionExists: true, streaming: true });
    expect(st.next).toBe('pgshift verify, then pgshift cutover');
    expect(posts).toHaveLength(0);
  });

  it('a stopped subscription fails the action run, shows lag and retained WAL in the summary, and reaches the webhook', async () => {
    await pair.tgt(`ALTER SUBSCRIPTION ${names.subscription} DISABLE`);
    try {
      const r = await runStatusAction({
        'source-url': pair.sourceUrl,
        'target-url': pair.targetUrl,
        name: NAME,
        // watch.yml always passes it (vars.PGSHIFT_WATCH_SWITCH || 'none'); the action requires it.
        switch: 'none',
        'alert-webhook-url': hookUrl,
      });
      expect(r.code, r.out).toBe(1);
      expect(r.summary).toMatch(/replication \| subscription \| state \| lag/);
      expect(r.summary).toMatch(/retained WAL/);
      expect(r.summary).toMatch(/❌ disabled/);
      expect(posts).toHaveLength(1);
      expect(posts[0]!.contentType).toBe('application/json');
      expect(posts[0]!.body.text).toMatch(/^pgshift watch_test: CRITICAL — replication source -> target stopped/);
      // The webhook URL is a secret: it appears nowhere in the job's output or summary.
      const printed = r.out
        .split('\n')
        .filter((l) => !l.startsWith('::add-mask::')) // the runner consumes these; they must carry the secret
        .join('\n');
      expect(r.out).toContain(`::add-mask::${hookUrl}`);
      expect(printed + r.summary).not.toContain('secret-hook-path');
    } finally {
      await pair.tgt(`ALTER SUBSCRIPTION ${names.subscription} ENABLE`);
    }
  });

  it('a forgotten slot retaining WAL past the bound fails the run and reaches the webhook', async () => {
    await pair.src(`SELECT pg_create_logical_replication_slot($1, 'pgoutput')`, [FORGOTTEN]);
    // 2 MB of WAL after the slot was made: the slot keeps all of it.
    await pair.src(`CREATE TABLE public.watch_filler AS SELECT g, repeat('x', 1000) AS pad FROM generate_series(1, 2000) g`);
    const before = posts.length;
    const r = await status(['--warn-retained', '256kB', '--max-retained', '1MB']);
    expect(r.code, r.stderr).toBe(1);
    const st = JSON.parse(r.stdout);
    const slot = st.slots.find((s: { name: string }) => s.name === FORGOTTEN);
    expect(slot.retainedBytes).toBeGreaterThan(1024 * 1024);
    expect(slot.level).toBe('critical');
    expect(posts.length).toBe(before + 1);
    expect(posts.at(-1)!.body.text).toMatch(new RegExp(`slot ${FORGOTTEN} on the source retains \\d+ bytes of WAL and nothing reads it`));
    expect(r.stderr + r.stdout).not.toContain('secret-hook-path');
  });
});
