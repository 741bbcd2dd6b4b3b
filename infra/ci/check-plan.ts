// Refuses to apply a reviewed plan that no longer describes what would happen:
//  - the configuration inside the plan file differs from what main synthesizes now (something else was
//    merged after the review), or
//  - the state moved since the plan was made (another apply ran): its serial or lineage changed.
// `terraform apply plan.tfplan` also rejects a stale state by itself; this check runs first so that the
// refusal says why and what to do, and it covers the configuration, which Terraform does not compare.
//   npx tsx infra/ci/check-plan.ts --plan plan.tfplan --dir infra/cdktf.out/stacks/01-single-vpc-rds
// (in an initialized stack directory: it runs `terraform state pull` there). Exit 0 fresh, 1 refused, 2 usage.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

export interface StateIdentity {
  serial: number;
  lineage: string;
}

/** A state document's identity; no state at all (an empty `state pull`) is serial 0 without lineage, as in a plan made against nothing. */
export function stateIdentity(stateJson: string): StateIdentity {
  if (stateJson.trim() === '') return { serial: 0, lineage: '' };
  const state = JSON.parse(stateJson) as { serial?: number; lineage?: string };
  return { serial: state.serial ?? 0, lineage: state.lineage ?? '' };
}

export interface PlanFile {
  state: StateIdentity;
  /** The root module's files as the plan recorded them, by name. */
  config: Map<string, string>;
}

/** A saved plan is a zip: `tfstate` is the prior state it was planned against, `tfconfig/m-/` the root module. */
export function readPlanFile(planPath: string): PlanFile {
  const listing = execFileSync('unzip', ['-Z1', planPath], { encoding: 'utf8' }).split('\n').filter(Boolean);
  const read = (entry: string): string => execFileSync('unzip', ['-p', planPath, entry], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (!listing.includes('tfstate')) throw new Error(`${planPath} is not a Terraform plan file (no tfstate entry)`);
  const config = new Map<string, string>();
  for (const entry of listing) {
    const m = /^tfconfig\/m-\/([^/]+)$/.exec(entry);
    if (m) config.set(m[1]!, read(entry));
  }
  return { state: stateIdentity(read('tfstate')), config };
}

export function planProblems(input: { plan: PlanFile; currentConfig: string; currentState: StateIdentity; configName?: string }): string[] {
  const name = input.configName ?? 'cdk.tf.json';
  const problems: string[] = [];
  const planned = input.plan.config.get(name);
  if (planned === undefined) problems.push(`the plan holds no ${name}: it was not made from this stack`);
  else if (planned !== input.currentConfig) {
    problems.push(
      `the synthesized ${name} differs from the one that was planned and reviewed (something else changed infra/ after the review): update the pull request from main so that infra-plan runs again, and merge after reviewing that plan`,
    );
  }
  const { state: before } = input.plan;
  const now = input.currentState;
  if (before.lineage !== now.lineage || before.serial !== now.serial) {
    problems.push(
      `the state moved since the plan (serial ${before.serial} -> ${now.serial}${before.lineage !== now.lineage ? ', different lineage' : ''}): another apply ran in between; re-run infra-plan on a new pull request (or re-run this workflow after a fresh plan)`,
    );
  }
  return problems;
}

function main(): void {
  const { values } = parseArgs({ options: { plan: { type: 'string' }, dir: { type: 'string' } } });
  if (!values.plan || !values.dir) {
    process.stderr.write('usage: check-plan --plan PLANFILE --dir STACK_DIR (initialized with terraform init)\n');
    process.exit(2);
  }
  const configPath = join(values.dir, 'cdk.tf.json');
  if (!existsSync(values.plan) || !existsSync(configPath)) {
    process.stderr.write(`check-plan: ${existsSync(values.plan) ? configPath : values.plan} does not exist\n`);
    process.exit(2);
  }
  const plan = readPlanFile(values.plan);
  const currentState = stateIdentity(
    execFileSync('terraform', ['state', 'pull'], { cwd: values.dir, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 }),
  );
  const problems = planProblems({ plan, currentConfig: readFileSync(configPath, 'utf8'), currentState });
  if (problems.length > 0) {
    for (const p of problems) process.stderr.write(`refusing to apply: ${p}\n`);
    process.exit(1);
  }
  process.stdout.write(`plan is fresh: same configuration, state serial ${currentState.serial}\n`);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) main();
