#!/usr/bin/env node
/**
 * Bundle every action (actions/<phase>/src/main.ts) into actions/<phase>/dist/ with @vercel/ncc.
 *
 * The runner executes `node dist/index.js` from a checkout without node_modules, so each
 * bundle carries its dependencies. @actions/core 3 is ESM-only, so the bundles are ESM;
 * ncc emits a `package.json` asset with `"type": "module"` that is written next to
 * index.js, so the bundle runs as ESM wherever the action is checked out.
 *
 * Usage:
 *   node scripts/build-actions.mjs                 build every action into actions/<phase>/dist
 *   node scripts/build-actions.mjs --out DIR       write DIR/<phase>/... instead (the dist check)
 *   node scripts/build-actions.mjs preflight cdc   only these actions
 *
 * The output is deterministic: the same sources give byte-identical files, which is what
 * test/actions/dist.test.ts relies on to catch a stale committed bundle.
 */
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const ncc = require('@vercel/ncc');

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const actionsDir = join(root, 'actions');

/** Every action that has an adapter to bundle; action folders without src/main.ts (common) are skipped. */
export function bundledActions() {
  return readdirSync(actionsDir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(join(actionsDir, d.name, 'src', 'main.ts')))
    .map((d) => d.name)
    .sort();
}

/** Bundle one action and return its files as { relativeName: Buffer|string }. */
export async function bundleAction(phase) {
  const entry = join(actionsDir, phase, 'src', 'main.ts');
  const { code, assets } = await ncc(entry, {
    minify: false,
    sourceMap: false,
    license: 'licenses.txt',
    target: 'es2022',
    quiet: true,
    // Keep the build cache out of the picture: a cached build must never hide a changed source.
    cache: false,
    // Type errors are tsc's job (npm test runs it); the bundle only needs the JavaScript, and a
    // type error elsewhere in the project must not block building an unrelated action.
    transpileOnly: true,
  });
  const files = { 'index.js': code };
  for (const [name, asset] of Object.entries(assets)) files[name] = asset.source;
  if (!files['package.json'])
    throw new Error(`ncc produced no package.json for ${phase}: the bundle's module type would depend on the checkout`);
  return files;
}

function parseArgs(argv) {
  const args = { out: undefined, only: [] };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--out') args.out = resolve(argv[++i]);
    else args.only.push(argv[i]);
  }
  return args;
}

async function main() {
  // Module ids in the bundle derive from paths relative to the build context: always build from the root.
  process.chdir(root);
  const args = parseArgs(process.argv.slice(2));
  const all = bundledActions();
  const unknown = args.only.filter((p) => !all.includes(p));
  if (unknown.length) {
    console.error(`no actions/<phase>/src/main.ts for: ${unknown.join(', ')} (have: ${all.join(', ')})`);
    process.exit(2);
  }
  const phases = args.only.length ? args.only : all;
  for (const phase of phases) {
    const files = await bundleAction(phase);
    const outDir = args.out ? join(args.out, phase) : join(actionsDir, phase, 'dist');
    // Start from an empty folder so a file the bundle no longer needs does not linger in git.
    rmSync(outDir, { recursive: true, force: true });
    mkdirSync(outDir, { recursive: true });
    for (const [name, content] of Object.entries(files)) {
      mkdirSync(dirname(join(outDir, name)), { recursive: true });
      writeFileSync(join(outDir, name), content);
    }
    const kb = Math.round(Buffer.byteLength(files['index.js']) / 1024);
    console.error(`built actions/${phase} -> ${outDir.replace(root + '/', '')} (${kb} KiB)`);
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((err) => {
    console.error(`build-actions failed: ${err?.message ?? err}`);
    process.exit(2);
  });
}
