/**
 * CLI flags built from the option table (src/options): `--<name>`, its description, choices,
 * environment variable and default exactly as the table has them, so --help, action.yml and
 * the workflows say the same thing.
 */
import { Option } from 'commander';
import { OPTIONS, parseOption, type OptionName, type OptionSpec, type OptionValue } from '../options/index.js';

const PLACEHOLDER: Record<OptionSpec['type'], string> = {
  string: '<value>',
  url: '<url>',
  path: '<path>',
  boolean: '',
  integer: '<n>',
  duration: '<duration>',
  size: '<size>',
  choice: '<choice>',
  list: '<values...>',
};

/** The commander Option for one table entry. */
export function flag(name: OptionName): Option {
  const spec: OptionSpec = OPTIONS[name];
  if (spec.type === 'boolean') {
    // A switch that is on unless turned off is spelled --no-<name>.
    return spec.default === 'true' ? new Option(`--no-${name}`, spec.description) : new Option(`--${name}`, spec.description);
  }
  const option = new Option(`--${name} ${spec.placeholder ?? PLACEHOLDER[spec.type]}`, spec.description);
  if (spec.choices) option.choices(spec.choices);
  if (spec.env) option.env(spec.env);
  // An optional value's presence is the switch (`--watch` alone): no default may turn it on.
  if (spec.default !== undefined && !spec.optionalValue) option.default(spec.default);
  return option;
}

/** commander's attribute for a flag: `max-freeze` → `maxFreeze`. */
const attribute = (name: OptionName): string => name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

/** The parsed value of a flag as given on the command line (or its env variable, or the table's default). */
export function flagValue<N extends OptionName>(flags: object, name: N): OptionValue<N> | undefined {
  let raw = (flags as Record<string, unknown>)[attribute(name)] as string | string[] | boolean | undefined;
  if (raw === true && OPTIONS[name].type !== 'boolean') raw = undefined;
  return parseOption(name, raw, `--${name}`);
}

/** The raw text of a flag, for options whose value the engine takes as written (URLs, paths). */
export function flagText(flags: object, name: OptionName): string | undefined {
  const raw = (flags as Record<string, unknown>)[attribute(name)];
  return typeof raw === 'string' && raw !== '' ? raw : undefined;
}
