/**
 * What every command shares: where the connections come from, how results are printed,
 * and how failures become one line and an exit code (0 ok, 1 check failed / data differs,
 * 2 usage, connection or internal error).
 */
import type { Command } from 'commander';
import { migrationNames, type MigrationNames } from '../engine/names.js';
import { PgshiftError, usageError } from '../errors.js';
import { parseConnInfo, type ConnInfo } from '../postgres/conninfo.js';
import { OPTIONS, optionNames, type OptionSpec } from '../options/index.js';
import { redact, registerConnection, registerSecret } from '../postgres/redact.js';
import { stderrLogger, type Logger } from '../log/logger.js';
import { flag, flagText } from './flags.js';

export interface GlobalOptions {
  sourceUrl?: string;
  targetUrl?: string;
  sourceFromTargetUrl?: string;
  targetFromSourceUrl?: string;
  caBundle?: string;
  name: string;
  json?: boolean;
  quiet?: boolean;
}

/** Options every command accepts. The env form is the documented default: argv is visible to every user on the box. */
export function addConnectionOptions(
  cmd: Command,
  sides: { source?: boolean; target?: boolean; sourceFromTarget?: boolean } = { source: true, target: true },
): Command {
  if (sides.source) cmd.addOption(flag('source-url'));
  if (sides.target) cmd.addOption(flag('target-url'));
  if (sides.sourceFromTarget) cmd.addOption(flag('source-from-target-url'));
  return cmd.addOption(flag('ca-bundle')).addOption(flag('name')).addOption(flag('json')).addOption(flag('quiet'));
}

/**
 * Register every secret the command was given — each option the table marks secret, from its
 * flag or its environment variable — before anything can print it (docs/design.md rule 9).
 */
function registerSecretFlags(flags: object): void {
  for (const name of optionNames) {
    const spec = OPTIONS[name] as OptionSpec;
    if (!spec.secret) continue;
    for (const value of [flagText(flags, name), spec.env ? process.env[spec.env] : undefined]) {
      if (spec.type === 'url') registerConnection(value);
      else registerSecret(value);
    }
  }
}

export interface CommandContext {
  opts: GlobalOptions;
  log: Logger;
  names: MigrationNames;
  source(): ConnInfo;
  target(): ConnInfo;
  sourceFromTarget(): ConnInfo;
  /** The target as the source reaches it, when the command takes --target-from-source-url and it was given. */
  targetFromSource(): ConnInfo | undefined;
}

function fromEnvOrFlag(flag: string | undefined, env: string, what: string): string {
  const value = flag ?? process.env[env];
  if (!value)
    throw usageError(`no ${what} connection`, `set ${env} to a URL like postgres://app@db-host:5432/tasteam (password after app:)`);
  return value;
}

export function makeContext(opts: GlobalOptions): CommandContext {
  const log = stderrLogger({ quiet: opts.quiet });
  registerSecretFlags(opts);
  const names = migrationNames(opts.name);
  const caBundle = opts.caBundle;
  const source = () => parseConnInfo(fromEnvOrFlag(opts.sourceUrl, 'PGSHIFT_SOURCE_URL', 'source'), 'source', { caBundle });
  const target = () => parseConnInfo(fromEnvOrFlag(opts.targetUrl, 'PGSHIFT_TARGET_URL', 'target'), 'target', { caBundle });
  const sourceFromTarget = () => {
    const url = opts.sourceFromTargetUrl ?? process.env.PGSHIFT_SOURCE_FROM_TARGET_URL;
    return url
      ? parseConnInfo(fromEnvOrFlag(url, 'PGSHIFT_SOURCE_FROM_TARGET_URL', 'source-from-target'), 'source', { caBundle })
      : source();
  };
  const targetFromSource = () => (opts.targetFromSourceUrl ? parseConnInfo(opts.targetFromSourceUrl, 'target', { caBundle }) : undefined);
  return { opts, log, names, source, target, sourceFromTarget, targetFromSource };
}

/** Print a result: JSON on stdout with --json, else the human rendering on stdout. */
export function emit(ctx: CommandContext, result: unknown, human: () => string): void {
  if (ctx.opts.json) process.stdout.write(`${redact(JSON.stringify(result, null, 2))}\n`);
  else process.stdout.write(`${redact(human())}\n`);
}

/**
 * Wrap a command body: its return value is the exit code; every failure becomes one redacted
 * line on stderr. Unknown errors are internal (exit 2) and still redacted.
 */
export function action<A extends unknown[]>(body: (...args: A) => Promise<number>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      process.exitCode = await body(...args);
    } catch (err) {
      process.exitCode = reportFailure(err);
    }
  };
}

export function reportFailure(err: unknown): number {
  if (err instanceof PgshiftError) {
    process.stderr.write(`pgshift: ${redact(err.oneLine())}\n`);
    return err.exitCode;
  }
  const e = err as { message?: string; code?: string };
  const code = e?.code ? ` (${e.code})` : '';
  process.stderr.write(
    `pgshift: internal error${code}: ${redact(String(e?.message ?? err)).split('\n')[0]} — re-run with the same arguments; if it repeats, report it with this line\n`,
  );
  return 2;
}
