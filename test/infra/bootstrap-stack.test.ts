// Bootstrap: the GitHub OIDC provider and the workflows' roles, each trusted only for exact
// `repo:<this repository>:environment:<name>` subjects — no other repository, branch or pull request.
import { describe, expect, it } from 'vitest';
import { exampleConfig, ofType, only, ref, synthesize, type Json } from './fixtures.js';

const tf = synthesize().bootstrap;
const roles = new Map(ofType(tf, 'aws_iam_role').map(([, r]) => [r.name as string, r]));
const trust = (name: string): Json => JSON.parse(roles.get(name)!.assume_role_policy).Statement;
const inline = (roleName: string): Json[] => {
  const roleRef = `\${aws_iam_role.${ofType(tf, 'aws_iam_role').find(([, r]) => r.name === roleName)![0]}.id}`;
  return ofType(tf, 'aws_iam_role_policy')
    .filter(([, p]) => p.role === roleRef)
    .flatMap(([, p]) => JSON.parse(p.policy).Statement);
};
const managed = (roleName: string): string[] => {
  const roleRef = `\${aws_iam_role.${ofType(tf, 'aws_iam_role').find(([, r]) => r.name === roleName)![0]}.name}`;
  return ofType(tf, 'aws_iam_role_policy_attachment')
    .filter(([, a]) => a.role === roleRef)
    .map(([, a]) => a.policy_arn);
};

describe('bootstrap stack', () => {
  it('creates the GitHub OIDC provider for sts.amazonaws.com', () => {
    expect(only(tf, 'aws_iam_openid_connect_provider')).toMatchObject({
      url: 'https://token.actions.githubusercontent.com',
      client_id_list: ['sts.amazonaws.com'],
    });
  });

  it("makes three roles: plan, apply, migration (and, with the example's dms block, DMS's two fixed-name service roles)", () => {
    expect([...roles.keys()].sort()).toEqual([
      'dms-cloudwatch-logs-role',
      'dms-vpc-role',
      'pgshift-infra-apply',
      'pgshift-infra-plan',
      'pgshift-migration',
    ]);
  });

  it('each role trusts only exact environment subjects of this repository, with the sts audience', () => {
    const provider = ref(tf, 'aws_iam_openid_connect_provider', () => true, 'arn');
    const expected: Record<string, string[]> = {
      'pgshift-infra-plan': ['infra-plan'],
      'pgshift-infra-apply': ['infra', 'infra-destroy'],
      'pgshift-migration': [
        'experiment',
        'experiment-cutover',
        'experiment-rollback',
        'production',
        'production-cutover',
        'production-rollback',
      ],
    };
    for (const [name, envs] of Object.entries(expected)) {
      expect(trust(name)).toEqual([
        {
          Effect: 'Allow',
          Principal: { Federated: provider },
          Action: 'sts:AssumeRoleWithWebIdentity',
          Condition: {
            StringEquals: {
              'token.actions.githubusercontent.com:aud': 'sts.amazonaws.com',
              'token.actions.githubusercontent.com:sub': envs.map((e) => `repo:tasteam/pgshift:environment:${e}`),
            },
          },
        },
      ]);
    }
    // No wildcard anywhere in a trust policy: StringLike with '*' would let any branch or fork in.
    for (const role of roles.values()) expect(role.assume_role_policy).not.toMatch(/\*|StringLike|pull_request|ref:refs/);
  });

  it('plan role: read-only, may read state and write only the lock file', () => {
    expect(managed('pgshift-infra-plan')).toEqual(['arn:aws:iam::aws:policy/ReadOnlyAccess']);
    const statements = inline('pgshift-infra-plan');
    expect(statements).toContainEqual(
      expect.objectContaining({ Action: ['s3:GetObject'], Resource: 'arn:aws:s3:::tasteam-terraform-state/v1-v2-migration/*' }),
    );
    expect(statements).toContainEqual(
      expect.objectContaining({
        Action: ['s3:PutObject', 's3:DeleteObject'],
        Resource: 'arn:aws:s3:::tasteam-terraform-state/v1-v2-migration/*.tflock',
      }),
    );
    // Beyond the state: assuming account B's read-only plan role (bootstrap-target-account), nothing else.
    expect(statements.find((s) => s.Sid === 'AssumeRoleInAccountB')).toEqual({
      Sid: 'AssumeRoleInAccountB',
      Effect: 'Allow',
      Action: ['sts:AssumeRole', 'sts:TagSession'],
      Resource: 'arn:aws:iam::210987654321:role/pgshift-infra-plan',
    });
    const writes = statements
      .filter((s) => s.Sid !== 'AssumeRoleInAccountB')
      .flatMap((s) => [s.Action].flat())
      .filter((a: string) => !/^(s3:GetObject|s3:ListBucket|s3:PutObject|s3:DeleteObject)$/.test(a));
    expect(writes).toEqual([]);
  });

  it("apply role: builds the stacks but can touch only the experiment's IAM names, never these roles", () => {
    const statements = inline('pgshift-infra-apply');
    const iam = statements.filter((s) =>
      [s.Action].flat().some((a: string) => a.startsWith('iam:') && a !== 'iam:CreateServiceLinkedRole'),
    );
    expect(iam.length).toBeGreaterThan(0);
    for (const s of iam) {
      for (const resource of [s.Resource].flat()) {
        // pgshift-01-*: experiment 01; pgshift-02-*: experiment 02's source host (crossAccount.experiment.name);
        // dms-vpc-role: the fixed name DMS looks up (experiment 03), passed only to dms.amazonaws.com.
        expect(resource).toMatch(/^arn:aws:iam::\*:((role|instance-profile)\/pgshift-0[12]-\*|role\/dms-vpc-role)$/);
        expect('pgshift-infra-apply').not.toMatch(new RegExp(`^${resource.split('/')[1].replace('*', '.*')}$`));
      }
    }
    expect(statements.find((s) => s.Sid === 'AttachOnlySessionManager')!.Condition).toEqual({
      ArnEquals: { 'iam:PolicyARN': 'arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore' },
    });
    expect(statements.find((s) => s.Sid === 'PassSourceHostRoleToEc2')!.Condition).toEqual({
      StringEquals: { 'iam:PassedToService': 'ec2.amazonaws.com' },
    });
    expect(managed('pgshift-infra-apply')).toEqual([]);
  });

  it('migration role: snapshots and secrets of the configured targets only', () => {
    const statements = inline('pgshift-migration');
    expect(statements.find((s) => s.Sid === 'SnapshotTargets')!.Resource).toEqual([
      'arn:aws:rds:ap-northeast-2:*:db:pgshift-01-target',
      'arn:aws:rds:ap-northeast-2:*:snapshot:pgshift-01-target-*',
      'arn:aws:rds:ap-northeast-2:*:db:tasteam-v2',
      'arn:aws:rds:ap-northeast-2:*:snapshot:tasteam-v2-*',
    ]);
    expect(statements.find((s) => s.Sid === 'ReadTargetsMasterSecrets')!.Condition).toEqual({
      StringLike: {
        'secretsmanager:ResourceTag/aws:rds:primaryDBInstanceArn': [
          'arn:aws:rds:ap-northeast-2:*:db:pgshift-01-target',
          'arn:aws:rds:ap-northeast-2:*:db:tasteam-v2',
        ],
      },
    });
  });

  it('uses an existing OIDC provider by ARN instead of creating a second one', () => {
    const arn = 'arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com';
    const existing = synthesize(
      exampleConfig((c) => {
        c.bootstrap.existingOidcProviderArn = arn;
      }),
    ).bootstrap;
    expect(ofType(existing, 'aws_iam_openid_connect_provider')).toEqual([]);
    for (const [, role] of ofType(existing, 'aws_iam_role').filter(([, r]) => !String(r.name).startsWith('dms-')))
      expect(JSON.parse(role.assume_role_policy).Statement[0].Principal.Federated).toBe(arn);
  });

  it('outputs the role ARNs for the repository variables', () => {
    expect(Object.keys(tf.output).sort()).toEqual(['apply_role_arn', 'github_oidc_provider_arn', 'migration_role_arn', 'plan_role_arn']);
    expect(tf.output.migration_role_arn.description).toContain('PGSHIFT_AWS_ROLE_ARN');
    expect(tf.terraform.backend.s3.key).toBe('v1-v2-migration/bootstrap/terraform.tfstate');
  });
});
