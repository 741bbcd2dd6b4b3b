/**
 * Rewrite the inputs of every action.yml and every workflow from the option table
 * (src/options/table.ts): description and default, and for workflows the input type. Only
 * inputs a file already declares are touched; which inputs an action takes stays its own choice.
 * Run: npm run options:sync
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Document, isMap, parseDocument, type YAMLMap } from 'yaml';
import { OPTIONS, type OptionSpec } from '../src/options/table.js';
import { actionDefault, isOption, workflowDefault, workflowType } from '../src/options/sync.js';

const root = new URL('..', import.meta.url).pathname;
/** Write only what changed; no line folding, so nothing but the inputs moves. */
function write(path: string, before: string, doc: Document): void {
  const text = doc.toString({ lineWidth: 0, flowCollectionPadding: false });
  if (text !== before) writeFileSync(path, text);
}

for (const phase of readdirSync(join(root, 'actions'))) {
  const path = join(root, 'actions', phase, 'action.yml');
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    continue;
  }
  const doc = parseDocument(text);
  const inputs = doc.get('inputs') as YAMLMap | undefined;
  for (const item of inputs?.items ?? []) {
    const name = String((item.key as { value: unknown }).value);
    if (!isOption(name)) continue;
    const input = item.value as YAMLMap;
    input.set('description', OPTIONS[name].description);
    const fallback = actionDefault(name);
    if (fallback !== '' || input.get('required') !== true) {
      input.set('required', false);
      input.set('default', fallback);
    }
  }
  write(path, text, doc);
}

const workflows = join(root, '.github', 'workflows');
for (const file of readdirSync(workflows).filter((f) => f.endsWith('.yml'))) {
  const path = join(workflows, file);
  const before = readFileSync(path, 'utf8');
  const doc = parseDocument(before);
  for (const trigger of ['workflow_dispatch', 'workflow_call'] as const) {
    const inputs = doc.getIn(['on', trigger, 'inputs']);
    if (!isMap(inputs)) continue;
    for (const item of inputs.items) {
      const name = String((item.key as { value: unknown }).value);
      if (!isOption(name)) continue;
      const input = item.value as YAMLMap;
      const kind = trigger === 'workflow_dispatch' ? 'dispatch' : 'call';
      input.set('description', OPTIONS[name].description);
      input.set('type', workflowType(name, kind));
      if (workflowType(name, kind) === 'choice')
        input.set('options', doc.createNode([...((OPTIONS[name] as OptionSpec).choices ?? [])], { flow: true }));
      else input.delete('options');
      if (input.get('required') !== true) input.set('default', workflowDefault(name));
    }
  }
  write(path, before, doc);
}
