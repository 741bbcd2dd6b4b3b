/**
 * Locating pg_dump / pg_restore. pg_dump refuses a server newer than itself, so we pick one
 * whose major is at least the source's: `--pg-bin-dir`, or a command prefix such as
 * `docker exec -i <container>` so the source container's own pg_dump runs, or the newest
 * one installed (PATH, Debian's /usr/lib/postgresql/<major>/bin).
 */
import { type ChildProcess, execFile as execFileCb, spawn } from 'node:child_process';
import { createWriteStream, existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Cancelled, throwIfCancelled } from '../cancel.js';
import { PgshiftError, usageError } from '../errors.js';
import { libpqEnv, type ConnInfo } from './conninfo.js';
import { redact } from './redact.js';

const execFile = promisify(execFileCb);

export interface PgToolsOptions {
  /** Directory holding pg_dump and pg_restore. */
  binDir?: string;
  /**
   * Words put before pg_dump, e.g. ['docker', 'exec', '-i', '-e', 'PGPASSWORD', 'tasteam-postgres'], so the
   * source container's own pg_dump (always the source's major) runs. pg_restore runs on this host.
   */
  commandPrefix?: string[];
}

export interface PgTools {
  /** argv prefix for pg_dump, e.g. ['/usr/lib/postgresql/15/bin/pg_dump'] or ['docker','exec','-i','c','pg_dump']. */
  pgDump: string[];
  pgRestore: string[];
  /** Major version of pg_dump. */
  major: number;
  where: string;
}

async function toolMajor(argv: string[]): Promise<number | undefined> {
  try {
    const { stdout } = await execFile(argv[0]!, [...argv.slice(1), '--version'], { timeout: 15_000 });
    const m = /\(PostgreSQL\)\s+(\d+)/.exec(stdout) ?? /(\d+)\.\d+/.exec(stdout);
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

function candidateBinDirs(): string[] {
  const dirs: string[] = [];
  const debian = '/usr/lib/postgresql';
  if (existsSync(debian)) {
    for (const major of readdirSync(debian)
      .filter((d) => /^\d+$/.test(d))
      .sort((a, b) => Number(b) - Number(a))) {
      dirs.push(join(debian, major, 'bin'));
    }
  }
  return dirs;
}

/** Find pg_dump/pg_restore able to dump a source of `sourceMajor`; a too-old pg_dump is a clear error. */
export async function locatePgTools(sourceMajor: number, opts: PgToolsOptions = {}): Promise<PgTools> {
  if (opts.commandPrefix?.length) {
    const pgDump = [...opts.commandPrefix, 'pg_dump'];
    const major = await toolMajor(pgDump);
    if (major === undefined)
      throw usageError(
        `cannot run pg_dump through '${opts.commandPrefix.join(' ')}'`,
        'check the container name and that pg_dump exists inside it',
      );
    if (major < sourceMajor) throw tooOld(major, sourceMajor, opts.commandPrefix.join(' '));
    // pg_restore must read the archive format that pg_dump wrote: at least the same major.
    const host = await locatePgTools(major, { binDir: opts.binDir });
    return { pgDump, pgRestore: host.pgRestore, major, where: opts.commandPrefix.join(' ') };
  }
  const dirs = opts.binDir ? [opts.binDir] : [...candidateBinDirs()];
  let newest: { major: number; where: string } | undefined;
  for (const dir of dirs) {
    const dump = join(dir, 'pg_dump');
    if (!existsSync(dump)) continue;
    const major = await toolMajor([dump]);
    if (major === undefined) continue;
    if (major >= sourceMajor) return { pgDump: [dump], pgRestore: [join(dir, 'pg_restore')], major, where: dir };
    if (!newest || major > newest.major) newest = { major, where: dir };
  }
  if (!opts.binDir) {
    const major = await toolMajor(['pg_dump']);
    if (major !== undefined && major >= sourceMajor) return { pgDump: ['pg_dump'], pgRestore: ['pg_restore'], major, where: 'PATH' };
    if (major !== undefined && (!newest || major > newest.major)) newest = { major, where: 'PATH' };
  }
  if (newest) throw tooOld(newest.major, sourceMajor, newest.where);
  throw usageError(
    opts.binDir ? `no pg_dump in ${opts.binDir}` : 'pg_dump is not installed',
    `install postgresql-client-${sourceMajor} or pass --pg-bin-dir, or --pg-command-prefix 'docker exec -i <container>'`,
  );
}

function tooOld(major: number, sourceMajor: number, where: string): PgshiftError {
  return usageError(
    `pg_dump ${major} (${where}) is older than the source (PostgreSQL ${sourceMajor}) and would refuse it`,
    `install postgresql-client-${sourceMajor}, pass --pg-bin-dir, or use the container's own with --pg-command-prefix 'docker exec -i <container>'`,
  );
}

export interface ToolRun {
  argv: string[];
  /** Connection whose libpq environment (password in PGPASSWORD, never argv) the tool gets. */
  conn: ConnInfo;
  /** File that receives the tool's stdout. */
  stdoutFile?: string;
  /** Collect stdout and return it. */
  captureStdout?: boolean;
  /**
   * A signal (SIGINT/SIGTERM/SIGHUP of the run) stops the tool now instead of at the end of its step
   * (docs/design.md rule 12): the run's abort path should not wait for a long pg_restore.
   */
  signal?: AbortSignal;
}

/** Time a tool gets to exit after SIGTERM before it is sent SIGKILL. */
const TOOL_EXIT_GRACE_MS = 3_000;

/**
 * Run a pg tool, failing with a redacted one-line error that carries the tool's own last
 * stderr line (pg_restore's message names the object that failed).
 */
export async function runPgTool(run: ToolRun): Promise<{ stdout: string; stderr: string }> {
  const [cmd, ...args] = run.argv;
  const env = { ...process.env, ...libpqEnv(run.conn) };
  throwIfCancelled(run.signal);
  return new Promise((resolve, reject) => {
    const wantsStdout = Boolean(run.stdoutFile || run.captureStdout);
    const child = spawn(cmd!, args, { env, stdio: ['ignore', wantsStdout ? 'pipe' : 'ignore', 'pipe'] });
    const stop = stopOnAbort(child, run.signal);
    let stdout = '';
    // Resolve only once the output file is flushed, not merely when the tool exits.
    const fileDone = new Promise<void>((done, fail) => {
      if (!run.stdoutFile) return done();
      const file = createWriteStream(run.stdoutFile);
      file.on('finish', () => done()).on('error', fail);
      child.stdout!.pipe(file);
    });
    if (run.captureStdout && !run.stdoutFile) child.stdout!.on('data', (d) => (stdout += d.toString()));
    let stderr = '';
    child.stderr!.on('data', (d) => {
      stderr += d.toString();
      if (stderr.length > 200_000) stderr = stderr.slice(-100_000);
    });
    child.on('error', (err) => reject(usageError(`cannot run ${cmd}: ${redact(err.message)}`)));
    child.on('close', (code) => {
      stop.dispose();
      if (run.signal?.aborted) return reject(run.signal.reason instanceof Cancelled ? run.signal.reason : new Cancelled('cancel'));
      if (code === 0) return void fileDone.then(() => resolve({ stdout, stderr }), reject);
      const lines = redact(stderr)
        .trim()
        .split('\n')
        .filter((l) => /error|fatal/i.test(l));
      const detail = (lines[0] ?? redact(stderr).trim().split('\n').pop() ?? '').trim();
      reject(
        new PgshiftError(
          'internal',
          `${cmd!.split('/').pop()} failed (exit ${code}): ${detail}`,
          'the full tool output is above; fix the named object and re-run with --clean',
        ),
      );
    });
  });
}

/**
 * On abort, SIGTERM to the tool this run started (its pid, never a name: docs/design.md rule 14).
 * pg_dump and pg_restore handle SIGTERM by sending SIGTERM to their parallel workers and a cancel
 * request for their running query, then exit — so their server sessions end too. One that has not
 * exited after TOOL_EXIT_GRACE_MS gets SIGKILL. Through a command prefix (`docker exec`), the signal
 * reaches the docker client; the pg_dump inside the container ends when its output pipe closes.
 */
function stopOnAbort(child: ChildProcess, signal: AbortSignal | undefined): { dispose(): void } {
  if (!signal) return { dispose: () => undefined };
  let killTimer: NodeJS.Timeout | undefined;
  const onAbort = () => {
    child.kill('SIGTERM');
    killTimer = setTimeout(() => child.kill('SIGKILL'), TOOL_EXIT_GRACE_MS);
    killTimer.unref();
  };
  signal.addEventListener('abort', onAbort, { once: true });
  return {
    dispose: () => {
      signal.removeEventListener('abort', onAbort);
      if (killTimer) clearTimeout(killTimer);
    },
  };
}
