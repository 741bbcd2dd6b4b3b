/**
 * One table of options (src/options/table.ts): every action.yml input and every workflow input
 * that is a pgshift option must carry the table's name, default and description, and every CLI
 * flag comes from it. `npm run options:sync` rewrites the files when this fails.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { buildProgram } from '../../src/cli/program.js';
import { OPTIONS, optionDefault, parseOption, type OptionName } from '../../src/options/index.js';
import { actionDefault, isOption, WORKFLOW_ONLY_INPUTS, workflowDefault } from '../../src/options/sync.js';
import { ON_MISMATCH_CHOICES } from '../../src/engine/cutover/snapshot-check.js';
import { DDL_MODES } from '../../src/engine/ddl/index.js';
import { ENGINE_NAMES } from '../../src/engine/replication/engine.js';

const root = join(import.meta.dirname, '..', '..');

interface Input {
  description?: string;
  default?: unknown;
  required?: boolean;
  type?: string;
  options?: string[];
}

const actions = readdirSync(join(root, 'actions'))
  .filter((d) => existsSync(join(root, 'actions', d, 'action.yml')))
  .map((phase) => ({
    phase,
    inputs: (parse(readFileSync(join(root, 'actions', phase, 'action.yml'), 'utf8')).inputs ?? {}) as Record<string, Input>,
  }));

const workflows = readdirSync(join(root, '.github', 'workflows'))
  .filter((f) => f.endsWith('.yml'))
  .flatMap((file) => {
    const on = parse(readFileSync(join(root, '.github', 'workflows', file), 'utf8')).on ?? {};
    return (['workflow_dispatch', 'workflow_call'] as const)
      .filter((trigger) => on?.[trigger]?.inputs)
      .map((trigger) => ({ file, trigger, inputs: on[trigger].inputs as Record<string, Input> }));
  });

/** Every disagreement between the files and the table, one line each. */
function disagreements(): string[] {
  const out: string[] = [];
  for (const { phase, inputs } of actions) {
    for (const [name, input] of Object.entries(inputs)) {
      const where = `actions/${phase}/action.yml input ${name}`;
      if (!isOption(name)) {
        out.push(`${where}: not in the option table`);
        continue;
      }
      if (input.description !== OPTIONS[name].description) out.push(`${where}: description differs from the table`);
      const fallback = input.default === undefined ? '' : String(input.default);
      if (!(input.required && fallback === '') && fallback !== actionDefault(name))
        out.push(`${where}: default '${fallback}' but the table says '${actionDefault(name)}'`);
    }
  }
  for (const { file, trigger, inputs } of workflows) {
    for (const [name, input] of Object.entries(inputs)) {
      if (WORKFLOW_ONLY_INPUTS.has(name)) continue;
      const where = `.github/workflows/${file} ${trigger} input ${name}`;
      if (!isOption(name)) {
        out.push(`${where}: not in the option table`);
        continue;
      }
      if (input.description !== OPTIONS[name].description) out.push(`${where}: description differs from the table`);
      if (!input.required && input.default !== workflowDefault(name))
        out.push(`${where}: default '${input.default}' but the table says '${workflowDefault(name)}'`);
      const choices = (OPTIONS[name] as { choices?: readonly string[] }).choices;
      if (input.type === 'choice' && JSON.stringify(input.options) !== JSON.stringify(choices))
        out.push(`${where}: options ${JSON.stringify(input.options)} but the table says ${JSON.stringify(choices)}`);
    }
  }
  return out;
}

describe('the option table', () => {
  it('every action.yml input and every workflow input agrees with it in name, default and description', () => {
    expect(actions.length).toBeGreaterThanOrEqual(7);
    expect(workflows.length).toBeGreaterThanOrEqual(8);
    expect(disagreements()).toEqual([]);
  });

  it('every default parses as its own option (a default the parser refuses would only fail at run time)', () => {
    for (const name of Object.keys(OPTIONS) as OptionName[]) expect(() => optionDefault(name), name).not.toThrow();
  });

  it('one unit per option: durations need a unit, sizes take B/kB/MB/GB', () => {
    expect(parseOption('max-freeze', '30s')).toBe(30_000);
    expect(optionDefault('max-freeze')).toBe(30_000);
    expect(() => parseOption('max-freeze', '30')).toThrow(/--max-freeze must be a duration with a unit/);
    expect(parseOption('max-lag', '16MB')).toBe(16 * 1024 ** 2);
    expect(optionDefault('max-lag')).toBe(16 * 1024 ** 2);
    expect(parseOption('caught-up-lag', '1048576')).toBe(1024 ** 2);
    expect(parseOption('wait-caught-up', '0')).toBe(0);
    expect(() => parseOption('verify', 'slow', "input 'verify'")).toThrow(/input 'verify' must be one of fast, full, none/);
  });

  it('a choice option offers exactly what the engine accepts (a choice the engine lacks would only fail at run time)', () => {
    const choices = (name: OptionName) => [...((OPTIONS[name] as { choices?: readonly string[] }).choices ?? [])];
    expect(choices('engine')).toEqual([...ENGINE_NAMES]);
    expect(choices('reverse-engine')).toEqual([...ENGINE_NAMES]);
    expect(choices('on-mismatch')).toEqual([...ON_MISMATCH_CHOICES]);
    expect(choices('ddl')).toEqual([...DDL_MODES]);
  });

  it('every CLI flag of every command is an option of the table, with its description', () => {
    const seen = new Set<string>();
    const walk = (cmd: ReturnType<typeof buildProgram>) => {
      for (const opt of cmd.options) {
        const name = (opt.long ?? '').replace(/^--(no-)?/, '');
        if (name === 'help' || name === 'version') continue;
        seen.add(name);
        expect(isOption(name), `${cmd.name()} --${name}`).toBe(true);
        expect(opt.description, `${cmd.name()} --${name}`).toBe(OPTIONS[name as OptionName].description);
      }
      for (const sub of cmd.commands) walk(sub as ReturnType<typeof buildProgram>);
    };
    walk(buildProgram());
    expect(
      seen.has('max-freeze') &&
        seen.has('pgbouncer-admin-url') &&
        seen.has('env-key') &&
        seen.has('pg-command-prefix') &&
        seen.has('engine') &&
        seen.has('dms-user') &&
        seen.has('on-mismatch') &&
        seen.has('gb'),
    ).toBe(true);
  });
});
