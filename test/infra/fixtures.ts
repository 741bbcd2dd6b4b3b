// Shared by the infra tests: the example configuration (parsed, so every test starts from a valid one),
// synthesis of every stack in memory, and small lookups into the synthesized Terraform JSON.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Testing } from 'cdktf';
import { buildApp } from '../../infra/app.js';
import { parseConfig, type InfraConfig } from '../../infra/config.js';

export const repoRoot = join(import.meta.dirname, '..', '..');
export const infraDir = join(repoRoot, 'infra');

export type Json = Record<string, any>;

/** A fresh, mutable copy of infra/config.example.json; `edit` changes it before it is checked. */
export function exampleConfig(edit: (raw: Json) => void = () => {}): InfraConfig {
  const raw = JSON.parse(readFileSync(join(infraDir, 'config.example.json'), 'utf8')) as Json;
  edit(raw);
  return parseConfig(raw, 'test config');
}

export interface Synthesized {
  experiment: Json;
  bootstrap: Json;
  production?: Json;
  /** Experiment 03 (AWS DMS): 03-dms and production-dms, when the config has a dms block. */
  dms?: Json;
  productionDms?: Json;
  text: { experiment: string; bootstrap: string; production?: string; dms?: string; productionDms?: string };
}

export function synthesize(config: InfraConfig = exampleConfig()): Synthesized {
  const built = buildApp(config, Testing.app());
  const text = {
    experiment: Testing.synth(built.experiment),
    bootstrap: Testing.synth(built.bootstrap),
    production: built.production === undefined ? undefined : Testing.synth(built.production),
    dms: built.dms === undefined ? undefined : Testing.synth(built.dms),
    productionDms: built.productionDms === undefined ? undefined : Testing.synth(built.productionDms),
  };
  return {
    experiment: JSON.parse(text.experiment) as Json,
    bootstrap: JSON.parse(text.bootstrap) as Json,
    production: text.production === undefined ? undefined : (JSON.parse(text.production) as Json),
    dms: text.dms === undefined ? undefined : (JSON.parse(text.dms) as Json),
    productionDms: text.productionDms === undefined ? undefined : (JSON.parse(text.productionDms) as Json),
    text,
  };
}

/** All resources of one type, by logical name. */
export function ofType(doc: Json, type: string): Array<[string, Json]> {
  return Object.entries<Json>(doc.resource?.[type] ?? {});
}

export function only(doc: Json, type: string): Json {
  const all = ofType(doc, type);
  if (all.length !== 1) throw new Error(`expected one ${type}, found ${all.length}`);
  return all[0]![1];
}

/** `${aws_x.name.attr}` for a resource found by logical name, as the synthesized JSON writes references. */
export function ref(doc: Json, type: string, predicate: (r: Json) => boolean, attr = 'id'): string {
  const hit = ofType(doc, type).find(([, r]) => predicate(r));
  if (!hit) throw new Error(`no ${type} matches`);
  return `\${${type}.${hit[0]}.${attr}}`;
}
