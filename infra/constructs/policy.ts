// IAM policy documents as plain JSON text. References to other resources (ARNs) stay Terraform
// interpolations inside the string, so the synthesized JSON reads like the policy AWS will store and the
// tests can parse it; Fn.jsonencode would bury the same document in an HCL expression.
export interface PolicyStatement {
  Sid?: string;
  Effect: 'Allow' | 'Deny';
  Action: string | string[];
  Resource?: string | string[];
  Principal?: Record<string, string | string[]>;
  Condition?: Record<string, Record<string, string | string[]>>;
}

export function policyDocument(statements: PolicyStatement[]): string {
  return JSON.stringify({ Version: '2012-10-17', Statement: statements });
}

// ── statements more than one stack grants ───────────────────────────────────────────────

/** The first RDS instance in an account makes RDS create its service-linked role, as the caller. */
export const rdsCreatesItsServiceRole: PolicyStatement = {
  Sid: 'RdsCreatesItsServiceRole',
  Effect: 'Allow',
  Action: ['iam:CreateServiceLinkedRole'],
  Resource: '*',
  Condition: { StringEquals: { 'iam:AWSServiceName': 'rds.amazonaws.com' } },
};

/** manage_master_user_password: RDS creates, rotates and deletes the master secret on the caller's behalf. */
export function rdsManagedMasterSecret(region: string, account: string): PolicyStatement {
  return {
    Sid: 'RdsManagedMasterSecret',
    Effect: 'Allow',
    Action: [
      'secretsmanager:CreateSecret',
      'secretsmanager:TagResource',
      'secretsmanager:DescribeSecret',
      'secretsmanager:DeleteSecret',
      'secretsmanager:RotateSecret',
      'secretsmanager:UpdateSecret',
    ],
    Resource: `arn:aws:secretsmanager:${region}:${account}:secret:rds!*`,
  };
}

/** What the migration reads about its RDS target: the instance, snapshots, parameters, pending maintenance. */
export const RDS_DESCRIBE_ACTIONS = [
  'rds:DescribeDBInstances',
  'rds:DescribeDBSnapshots',
  'rds:DescribeDBParameters',
  'rds:DescribeDBParameterGroups',
  'rds:DescribePendingMaintenanceActions',
];
