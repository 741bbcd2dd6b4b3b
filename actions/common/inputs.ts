/**
 * Reading action inputs. The first thing every action does is `maskSecretInputs()`: each
 * connection URL and its password are handed to the runner's masker (`core.setSecret`) and
 * to pgshift's own redactor before any line is logged, so neither the runner log, an error
 * message, the summary nor an output can carry them (docs/design.md rule 9).
 */
import * as core from '@actions/core';
import { usageError } from '../../src/errors.js';
import { OPTIONS, optionNames, parseOption, type OptionName, type OptionSpec, type OptionValue } from '../../src/options/index.js';
import { registerConnection, registerSecret } from '../../src/postgres/redact.js';

/** Mask one connection string in every form it can show up in (src/postgres/redact.ts connectionSecrets). */
export function maskConnectionUrl(url: string): void {
  for (const v of registerConnection(url)) maskValue(v);
}

const masked = new Set<string>();

function maskValue(value: string): void {
  // A one- or two-character "password" would mask every occurrence of those characters in the log.
  if (value.length < 3 || masked.has(value)) return;
  masked.add(value);
  core.setSecret(value);
  registerSecret(value);
}

/** Mask every secret input (the option table marks them). Call it before anything else logs. */
export function maskSecretInputs(): void {
  for (const name of optionNames) {
    const spec = OPTIONS[name] as OptionSpec;
    if (!spec.secret) continue;
    if (spec.type === 'url') maskConnectionUrl(core.getInput(name));
    else maskValue(core.getInput(name));
  }
}

/**
 * An input parsed as the option table says (ms for durations, bytes for sizes...); empty means
 * the table's default. The same parser as the CLI's flags, so `30s` means the same everywhere.
 */
export function input<N extends OptionName>(name: N): OptionValue<N> | undefined {
  return parseOption(name, core.getInput(name), `input '${name}'`);
}

/** An input's text as given (URLs, paths, names); undefined when empty. */
export function inputText(name: OptionName): string | undefined {
  const v = core.getInput(name);
  return v === '' ? undefined : v;
}

/** An input the step must set; for a choice, the error lists the choices. */
export function requiredOption<N extends OptionName>(name: N): OptionValue<N> {
  const value = input(name);
  if (value !== undefined) return value;
  const choices = (OPTIONS[name] as OptionSpec).choices;
  throw usageError(
    choices ? `input '${name}' must be one of ${choices.join(', ')}, got ''` : `input '${name}' is required`,
    `set ${name} in the step's with: block`,
  );
}

export function requiredInput(name: OptionName): string {
  const v = core.getInput(name);
  if (v === '') throw usageError(`input '${name}' is required`, `set ${name} in the step's with: block`);
  return v;
}
