/**
 * Records that must outlive one pgshift process: which roles cutover made read-only on the old
 * primary (rollback, possibly hours later, must undo exactly that). Kept as JSON on the runner's
 * disk — not in the database, where FOR ALL TABLES would replicate it.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

export function stateDir(explicit?: string): string {
  return explicit ?? process.env.PGSHIFT_STATE_DIR ?? join(homedir(), '.pgshift');
}

function pathFor(dir: string, key: string): string {
  return join(dir, `${key.replace(/[^a-zA-Z0-9_.-]/g, '_')}.json`);
}

export function saveState(dir: string, key: string, value: unknown): string {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const path = pathFor(dir, key);
  writeFileSync(`${path}.tmp`, JSON.stringify(value, null, 2), { mode: 0o600 });
  renameSync(`${path}.tmp`, path);
  return path;
}

export function loadState<T>(dir: string, key: string): T | undefined {
  const path = pathFor(dir, key);
  return existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as T) : undefined;
}

export function removeState(dir: string, key: string): void {
  rmSync(pathFor(dir, key), { force: true });
}
