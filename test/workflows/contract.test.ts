/**
 * The contract between the workflows, the actions and the machines they run on, read from the
 * YAML itself — the things actionlint cannot see because it does not open local actions or
 * called workflows:
 *  - each `uses: ./actions/x` exists (action.yml and its bundle), its `with:` keys are declared
 *    inputs and its required inputs are given;
 *  - each `uses: ./.github/workflows/x.yml` is a reusable workflow, called with declared and
 *    required inputs;
 *  - every `steps.<id>.outputs.<name>`, `needs.<job>.outputs.<name>` and
 *    `jobs.<job>.outputs.<name>` reference names something that exists;
 *  - database jobs run on the self-hosted runner on the source host; cutover and rollback jobs
 *    run in their approval environments; every workflow has permissions and concurrency; no
 *    long-lived AWS keys; no secret expanded inside a shell script.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import YAML from 'yaml';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');
const workflowDir = join(root, '.github', 'workflows');
const workflowFiles = readdirSync(workflowDir)
  .filter((f) => /\.ya?ml$/.test(f))
  .sort();

type Obj = Record<string, any>;

const PHASES = ['preflight', 'full-load', 'cdc', 'verify', 'cutover', 'rollback', 'cleanup'] as const;
const DB_RUNNER = ['self-hosted', 'linux', 'pgshift-source'];

function loadYaml(path: string): Obj {
  return YAML.parse(readFileSync(path, 'utf8')) as Obj;
}

function workflow(file: string): Obj {
  return loadYaml(join(workflowDir, file));
}

interface ActionSpec {
  inputs: Record<string, { required?: boolean; default?: unknown }>;
  outputs: Record<string, unknown>;
  main?: string;
  dir: string;
}

function localAction(uses: string): ActionSpec | undefined {
  const dir = join(root, uses);
  const file = join(dir, 'action.yml');
  if (!existsSync(file)) return undefined;
  const a = loadYaml(file);
  return { inputs: a.inputs ?? {}, outputs: a.outputs ?? {}, main: a.runs?.main, dir };
}

/** `on:` may be a string, a list or a map. */
function triggers(wf: Obj): Obj {
  const on = wf.on ?? wf[true as unknown as string];
  if (typeof on === 'string') return { [on]: {} };
  if (Array.isArray(on)) return Object.fromEntries(on.map((t) => [t, {}]));
  return on ?? {};
}

function refs(value: unknown, pattern: RegExp): [string, string][] {
  const text = JSON.stringify(value ?? null);
  return [...text.matchAll(pattern)].map((m) => [m[1]!, m[2]!]);
}

const STEP_OUTPUT = /steps\.([A-Za-z0-9_-]+)\.outputs\.([A-Za-z0-9_-]+)/g;
const NEEDS_OUTPUT = /needs\.([A-Za-z0-9_-]+)\.outputs\.([A-Za-z0-9_-]+)/g;
const JOBS_OUTPUT = /jobs\.([A-Za-z0-9_-]+)\.outputs\.([A-Za-z0-9_-]+)/g;

/** Outputs a job offers to `needs`: its `outputs:` map, or a called workflow's workflow_call outputs. */
function jobOutputs(job: Obj): string[] {
  if (typeof job.uses === 'string' && job.uses.startsWith('./')) {
    const callee = loadYaml(join(root, job.uses));
    return Object.keys(triggers(callee).workflow_call?.outputs ?? {});
  }
  return Object.keys(job.outputs ?? {});
}

const needsList = (job: Obj): string[] => (job.needs === undefined ? [] : Array.isArray(job.needs) ? job.needs : [job.needs]);
const runsOn = (job: Obj): string[] => (Array.isArray(job['runs-on']) ? job['runs-on'] : job['runs-on'] ? [job['runs-on']] : []);
const localActionSteps = (job: Obj): Obj[] =>
  (job.steps ?? []).filter((s: Obj) => typeof s.uses === 'string' && s.uses.startsWith('./actions/'));
const phaseOf = (step: Obj): string => step.uses.replace(/^\.\/actions\//, '').replace(/\/$/, '');

function requiredInputs(inputs: Record<string, { required?: boolean; default?: unknown }>): string[] {
  return Object.entries(inputs)
    .filter(([, spec]) => spec?.required === true && (spec.default === undefined || spec.default === ''))
    .map(([name]) => name);
}

describe.each(workflowFiles)('%s', (file) => {
  const wf = workflow(file);
  const jobs: Obj = wf.jobs ?? {};

  it('declares least permissions at the top and a concurrency group', () => {
    expect(wf.permissions, 'top-level permissions').toBeDefined();
    expect(wf.permissions).not.toBe('write-all');
    expect(wf.concurrency, 'top-level concurrency').toBeDefined();
    const group = typeof wf.concurrency === 'string' ? wf.concurrency : wf.concurrency.group;
    expect(String(group)).not.toBe('');
  });

  it('local actions exist, are built, and get declared and required inputs', () => {
    for (const [jobId, job] of Object.entries(jobs)) {
      for (const step of localActionSteps(job)) {
        const action = localAction(step.uses);
        expect(action, `${jobId}: ${step.uses}/action.yml`).toBeDefined();
        expect(action!.main, `${step.uses} runs.main`).toBeTruthy();
        expect(existsSync(join(action!.dir, action!.main!)), `${step.uses}/${action!.main} is committed`).toBe(true);
        const given = Object.keys(step.with ?? {});
        for (const key of given) expect(Object.keys(action!.inputs), `${jobId}: ${step.uses} has input '${key}'`).toContain(key);
        for (const req of requiredInputs(action!.inputs)) expect(given, `${jobId}: ${step.uses} needs '${req}'`).toContain(req);
      }
    }
  });

  it('called workflows are reusable and get declared and required inputs', () => {
    for (const [jobId, job] of Object.entries(jobs)) {
      if (typeof job.uses !== 'string' || !job.uses.startsWith('./')) continue;
      const path = join(root, job.uses);
      expect(existsSync(path), `${jobId}: ${job.uses} exists`).toBe(true);
      const call = triggers(loadYaml(path)).workflow_call;
      expect(call, `${job.uses} has on.workflow_call`).toBeDefined();
      const inputs = call.inputs ?? {};
      const given = Object.keys(job.with ?? {});
      for (const key of given) expect(Object.keys(inputs), `${jobId}: ${job.uses} has input '${key}'`).toContain(key);
      for (const req of requiredInputs(inputs)) expect(given, `${jobId}: ${job.uses} needs '${req}'`).toContain(req);
    }
  });

  it('every steps.<id>.outputs.<name> names an earlier step and an output it declares', () => {
    for (const [jobId, job] of Object.entries(jobs)) {
      const steps: Obj[] = job.steps ?? [];
      steps.forEach((step, index) => {
        for (const [id, name] of refs(step, STEP_OUTPUT)) {
          const producer = steps.slice(0, index).find((s) => s.id === id);
          expect(producer, `${jobId}: step '${id}' runs before it is read`).toBeDefined();
          if (typeof producer!.uses === 'string' && producer!.uses.startsWith('./actions/')) {
            expect(Object.keys(localAction(producer!.uses)!.outputs), `${jobId}: ${producer!.uses} declares output '${name}'`).toContain(
              name,
            );
          }
        }
      });
      for (const [id, name] of refs(job.outputs, STEP_OUTPUT)) {
        const producer = steps.find((s) => s.id === id);
        expect(producer, `${jobId}: job output reads step '${id}'`).toBeDefined();
        if (typeof producer!.uses === 'string' && producer!.uses.startsWith('./actions/')) {
          expect(Object.keys(localAction(producer!.uses)!.outputs), `${jobId}: ${producer!.uses} declares output '${name}'`).toContain(
            name,
          );
        }
      }
    }
  });

  it('every needs.<job>.outputs.<name> names a needed job and an output it offers', () => {
    for (const [jobId, job] of Object.entries(jobs)) {
      for (const [need, name] of refs(job, NEEDS_OUTPUT)) {
        expect(needsList(job), `${jobId} lists '${need}' in needs`).toContain(need);
        expect(jobs[need], `job '${need}' exists`).toBeDefined();
        expect(jobOutputs(jobs[need]), `${need} offers output '${name}'`).toContain(name);
      }
    }
  });

  it('workflow_call outputs name jobs and outputs that exist', () => {
    const outputs = triggers(wf).workflow_call?.outputs ?? {};
    for (const [out, spec] of Object.entries<Obj>(outputs)) {
      const found = refs(spec.value, JOBS_OUTPUT);
      expect(found.length, `output '${out}' reads a job output`).toBeGreaterThan(0);
      for (const [jobId, name] of found) {
        expect(jobs[jobId], `job '${jobId}'`).toBeDefined();
        expect(Object.keys(jobs[jobId].outputs ?? {}), `${jobId} declares output '${name}'`).toContain(name);
      }
    }
  });

  it('database jobs run on the self-hosted runner of the source host', () => {
    for (const [jobId, job] of Object.entries(jobs)) {
      if (localActionSteps(job).length === 0) continue;
      for (const label of DB_RUNNER) expect(runsOn(job), `${jobId} runs-on`).toContain(label);
    }
  });

  it('cutover and rollback jobs run in their approval environments', () => {
    for (const [jobId, job] of Object.entries(jobs)) {
      for (const step of localActionSteps(job)) {
        const phase = phaseOf(step);
        if (phase !== 'cutover' && phase !== 'rollback') continue;
        const env = typeof job.environment === 'string' ? job.environment : job.environment?.name;
        expect(env, `${jobId} has an environment`).toBeTruthy();
        expect(String(env), `${jobId} environment`).toMatch(new RegExp(`-${phase}$`));
      }
    }
  });

  it('AWS access goes through OIDC: a role, id-token permission, no access keys', () => {
    const text = readFileSync(join(workflowDir, file), 'utf8');
    expect(text).not.toMatch(/aws-access-key-id|aws-secret-access-key|AWS_SECRET_ACCESS_KEY/);
    for (const [jobId, job] of Object.entries(jobs)) {
      for (const step of (job.steps ?? []) as Obj[]) {
        if (typeof step.uses !== 'string' || !step.uses.startsWith('aws-actions/configure-aws-credentials')) continue;
        expect(step.with?.['role-to-assume'], `${jobId}: role-to-assume`).toBeTruthy();
        const perms = job.permissions ?? wf.permissions;
        expect(perms?.['id-token'], `${jobId}: id-token permission for OIDC`).toBe('write');
      }
    }
  });

  it('a called workflow asks for no permission its caller does not grant (GitHub would refuse the run)', () => {
    const level = (v: unknown) => (v === 'write' ? 2 : v === 'read' ? 1 : 0);
    for (const [jobId, job] of Object.entries(jobs)) {
      if (typeof job.uses !== 'string' || !job.uses.startsWith('./')) continue;
      const granted: Obj = job.permissions ?? wf.permissions ?? {};
      const callee = loadYaml(join(root, job.uses));
      const asked: Obj[] = [callee.permissions ?? {}, ...Object.values<Obj>(callee.jobs ?? {}).map((j) => j.permissions ?? {})];
      for (const perms of asked) {
        for (const [scope, value] of Object.entries(perms)) {
          expect(level(granted[scope]), `${jobId}: ${job.uses} asks ${scope}: ${value}`).toBeGreaterThanOrEqual(level(value));
        }
      }
    }
  });

  it('a deployment record is only asked for where deployments: write is granted', () => {
    for (const [jobId, job] of Object.entries(jobs)) {
      for (const step of localActionSteps(job)) {
        if (!step.with?.['deployment-environment']) continue;
        expect(step.with['github-token'], `${jobId}: github-token`).toBeTruthy();
        expect((job.permissions ?? wf.permissions)?.deployments, `${jobId}: deployments permission`).toBe('write');
      }
    }
  });

  it('no secret is expanded inside a shell script (it would land in the script file and any echo)', () => {
    for (const [jobId, job] of Object.entries(jobs)) {
      for (const step of (job.steps ?? []) as Obj[]) {
        if (typeof step.run === 'string') expect(step.run, `${jobId}: run script`).not.toMatch(/\$\{\{\s*secrets\./);
      }
    }
  });
});

describe('phase workflows', () => {
  it.each(PHASES)('%s.yml: dispatched with a typed environment, callable, serialized per migration, linked to its runbook', (phase) => {
    const file = `${phase}.yml`;
    expect(workflowFiles).toContain(file);
    const wf = workflow(file);
    const on = triggers(wf);
    const env = on.workflow_dispatch?.inputs?.environment;
    expect(env?.type).toBe('choice');
    expect(env?.options).toEqual(['experiment', 'production']);
    if (phase !== 'cleanup') expect(on.workflow_call, 'reusable (migrate.yml chains it)').toBeDefined();
    expect(wf.concurrency).toEqual({ group: 'pgshift-${{ inputs.environment }}', 'cancel-in-progress': false });
    const usesPhase = Object.values<Obj>(wf.jobs).some((job) => localActionSteps(job).some((s) => phaseOf(s) === phase));
    expect(usesPhase, `${file} runs ./actions/${phase}`).toBe(true);
    const text = readFileSync(join(workflowDir, file), 'utf8');
    expect(text).toContain(`runbooks/${phase}.md`);
    expect(existsSync(join(root, 'runbooks', `${phase}.md`)), `runbooks/${phase}.md exists`).toBe(true);
  });

  it('migrate.yml chains preflight -> full-load -> cdc -> verify -> cutover and hands the slot on', () => {
    const wf = workflow('migrate.yml');
    const order = ['preflight', 'full-load', 'cdc', 'verify', 'cutover'];
    for (const [i, id] of order.entries()) {
      expect(wf.jobs[id].uses).toBe(`./.github/workflows/${id}.yml`);
      if (i > 0) expect(needsList(wf.jobs[id])).toContain(order[i - 1]);
    }
    expect(wf.jobs.cdc.with['slot-name']).toBe('${{ needs.full-load.outputs.slot-name }}');
    // The phases' own group inside a caller holding the same group would wait forever.
    expect(wf.concurrency.group).not.toBe('pgshift-${{ inputs.environment }}');
  });

  it('the ddl mode (cdc start --ddl) reaches the full-load and cdc actions from migrate.yml and from their own workflows', () => {
    const migrate = workflow('migrate.yml');
    expect(triggers(migrate).workflow_dispatch.inputs.ddl).toBeDefined();
    for (const phase of ['full-load', 'cdc']) {
      expect(migrate.jobs[phase].with.ddl, `migrate.yml hands ddl to ${phase}.yml`).toBe('${{ inputs.ddl }}');
      const wf = workflow(`${phase}.yml`);
      const on = triggers(wf);
      for (const trigger of ['workflow_dispatch', 'workflow_call']) expect(on[trigger].inputs.ddl, `${phase}.yml ${trigger}`).toBeDefined();
      const steps = Object.values<Obj>(wf.jobs).flatMap((job) => localActionSteps(job).filter((s) => phaseOf(s) === phase));
      expect(steps.map((s) => s.with?.ddl)).toEqual(['${{ inputs.ddl }}']);
    }
  });
});

describe('the contract checks catch broken references (so a pass means something)', () => {
  it('an undeclared action output is not offered', () => {
    const action = localAction('./actions/full-load')!;
    expect(Object.keys(action.outputs)).toContain('slot-name');
    expect(Object.keys(action.outputs)).not.toContain('slot');
  });

  it('required inputs are computed from action.yml (source-url is required everywhere)', () => {
    for (const phase of PHASES) expect(requiredInputs(localAction(`./actions/${phase}`)!.inputs)).toContain('source-url');
  });

  it('reference extraction finds step, needs and jobs outputs', () => {
    const sample = { a: '${{ steps.x.outputs.y }}', b: ['${{ needs.j.outputs.k-1 }}'], c: '${{ jobs.z.outputs.w }}' };
    expect(refs(sample, STEP_OUTPUT)).toEqual([['x', 'y']]);
    expect(refs(sample, NEEDS_OUTPUT)).toEqual([['j', 'k-1']]);
    expect(refs(sample, JOBS_OUTPUT)).toEqual([['z', 'w']]);
  });
});
