/**
 * Shell commands the operator supplies: the `command` switch (a hook that repoints the
 * application however the team does it) and the env-file switch's `--restart-command`.
 *
 * The new password never goes on a command line (argv is visible to every user in `ps`):
 * the hook gets host, port and database as PGSHIFT_NEW_* variables and the full URL only in
 * PGSHIFT_NEW_URL. Whatever the command prints is redacted before it reaches a log or an error.
 */
import { spawn } from 'node:child_process';
import { PgshiftError, usageError } from '../errors.js';
import type { ConnInfo } from '../postgres/conninfo.js';
import { redact, registerSecret } from '../postgres/redact.js';
import { silentLogger, type Logger } from '../log/logger.js';

export interface ShellOptions {
  /** What the command is for, in messages ("restart command", "switch hook"). */
  what: string;
  env?: Record<string, string>;
  timeoutMs?: number;
  logger?: Logger;
}

export interface ShellResult {
  exitCode: number;
  /** stdout and stderr interleaved, redacted. */
  output: string;
  ms: number;
}

const MAX_OUTPUT = 64 * 1024;

/** Run `command` with /bin/sh; fail with one redacted line on a nonzero exit or a timeout. */
export async function runShell(command: string, opts: ShellOptions): Promise<ShellResult> {
  if (!command.trim()) throw usageError(`the ${opts.what} is empty`, 'pass a shell command');
  const timeoutMs = opts.timeoutMs ?? 120_000;
  const logger = opts.logger ?? silentLogger;
  const started = performance.now();
  const child = spawn('/bin/sh', ['-c', command], {
    env: { ...process.env, ...(opts.env ?? {}) },
    stdio: ['ignore', 'pipe', 'pipe'],
    // Its own process group, so a timeout ends the command's children too.
    detached: true,
  });
  let output = '';
  const collect = (d: Buffer) => {
    if (output.length < MAX_OUTPUT) output += d.toString();
  };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      child.kill('SIGKILL');
    }
  }, timeoutMs);
  const exitCode = await new Promise<number>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
  }).finally(() => clearTimeout(timer));
  const clean = redact(output).trim();
  for (const line of clean.split('\n').filter(Boolean).slice(-20)) logger.progress(`${opts.what}: ${line}`);
  const ms = performance.now() - started;
  const lastLine = clean.split('\n').filter(Boolean).pop();
  if (timedOut) {
    throw new PgshiftError(
      'internal',
      `the ${opts.what} did not finish within ${timeoutMs} ms and was killed`,
      'make the command finish faster or raise its timeout',
    );
  }
  if (exitCode !== 0) {
    throw new PgshiftError(
      'internal',
      `the ${opts.what} exited with code ${exitCode}${lastLine ? `: ${lastLine}` : ''}`,
      `run the ${opts.what} by hand to see why it failed`,
    );
  }
  return { exitCode, output: clean, ms };
}

/** postgres:// URL of a connection, password included (only ever handed over in an environment variable). */
export function connUrl(info: ConnInfo): string {
  registerSecret(info.password);
  const auth = info.password ? `${encodeURIComponent(info.user)}:${encodeURIComponent(info.password)}` : encodeURIComponent(info.user);
  const host = info.host.includes(':') ? `[${info.host}]` : info.host;
  const params = new URLSearchParams({ sslmode: info.sslmode });
  if (info.sslrootcert) params.set('sslrootcert', info.sslrootcert);
  return `postgres://${auth}@${host}:${info.port}/${encodeURIComponent(info.database)}?${params}`;
}

/** Environment a switch hook receives: where the application must now connect. */
export function hookEnv(target: ConnInfo): Record<string, string> {
  return {
    PGSHIFT_NEW_HOST: target.host,
    PGSHIFT_NEW_PORT: String(target.port),
    PGSHIFT_NEW_DATABASE: target.database,
    PGSHIFT_NEW_USER: target.user,
    PGSHIFT_NEW_URL: connUrl(target),
  };
}

/** The `command` switch: run the user's hook to point the application at `target`. */
export async function runSwitchHook(
  command: string,
  target: ConnInfo,
  opts: { timeoutMs?: number; logger?: Logger } = {},
): Promise<ShellResult> {
  return runShell(command, { what: 'switch hook', env: hookEnv(target), timeoutMs: opts.timeoutMs, logger: opts.logger });
}
