/**
 * Every IAM action pgshift's AWS adapter calls, with why. The infra stack's instance profile and
 * the workflows' OIDC role grant these; error hints name the one that is missing.
 */
export const PGSHIFT_IAM_ACTIONS: readonly { action: string; why: string }[] = [
  { action: 'rds:DescribeDBInstances', why: 'target endpoint, status, master secret ARN, parameter group state' },
  { action: 'rds:DescribeDBParameters', why: 'rds.logical_replication in the parameter group' },
  { action: 'rds:CreateDBSnapshot', why: 'snapshot of the target before cutover' },
  { action: 'rds:AddTagsToResource', why: 'tags on that snapshot (CreateDBSnapshot with Tags needs it)' },
  { action: 'rds:DescribeDBSnapshots', why: 'waiting for the snapshot' },
  { action: 'ec2:DescribeInstances', why: "the source host's private IP" },
  { action: 'ec2:CreateImage', why: 'AMI of the source before cutover' },
  { action: 'ec2:CreateTags', why: 'tags on that AMI and its snapshots (CreateImage with TagSpecifications needs it)' },
  { action: 'ec2:DescribeImages', why: 'waiting for the AMI' },
  { action: 'secretsmanager:GetSecretValue', why: 'the RDS-managed master password' },
  { action: 'kms:Decrypt', why: 'only when the master secret uses a customer-managed KMS key' },
  {
    action: 'sts:AssumeRole',
    why: 'only when RDS is in another account: its reader role (aws-target-role-arn), which then needs the RDS and secret actions above',
  },
  { action: 'ssm:GetParameter', why: 'the runner registration token (scripts/setup-source-host.sh)' },
];
