/**
 * The committed bundles (actions/<phase>/dist) are what the runner executes; a source change
 * without `npm run build:actions` would ship old code. This rebuilds every action into a
 * temporary folder with the same script and fails on any file that differs, is missing, or
 * is committed but no longer produced.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');
const PHASES = ['preflight', 'full-load', 'cdc', 'verify', 'cutover', 'rollback', 'cleanup', 'recover', 'status'];
let out: string;

function files(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile())
    .map((d) => relative(dir, join(d.parentPath, d.name)))
    .sort();
}

beforeAll(async () => {
  out = mkdtempSync(join(tmpdir(), 'pgshift-dist-'));
  await promisify(execFile)(process.execPath, [join(root, 'scripts', 'build-actions.mjs'), '--out', out], {
    cwd: root,
    timeout: 1_500_000,
    maxBuffer: 16 * 1024 * 1024,
  });
}, 1_600_000);

afterAll(() => {
  if (out) rmSync(out, { recursive: true, force: true });
});

describe('committed action bundles', () => {
  it('every phase has an adapter that is bundled', () => {
    expect(readdirSync(out).sort()).toEqual([...PHASES].sort());
  });

  it.each(PHASES)('actions/%s/dist equals a fresh build of its sources', (phase) => {
    const committedDir = join(root, 'actions', phase, 'dist');
    const freshDir = join(out, phase);
    expect(files(committedDir), `files in actions/${phase}/dist (run npm run build:actions)`).toEqual(files(freshDir));
    for (const f of files(freshDir)) {
      const same = readFileSync(join(committedDir, f)).equals(readFileSync(join(freshDir, f)));
      expect(same, `actions/${phase}/dist/${f} is stale: run npm run build:actions and commit it`).toBe(true);
    }
  });

  it.each(PHASES)('actions/%s/dist runs as ESM under plain node, whatever package.json the checkout has', (phase) => {
    const pkg = JSON.parse(readFileSync(join(root, 'actions', phase, 'dist', 'package.json'), 'utf8'));
    expect(pkg.type).toBe('module');
    expect(readFileSync(join(root, 'actions', phase, 'dist', 'index.js'), 'utf8')).not.toContain(root);
  });
});
