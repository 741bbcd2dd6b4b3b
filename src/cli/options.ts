/** Parsing helpers for option values: one clear usage line when a value is wrong. */
import { usageError } from '../errors.js';

export function positiveInt(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw usageError(`${flag} must be a whole number ≥ 0, got '${value}'`);
  return n;
}

/** "30s", "500ms", "2m" or plain milliseconds. */
export function durationMs(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(value.trim());
  if (!m) throw usageError(`${flag} must be a duration such as 30s, 500ms or 2m, got '${value}'`);
  const n = Number(m[1]);
  return Math.round(m[2] === 's' ? n * 1000 : m[2] === 'm' ? n * 60_000 : n);
}

/** "16MB", "512kB", "1GB" or plain bytes. */
export function bytes(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const m = /^(\d+(?:\.\d+)?)\s*(B|kB|KB|MB|GB)?$/i.exec(value.trim());
  if (!m) throw usageError(`${flag} must be a size such as 16MB, got '${value}'`);
  const unit = (m[2] ?? 'B').toUpperCase();
  const mult = unit === 'KB' ? 1024 : unit === 'MB' ? 1024 ** 2 : unit === 'GB' ? 1024 ** 3 : 1;
  return Math.round(Number(m[1]) * mult);
}
