/**
 * Strategy dump-restore: the plan's own commands (§4 Phase 1), for an offline move where the
 * application is stopped first. `pg_dump --format=custom --no-owner --no-acl` to a file, then
 * `pg_restore --no-owner`. No slot: CDC cannot follow this load, and writes made meanwhile are lost.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, type ConnInfo } from '../../postgres/conninfo.js';
import { runPgTool, type PgToolsOptions } from '../../postgres/pg-tools.js';
import type { Logger } from '../../log/logger.js';
import { Timeline, type StepRecord } from '../timeline.js';
import { checkInputs } from './full-load.js';
import { ensureTargetEmpty } from './target-state.js';

export interface DumpRestoreOptions {
  source: ConnInfo;
  target: ConnInfo;
  clean?: boolean;
  pgTools?: PgToolsOptions;
  log: Logger;
  /** A signal stops pg_dump / pg_restore now (docs/design.md rule 12); a partly restored target is named, and --clean empties it. */
  signal?: AbortSignal;
}

export interface DumpRestoreResult {
  strategy: 'dump-restore';
  dumpBytes: number;
  totals: { seconds: number };
  steps: StepRecord[];
}

export async function runDumpRestore(opts: DumpRestoreOptions): Promise<DumpRestoreResult> {
  const timeline = new Timeline(opts.log, opts.signal);
  const { tools } = await timeline.run('check inputs', () => checkInputs(opts));
  await timeline.run('check the target', () => ensureTargetEmpty(opts.target, undefined, opts.clean, opts.log));
  const dir = mkdtempSync(join(tmpdir(), 'pgshift-dump-'));
  const file = join(dir, 'backup.dump');
  try {
    await timeline.run('pg_dump --format=custom', () =>
      runPgTool({
        argv: [...tools.pgDump, '--format=custom', '--no-owner', '--no-acl', '--no-password'],
        conn: opts.source,
        stdoutFile: file,
        signal: opts.signal,
      }),
    );
    const dumpBytes = statSync(file).size;
    try {
      await timeline.run('pg_restore', () =>
        runPgTool({
          argv: [...tools.pgRestore, '--no-owner', '--no-password', `--dbname=${opts.target.database}`, file],
          conn: opts.target,
          signal: opts.signal,
        }),
      );
    } catch (err) {
      if (opts.signal?.aborted)
        opts.log.warn(
          `pg_restore stopped by a signal: the ${describe(opts.target)} holds part of the dump; 'pgshift full-load --strategy dump-restore --clean' empties it and starts again`,
        );
      throw err;
    }
    return { strategy: 'dump-restore', dumpBytes, totals: { seconds: timeline.elapsedSeconds() }, steps: timeline.steps };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
