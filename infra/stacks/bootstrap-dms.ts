// What the bootstrap stack adds for experiment 03 (AWS DMS) when infra/config.json has a `dms` block:
//  - DMS's two fixed-name service roles, dms-vpc-role and dms-cloudwatch-logs-role. They are per account,
//    and DMS looks them up by name when a subnet group or instance is created: made in the same apply as
//    the subnet group they race it, so they live here, applied first. `dms.serviceRolesExist` skips them
//    in accounts that have them already (a second CreateRole with the same name fails).
//  - the migration role's exact dms: and cloudwatch: actions (src/aws/dms.ts PGSHIFT_DMS_IAM_ACTIONS);
//  - what the apply role needs to build stacks 03-dms / production-dms.
import type { Construct } from 'constructs';
import { IamRole } from '@cdktf/provider-aws/lib/iam-role/index.js';
import { IamRolePolicyAttachment } from '@cdktf/provider-aws/lib/iam-role-policy-attachment/index.js';
import type { InfraConfig } from '../config.js';
import { policyDocument, type PolicyStatement } from '../constructs/policy.js';

export const DMS_SERVICE_ROLES = {
  'dms-vpc-role': 'arn:aws:iam::aws:policy/service-role/AmazonDMSVPCManagementRole',
  'dms-cloudwatch-logs-role': 'arn:aws:iam::aws:policy/service-role/AmazonDMSCloudWatchLogsRole',
} as const;

/** The DMS actions pgshift calls at run time; kept equal to src/aws/dms.ts PGSHIFT_DMS_IAM_ACTIONS by a test. */
export const DMS_MIGRATION_ACTIONS = {
  describe: [
    'dms:DescribeReplicationInstances',
    'dms:DescribeEndpoints',
    'dms:DescribeConnections',
    'dms:DescribeReplicationTasks',
    'dms:DescribeTableStatistics',
  ],
  act: [
    'dms:TestConnection',
    'dms:CreateReplicationTask',
    'dms:StartReplicationTask',
    'dms:StopReplicationTask',
    'dms:DeleteReplicationTask',
    'dms:AddTagsToResource',
  ],
  metrics: ['cloudwatch:GetMetricData'],
} as const;

export function dmsServiceRoles(scope: Construct, config: InfraConfig): IamRole[] {
  if (!config.dms || config.dms.serviceRolesExist) return [];
  return Object.entries(DMS_SERVICE_ROLES).map(([name, policyArn]) => {
    const role = new IamRole(scope, name, {
      name,
      description: `AWS DMS service role (fixed name DMS looks up), made by pgshift bootstrap for experiment 03`,
      assumeRolePolicy: policyDocument([{ Effect: 'Allow', Principal: { Service: 'dms.amazonaws.com' }, Action: 'sts:AssumeRole' }]),
    });
    new IamRolePolicyAttachment(scope, `${name}-policy`, { role: role.name, policyArn });
    return role;
  });
}

export function dmsMigrationStatements(config: InfraConfig): PolicyStatement[] {
  const dmsResources = `arn:aws:dms:${config.region}:*:*`;
  return [
    { Sid: 'DmsDescribe', Effect: 'Allow', Action: [...DMS_MIGRATION_ACTIONS.describe], Resource: '*' },
    { Sid: 'DmsRunTasks', Effect: 'Allow', Action: [...DMS_MIGRATION_ACTIONS.act], Resource: dmsResources },
    { Sid: 'DmsLatencyMetrics', Effect: 'Allow', Action: [...DMS_MIGRATION_ACTIONS.metrics], Resource: '*' },
  ];
}

export function dmsApplyStatements(config: InfraConfig): PolicyStatement[] {
  const { region } = config;
  const names = [`${config.experiment.name}-dms`, ...(config.production ? [`${config.production.name}-dms`] : [])];
  return [
    { Sid: 'BuildDms', Effect: 'Allow', Action: ['dms:*'], Resource: '*' },
    {
      Sid: 'DmsEndpointSecrets',
      Effect: 'Allow',
      Action: [
        'secretsmanager:CreateSecret',
        'secretsmanager:DeleteSecret',
        'secretsmanager:DescribeSecret',
        'secretsmanager:GetResourcePolicy',
        'secretsmanager:TagResource',
        'secretsmanager:UntagResource',
        'secretsmanager:UpdateSecret',
      ],
      Resource: names.map((n) => `arn:aws:secretsmanager:${region}:*:secret:${n}/*`),
    },
    {
      // The endpoints' secrets-access role (named under the experiment prefix) and dms-vpc-role.
      Sid: 'PassRolesToDms',
      Effect: 'Allow',
      Action: ['iam:PassRole'],
      Resource: [`arn:aws:iam::*:role/${config.experiment.name}-*`, 'arn:aws:iam::*:role/dms-vpc-role'],
      Condition: { StringEquals: { 'iam:PassedToService': 'dms.amazonaws.com' } },
    },
    { Sid: 'ReadDmsVpcRole', Effect: 'Allow', Action: ['iam:GetRole'], Resource: 'arn:aws:iam::*:role/dms-vpc-role' },
    {
      Sid: 'DmsStorageDefaultKey',
      Effect: 'Allow',
      Action: ['kms:CreateGrant'],
      Resource: '*',
      Condition: { StringEquals: { 'kms:ViaService': `dms.${region}.amazonaws.com` } },
    },
  ];
}
