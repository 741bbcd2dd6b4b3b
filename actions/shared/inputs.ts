/**
 * Reading action inputs. The first thing every action does is `maskSecretInputs()`: each
 * connection URL and its password are handed to the runner's masker (`core.setSecret`) and
 * to pgshift's own redactor before any line is logged, so neither the runner log, an error
 * message, the summary nor an output can carry them (docs/design.md rule 9).
 */
import * as core from '@actions/core';
import { usageError } from '../../src/errors.js';
import { registerSecret } from '../../src/postgres/redact.js';

/** Inputs that hold a connection URL with a password. */
export const SECRET_URL_INPUTS = [
  'source-url',
  'target-url',
  'source-from-target-url',
  'target-from-source-url',
  'pgbouncer-admin-url',
  'app-url',
] as const;

/**
 * Mask one connection string: the whole URL, the password as written (percent-encoded) and
 * decoded, and the URL without its query. The runner replaces each registered value by ***.
 */
export function maskConnectionUrl(url: string): void {
  if (!url) return;
  maskValue(url);
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {
    // Not a URL (a libpq keyword string, or a typo): the whole value is masked above; the
    // password= keyword inside it is hidden by redact().
    const kw = /\bpassword\s*=\s*('(?:[^'\\]|\\.)*'|\S+)/i.exec(url);
    if (kw) maskValue(kw[1]!.replace(/^'|'$/g, ''));
    return;
  }
  if (parsed.password) {
    maskValue(parsed.password);
    maskValue(safeDecode(parsed.password));
  }
  const withoutQuery = url.split('?')[0]!;
  if (withoutQuery !== url) maskValue(withoutQuery);
}

const masked = new Set<string>();

function maskValue(value: string): void {
  // A one- or two-character "password" would mask every occurrence of those characters in the log.
  if (value.length < 3 || masked.has(value)) return;
  masked.add(value);
  core.setSecret(value);
  registerSecret(value);
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** Inputs that are secrets as a whole (tokens). */
export const SECRET_INPUTS = ['github-token'] as const;

/** Mask every secret input this action declares. Call it before anything else logs. */
export function maskSecretInputs(): void {
  for (const name of SECRET_URL_INPUTS) maskConnectionUrl(core.getInput(name));
  for (const name of SECRET_INPUTS) maskValue(core.getInput(name));
}

export function text(name: string): string | undefined {
  const v = core.getInput(name);
  return v === '' ? undefined : v;
}

export function required(name: string): string {
  const v = core.getInput(name);
  if (v === '') throw usageError(`input '${name}' is required`, `set ${name} in the step's with: block`);
  return v;
}

export function bool(name: string, fallback = false): boolean {
  const v = core.getInput(name).trim().toLowerCase();
  if (v === '') return fallback;
  if (['true', 'yes', '1', 'on'].includes(v)) return true;
  if (['false', 'no', '0', 'off'].includes(v)) return false;
  throw usageError(`input '${name}' must be true or false, got '${v}'`, `set ${name}: 'true' or 'false'`);
}

export function int(name: string, opts: { min?: number; fallback?: number } = {}): number | undefined {
  const v = core.getInput(name).trim();
  if (v === '') return opts.fallback;
  if (!/^-?\d+$/.test(v)) throw usageError(`input '${name}' must be a whole number, got '${v}'`, `set ${name} to a number`);
  const n = Number(v);
  if (opts.min !== undefined && n < opts.min)
    throw usageError(`input '${name}' must be at least ${opts.min}, got ${n}`, `set ${name} to ${opts.min} or more`);
  return n;
}

export function choice<T extends string>(name: string, options: readonly T[], fallback?: T): T {
  const v = core.getInput(name).trim();
  if (v === '' && fallback !== undefined) return fallback;
  if (!options.includes(v as T))
    throw usageError(`input '${name}' must be one of ${options.join(', ')}, got '${v}'`, `set ${name} to one of ${options.join(', ')}`);
  return v as T;
}

/** Comma- or newline-separated list input. */
export function list(name: string): string[] {
  return core
    .getInput(name)
    .split(/[,\n]/)
    .map((s) => s.trim())
    .filter(Boolean);
}
