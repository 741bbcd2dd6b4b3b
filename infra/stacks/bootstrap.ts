// Bootstrap: what the workflows need before they can touch AWS at all — the GitHub OIDC provider and three
// roles, each trusted only for this repository's named environments:
//   plan       (environment infra-plan, no reviewers): read-only, plus the state lock file
//   apply      (environments infra / infra-destroy, required reviewers): builds the stacks
//   migration  (the migration workflows' environments): RDS lookups, snapshots, the managed secret, AMIs
// An administrator applies this stack once by hand (it creates the roles the workflows would need to apply it).
import type { Construct } from 'constructs';
import { TerraformOutput, TerraformStack } from 'cdktf';
import { STACKS, type InfraConfig } from '../config.js';
import { awsProvider, stateBackend } from '../constructs/aws-stack-base.js';
import { GitHubOidcProvider, WorkflowRole } from '../constructs/github-oidc.js';
import { type PolicyStatement, RDS_DESCRIBE_ACTIONS, rdsCreatesItsServiceRole, rdsManagedMasterSecret } from '../constructs/policy.js';
import { grantTargetAccountRoles } from '../constructs/target-account-grants.js';
import { dmsApplyStatements, dmsMigrationStatements, dmsServiceRoles } from './bootstrap-dms.js';

export const ROLE_NAMES = { plan: 'pgshift-infra-plan', apply: 'pgshift-infra-apply', migration: 'pgshift-migration' } as const;

export class BootstrapStack extends TerraformStack {
  readonly plan: WorkflowRole;
  readonly apply: WorkflowRole;
  readonly migration: WorkflowRole;

  constructor(scope: Construct, config: InfraConfig) {
    super(scope, STACKS.bootstrap);
    awsProvider(this, config, { Stack: STACKS.bootstrap });
    stateBackend(this, config, STACKS.bootstrap);

    const { bucket, keyPrefix } = config.state;
    const { region } = config;
    const repository = config.github.repository;
    const oidc = new GitHubOidcProvider(this, 'github-oidc', config.bootstrap.existingOidcProviderArn);
    const stateObjects = `arn:aws:s3:::${bucket}/${keyPrefix}/*`;
    const listState: PolicyStatement = {
      Sid: 'ListStateBucket',
      Effect: 'Allow',
      Action: ['s3:ListBucket'],
      Resource: `arn:aws:s3:::${bucket}`,
    };

    this.plan = new WorkflowRole(this, 'plan', {
      name: ROLE_NAMES.plan,
      description: 'pgshift infra-plan workflow: read-only plan of the infrastructure stacks',
      providerArn: oidc.arn,
      repository,
      environments: [config.bootstrap.planEnvironment],
      managedPolicyArns: ['arn:aws:iam::aws:policy/ReadOnlyAccess'],
      inlinePolicies: {
        'terraform-state-read': [
          listState,
          { Sid: 'ReadState', Effect: 'Allow', Action: ['s3:GetObject'], Resource: stateObjects },
          // A plan takes the lock too; the lock file is the only object it may write.
          {
            Sid: 'StateLockFile',
            Effect: 'Allow',
            Action: ['s3:PutObject', 's3:DeleteObject'],
            Resource: `arn:aws:s3:::${bucket}/${keyPrefix}/*.tflock`,
          },
        ],
      },
    });

    // Resources the stacks create under IAM all carry the experiment's name prefix; the apply role can touch
    // no other role — in particular not these three, so it cannot widen its own trust or permissions.
    // Stack 02 (cross-account) names its source host role `<crossAccount.experiment.name>-source`.
    const iamPrefixes = [config.experiment.name, ...(config.crossAccount ? [config.crossAccount.experiment.name] : [])].map((n) => `${n}-`);
    const dbIdentifiers = [config.experiment.database.identifier, ...(config.production ? [config.production.database.identifier] : [])];
    this.apply = new WorkflowRole(this, 'apply', {
      name: ROLE_NAMES.apply,
      description: 'pgshift infra-apply/destroy workflows: apply reviewed plans of the infrastructure stacks',
      providerArn: oidc.arn,
      repository,
      environments: config.bootstrap.applyEnvironments,
      // The first role of a cross-account apply: Terraform re-assumes B's role (chained sessions last at
      // most one hour) from this session, so it must outlive the apply job (timeout 90 minutes).
      maxSessionDuration: 7200,
      inlinePolicies: {
        'terraform-state-write': [
          listState,
          { Sid: 'ReadWriteState', Effect: 'Allow', Action: ['s3:GetObject', 's3:PutObject', 's3:DeleteObject'], Resource: stateObjects },
        ],
        'build-stacks': [
          { Sid: 'NetworkComputeDatabase', Effect: 'Allow', Action: ['ec2:*', 'rds:*'], Resource: '*' },
          rdsCreatesItsServiceRole,
          rdsManagedMasterSecret(region, '*'),
          { Sid: 'DefaultKmsKeys', Effect: 'Allow', Action: ['kms:DescribeKey'], Resource: '*' },
          {
            Sid: 'SourceHostRoleAndProfile',
            Effect: 'Allow',
            Action: [
              'iam:CreateRole',
              'iam:DeleteRole',
              'iam:GetRole',
              'iam:UpdateRole',
              'iam:UpdateRoleDescription',
              'iam:UpdateAssumeRolePolicy',
              'iam:TagRole',
              'iam:UntagRole',
              'iam:PutRolePolicy',
              'iam:GetRolePolicy',
              'iam:DeleteRolePolicy',
              'iam:ListRolePolicies',
              'iam:ListAttachedRolePolicies',
              'iam:ListInstanceProfilesForRole',
              'iam:CreateInstanceProfile',
              'iam:DeleteInstanceProfile',
              'iam:GetInstanceProfile',
              'iam:AddRoleToInstanceProfile',
              'iam:RemoveRoleFromInstanceProfile',
              'iam:TagInstanceProfile',
              'iam:UntagInstanceProfile',
            ],
            Resource: iamPrefixes.flatMap((p) => [`arn:aws:iam::*:role/${p}*`, `arn:aws:iam::*:instance-profile/${p}*`]),
          },
          {
            // Only Session Manager's policy may be attached: attaching AdministratorAccess would be a way out.
            Sid: 'AttachOnlySessionManager',
            Effect: 'Allow',
            Action: ['iam:AttachRolePolicy', 'iam:DetachRolePolicy'],
            Resource: iamPrefixes.map((p) => `arn:aws:iam::*:role/${p}*`),
            Condition: { ArnEquals: { 'iam:PolicyARN': 'arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore' } },
          },
          {
            Sid: 'PassSourceHostRoleToEc2',
            Effect: 'Allow',
            Action: ['iam:PassRole'],
            Resource: iamPrefixes.map((p) => `arn:aws:iam::*:role/${p}*`),
            Condition: { StringEquals: { 'iam:PassedToService': 'ec2.amazonaws.com' } },
          },
        ],
        // Experiment 03 (AWS DMS), only with a `dms` block: see bootstrap-dms.ts.
        ...(config.dms ? { 'build-dms': dmsApplyStatements(config) } : {}),
      },
    });

    this.migration = new WorkflowRole(this, 'migration', {
      name: ROLE_NAMES.migration,
      description: 'pgshift migration workflows: RDS lookups, the managed master secret, pre-cutover snapshot and AMI',
      providerArn: oidc.arn,
      repository,
      environments: config.bootstrap.migrationEnvironments,
      inlinePolicies: {
        'pgshift-migration': [
          {
            Sid: 'Describe',
            Effect: 'Allow',
            Action: [...RDS_DESCRIBE_ACTIONS, 'ec2:DescribeInstances', 'ec2:DescribeImages', 'ec2:DescribeSnapshots'],
            Resource: '*',
          },
          {
            Sid: 'SnapshotTargets',
            Effect: 'Allow',
            Action: ['rds:CreateDBSnapshot', 'rds:AddTagsToResource'],
            Resource: dbIdentifiers.flatMap((id) => [`arn:aws:rds:${region}:*:db:${id}`, `arn:aws:rds:${region}:*:snapshot:${id}-*`]),
          },
          {
            // RDS tags its managed secret with the instance's ARN: only the targets' secrets are readable.
            Sid: 'ReadTargetsMasterSecrets',
            Effect: 'Allow',
            Action: ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'],
            Resource: `arn:aws:secretsmanager:${region}:*:secret:rds!*`,
            Condition: {
              StringLike: {
                'secretsmanager:ResourceTag/aws:rds:primaryDBInstanceArn': dbIdentifiers.map((id) => `arn:aws:rds:${region}:*:db:${id}`),
              },
            },
          },
          {
            Sid: 'ImageOfSource',
            Effect: 'Allow',
            Action: ['ec2:CreateImage'],
            Resource: [`arn:aws:ec2:${region}:*:instance/*`, `arn:aws:ec2:${region}::image/*`, `arn:aws:ec2:${region}::snapshot/*`],
          },
          {
            Sid: 'TagTheImageItMakes',
            Effect: 'Allow',
            Action: ['ec2:CreateTags'],
            Resource: [`arn:aws:ec2:${region}::image/*`, `arn:aws:ec2:${region}::snapshot/*`],
            Condition: { StringEquals: { 'ec2:CreateAction': 'CreateImage' } },
          },
        ],
        ...(config.dms ? { 'pgshift-dms': dmsMigrationStatements(config) } : {}),
      },
    });
    dmsServiceRoles(this, config);

    grantTargetAccountRoles(this, config.crossAccount, { plan: this.plan.role, apply: this.apply.role, migration: this.migration.role });

    new TerraformOutput(this, 'github_oidc_provider_arn', { value: oidc.arn, description: 'GitHub OIDC provider' });
    new TerraformOutput(this, 'plan_role_arn', {
      value: this.plan.role.arn,
      description: 'Repository variable PGSHIFT_INFRA_PLAN_ROLE_ARN',
    });
    new TerraformOutput(this, 'apply_role_arn', {
      value: this.apply.role.arn,
      description: 'Repository variable PGSHIFT_INFRA_APPLY_ROLE_ARN',
    });
    new TerraformOutput(this, 'migration_role_arn', {
      value: this.migration.role.arn,
      description: 'Repository variable PGSHIFT_AWS_ROLE_ARN (the migration workflows assume it)',
    });
  }
}
