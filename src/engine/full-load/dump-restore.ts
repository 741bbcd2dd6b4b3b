/**
 * Strategy dump-restore: the plan's own commands (§4 Phase 1), for an offline move where the
 * application is stopped first. `pg_dump --format=custom --no-owner --no-acl` to a file, then
 * `pg_restore --no-owner`. No slot: CDC cannot follow this load, and writes made meanwhile are lost.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ConnInfo } from '../../postgres/conninfo.js';
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
}

export interface DumpRestoreResult {
  strategy: 'dump-restore';
  dumpBytes: number;
  totals: { seconds: number };
  steps: StepRecord[];
}

export async function runDumpRestore(opts: DumpRestoreOptions): Promise<DumpRestoreResult> {
  const timeline = new Timeline(opts.log);
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
      }),
    );
    const dumpBytes = statSync(file).size;
    await timeline.run('pg_restore', () =>
      runPgTool({ argv: [...tools.pgRestore, '--no-owner', '--no-password', `--dbname=${opts.target.database}`, file], conn: opts.target }),
    );
    return { strategy: 'dump-restore', dumpBytes, totals: { seconds: timeline.elapsedSeconds() }, steps: timeline.steps };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
