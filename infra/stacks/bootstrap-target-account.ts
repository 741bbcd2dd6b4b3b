// Bootstrap, account B's part: the roles that A's workflows and A's pgshift runner assume in B. B needs no
// GitHub OIDC provider: GitHub's token is exchanged in A, and A's roles assume these by ARN.
//   plan           read-only (ReadOnlyAccess), trusted by A's pgshift-infra-plan
//   apply          builds B's side of stack 02, trusted by A's pgshift-infra-apply
//   runner reader  RDS describe, the master secret (and its key), the pre-cutover snapshot; trusted by A's
//                  runner roles (the migration workflows' role, the source host's instance role)
// An administrator applies it by hand, once, with a role in B that can create IAM roles:
//   terraform apply -var target_admin_role_arn=arn:aws:iam::<B>:role/OrganizationAccountAccessRole
// The state stays in A's bucket, with the administrator's A credentials.
import type { Construct } from 'constructs';
import { TerraformOutput, TerraformStack } from 'cdktf';
import { AwsProvider } from '@cdktf/provider-aws/lib/provider/index.js';
import { IamRole } from '@cdktf/provider-aws/lib/iam-role/index.js';
import { IamRolePolicy } from '@cdktf/provider-aws/lib/iam-role-policy/index.js';
import { IamRolePolicyAttachment } from '@cdktf/provider-aws/lib/iam-role-policy-attachment/index.js';
import type { InfraConfig } from '../config.js';
import { CROSS_ACCOUNT_STACKS, type CrossAccountConfig } from '../cross-account-config.js';
import { crossAccountNamePrefixes, roleArn, runnerRoleArns, TARGET_ROLE_NAMES } from '../cross-account-roles.js';
import { stateBackend } from '../constructs/aws-stack-base.js';
import { targetRoleVariable } from '../constructs/account-providers.js';
import {
  policyDocument,
  type PolicyStatement,
  RDS_DESCRIBE_ACTIONS,
  rdsCreatesItsServiceRole,
  rdsManagedMasterSecret,
} from '../constructs/policy.js';
import { ROLE_NAMES } from './bootstrap.js';

export const ADMIN_ROLE_VARIABLE = 'target_admin_role_arn';

export class BootstrapTargetAccountStack extends TerraformStack {
  readonly plan: IamRole;
  readonly apply: IamRole;
  readonly runnerReader: IamRole;
  private readonly sourceAccountId: string;

  constructor(scope: Construct, config: InfraConfig, x: CrossAccountConfig) {
    super(scope, CROSS_ACCOUNT_STACKS.bootstrap);
    this.sourceAccountId = x.sourceAccountId;
    const admin = targetRoleVariable(this, x.targetAccountId, ADMIN_ROLE_VARIABLE);
    new AwsProvider(this, 'aws', {
      region: config.region,
      allowedAccountIds: [x.targetAccountId],
      assumeRole: [{ roleArn: admin.stringValue, sessionName: 'pgshift-bootstrap' }],
      defaultTags: [
        { tags: { ...config.tags, Stack: CROSS_ACCOUNT_STACKS.bootstrap, Account: x.targetAccountId, ManagedBy: 'pgshift-infra' } },
      ],
    });
    stateBackend(this, config, CROSS_ACCOUNT_STACKS.bootstrap);

    const { region } = config;
    const b = x.targetAccountId;
    const a = x.sourceAccountId;
    const prefixes = crossAccountNamePrefixes(config);
    const databases = [x.experiment.target.database.identifier, ...(x.production ? [x.production.target.database.identifier] : [])];
    const dbArns = databases.map((id) => `arn:aws:rds:${region}:${b}:db:${id}`);

    this.plan = this.role(
      'plan',
      TARGET_ROLE_NAMES.plan,
      "pgshift infra-plan in account A: read-only plan of B's side of the cross-account stacks",
      [roleArn(a, ROLE_NAMES.plan)],
    );
    new IamRolePolicyAttachment(this, 'plan-read-only', { role: this.plan.name, policyArn: 'arn:aws:iam::aws:policy/ReadOnlyAccess' });

    this.apply = this.role(
      'apply',
      TARGET_ROLE_NAMES.apply,
      "pgshift infra-apply/destroy in account A: builds B's side of the cross-account stacks",
      [roleArn(a, ROLE_NAMES.apply)],
    );
    this.inline('apply', this.apply, 'build-target-side', [
      // B's side: a VPC, subnets, routes, the peering's accepter and options, security groups, RDS.
      { Sid: 'NetworkAndDatabase', Effect: 'Allow', Action: ['ec2:*', 'rds:*'], Resource: '*' },
      rdsCreatesItsServiceRole,
      rdsManagedMasterSecret(region, b),
      // The master secret's customer-managed key. CreateKey has no resource to scope; the key's own policy
      // (account root + A's runner) is what the stack writes, and aliases stay within the stacks' names.
      {
        Sid: 'MasterSecretKeys',
        Effect: 'Allow',
        Action: [
          'kms:CreateKey',
          'kms:DescribeKey',
          'kms:GetKeyPolicy',
          'kms:PutKeyPolicy',
          'kms:GetKeyRotationStatus',
          'kms:EnableKeyRotation',
          'kms:ListResourceTags',
          'kms:TagResource',
          'kms:UntagResource',
          'kms:ScheduleKeyDeletion',
          'kms:ListAliases',
          // RDS and Secrets Manager encrypt the secret with the key on the caller's behalf.
          'kms:CreateGrant',
          'kms:Encrypt',
          'kms:Decrypt',
          'kms:GenerateDataKey',
        ],
        Resource: '*',
      },
      {
        Sid: 'MasterSecretKeyAliases',
        Effect: 'Allow',
        Action: ['kms:CreateAlias', 'kms:DeleteAlias', 'kms:UpdateAlias'],
        Resource: [...prefixes.map((p) => `arn:aws:kms:${region}:${b}:alias/${p}*`), `arn:aws:kms:${region}:${b}:key/*`],
      },
    ]);

    this.runnerReader = this.role(
      'runner-reader',
      TARGET_ROLE_NAMES.runnerReader,
      'pgshift runner in account A: the RDS endpoint, the master secret and the pre-cutover snapshot in B',
      runnerRoleArns(x),
    );
    this.inline('runner-reader', this.runnerReader, 'pgshift-target-lookups', [
      {
        Sid: 'DescribeRds',
        Effect: 'Allow',
        Action: RDS_DESCRIBE_ACTIONS,
        Resource: '*',
      },
      {
        // RDS tags its managed secret with the instance's ARN: only the targets' secrets are readable.
        Sid: 'ReadTargetsMasterSecrets',
        Effect: 'Allow',
        Action: ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'],
        Resource: `arn:aws:secretsmanager:${region}:${b}:secret:rds!*`,
        Condition: { StringEquals: { 'secretsmanager:ResourceTag/aws:rds:primaryDBInstanceArn': dbArns } },
      },
      {
        Sid: 'DecryptThroughSecretsManager',
        Effect: 'Allow',
        Action: ['kms:Decrypt'],
        Resource: `arn:aws:kms:${region}:${b}:key/*`,
        Condition: { StringEquals: { 'kms:ViaService': `secretsmanager.${region}.amazonaws.com` } },
      },
      {
        Sid: 'SnapshotTargetsBeforeCutover',
        Effect: 'Allow',
        Action: ['rds:CreateDBSnapshot', 'rds:AddTagsToResource'],
        Resource: databases.flatMap((id) => [`arn:aws:rds:${region}:${b}:db:${id}`, `arn:aws:rds:${region}:${b}:snapshot:${id}-*`]),
      },
    ]);

    const out = (id: string, value: string, description: string): void => {
      new TerraformOutput(this, id, { value, description });
    };
    out('target_plan_role_arn', this.plan.arn, 'Repository variable PGSHIFT_TARGET_PLAN_ROLE_ARN');
    out('target_apply_role_arn', this.apply.arn, 'Repository variable PGSHIFT_TARGET_APPLY_ROLE_ARN');
    out(
      'target_reader_role_arn',
      this.runnerReader.arn,
      'Repository variable PGSHIFT_AWS_TARGET_ROLE_ARN (aws-target-role-arn of the pgshift actions)',
    );
  }

  /**
   * A role in B that trusts exactly the given roles of account A. The principal is A's account with an
   * aws:PrincipalArn condition rather than the role ARNs themselves: IAM refuses a trust policy naming a
   * role that does not exist yet (the source host's role is created later, by stack 02), and rewrites a
   * named role to its internal id, so a re-created role in A would silently lose access.
   * sts:TagSession: aws-actions/configure-aws-credentials with `role-chaining: true` tags the session.
   */
  private role(id: string, name: string, description: string, trusted: string[]): IamRole {
    return new IamRole(this, id, {
      name,
      description,
      // A chained session (assumed from another role's session) is capped at one hour whatever this says.
      maxSessionDuration: 3600,
      assumeRolePolicy: policyDocument([
        {
          Effect: 'Allow',
          Principal: { AWS: `arn:aws:iam::${this.sourceAccountId}:root` },
          Action: ['sts:AssumeRole', 'sts:TagSession'],
          Condition: { ArnEquals: { 'aws:PrincipalArn': trusted } },
        },
      ]),
    });
  }

  private inline(id: string, role: IamRole, name: string, statements: PolicyStatement[]): void {
    new IamRolePolicy(this, `${id}-${name}`, { name, role: role.id, policy: policyDocument(statements) });
  }
}
