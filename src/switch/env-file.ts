/**
 * The env-file switch: the application reads DATABASE_URL from a dotenv file (the Tasteam
 * backend's .env); pgshift rewrites that one line atomically and runs the restart command
 * that makes the application read it again (e.g. `docker compose up -d backend`).
 */
import { readFileSync } from 'node:fs';
import { usageError } from '../errors.js';
import type { ConnInfo } from '../postgres/conninfo.js';
import { registerConnection } from '../postgres/redact.js';
import type { Logger } from '../log/logger.js';
import { connUrl, hookEnv, runShell, type ShellResult } from './command.js';
import { writeFileAtomic } from './write-file-atomic.js';

export const DEFAULT_ENV_KEY = 'DATABASE_URL';

interface EnvLine {
  index: number;
  /** Text before the value: optional `export `, the key, `=` and spacing. */
  prefix: string;
  quote: '' | '"' | "'";
  value: string;
  /** Text after the value on that line (closing quote, trailing comment), without the line ending. */
  suffix: string;
  ending: string;
}

function readEnvFile(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as { code?: string }).code;
    throw usageError(
      `cannot read the env file ${path}${code ? ` (${code})` : ''}`,
      'pass --env-file with the dotenv file the application reads',
    );
  }
}

const splitLines = (text: string) => text.match(/[^\n]*\n|[^\n]+$/g) ?? [];

function findKey(text: string, path: string, key: string): { lines: string[]; line: EnvLine } {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key))
    throw usageError(`${JSON.stringify(key)} is not an environment variable name`, 'pass --env-key like DATABASE_URL');
  const lines = splitLines(text);
  const pattern = new RegExp(`^(\\s*(?:export\\s+)?${key}\\s*=\\s*)(.*)$`);
  let found: EnvLine | undefined;
  lines.forEach((raw, index) => {
    const ending = /\r?\n$/.exec(raw)?.[0] ?? '';
    const m = pattern.exec(raw.slice(0, raw.length - ending.length));
    if (!m) return;
    const rest = m[2]!;
    const q = rest[0] === '"' || rest[0] === "'" ? (rest[0] as '"' | "'") : '';
    let value: string;
    let suffix: string;
    if (q) {
      const close = rest.indexOf(q, 1);
      value = close < 0 ? rest.slice(1) : rest.slice(1, close);
      suffix = close < 0 ? '' : rest.slice(close);
    } else {
      const comment = rest.search(/\s+#/);
      value = comment < 0 ? rest : rest.slice(0, comment);
      suffix = comment < 0 ? '' : rest.slice(comment);
    }
    // dotenv takes the last assignment; so do we.
    found = { index, prefix: m[1]!, quote: q, value, suffix, ending };
  });
  if (!found)
    throw usageError(
      `the env file ${path} has no ${key}= line`,
      `add ${key}=... to it, or pass --env-key with the variable the application reads`,
    );
  return { lines, line: found };
}

/** The current value of `key` (for rollback: where the application pointed before). */
export function readEnvValue(path: string, key = DEFAULT_ENV_KEY): string {
  const value = findKey(readEnvFile(path), path, key).line.value;
  registerUrlPassword(value);
  return value;
}

/** The old URL's password may show up in the restart command's output too. */
function registerUrlPassword(value: string): void {
  registerConnection(value);
}

/** The file's text with only the value of `key` replaced; its quoting, comments and every other line stay. */
export function rewriteEnvText(text: string, path: string, key: string, value: string): string {
  const { lines, line } = findKey(text, path, key);
  registerUrlPassword(line.value);
  if (/[\r\n]/.test(value) || (line.quote && value.includes(line.quote))) {
    throw usageError(
      `the new ${key} cannot be written into ${path} as a single line`,
      'the connection URL must not contain line breaks or the quote character used in the file',
    );
  }
  const closing = line.quote && line.suffix.startsWith(line.quote) ? '' : line.quote;
  lines[line.index] = `${line.prefix}${line.quote}${value}${closing}${line.suffix}${line.ending}`;
  return lines.join('');
}

export interface EnvFileSwitchOptions {
  path: string;
  key?: string;
  restartCommand?: string;
  restartTimeoutMs?: number;
  logger?: Logger;
}

/** Rewrite the key to `target`'s URL (atomically, mode and owner kept), then run the restart command. */
export async function pointEnvFileAt(opts: EnvFileSwitchOptions, target: ConnInfo): Promise<{ restart?: ShellResult }> {
  const key = opts.key ?? DEFAULT_ENV_KEY;
  const text = readEnvFile(opts.path);
  const rewritten = rewriteEnvText(text, opts.path, key, connUrl(target));
  try {
    writeFileAtomic(opts.path, rewritten);
  } catch (err) {
    const code = (err as { code?: string }).code;
    throw usageError(
      `cannot write the env file ${opts.path}${code ? ` (${code})` : ''}`,
      'run pgshift as a user that may write the file and its directory',
    );
  }
  opts.logger?.info(`${opts.path}: ${key} now points at ${target.host}:${target.port}/${target.database}`);
  if (!opts.restartCommand) return {};
  const restart = await runShell(opts.restartCommand, {
    what: 'restart command',
    // Host, port and database only; the command can read the URL from the file it restarts.
    env: Object.fromEntries(Object.entries(hookEnv(target)).filter(([k]) => k !== 'PGSHIFT_NEW_URL')),
    timeoutMs: opts.restartTimeoutMs,
    logger: opts.logger,
  });
  return { restart };
}
