/**
 * Turning what a person wrote into the value the engine takes, the same way for a CLI flag, an
 * action input and a workflow input. A wrong value is one clear usage line naming the option.
 */
import { usageError } from '../errors.js';
import { OPTIONS, type OptionName, type OptionSpec } from './table.js';

type Spec<N extends OptionName> = (typeof OPTIONS)[N];
type ValueOf<S> = S extends { type: 'boolean' }
  ? boolean
  : S extends { type: 'integer' | 'duration' | 'size' }
    ? number
    : S extends { type: 'list' }
      ? string[]
      : S extends { type: 'choice'; choices: readonly (infer C)[] }
        ? C
        : string;

/** The parsed value of option N: ms for durations, bytes for sizes, the choice's literal type. */
export type OptionValue<N extends OptionName> = ValueOf<Spec<N>>;

/**
 * Parse `raw` as option `name`; empty or absent means the option's default (parsed), or
 * undefined when it has none. `label` names the option in errors: `--max-freeze`, `input 'max-freeze'`.
 */
export function parseOption<N extends OptionName>(
  name: N,
  raw: string | string[] | boolean | undefined,
  label = `--${name}`,
): OptionValue<N> | undefined {
  const spec: OptionSpec = OPTIONS[name];
  const given = raw === '' || (Array.isArray(raw) && raw.length === 0) ? undefined : raw;
  const value = given ?? spec.default;
  if (value === undefined) return undefined;
  return parseAs(spec, value, label) as OptionValue<N>;
}

/** The option's default as the engine takes it. */
export function optionDefault<N extends OptionName>(name: N): OptionValue<N> | undefined {
  return parseOption(name, undefined);
}

function parseAs(spec: OptionSpec, value: string | string[] | boolean, label: string): unknown {
  if (typeof value === 'boolean') {
    if (spec.type !== 'boolean') throw usageError(`${label} needs a value`);
    return value;
  }
  if (Array.isArray(value)) {
    if (spec.type !== 'list') throw usageError(`${label} takes one value`);
    return value.flatMap((v) => splitList(v));
  }
  switch (spec.type) {
    case 'boolean':
      return parseBoolean(value, label);
    case 'integer':
      return parseWholeNumber(value, label);
    case 'duration':
      return parseDuration(value, label);
    case 'size':
      return parseSize(value, label);
    case 'list':
      return splitList(value);
    case 'choice':
      if (!spec.choices!.includes(value.trim()))
        throw usageError(`${label} must be one of ${spec.choices!.join(', ')}, got '${value}'`, `pass one of ${spec.choices!.join(', ')}`);
      return value.trim();
    default:
      return value;
  }
}

const splitList = (value: string): string[] =>
  value
    .split(/[,\n]/)
    .map((s) => s.trim())
    .filter(Boolean);

export function parseBoolean(value: string, label: string): boolean {
  const v = value.trim().toLowerCase();
  if (['true', 'yes', '1', 'on'].includes(v)) return true;
  if (['false', 'no', '0', 'off'].includes(v)) return false;
  throw usageError(`${label} must be true or false, got '${value}'`, `pass 'true' or 'false'`);
}

export function parseWholeNumber(value: string, label: string): number {
  const n = Number(value.trim());
  if (value.trim() === '' || !Number.isInteger(n) || n < 0) throw usageError(`${label} must be a whole number ≥ 0, got '${value}'`);
  return n;
}

/** "30s", "500ms", "2m", "1h"; "0" alone. A bare number is refused: seconds or milliseconds? */
export function parseDuration(value: string, label: string): number {
  const v = value.trim();
  if (/^0+(\.0+)?$/.test(v)) return 0;
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)$/.exec(v);
  if (!m) throw usageError(`${label} must be a duration with a unit such as 30s, 500ms or 2m, got '${value}'`);
  const n = Number(m[1]);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 'ms' | 's' | 'm' | 'h'];
  return Math.round(n * unit);
}

/** "16MB", "512kB", "1GB" (powers of 1024) or a bare number of bytes. */
export function parseSize(value: string, label: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(B|kB|KB|MB|GB)?$/i.exec(value.trim());
  if (!m) throw usageError(`${label} must be a size such as 16MB, got '${value}'`);
  const unit = (m[2] ?? 'B').toUpperCase();
  const mult = unit === 'KB' ? 1024 : unit === 'MB' ? 1024 ** 2 : unit === 'GB' ? 1024 ** 3 : 1;
  return Math.round(Number(m[1]) * mult);
}
