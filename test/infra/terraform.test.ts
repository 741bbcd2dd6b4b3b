// Plain Terraform on what `npm run synth` writes, offline: `terraform init -backend=false` + `validate`
// for every stack, then an offline `plan` (local backend and dummy credentials through an override
// file; the stacks use no data sources) read back with `terraform show -json`. Then the apply guard:
// a saved plan is refused once the configuration or the state moved.
// The AWS provider comes from the machine's filesystem mirror through infra/terraform.rc when the
// mirror exists; elsewhere Terraform's default installation (the registry) is used.
import { execFile, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdtempSync as makeTempDir, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderUserData } from '../../infra/constructs/source-host-user-data.js';
import { renderPlanReport } from '../../infra/ci/plan-report.js';
import { repoRoot, infraDir, type Json } from './fixtures.js';

const run = promisify(execFile);

// Every temporary directory this file makes (synth output, terraform working copies) is removed at the end.
const tempDirs: string[] = [];
function mkdtempSync(prefix: string): string {
  const dir = makeTempDir(prefix);
  tempDirs.push(dir);
  return dir;
}
afterAll(() => {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});
const TERRAFORM = process.env.TERRAFORM_BIN ?? 'terraform';
const MIRROR = '/opt/tf-plugins/registry.terraform.io/hashicorp/aws/5.100.0';
const tsx = join(repoRoot, 'node_modules', '.bin', 'tsx');

const tfEnv: NodeJS.ProcessEnv = { ...process.env, TF_IN_AUTOMATION: '1', CHECKPOINT_DISABLE: '1', TF_INPUT: '0' };
delete tfEnv.TF_CLI_CONFIG_FILE;
if (existsSync(MIRROR)) tfEnv.TF_CLI_CONFIG_FILE = join(infraDir, 'terraform.rc');

// What a test run adds to a stack so that `plan` needs neither AWS nor the S3 bucket. Terraform merges
// *_override.tf.json files into the configuration; nothing of this is in the synthesized stacks.
// Every provider block the stack declares (the cross-account stacks have two aliases, `source` and
// `target`) gets dummy credentials; the account pin and the assumed role are emptied, since no account
// id can be learnt and no role assumed offline (Terraform warns that role_arn is then missing: that is this file).
const OFFLINE_CREDENTIALS = {
  access_key: 'offline-test',
  secret_key: 'offline-test',
  skip_credentials_validation: true,
  skip_requesting_account_id: true,
  skip_metadata_api_check: 'true',
  skip_region_validation: true,
};
function offlineOverride(synthesized: Json): Json {
  const providers = [synthesized.provider?.aws ?? []].flat() as Json[];
  return {
    terraform: { backend: { local: { path: 'terraform.tfstate' } } },
    provider: {
      aws: providers.map((p) => ({
        ...(p.alias === undefined ? {} : { alias: p.alias }),
        ...OFFLINE_CREDENTIALS,
        ...(p.allowed_account_ids === undefined ? {} : { allowed_account_ids: null }),
        ...(p.assume_role === undefined ? {} : { assume_role: [{ role_arn: null }] }),
      })),
    },
  };
}

/** Values for the stacks' ephemeral role variables (the workflows pass the real ones with -var). */
const ROLE_VARIABLES: Record<string, string> = {
  target_role_arn: 'arn:aws:iam::210987654321:role/pgshift-infra-plan',
  target_admin_role_arn: 'arn:aws:iam::210987654321:role/OrganizationAccountAccessRole',
};
function roleVariableArgs(synthesized: Json): string[] {
  return Object.keys(synthesized.variable ?? {})
    .filter((name) => name in ROLE_VARIABLES)
    .map((name) => `-var=${name}=${ROLE_VARIABLES[name]}`);
}

async function terraform(dir: string, ...args: string[]): Promise<string> {
  try {
    const { stdout } = await run(TERRAFORM, args, { cwd: dir, env: tfEnv, maxBuffer: 128 * 1024 * 1024 });
    return stdout;
  } catch (err) {
    const e = err as { stderr?: string; stdout?: string; message: string };
    throw new Error(`terraform ${args.join(' ')} in ${dir} failed:\n${e.stderr || e.stdout || e.message}`);
  }
}

interface StackRun {
  dir: string;
  validate: Json;
  plan: Json;
}

// Experiment 03's stacks find the network of 01/production through data sources, which an offline plan
// cannot read: they are validated offline, and their content is asserted on the synthesized JSON
// (test/infra/dms-stack.test.ts).
const VALIDATE_ONLY = new Set(['03-dms', 'production-dms']);

const ALL_STACKS = [
  '01-single-vpc-rds',
  '02-cross-account-peering',
  '02-cross-account-peering-production',
  '03-dms',
  'bootstrap',
  'bootstrap-target-account',
  'production',
  'production-dms',
];

const outdir = mkdtempSync(join(tmpdir(), 'pgshift-synth-'));
const work = mkdtempSync(join(tmpdir(), 'pgshift-terraform-'));
const runs = new Map<string, StackRun>();
let synthStderr = '';

/** One pipeline per stack, the three in parallel: init once for validate, once more for the local backend, then plan. */
async function validateAndPlan(stack: string): Promise<StackRun> {
  const dir = join(work, stack);
  cpSync(join(outdir, 'stacks', stack), dir, { recursive: true });
  await terraform(dir, 'init', '-backend=false', '-input=false', '-no-color');
  const validate = JSON.parse(await terraform(dir, 'validate', '-json', '-no-color')) as Json;
  if (VALIDATE_ONLY.has(stack)) return { dir, validate, plan: {} };
  const synthesized = JSON.parse(readFileSync(join(dir, 'cdk.tf.json'), 'utf8')) as Json;
  writeFileSync(join(dir, 'offline_override.tf.json'), JSON.stringify(offlineOverride(synthesized)));
  await terraform(dir, 'init', '-input=false', '-no-color');
  await terraform(dir, 'plan', '-input=false', '-no-color', '-lock=false', '-out=plan.tfplan', ...roleVariableArgs(synthesized));
  const plan = JSON.parse(await terraform(dir, 'show', '-json', 'plan.tfplan')) as Json;
  return { dir, validate, plan };
}

beforeAll(async () => {
  // Exactly what `npm run synth` runs, into a temporary directory.
  const { stderr } = await run(tsx, [join(infraDir, 'main.ts')], {
    cwd: repoRoot,
    env: { ...process.env, PGSHIFT_INFRA_OUTDIR: outdir, PGSHIFT_INFRA_CONFIG: join(infraDir, 'config.example.json') },
  });
  synthStderr = stderr;
  const stacks = readdirSync(join(outdir, 'stacks')).sort();
  const results = await Promise.all(stacks.map(validateAndPlan));
  for (const [i, s] of stacks.entries()) runs.set(s, results[i]!);
}, 480_000);

const changes = (stack: string): Json[] => runs.get(stack)!.plan.resource_changes;
const planned = (stack: string, type: string): Json[] =>
  changes(stack)
    .filter((r) => r.type === type)
    .map((r) => r.change.after);
const countByType = (stack: string): Record<string, number> => {
  const counts: Record<string, number> = {};
  for (const r of changes(stack)) counts[r.type] = (counts[r.type] ?? 0) + 1;
  return counts;
};

describe('npm run synth', () => {
  it('writes cdk.tf.json for every stack and reports them', () => {
    expect(readdirSync(join(outdir, 'stacks')).sort()).toEqual(ALL_STACKS);
    for (const stack of runs.keys()) expect(existsSync(join(outdir, 'stacks', stack, 'cdk.tf.json'))).toBe(true);
    expect(synthStderr).toMatch(
      /synthesized 01-single-vpc-rds, bootstrap, production, 03-dms, production-dms, 02-cross-account-peering, 02-cross-account-peering-production, bootstrap-target-account into /,
    );
  });

  it('is deterministic: a second synth writes byte-identical JSON (the apply guard compares it)', async () => {
    const again = mkdtempSync(join(tmpdir(), 'pgshift-synth-'));
    await run(tsx, [join(infraDir, 'main.ts')], {
      cwd: repoRoot,
      env: { ...process.env, PGSHIFT_INFRA_OUTDIR: again, PGSHIFT_INFRA_CONFIG: join(infraDir, 'config.example.json') },
    });
    for (const stack of runs.keys()) {
      expect(readFileSync(join(again, 'stacks', stack, 'cdk.tf.json'), 'utf8')).toBe(
        readFileSync(join(outdir, 'stacks', stack, 'cdk.tf.json'), 'utf8'),
      );
    }
  });

  it('exits 2 with the field named when the config is unusable', async () => {
    const bad = join(mkdtempSync(join(tmpdir(), 'pgshift-config-')), 'config.json');
    const raw = JSON.parse(readFileSync(join(infraDir, 'config.example.json'), 'utf8')) as Json;
    delete raw.experiment.source.ami;
    writeFileSync(bad, JSON.stringify(raw));
    const err = await run(tsx, [join(infraDir, 'main.ts')], {
      cwd: repoRoot,
      env: { ...process.env, PGSHIFT_INFRA_OUTDIR: mkdtempSync(join(tmpdir(), 'x-')), PGSHIFT_INFRA_CONFIG: bad },
    }).catch((e: unknown) => e as { code: number; stderr: string });
    expect(err).toMatchObject({ code: 2 });
    expect((err as { stderr: string }).stderr).toMatch(/experiment\.source\.ami: the AMI made from the production EC2/);
  });
});

describe.each(ALL_STACKS.filter((s) => !VALIDATE_ONLY.has(s)))('terraform on %s', (stack) => {
  it('init -backend=false and validate pass with no errors or warnings', () => {
    const v = runs.get(stack)!.validate;
    expect(v.diagnostics).toEqual([]);
    expect(v).toMatchObject({ valid: true, error_count: 0, warning_count: 0 });
  });

  it('plans offline: only creations, nothing destroyed, no data source read', () => {
    const plan = runs.get(stack)!.plan;
    expect(plan.errored).toBe(false);
    expect(plan.applyable).toBe(true);
    expect(new Set(changes(stack).map((r) => r.change.actions.join(',')))).toEqual(new Set(['create']));
    expect(changes(stack).every((r) => r.mode === 'managed')).toBe(true);
  });
});

describe.each([...VALIDATE_ONLY])('terraform on %s (experiment 03, AWS DMS)', (stack) => {
  it('init -backend=false and validate pass offline with no errors or warnings', () => {
    const v = runs.get(stack)!.validate;
    expect(v.diagnostics).toEqual([]);
    expect(v).toMatchObject({ valid: true, error_count: 0, warning_count: 0 });
  });
});

describe('offline plan of 01-single-vpc-rds', () => {
  const stack = '01-single-vpc-rds';

  it("creates exactly the plan's resources plus the corrections", () => {
    expect(countByType(stack)).toEqual({
      aws_vpc: 1,
      aws_subnet: 3,
      aws_internet_gateway: 1,
      aws_route_table: 2,
      aws_route: 1,
      aws_route_table_association: 3,
      aws_security_group: 2,
      aws_vpc_security_group_ingress_rule: 3,
      aws_vpc_security_group_egress_rule: 4,
      aws_db_subnet_group: 1,
      aws_db_parameter_group: 1,
      aws_db_instance: 1,
      aws_iam_role: 1,
      aws_iam_role_policy: 2,
      aws_iam_role_policy_attachment: 1,
      aws_iam_instance_profile: 1,
      aws_instance: 1,
      aws_eip: 1,
    });
  });

  it('the planned RDS is private, encrypted, with a managed password and no password value', () => {
    const [db] = planned(stack, 'aws_db_instance');
    expect(db).toMatchObject({
      engine: 'postgres',
      engine_version: '17',
      instance_class: 'db.t3.micro',
      allocated_storage: 20,
      storage_type: 'gp3',
      multi_az: false,
      publicly_accessible: false,
      storage_encrypted: true,
      manage_master_user_password: true,
      backup_retention_period: 1,
      deletion_protection: false,
      skip_final_snapshot: true,
    });
    expect(db.password ?? null).toBeNull();
    expect(planned(stack, 'aws_db_parameter_group')[0].parameter).toEqual([
      { name: 'rds.logical_replication', value: '1', apply_method: 'pending-reboot' },
    ]);
  });

  it('the instance receives the user-data script byte for byte (Terraform stores its SHA-1) and requires IMDSv2', () => {
    const [vm] = planned(stack, 'aws_instance');
    const script = renderUserData({
      region: 'ap-northeast-2',
      repository: 'tasteam/pgshift',
      runnerLabel: 'pgshift-source',
      tokenParameter: '/pgshift/github-runner-registration-token',
      runnerVersion: '',
      pgClientMajor: '17',
      dockerExec: false,
    });
    expect(vm.user_data).toBe(createHash('sha1').update(script).digest('hex'));
    expect(vm.metadata_options).toEqual([
      expect.objectContaining({ http_tokens: 'required', http_endpoint: 'enabled', http_put_response_hop_limit: 1 }),
    ]);
    expect(vm.ami).toBe('ami-0123456789abcdef0');
  });

  it('no planned rule opens 22 or 5432 to the internet', () => {
    const world = [
      ...planned(stack, 'aws_vpc_security_group_ingress_rule'),
      ...planned(stack, 'aws_vpc_security_group_egress_rule'),
    ].filter((r) => r.cidr_ipv4 === '0.0.0.0/0');
    expect(world.map((r) => r.from_port).sort()).toEqual([443, 80]);
    expect(
      planned(stack, 'aws_vpc_security_group_ingress_rule')
        .filter((r) => r.from_port === 22)
        .map((r) => r.cidr_ipv4),
    ).toEqual(['203.0.113.0/24']);
  });

  it('outputs what is known before apply, and the rest after', () => {
    const outputs = runs.get(stack)!.plan.output_changes as Json;
    expect(outputs.rds_port.after).toBe(5432);
    expect(outputs.rds_identifier.after).toBe('pgshift-01-target');
    expect(outputs.psql_command.after_unknown).toBe(true);
    expect(Object.keys(outputs)).toHaveLength(11);
  });
});

describe('offline plan of production', () => {
  it('adds rules to the existing EC2 security group by id and places the DB subnets in the existing VPC', () => {
    const ingress = planned('production', 'aws_vpc_security_group_ingress_rule');
    expect(ingress.filter((r) => r.security_group_id === 'sg-0123456789abcdef0')).toEqual([
      expect.objectContaining({ from_port: 5432, to_port: 5432, ip_protocol: 'tcp' }),
    ]);
    expect(planned('production', 'aws_subnet').map((s) => s.vpc_id)).toEqual(['vpc-0123456789abcdef0', 'vpc-0123456789abcdef0']);
    expect(planned('production', 'aws_db_instance')[0]).toMatchObject({
      deletion_protection: true,
      skip_final_snapshot: false,
      final_snapshot_identifier: 'tasteam-v2-final',
      backup_retention_period: 7,
    });
    expect(countByType('production').aws_vpc).toBeUndefined();
  });
});

describe('offline plan of bootstrap', () => {
  it('creates the OIDC provider and the three roles', () => {
    expect(planned('bootstrap', 'aws_iam_openid_connect_provider')[0]).toMatchObject({
      url: 'https://token.actions.githubusercontent.com',
      client_id_list: ['sts.amazonaws.com'],
    });
    expect(
      planned('bootstrap', 'aws_iam_role')
        .map((r) => r.name)
        .sort(),
    ).toEqual(['dms-cloudwatch-logs-role', 'dms-vpc-role', 'pgshift-infra-apply', 'pgshift-infra-plan', 'pgshift-migration']);
  });
});

describe('the apply guard (infra/ci/check-plan.ts) on a real saved plan', () => {
  const checkPlan = (dir: string): { code: number; out: string } => {
    try {
      const out = execFileSync(tsx, [join(infraDir, 'ci', 'check-plan.ts'), '--plan', join(dir, 'plan.tfplan'), '--dir', dir], {
        env: tfEnv,
        encoding: 'utf8',
        stdio: 'pipe',
      });
      return { code: 0, out };
    } catch (err) {
      const e = err as { status: number; stderr: string };
      return { code: e.status, out: e.stderr };
    }
  };
  const copyOfExperiment = (): string => {
    const dir = mkdtempSync(join(tmpdir(), 'pgshift-guard-'));
    cpSync(runs.get('01-single-vpc-rds')!.dir, dir, { recursive: true, verbatimSymlinks: true });
    return dir;
  };

  it('passes while configuration and state are as planned', () => {
    expect(checkPlan(copyOfExperiment())).toEqual({ code: 0, out: 'plan is fresh: same configuration, state serial 0\n' });
  });

  it('refuses when the state moved, and so does terraform apply itself', async () => {
    const dir = copyOfExperiment();
    const state = (serial: number): string =>
      JSON.stringify({
        version: 4,
        terraform_version: '1.11.4',
        serial,
        lineage: '0f9a6e1c-5b7e-4d2a-9c1f-pgshift',
        outputs: {},
        resources: [],
        check_results: null,
      });
    // A plan made against an existing state (serial 3) is fresh while the state stays at serial 3...
    writeFileSync(join(dir, 'terraform.tfstate'), state(3));
    await terraform(dir, 'plan', '-input=false', '-no-color', '-lock=false', '-out=plan.tfplan');
    expect(checkPlan(dir)).toEqual({ code: 0, out: 'plan is fresh: same configuration, state serial 3\n' });
    // ...and refused once another apply wrote serial 4.
    writeFileSync(join(dir, 'terraform.tfstate'), state(4));
    const result = checkPlan(dir);
    expect(result.code).toBe(1);
    expect(result.out).toMatch(/refusing to apply: the state moved since the plan \(serial 3 -> 4\)/);
    await expect(terraform(dir, 'apply', '-input=false', '-no-color', '-lock=false', 'plan.tfplan')).rejects.toThrow(/Saved plan is stale/);
  });

  it('refuses when main synthesizes something other than what was reviewed', () => {
    const dir = copyOfExperiment();
    const config = JSON.parse(readFileSync(join(dir, 'cdk.tf.json'), 'utf8')) as Json;
    config.resource.aws_db_instance[Object.keys(config.resource.aws_db_instance)[0]!].instance_class = 'db.t3.small';
    writeFileSync(join(dir, 'cdk.tf.json'), JSON.stringify(config, null, 2));
    const result = checkPlan(dir);
    expect(result.code).toBe(1);
    expect(result.out).toMatch(/refusing to apply: the synthesized cdk\.tf\.json differs from the one that was planned and reviewed/);
  });
});

describe('offline plan of the cross-account stacks (experiment 02)', () => {
  /** Each planned resource's provider, as Terraform resolved the configuration ("aws.source" / "aws.target"). */
  const providerOf = (stack: string): Map<string, string> =>
    new Map(
      (runs.get(stack)!.plan.configuration.root_module.resources as Json[]).map((r) => [
        r.address as string,
        r.provider_config_key as string,
      ]),
    );
  const byType = (stack: string, type: string): string[] =>
    [...providerOf(stack).entries()].filter(([address]) => address.startsWith(`${type}.`)).map(([, provider]) => provider);

  it.each(['02-cross-account-peering', '02-cross-account-peering-production'])(
    '%s: RDS, its subnet group and the accepter in aws.target; the connection (and the EC2) in aws.source; nothing on a default provider',
    (stack) => {
      expect(byType(stack, 'aws_db_instance')).toEqual(['aws.target']);
      expect(byType(stack, 'aws_db_subnet_group')).toEqual(['aws.target']);
      expect(byType(stack, 'aws_vpc_peering_connection_accepter')).toEqual(['aws.target']);
      expect(byType(stack, 'aws_kms_key')).toEqual(['aws.target']);
      expect(byType(stack, 'aws_vpc_peering_connection')).toEqual(['aws.source']);
      expect(byType(stack, 'aws_vpc_peering_connection_options').sort()).toEqual(['aws.source', 'aws.target']);
      if (stack === '02-cross-account-peering') expect(byType(stack, 'aws_instance')).toEqual(['aws.source']);
      else expect(byType(stack, 'aws_instance')).toEqual([]);
      expect(new Set(providerOf(stack).values())).toEqual(new Set(['aws.source', 'aws.target']));
      const providers = runs.get(stack)!.plan.configuration.provider_config as Json;
      expect(providers['aws.source'].alias).toBe('source');
      expect(providers['aws.target'].alias).toBe('target');
    },
  );

  it("plans 02-cross-account-peering's peering the way it works across accounts", () => {
    const stack = '02-cross-account-peering';
    const [connection] = planned(stack, 'aws_vpc_peering_connection');
    expect(connection).toMatchObject({ peer_owner_id: '210987654321' });
    expect(connection.auto_accept ?? null).toBeNull();
    expect(connection.requester ?? []).toEqual([]);
    expect(connection.accepter ?? []).toEqual([]);
    expect(planned(stack, 'aws_vpc_peering_connection_accepter')[0]).toMatchObject({ auto_accept: true });
    expect(
      planned(stack, 'aws_subnet')
        .map((s) => s.availability_zone_id)
        .sort(),
    ).toEqual(['apne2-az2', 'apne2-az2', 'apne2-az4']);
    expect(planned(stack, 'aws_db_instance')[0]).toMatchObject({
      engine_version: '17',
      publicly_accessible: false,
      storage_encrypted: true,
    });
    expect(
      planned(stack, 'aws_route')
        .map((r) => r.destination_cidr_block)
        .sort(),
    ).toEqual(['0.0.0.0/0', '10.1.1.0/24', '10.2.10.0/24', '10.2.11.0/24']);
  });

  it('the production variant only adds to v1: routes in its route table, rules on its security group, no VPC in A', () => {
    const stack = '02-cross-account-peering-production';
    const inA = (type: string): Json[] =>
      changes(stack)
        .filter((r) => r.type === type && providerOf(stack).get(r.address) === 'aws.source')
        .map((r) => r.change.after);
    expect(inA('aws_route').map((r) => [r.route_table_id, r.destination_cidr_block])).toEqual([
      ['rtb-0123456789abcdef0', '10.3.10.0/24'],
      ['rtb-0123456789abcdef0', '10.3.11.0/24'],
    ]);
    expect(new Set(inA('aws_vpc_security_group_ingress_rule').map((r) => r.security_group_id))).toEqual(new Set(['sg-0123456789abcdef0']));
    expect(inA('aws_vpc_peering_connection')[0]).toMatchObject({ vpc_id: 'vpc-0123456789abcdef0', peer_owner_id: '210987654321' });
    expect(inA('aws_vpc')).toEqual([]);
    expect(planned(stack, 'aws_db_instance')[0]).toMatchObject({
      deletion_protection: true,
      final_snapshot_identifier: 'tasteam-v2-b-final',
    });
  });

  it("keeps B's role ARN out of the saved plan (ephemeral variable): plan and apply may pass different roles", () => {
    for (const stack of ['02-cross-account-peering', '02-cross-account-peering-production', 'bootstrap-target-account']) {
      const { dir, plan } = runs.get(stack)!;
      expect(plan.variables ?? {}).toEqual({});
      const saved = execFileSync('unzip', ['-p', join(dir, 'plan.tfplan'), 'tfplan']);
      const passed = roleVariableArgs(JSON.parse(readFileSync(join(dir, 'cdk.tf.json'), 'utf8')) as Json);
      expect(passed).toHaveLength(1);
      // The value given with -var is nowhere in the plan file, while the resources of account B are.
      expect(saved.includes(passed[0]!.split('=')[2]!)).toBe(false);
      expect(saved.includes('210987654321')).toBe(true);
    }
  });

  it("the pull-request comment names each change's account from the real plan (offline: the provider, as the pin is emptied)", () => {
    const md = renderPlanReport({
      stack: '02-cross-account-peering',
      plan: runs.get('02-cross-account-peering')!.plan,
      text: '',
      stacks: 4,
    });
    const rows = md.split('\n').filter((l) => l.startsWith('| `aws.'));
    expect(rows).toHaveLength(changes('02-cross-account-peering').length);
    expect(rows.find((l) => l.includes('`aws_db_instance.'))).toMatch(/^\| `aws\.target` \|/);
    expect(rows.find((l) => l.includes('`aws_vpc_peering_connection.'))).toMatch(/^\| `aws\.source` \|/);
  });

  it("bootstrap-target-account creates B's three roles", () => {
    expect(
      planned('bootstrap-target-account', 'aws_iam_role')
        .map((r) => r.name)
        .sort(),
    ).toEqual(['pgshift-infra-apply', 'pgshift-infra-plan', 'pgshift-runner-reader']);
  });
});
