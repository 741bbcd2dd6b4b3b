/**
 * Schema moves with pg_dump/pg_restore, inside the slot's snapshot so it matches the data.
 * Only the schema goes through a file (kilobytes; pg_restore -j needs a seekable archive);
 * the data never touches the disk. Owners and GRANTs are kept — the plan's --no-acl would
 * leave the application without rights on the target.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ConnInfo } from '../../postgres/conninfo.js';
import { runPgTool, type PgTools } from '../../postgres/pg-tools.js';
import type { IndexBuild } from './indexes.js';

export interface SchemaArchive {
  path: string;
  remove(): void;
}

export async function dumpSchema(tools: PgTools, source: ConnInfo, snapshotName: string, signal?: AbortSignal): Promise<SchemaArchive> {
  const dir = mkdtempSync(join(tmpdir(), 'pgshift-schema-'));
  const path = join(dir, 'schema.dump');
  // Publications and subscriptions belong to the source's replication setup, not to the application's schema.
  const args = [
    '--schema-only',
    '--format=custom',
    `--snapshot=${snapshotName}`,
    '--no-password',
    '--no-publications',
    '--no-subscriptions',
    // pgshift's own bookkeeping (the DDL log, its functions) is set up on the target by cdc start.
    '--exclude-schema=_pgshift',
  ];
  try {
    await runPgTool({ argv: [...tools.pgDump, ...args], conn: source, stdoutFile: path, signal });
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return { path, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

function restoreArgs(tools: PgTools, target: ConnInfo, archive: SchemaArchive, extra: string[], signal: AbortSignal | undefined) {
  return {
    argv: [...tools.pgRestore, ...extra, '--exit-on-error', '--no-password', `--dbname=${target.database}`, archive.path],
    conn: target,
    signal,
  };
}

export async function restorePreData(tools: PgTools, target: ConnInfo, archive: SchemaArchive, signal?: AbortSignal): Promise<void> {
  await runPgTool(restoreArgs(tools, target, archive, ['--section=pre-data'], signal));
}

/**
 * Restore post-data (foreign keys, triggers, the indexes of partitioned tables, ...) minus
 * the entries full-load already built, matched by catalog OID + object OID in the TOC.
 */
export async function restorePostData(
  tools: PgTools,
  target: ConnInfo,
  archive: SchemaArchive,
  built: IndexBuild[],
  jobs: number,
  signal?: AbortSignal,
): Promise<void> {
  const listing = await runPgTool({ argv: [...tools.pgRestore, '--list', archive.path], conn: target, captureStdout: true, signal });
  const skip = new Set(built.map((b) => `${b.tocCatalog} ${b.tocOid}`));
  const list = listing.stdout
    .split('\n')
    .map((line) => {
      const m = /^\s*\d+;\s+(\d+)\s+(\d+)\s/.exec(line);
      // pgshift's event triggers (DDL capture, freeze) stay on the source: their functions are not restored.
      if (/ EVENT TRIGGER - pgshift_/.test(line)) return `;${line}`;
      return m && skip.has(`${m[1]} ${m[2]}`) ? `;${line}` : line;
    })
    .join('\n');
  const listPath = `${archive.path}.list`;
  writeFileSync(listPath, list);
  const jobArgs = [`--jobs=${Math.max(1, jobs)}`, `--use-list=${listPath}`];
  await runPgTool(restoreArgs(tools, target, archive, ['--section=post-data', ...jobArgs], signal));
}
