// Experiment 02: RDS in account B, the runner in account A. The runner assumes B's reader role first and
// reads the endpoint, the master secret and the snapshot as that role; the source's EC2 stays in A.
import {
  CreateDBSnapshotCommand,
  DescribeDBInstancesCommand,
  DescribeDBParametersCommand,
  DescribeDBSnapshotsCommand,
  RDSClient,
} from '@aws-sdk/client-rds';
import { CreateImageCommand, DescribeImagesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/nested-clients/sts';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { PgshiftError } from '../../src/errors.js';
import { takePreCutoverBackups } from '../../src/aws/backups.js';
import { awsClients } from '../../src/aws/clients.js';
import { resolveRdsTarget } from '../../src/aws/target-lookup.js';

const REGION = 'ap-northeast-2';
const READER = 'arn:aws:iam::210987654321:role/pgshift-runner-reader';
const SECRET_ARN = 'arn:aws:secretsmanager:ap-northeast-2:210987654321:secret:rds!db-0b2c-XyZ';
const PASSWORD = 'cross-account-Pa$$w0rd';
const ASSUMED = { AccessKeyId: 'ASIAB0000ACCOUNTB', SecretAccessKey: 'secret-of-b', SessionToken: 'token-of-b' };

const sts = mockClient(STSClient);
const rds = mockClient(RDSClient);
const sm = mockClient(SecretsManagerClient);
const ec2 = mockClient(EC2Client);

beforeEach(() => {
  for (const m of [sts, rds, sm, ec2]) m.reset();
  // A's own credentials (what OIDC or the instance profile gives the runner): the base of the assumed session.
  process.env.AWS_ACCESS_KEY_ID = 'AKIAA0000ACCOUNTA';
  process.env.AWS_SECRET_ACCESS_KEY = 'secret-of-a';
  sts.on(AssumeRoleCommand).resolves({ Credentials: { ...ASSUMED, Expiration: new Date(Date.now() + 3600_000) } });
  rds.on(DescribeDBInstancesCommand).resolves({
    DBInstances: [
      {
        DBInstanceIdentifier: 'pgshift-02-target',
        DBInstanceStatus: 'available',
        Engine: 'postgres',
        EngineVersion: '17.4',
        Endpoint: { Address: 'pgshift-02-target.xyz.ap-northeast-2.rds.amazonaws.com', Port: 5432 },
        MasterUserSecret: { SecretArn: SECRET_ARN, SecretStatus: 'active', KmsKeyId: 'arn:aws:kms:ap-northeast-2:210987654321:key/k' },
        DBParameterGroups: [{ DBParameterGroupName: 'pgshift-02-target-1', ParameterApplyStatus: 'in-sync' }],
        PubliclyAccessible: false,
        StorageEncrypted: true,
        BackupRetentionPeriod: 1,
      },
    ],
  });
  rds.on(DescribeDBParametersCommand).resolves({ Parameters: [{ ParameterName: 'rds.logical_replication', ParameterValue: '1' }] });
  sm.on(GetSecretValueCommand, { SecretId: SECRET_ARN }).resolves({
    SecretString: JSON.stringify({ username: 'postgres', password: PASSWORD }),
  });
});

describe('the runner in account A reading RDS in account B (aws-target-role-arn)', () => {
  it("assumes B's reader role before it reads the endpoint and the secret", async () => {
    const target = await resolveRdsTarget({
      dbInstanceIdentifier: 'pgshift-02-target',
      database: 'tasteam',
      region: REGION,
      targetRoleArn: READER,
    });
    expect(target.endpoint).toEqual({ host: 'pgshift-02-target.xyz.ap-northeast-2.rds.amazonaws.com', port: 5432 });
    expect(target.info).toMatchObject({ user: 'postgres', password: PASSWORD, database: 'tasteam' });

    const assumes = sts.commandCalls(AssumeRoleCommand);
    expect(assumes).toHaveLength(1);
    expect(assumes[0]!.args[0].input).toMatchObject({ RoleArn: READER, RoleSessionName: 'pgshift-runner', DurationSeconds: 3600 });
    const describe = rds.commandCalls(DescribeDBInstancesCommand)[0]!;
    const secret = sm.commandCalls(GetSecretValueCommand)[0]!;
    expect(assumes[0]!.calledBefore(describe)).toBe(true);
    expect(assumes[0]!.calledBefore(secret)).toBe(true);
  });

  it("builds the RDS and Secrets Manager clients on B's session, and EC2 on the runner's own credentials", async () => {
    const aws = awsClients({ region: REGION, targetRoleArn: READER });
    expect(aws.targetRole?.arn).toBe(READER);
    const rdsCredentials = await aws.rds.config.credentials();
    const smCredentials = await aws.secrets.config.credentials();
    expect(rdsCredentials).toMatchObject({
      accessKeyId: ASSUMED.AccessKeyId,
      secretAccessKey: ASSUMED.SecretAccessKey,
      sessionToken: ASSUMED.SessionToken,
    });
    expect(smCredentials.accessKeyId).toBe(ASSUMED.AccessKeyId);
    expect((await aws.ec2.config.credentials()).accessKeyId).toBe('AKIAA0000ACCOUNTA');
    // One session for both clients while it is fresh.
    expect(sts.commandCalls(AssumeRoleCommand)).toHaveLength(1);
  });

  it('without a target role, nothing is assumed and every client uses the runner’s credentials', async () => {
    const aws = awsClients({ region: REGION });
    expect(aws.targetRole).toBeUndefined();
    expect((await aws.rds.config.credentials()).accessKeyId).toBe('AKIAA0000ACCOUNTA');
    await resolveRdsTarget({ dbInstanceIdentifier: 'pgshift-02-target', database: 'tasteam', region: REGION });
    expect(sts.commandCalls(AssumeRoleCommand)).toHaveLength(0);
  });

  it('a refused AssumeRole stops before any lookup, with one line naming the role and what to fix', async () => {
    sts.on(AssumeRoleCommand).rejects(
      Object.assign(new Error('User: arn:aws:sts::123456789012:assumed-role/pgshift-migration/x is not authorized'), {
        name: 'AccessDenied',
      }),
    );
    const err = await resolveRdsTarget({
      dbInstanceIdentifier: 'pgshift-02-target',
      database: 'tasteam',
      region: REGION,
      targetRoleArn: READER,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PgshiftError);
    expect((err as Error).message).toContain(`AWS denied sts:AssumeRole on ${READER}`);
    expect((err as PgshiftError).hint).toContain('bootstrap-target-account');
    expect((err as PgshiftError).exitCode).toBe(2);
    expect(rds.calls()).toHaveLength(0);
    expect(sm.calls()).toHaveLength(0);
  });

  it("takes the pre-cutover RDS snapshot as B's role and the source AMI in A", async () => {
    rds.on(CreateDBSnapshotCommand).resolves({ DBSnapshot: { DBSnapshotIdentifier: 'x', Status: 'creating' } });
    rds.on(DescribeDBSnapshotsCommand).resolves({ DBSnapshots: [{ DBSnapshotIdentifier: 'x', Status: 'available' }] });
    ec2.on(CreateImageCommand).resolves({ ImageId: 'ami-0feed' });
    ec2.on(DescribeImagesCommand).resolves({ Images: [{ ImageId: 'ami-0feed', State: 'available' }] });
    await takePreCutoverBackups({
      dbInstanceIdentifier: 'pgshift-02-target',
      sourceInstanceId: 'i-0abc',
      region: REGION,
      targetRoleArn: READER,
      at: new Date('2026-11-30T12:00:00Z'),
      wait: { now: () => 0, sleep: async () => {} },
    });
    const assume = sts.commandCalls(AssumeRoleCommand)[0]!;
    expect(assume.args[0].input.RoleArn).toBe(READER);
    expect(assume.calledBefore(rds.commandCalls(CreateDBSnapshotCommand)[0]!)).toBe(true);
    expect(ec2.commandCalls(CreateImageCommand)).toHaveLength(1);
  });
});
