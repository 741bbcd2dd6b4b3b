/**
 * What action.yml inputs and workflow inputs must say for each option of the table. The test
 * (test/options/table.test.ts) compares the files with it; `npm run options:sync` writes it.
 */
import { OPTIONS, type OptionName, type OptionSpec } from './table.js';

/** Workflow inputs that are not pgshift options: which GitHub environment, typed confirmations, which stack. */
export const WORKFLOW_ONLY_INPUTS = new Set(['environment', 'confirm', 'stack']);

export const isOption = (name: string): name is OptionName => Object.hasOwn(OPTIONS, name);

/** The default as action.yml writes it: always a string, '' for none. */
export function actionDefault(name: OptionName): string {
  return (OPTIONS[name] as OptionSpec).default ?? '';
}

/** A workflow input's type for an option: GitHub's boolean and choice where they fit, else string. */
export function workflowType(name: OptionName, trigger: 'dispatch' | 'call'): 'boolean' | 'choice' | 'string' {
  const spec = OPTIONS[name] as OptionSpec;
  if (spec.type === 'boolean') return 'boolean';
  if (spec.type === 'choice' && trigger === 'dispatch') return 'choice';
  return 'string';
}

/** The default as a workflow input writes it: a boolean for boolean inputs, else a string. */
export function workflowDefault(name: OptionName): string | boolean {
  const spec = OPTIONS[name] as OptionSpec;
  if (spec.type === 'boolean') return spec.default === 'true';
  return spec.default ?? '';
}
