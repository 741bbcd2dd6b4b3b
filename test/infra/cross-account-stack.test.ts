// Experiment 02 as synthesized: one stack, two providers (A = source, B = target), the peering built the way
// it works across accounts, CIDR rules only, subnets by zone id — and account B's bootstrap roles.
import { Testing } from 'cdktf';
import { describe, expect, it } from 'vitest';
import { buildApp } from '../../infra/app.js';
import type { InfraConfig } from '../../infra/config.js';
import { guardrailViolations } from '../../infra/guardrails.js';
import { exampleConfig, ofType, only, type Json } from './fixtures.js';

const A = '123456789012';
const B = '210987654321';

function synthCrossAccount(config: InfraConfig = exampleConfig()): { experiment: Json; production?: Json; bootstrapB: Json } {
  const built = buildApp(config, Testing.app());
  const x = built.crossAccount!;
  return {
    experiment: JSON.parse(Testing.synth(x.experiment)) as Json,
    production: x.production === undefined ? undefined : (JSON.parse(Testing.synth(x.production)) as Json),
    bootstrapB: JSON.parse(Testing.synth(x.bootstrap)) as Json,
  };
}

const synthesized = synthCrossAccount();
const experiment = synthesized.experiment;
const production = synthesized.production!;

/** Every resource of a stack as [type.name, body]. */
const allResources = (doc: Json): Array<[string, Json]> =>
  Object.entries<Json>(doc.resource ?? {}).flatMap(([type, byName]) =>
    Object.entries<Json>(byName).map(([name, body]) => [`${type}.${name}`, body] as [string, Json]),
  );
const providerOf = (doc: Json, type: string): string[] => ofType(doc, type).map(([, r]) => r.provider);
const refTo = (doc: Json, type: string, attr = 'id'): string => `\${${type}.${ofType(doc, type)[0]![0]}.${attr}}`;

describe.each([
  ['02-cross-account-peering', experiment],
  ['02-cross-account-peering-production', production],
])('%s', (_name, tf) => {
  it('has two AWS providers, source pinned to account A and target to account B through an assumed role', () => {
    const providers = tf.provider.aws as Json[];
    expect(providers.map((p) => p.alias)).toEqual(['source', 'target']);
    expect(providers[0]).toMatchObject({ allowed_account_ids: [A], region: 'ap-northeast-2' });
    expect(providers[0].assume_role).toBeUndefined();
    expect(providers[1]).toMatchObject({
      allowed_account_ids: [B],
      assume_role: [{ role_arn: '${var.target_role_arn}', session_name: 'pgshift-infra' }],
    });
    // Ephemeral: not frozen into the saved plan; plan and apply pass different roles, the JSON is the same.
    expect(tf.variable.target_role_arn).toMatchObject({ ephemeral: true, type: 'string', nullable: false });
    expect(tf.variable.target_role_arn.validation[0].condition).toContain(`:iam::${B}:role/`);
    expect(tf.terraform.required_version).toBe('>= 1.10.0');
  });

  it('names a provider on every resource', () => {
    const resources = allResources(tf);
    expect(resources.length).toBeGreaterThan(15);
    for (const [address, body] of resources) expect(['aws.source', 'aws.target'], address).toContain(body.provider);
  });

  it('requests the peering from A without auto_accept or inline options, and accepts it in B', () => {
    const requester = only(tf, 'aws_vpc_peering_connection');
    expect(requester.provider).toBe('aws.source');
    expect(requester.peer_owner_id).toBe(B);
    expect(requester).not.toHaveProperty('auto_accept');
    expect(requester).not.toHaveProperty('requester');
    expect(requester).not.toHaveProperty('accepter');
    expect(requester).not.toHaveProperty('peer_region');
    const accepter = only(tf, 'aws_vpc_peering_connection_accepter');
    expect(accepter).toMatchObject({
      provider: 'aws.target',
      auto_accept: true,
      vpc_peering_connection_id: refTo(tf, 'aws_vpc_peering_connection'),
    });
    expect(requester.peer_vpc_id).toBe(`\${aws_vpc.${bVpcName(tf)}.id}`);
  });

  it('sets the DNS option on each side in its own account, both referencing the accepter (options need an active peering)', () => {
    const options = ofType(tf, 'aws_vpc_peering_connection_options').map(([, o]) => o);
    const accepterId = refTo(tf, 'aws_vpc_peering_connection_accepter');
    expect(options).toHaveLength(2);
    for (const o of options) expect(o.vpc_peering_connection_id).toBe(accepterId);
    expect(options.find((o) => o.provider === 'aws.source')).toMatchObject({ requester: { allow_remote_vpc_dns_resolution: true } });
    expect(options.find((o) => o.provider === 'aws.source')).not.toHaveProperty('accepter');
    expect(options.find((o) => o.provider === 'aws.target')).toMatchObject({ accepter: { allow_remote_vpc_dns_resolution: true } });
    expect(options.find((o) => o.provider === 'aws.target')).not.toHaveProperty('requester');
  });

  it("routes each side to the peer's CIDRs through the peering", () => {
    const accepterId = refTo(tf, 'aws_vpc_peering_connection_accepter');
    const peeringRoutes = ofType(tf, 'aws_route')
      .map(([, r]) => r)
      .filter((r) => r.vpc_peering_connection_id !== undefined);
    for (const r of peeringRoutes) expect(r.vpc_peering_connection_id).toBe(accepterId);
    const inA = peeringRoutes.filter((r) => r.provider === 'aws.source').map((r) => r.destination_cidr_block);
    const inB = peeringRoutes.filter((r) => r.provider === 'aws.target').map((r) => r.destination_cidr_block);
    const dbSubnets = ofType(tf, 'aws_subnet')
      .filter(([, s]) => s.provider === 'aws.target')
      .map(([, s]) => s.cidr_block);
    expect(inA.sort()).toEqual(dbSubnets.sort());
    expect(inB).toEqual([tf === experiment ? '10.1.1.0/24' : '172.31.0.0/16']);
    const bTable = ofType(tf, 'aws_route_table').find(([, t]) => t.provider === 'aws.target')!;
    for (const r of peeringRoutes.filter((r) => r.provider === 'aws.target'))
      expect(r.route_table_id).toBe(`\${aws_route_table.${bTable[0]}.id}`);
  });

  it("B's VPC has DNS support and hostnames; its DB subnets are placed by zone id, not name", () => {
    const bVpc = ofType(tf, 'aws_vpc').find(([, v]) => v.provider === 'aws.target')![1];
    expect(bVpc).toMatchObject({ enable_dns_support: true, enable_dns_hostnames: true });
    for (const [, s] of ofType(tf, 'aws_subnet')) {
      expect(s.availability_zone_id).toMatch(/^apne2-az\d$/);
      expect(s).not.toHaveProperty('availability_zone');
    }
    expect(only(tf, 'aws_db_subnet_group').subnet_ids).toHaveLength(2);
  });

  it('opens 5432 only between the source and the DB subnets, by CIDR: no 0.0.0.0/0 on 22 or 5432, no group reference across accounts', () => {
    const rules = [...ofType(tf, 'aws_vpc_security_group_ingress_rule'), ...ofType(tf, 'aws_vpc_security_group_egress_rule')].map(
      ([, r]) => r,
    );
    for (const r of rules) {
      if (r.from_port <= 5432 && r.to_port >= 5432) expect(r.cidr_ipv4).not.toBe('0.0.0.0/0');
      if (r.from_port <= 22 && r.to_port >= 22) expect(r.cidr_ipv4).not.toBe('0.0.0.0/0');
      expect(r).not.toHaveProperty('referenced_security_group_id');
    }
    const pg = rules.filter((r) => r.from_port === 5432);
    // A in + A out per DB subnet (2 × 2), B in + B out per source CIDR (1 × 2).
    expect(pg.length).toBe(6);
    const bSubnets = ofType(tf, 'aws_subnet')
      .filter(([, s]) => s.provider === 'aws.target')
      .map(([, s]) => s.cidr_block);
    for (const r of pg.filter((r) => r.provider === 'aws.source')) expect(bSubnets).toContain(r.cidr_ipv4);
    expect(guardrailViolations(tf)).toEqual([]);
  });

  it('keeps the master secret under a customer-managed key that A’s runner roles may use through Secrets Manager only', () => {
    const key = only(tf, 'aws_kms_key');
    expect(key.provider).toBe('aws.target');
    expect(key.enable_key_rotation).toBe(true);
    const statements = JSON.parse(key.policy).Statement as Json[];
    const runner = statements.find((s) => s.Sid === 'AccountARunnerReadsTheMasterSecret')!;
    expect(runner).toMatchObject({
      Principal: { AWS: `arn:aws:iam::${A}:root` },
      Action: ['kms:Decrypt', 'kms:DescribeKey'],
      Condition: {
        ArnEquals: { 'aws:PrincipalArn': [`arn:aws:iam::${A}:role/pgshift-migration`, `arn:aws:iam::${A}:role/pgshift-02-source`] },
        StringEquals: { 'kms:ViaService': 'secretsmanager.ap-northeast-2.amazonaws.com' },
      },
    });
    const db = only(tf, 'aws_db_instance');
    expect(db).toMatchObject({
      provider: 'aws.target',
      engine_version: '17',
      publicly_accessible: false,
      storage_encrypted: true,
      manage_master_user_password: true,
      master_user_secret_kms_key_id: refTo(tf, 'aws_kms_key', 'arn'),
    });
    expect(only(tf, 'aws_db_parameter_group').parameter).toContainEqual(
      expect.objectContaining({ name: 'rds.logical_replication', value: '1' }),
    );
  });
});

function bVpcName(tf: Json): string {
  return ofType(tf, 'aws_vpc').find(([, v]) => v.provider === 'aws.target')![0];
}

describe('guardrail: no security-group reference across accounts', () => {
  it('refuses a rule naming <account>/sg-… (on every synth), and passes the synthesized stacks', () => {
    const broken = structuredClone(experiment);
    const [name] = ofType(broken, 'aws_vpc_security_group_ingress_rule')[0]!;
    const rule = broken.resource.aws_vpc_security_group_ingress_rule[name];
    delete rule.cidr_ipv4;
    rule.referenced_security_group_id = `${B}/sg-0123456789abcdef0`;
    expect(guardrailViolations(broken)).toEqual([
      {
        resource: `aws_vpc_security_group_ingress_rule.${name}`,
        rule: `references security group ${B}/sg-0123456789abcdef0 in another account; use the peer's CIDRs instead`,
      },
    ]);
    for (const tf of [experiment, production, synthesized.bootstrapB]) expect(guardrailViolations(tf)).toEqual([]);
  });
});

describe('02-cross-account-peering (experiment)', () => {
  it('builds A like experiment 01 (VPC 10.1.0.0/16 with DNS, the source EC2) and B a VPC 10.2.0.0/16', () => {
    const vpcs = ofType(experiment, 'aws_vpc').map(([, v]) => [v.provider, v.cidr_block, v.enable_dns_support, v.enable_dns_hostnames]);
    expect(vpcs).toEqual(
      expect.arrayContaining([
        ['aws.source', '10.1.0.0/16', true, true],
        ['aws.target', '10.2.0.0/16', true, true],
      ]),
    );
    expect(providerOf(experiment, 'aws_instance')).toEqual(['aws.source']);
    expect(only(experiment, 'aws_instance').metadata_options.http_tokens).toBe('required');
    expect(only(experiment, 'aws_db_instance')).toMatchObject({ deletion_protection: false, skip_final_snapshot: true });
  });

  it("lets the source host's role assume B's runner reader role", () => {
    const policies = ofType(experiment, 'aws_iam_role_policy').map(([, p]) => JSON.parse(p.policy).Statement as Json[]);
    expect(policies.flat()).toContainEqual(
      expect.objectContaining({ Action: ['sts:AssumeRole', 'sts:TagSession'], Resource: `arn:aws:iam::${B}:role/pgshift-runner-reader` }),
    );
    expect(only(experiment, 'aws_iam_role').name).toBe('pgshift-02-source');
  });

  it('outputs the endpoint, the secret, and the reader role the actions take as aws-target-role-arn', () => {
    expect(experiment.output.target_reader_role_arn.value).toBe(`arn:aws:iam::${B}:role/pgshift-runner-reader`);
    expect(Object.keys(experiment.output)).toEqual(
      expect.arrayContaining(['rds_endpoint', 'rds_master_secret_arn', 'peering_connection_id']),
    );
    expect(experiment.terraform.backend.s3.key).toBe('v1-v2-migration/02-cross-account-peering/terraform.tfstate');
  });
});

describe('02-cross-account-peering-production (v1 network in A)', () => {
  it("references v1's VPC, security group and route tables by id and creates nothing but peering pieces in A", () => {
    const inA = allResources(production)
      .filter(([, r]) => r.provider === 'aws.source')
      .map(([address]) => address.split('.')[0]);
    expect(new Set(inA)).toEqual(
      new Set([
        'aws_vpc_peering_connection',
        'aws_vpc_peering_connection_options',
        'aws_route',
        'aws_vpc_security_group_ingress_rule',
        'aws_vpc_security_group_egress_rule',
      ]),
    );
    expect(only(production, 'aws_vpc_peering_connection').vpc_id).toBe('vpc-0123456789abcdef0');
    expect(
      ofType(production, 'aws_route')
        .filter(([, r]) => r.provider === 'aws.source')
        .map(([, r]) => r.route_table_id),
    ).toEqual(['rtb-0123456789abcdef0', 'rtb-0123456789abcdef0']);
    expect(
      new Set(
        ofType(production, 'aws_vpc_security_group_ingress_rule')
          .filter(([, r]) => r.provider === 'aws.source')
          .map(([, r]) => r.security_group_id),
      ),
    ).toEqual(new Set(['sg-0123456789abcdef0']));
  });

  it('gives RDS in B the production profile', () => {
    expect(only(production, 'aws_db_instance')).toMatchObject({
      identifier: 'tasteam-v2-b',
      deletion_protection: true,
      skip_final_snapshot: false,
      final_snapshot_identifier: 'tasteam-v2-b-final',
      backup_retention_period: 7,
    });
    expect(only(production, 'aws_kms_key').deletion_window_in_days).toBe(30);
  });

  it('is synthesized only when crossAccount has a production section', () => {
    const without = synthCrossAccount(
      exampleConfig((c) => {
        delete c.crossAccount.production;
      }),
    );
    expect(without.production).toBeUndefined();
  });
});

describe('bootstrap-target-account (account B)', () => {
  const tf = synthesized.bootstrapB;
  const roles = new Map(ofType(tf, 'aws_iam_role').map(([name, r]) => [r.name as string, { ...r, logical: name } as Json]));
  const trust = (role: string): Json[] => JSON.parse(roles.get(role)!.assume_role_policy).Statement;
  const inline = (role: string): Json[] =>
    ofType(tf, 'aws_iam_role_policy')
      .filter(([, p]) => p.role === `\${aws_iam_role.${roles.get(role)!.logical}.id}`)
      .flatMap(([, p]) => JSON.parse(p.policy).Statement);

  it('works in account B only, through an administrator role given at apply time, with its state in A’s bucket', () => {
    expect(tf.provider.aws[0]).toMatchObject({ allowed_account_ids: [B], assume_role: [{ role_arn: '${var.target_admin_role_arn}' }] });
    expect(tf.variable.target_admin_role_arn.ephemeral).toBe(true);
    expect(tf.terraform.backend.s3).toMatchObject({
      bucket: 'tasteam-terraform-state',
      key: 'v1-v2-migration/bootstrap-target-account/terraform.tfstate',
    });
    expect(ofType(tf, 'aws_iam_openid_connect_provider')).toEqual([]);
  });

  it('creates the plan, apply and runner reader roles, each trusting exactly its roles in A by ARN, with sts:TagSession', () => {
    expect([...roles.keys()].sort()).toEqual(['pgshift-infra-apply', 'pgshift-infra-plan', 'pgshift-runner-reader']);
    const trusted: Record<string, string[]> = {
      'pgshift-infra-plan': [`arn:aws:iam::${A}:role/pgshift-infra-plan`],
      'pgshift-infra-apply': [`arn:aws:iam::${A}:role/pgshift-infra-apply`],
      'pgshift-runner-reader': [`arn:aws:iam::${A}:role/pgshift-migration`, `arn:aws:iam::${A}:role/pgshift-02-source`],
    };
    for (const [role, arns] of Object.entries(trusted)) {
      expect(trust(role)).toEqual([
        {
          Effect: 'Allow',
          Principal: { AWS: `arn:aws:iam::${A}:root` },
          Action: ['sts:AssumeRole', 'sts:TagSession'],
          Condition: { ArnEquals: { 'aws:PrincipalArn': arns } },
        },
      ]);
      expect(roles.get(role)!.max_session_duration).toBe(3600);
      expect(roles.get(role)!.assume_role_policy).not.toMatch(/\*/);
    }
  });

  it('plan is read-only; apply is limited to the stacks’ KMS alias names; the reader reads only the targets', () => {
    expect(ofType(tf, 'aws_iam_role_policy_attachment').map(([, a]) => [a.role, a.policy_arn])).toEqual([
      [`\${aws_iam_role.${roles.get('pgshift-infra-plan')!.logical}.name}`, 'arn:aws:iam::aws:policy/ReadOnlyAccess'],
    ]);
    expect(inline('pgshift-infra-plan')).toEqual([]);
    const aliases = inline('pgshift-infra-apply').find((s) => s.Sid === 'MasterSecretKeyAliases')!;
    // The name patterns cover both cross-account stacks' names (pgshift-02-…, pgshift-prod-b-…).
    expect(aliases.Resource).toEqual([
      `arn:aws:kms:ap-northeast-2:${B}:alias/pgshift-02-*`,
      `arn:aws:kms:ap-northeast-2:${B}:alias/pgshift-prod-b-*`,
      `arn:aws:kms:ap-northeast-2:${B}:key/*`,
    ]);
    expect(inline('pgshift-infra-apply').flatMap((s) => [s.Action].flat())).not.toContain('iam:CreateRole');
    const reader = inline('pgshift-runner-reader');
    expect(reader.find((s) => s.Sid === 'ReadTargetsMasterSecrets')!.Condition).toEqual({
      StringEquals: {
        'secretsmanager:ResourceTag/aws:rds:primaryDBInstanceArn': [
          `arn:aws:rds:ap-northeast-2:${B}:db:pgshift-02-target`,
          `arn:aws:rds:ap-northeast-2:${B}:db:tasteam-v2-b`,
        ],
      },
    });
    expect(reader.find((s) => s.Sid === 'DecryptThroughSecretsManager')!.Condition).toEqual({
      StringEquals: { 'kms:ViaService': 'secretsmanager.ap-northeast-2.amazonaws.com' },
    });
    expect(
      reader
        .flatMap((s) => [s.Action].flat())
        .filter(
          (a: string) => !/^(rds:Describe|secretsmanager:(Get|Describe)|kms:Decrypt$|rds:CreateDBSnapshot$|rds:AddTagsToResource$)/.test(a),
        ),
    ).toEqual([]);
  });

  it('extra runner roles from the config (v1 EC2) join the reader role’s trust and the key policy', () => {
    const extra = `arn:aws:iam::${A}:role/v1-ec2-role`;
    const withExtra = synthCrossAccount(
      exampleConfig((c) => {
        c.crossAccount.runnerRoleArns = [extra];
      }),
    );
    const readerRole = ofType(withExtra.bootstrapB, 'aws_iam_role').find(([, r]) => r.name === 'pgshift-runner-reader')![1];
    expect(JSON.parse(readerRole.assume_role_policy).Statement[0].Condition.ArnEquals['aws:PrincipalArn']).toContain(extra);
    expect(only(withExtra.production!, 'aws_kms_key').policy).toContain(extra);
  });
});

describe("account A's bootstrap, with a crossAccount section", () => {
  it('lets A’s plan, apply and migration roles assume exactly their counterparts in B', () => {
    const built = buildApp(exampleConfig(), Testing.app());
    const tf = JSON.parse(Testing.synth(built.bootstrap)) as Json;
    const roleName = (ref: string): string => {
      const logical = /aws_iam_role\.([^.]+)\./.exec(ref)![1]!;
      return tf.resource.aws_iam_role[logical].name;
    };
    const grants = ofType(tf, 'aws_iam_role_policy')
      .filter(([, p]) => p.name === 'assume-target-account')
      .map(([, p]) => [roleName(p.role), JSON.parse(p.policy).Statement[0].Resource]);
    expect(grants.sort()).toEqual([
      ['pgshift-infra-apply', `arn:aws:iam::${B}:role/pgshift-infra-apply`],
      ['pgshift-infra-plan', `arn:aws:iam::${B}:role/pgshift-infra-plan`],
      ['pgshift-migration', `arn:aws:iam::${B}:role/pgshift-runner-reader`],
    ]);
    // The apply role is the first role of a chained session: it must outlive a 90-minute apply job.
    const apply = ofType(tf, 'aws_iam_role').find(([, r]) => r.name === 'pgshift-infra-apply')![1];
    expect(apply.max_session_duration).toBe(7200);
  });
});
