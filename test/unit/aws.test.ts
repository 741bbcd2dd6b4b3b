import {
  CreateDBSnapshotCommand,
  DBInstanceNotFoundFault,
  DBSnapshotAlreadyExistsFault,
  DescribeDBInstancesCommand,
  DescribeDBParametersCommand,
  DescribeDBSnapshotsCommand,
  RDSClient,
  type DBInstance,
} from '@aws-sdk/client-rds';
import { CreateImageCommand, DescribeImagesCommand, DescribeInstancesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { readdirSync, readFileSync } from 'node:fs';
import { beforeEach, describe, expect, it } from 'vitest';
import { PgshiftError } from '../../src/errors.js';
import { redact } from '../../src/postgres/redact.js';
import { takePreCutoverBackups } from '../../src/aws/backups.js';
import { awsClients } from '../../src/aws/clients.js';
import { createSourceImage, findSourceInstance, imageName } from '../../src/aws/ec2.js';
import { explainAwsError, resolveRegion } from '../../src/aws/errors.js';
import {
  createDbSnapshot,
  describeDbInstance,
  logicalReplicationCheck,
  readParameter,
  snapshotIdentifier,
  type RdsInstance,
} from '../../src/aws/rds.js';
import { PGSHIFT_IAM_ACTIONS } from '../../src/aws/permissions.js';
import { parseMasterSecret, readMasterCredentials } from '../../src/aws/secrets.js';
import { resolveSourceFromTarget } from '../../src/aws/source-lookup.js';
import { resolveRdsTarget } from '../../src/aws/target-lookup.js';

const REGION = 'ap-northeast-2';
const SECRET_ARN = 'arn:aws:secretsmanager:ap-northeast-2:123456789012:secret:rds!db-1234-AbCdEf';
// A password with every character that must be escaped in a URL, and one that is easy to grep for.
const PASSWORD = 'Pa$$:w/rd@#?&=%tasteam-7Qx';

const rds = mockClient(RDSClient);
const ec2 = mockClient(EC2Client);
const sm = mockClient(SecretsManagerClient);

beforeEach(() => {
  rds.reset();
  ec2.reset();
  sm.reset();
});

/** A clock that only moves when the waiter sleeps, so waits of minutes take no real time. */
function fakeClock() {
  let t = 0;
  const sleeps: number[] = [];
  return {
    now: () => t,
    sleep: async (ms: number) => {
      sleeps.push(ms);
      t += ms;
    },
    sleeps,
  };
}

function awsError(name: string, message = `${name} from AWS`): Error {
  return Object.assign(new Error(message), { name, $metadata: {} });
}

function dbInstance(overrides: Partial<DBInstance> = {}): DBInstance {
  return {
    DBInstanceIdentifier: 'tasteam-v2',
    DBInstanceStatus: 'available',
    Engine: 'postgres',
    EngineVersion: '17.4',
    Endpoint: { Address: 'tasteam-v2.abc123.ap-northeast-2.rds.amazonaws.com', Port: 5432 },
    MasterUsername: 'tasteam_admin',
    MasterUserSecret: { SecretArn: SECRET_ARN, SecretStatus: 'active' },
    DBParameterGroups: [{ DBParameterGroupName: 'pgshift-postgres17', ParameterApplyStatus: 'in-sync' }],
    PubliclyAccessible: false,
    StorageEncrypted: true,
    BackupRetentionPeriod: 1,
    ...overrides,
  };
}

function instance(overrides: Partial<RdsInstance> = {}): RdsInstance {
  return {
    identifier: 'tasteam-v2',
    region: REGION,
    status: 'available',
    engine: 'postgres',
    engineVersion: '17.4',
    endpoint: { host: 'h', port: 5432 },
    parameterGroups: [{ name: 'pgshift-postgres17', applyStatus: 'in-sync' }],
    publiclyAccessible: false,
    storageEncrypted: true,
    backupRetentionDays: 1,
    ...overrides,
  };
}

async function thrown(p: Promise<unknown>): Promise<PgshiftError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(PgshiftError);
    return err as PgshiftError;
  }
  throw new Error('expected a PgshiftError, but the call succeeded');
}

describe('region', () => {
  it('comes from the option, then AWS_REGION, then AWS_DEFAULT_REGION, and is required', () => {
    expect(resolveRegion('eu-west-1', { AWS_REGION: REGION })).toBe('eu-west-1');
    expect(resolveRegion(undefined, { AWS_REGION: REGION, AWS_DEFAULT_REGION: 'us-east-1' })).toBe(REGION);
    expect(resolveRegion(undefined, { AWS_DEFAULT_REGION: 'us-east-1' })).toBe('us-east-1');
    expect(() => resolveRegion(undefined, {})).toThrow(/no AWS region/);
    expect(() => resolveRegion('seoul', {})).toThrow(/not an AWS region/);
  });

  it('is what the built clients use', async () => {
    const clients = awsClients({ region: 'eu-central-1' });
    expect(await clients.rds.config.region()).toBe('eu-central-1');
    expect(await clients.secrets.config.region()).toBe('eu-central-1');
  });
});

describe('describeDbInstance', () => {
  it('returns the endpoint, status, engine version, master secret ARN and parameter group state', async () => {
    rds.on(DescribeDBInstancesCommand, { DBInstanceIdentifier: 'tasteam-v2' }).resolves({ DBInstances: [dbInstance()] });
    const db = await describeDbInstance(rds as unknown as RDSClient, 'tasteam-v2', REGION);
    expect(db).toMatchObject({
      identifier: 'tasteam-v2',
      status: 'available',
      engineVersion: '17.4',
      endpoint: { host: 'tasteam-v2.abc123.ap-northeast-2.rds.amazonaws.com', port: 5432 },
      masterUserSecretArn: SECRET_ARN,
      parameterGroups: [{ name: 'pgshift-postgres17', applyStatus: 'in-sync' }],
    });
  });

  it('names the identifier and region when the instance does not exist', async () => {
    rds.on(DescribeDBInstancesCommand).rejects(new DBInstanceNotFoundFault({ message: 'DBInstance tasteam-v3 not found.', $metadata: {} }));
    const err = await thrown(describeDbInstance(new RDSClient({ region: REGION }), 'tasteam-v3', REGION));
    expect(err.message).toBe(`RDS instance 'tasteam-v3' does not exist in ${REGION}`);
    expect(err.hint).toContain('aws rds describe-db-instances --region ap-northeast-2');
    expect(err.exitCode).toBe(2);
  });

  it('names the missing IAM action when AWS denies access', async () => {
    rds
      .on(DescribeDBInstancesCommand)
      .rejects(awsError('AccessDenied', 'User: arn:aws:sts::1:assumed-role/gh is not authorized to perform: rds:DescribeDBInstances'));
    const err = await thrown(describeDbInstance(new RDSClient({ region: REGION }), 'tasteam-v2', REGION));
    expect(err.oneLine()).toMatch(
      /^AWS denied rds:DescribeDBInstances while describing RDS instance tasteam-v2 in ap-northeast-2 — allow rds:DescribeDBInstances/,
    );
  });
});

describe('rds.logical_replication', () => {
  it('pages through DescribeDBParameters until it finds the parameter', async () => {
    rds
      .on(DescribeDBParametersCommand, { DBParameterGroupName: 'pgshift-postgres17', Marker: undefined })
      .resolves({ Parameters: [{ ParameterName: 'max_connections', ParameterValue: '100' }], Marker: 'page2' })
      .on(DescribeDBParametersCommand, { DBParameterGroupName: 'pgshift-postgres17', Marker: 'page2' })
      .resolves({ Parameters: [{ ParameterName: 'rds.logical_replication', ParameterValue: '1' }] });
    expect(await readParameter(new RDSClient({ region: REGION }), 'pgshift-postgres17', 'rds.logical_replication', REGION)).toBe('1');
    expect(rds.commandCalls(DescribeDBParametersCommand)).toHaveLength(2);
  });

  it('returns undefined when no page lists it', async () => {
    rds.on(DescribeDBParametersCommand).resolves({ Parameters: [{ ParameterName: 'work_mem', ParameterValue: '4096' }] });
    expect(await readParameter(new RDSClient({ region: REGION }), 'g', 'rds.logical_replication', REGION)).toBeUndefined();
  });

  it('is FAIL while the group is pending-reboot, with the exact reboot command', () => {
    const check = logicalReplicationCheck(
      instance({ parameterGroups: [{ name: 'pgshift-postgres17', applyStatus: 'pending-reboot' }] }),
      '1',
    );
    expect(check.status).toBe('FAIL');
    expect(check.detail).toMatch(/pending-reboot/);
    expect(check.remediation).toBe('aws rds reboot-db-instance --db-instance-identifier tasteam-v2 --region ap-northeast-2');
  });

  it('is FAIL when the group has it off, with modify-db-parameter-group then reboot', () => {
    const check = logicalReplicationCheck(instance(), '0');
    expect(check.status).toBe('FAIL');
    expect(check.remediation).toBe(
      'aws rds modify-db-parameter-group --db-parameter-group-name pgshift-postgres17 --parameters "ParameterName=rds.logical_replication,ParameterValue=1,ApplyMethod=pending-reboot" --region ap-northeast-2' +
        ' && aws rds reboot-db-instance --db-instance-identifier tasteam-v2 --region ap-northeast-2',
    );
  });

  it('on a default group (not modifiable) tells to create and attach a custom group of the right family', () => {
    const check = logicalReplicationCheck(
      instance({ parameterGroups: [{ name: 'default.postgres17', applyStatus: 'in-sync' }] }),
      undefined,
    );
    expect(check.status).toBe('FAIL');
    expect(check.detail).toContain('not set (default 0)');
    expect(check.remediation).toContain(
      'create-db-parameter-group --db-parameter-group-name pgshift-postgres17 --db-parameter-group-family postgres17',
    );
    expect(check.remediation).toContain(
      'modify-db-instance --db-instance-identifier tasteam-v2 --db-parameter-group-name pgshift-postgres17',
    );
    expect(check.remediation).toMatch(/reboot-db-instance --db-instance-identifier tasteam-v2 --region ap-northeast-2$/);
  });

  it('is WARN while applying and PASS when in effect', () => {
    expect(logicalReplicationCheck(instance({ parameterGroups: [{ name: 'g', applyStatus: 'applying' }] }), '1').status).toBe('WARN');
    const pass = logicalReplicationCheck(instance(), '1');
    expect(pass).toEqual({
      id: 'rds-logical-replication',
      status: 'PASS',
      detail: 'rds.logical_replication = 1 in pgshift-postgres17 (in-sync)',
    });
  });
});

describe('resolveRdsTarget', () => {
  function mockHappyTarget(db: Partial<DBInstance> = {}, applyStatus = 'in-sync') {
    rds.on(DescribeDBInstancesCommand).resolves({
      DBInstances: [
        dbInstance({ DBParameterGroups: [{ DBParameterGroupName: 'pgshift-postgres17', ParameterApplyStatus: applyStatus }], ...db }),
      ],
    });
    rds.on(DescribeDBParametersCommand).resolves({ Parameters: [{ ParameterName: 'rds.logical_replication', ParameterValue: '1' }] });
    sm.on(GetSecretValueCommand, { SecretId: SECRET_ARN }).resolves({
      SecretString: JSON.stringify({ username: 'tasteam_admin', password: PASSWORD }),
    });
  }
  const clients = () => ({ rds: new RDSClient({ region: REGION }), secrets: new SecretsManagerClient({ region: REGION }) });

  it('builds the target URL from the endpoint and the RDS-managed secret, and hides the password everywhere', async () => {
    mockHappyTarget();
    const target = await resolveRdsTarget({ dbInstanceIdentifier: 'tasteam-v2', database: 'tasteam', region: REGION, clients: clients() });
    expect(target.endpoint).toEqual({ host: 'tasteam-v2.abc123.ap-northeast-2.rds.amazonaws.com', port: 5432 });
    expect(target.info).toMatchObject({
      host: target.endpoint.host,
      port: 5432,
      database: 'tasteam',
      user: 'tasteam_admin',
      password: PASSWORD,
      sslmode: 'require',
    });
    expect(target.checks.map((c) => [c.id, c.status])).toEqual([
      ['rds-status', 'PASS'],
      ['rds-logical-replication', 'PASS'],
      ['rds-private', 'PASS'],
      ['rds-backups', 'PASS'],
    ]);
    // Anything that prints the URL or the password after this shows neither.
    const line = `connecting with ${target.url} (password ${PASSWORD}, encoded ${encodeURIComponent(PASSWORD)})`;
    expect(redact(line)).not.toContain(PASSWORD);
    expect(redact(line)).not.toContain(encodeURIComponent(PASSWORD));
    expect(redact(line)).toContain('tasteam-v2.abc123.ap-northeast-2.rds.amazonaws.com:5432/tasteam');
  });

  it('uses verify-full with the CA bundle when one is given', async () => {
    mockHappyTarget();
    const target = await resolveRdsTarget({
      dbInstanceIdentifier: 'tasteam-v2',
      database: 'tasteam',
      region: REGION,
      caBundle: '/etc/ssl/rds/global-bundle.pem',
      clients: clients(),
    });
    expect(target.info.sslmode).toBe('verify-full');
    expect(target.info.sslrootcert).toBe('/etc/ssl/rds/global-bundle.pem');
  });

  it('returns a FAIL check (not an error) while the parameter group waits for a reboot', async () => {
    mockHappyTarget({}, 'pending-reboot');
    const target = await resolveRdsTarget({ dbInstanceIdentifier: 'tasteam-v2', database: 'tasteam', region: REGION, clients: clients() });
    const check = target.checks.find((c) => c.id === 'rds-logical-replication')!;
    expect(check.status).toBe('FAIL');
    expect(check.remediation).toBe('aws rds reboot-db-instance --db-instance-identifier tasteam-v2 --region ap-northeast-2');
  });

  it('refuses an instance without an RDS-managed password, pointing to PGSHIFT_TARGET_URL', async () => {
    mockHappyTarget({ MasterUserSecret: undefined });
    const err = await thrown(
      resolveRdsTarget({ dbInstanceIdentifier: 'tasteam-v2', database: 'tasteam', region: REGION, clients: clients() }),
    );
    expect(err.oneLine()).toMatch(
      /does not keep its master password in Secrets Manager — set PGSHIFT_TARGET_URL instead.*--manage-master-user-password/,
    );
  });

  it('refuses an instance that has no endpoint yet', async () => {
    mockHappyTarget({ Endpoint: undefined, DBInstanceStatus: 'creating' });
    const err = await thrown(
      resolveRdsTarget({ dbInstanceIdentifier: 'tasteam-v2', database: 'tasteam', region: REGION, clients: clients() }),
    );
    expect(err.message).toBe('RDS instance tasteam-v2 has no endpoint yet (status creating)');
    expect(err.hint).toContain('aws rds wait db-instance-available --db-instance-identifier tasteam-v2');
  });
});

describe('Secrets Manager', () => {
  const client = () => new SecretsManagerClient({ region: REGION });

  it('reads {username, password} from the secret', async () => {
    sm.on(GetSecretValueCommand, { SecretId: SECRET_ARN }).resolves({
      SecretString: `{"username":"tasteam_admin","password":${JSON.stringify(PASSWORD)}}`,
    });
    expect(await readMasterCredentials(client(), SECRET_ARN, REGION)).toEqual({ username: 'tasteam_admin', password: PASSWORD });
  });

  it('never quotes the secret text when it is not valid JSON', () => {
    // Someone stored the bare password instead of RDS's JSON: JSON.parse's own message would quote it whole.
    const plain = 'plainpassword-Q7';
    expect(() => JSON.parse(plain)).toThrow(plain);
    let err: unknown;
    try {
      parseMasterSecret(plain, SECRET_ARN);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(PgshiftError);
    const text = `${(err as PgshiftError).oneLine()} ${(err as Error).stack} ${String((err as Error).cause ?? '')}`;
    expect(text).toContain('is not JSON');
    expect(text).not.toContain(plain);
  });

  it('names the missing field without showing the rest', () => {
    const other = 'other-secret-value-91';
    expect(() => parseMasterSecret(JSON.stringify({ username: 'u', pass: other }), SECRET_ARN)).toThrow(/has no password$/);
    try {
      parseMasterSecret(JSON.stringify({ username: 'u', pass: other }), SECRET_ARN);
    } catch (e) {
      expect((e as PgshiftError).oneLine()).not.toContain(other);
    }
  });

  it('tells which permission is missing: GetSecretValue, or kms:Decrypt', async () => {
    sm.on(GetSecretValueCommand).rejects(awsError('AccessDeniedException'));
    expect((await thrown(readMasterCredentials(client(), SECRET_ARN, REGION))).oneLine()).toMatch(
      /AWS denied secretsmanager:GetSecretValue on .* — allow secretsmanager:GetSecretValue/,
    );
    sm.reset();
    sm.on(GetSecretValueCommand).rejects(awsError('DecryptionFailure'));
    expect((await thrown(readMasterCredentials(client(), SECRET_ARN, REGION))).oneLine()).toMatch(/allow kms:Decrypt/);
  });

  it('redacts a registered password even if an AWS message were to carry it', async () => {
    parseMasterSecret(JSON.stringify({ username: 'u', password: PASSWORD }), SECRET_ARN); // registers it
    const err = explainAwsError(awsError('ThrottlingException', `rate exceeded for ${PASSWORD}`), {
      action: 'secretsmanager:GetSecretValue',
      what: 'reading',
    });
    expect(err.oneLine()).toContain('ThrottlingException');
    expect(err.oneLine()).not.toContain(PASSWORD);
  });
});

describe('RDS snapshot before cutover', () => {
  const opts = (wait: object) => ({
    dbInstanceIdentifier: 'tasteam-v2',
    snapshotIdentifier: 'tasteam-v2-pgshift-pre-cutover-20261126-0315',
    region: REGION,
    wait,
  });

  it('builds identifiers RDS accepts, prefixed with the instance (the IAM policy allows <instance>-* only)', () => {
    expect(snapshotIdentifier('tasteam-v2', 'pre-cutover', new Date('2026-11-26T03:15:42Z'))).toBe(
      'tasteam-v2-pgshift-pre-cutover-20261126-0315',
    );
    expect(snapshotIdentifier('Tasteam_V2', 'pre cutover', new Date('2026-11-26T03:15:42Z'))).toBe(
      'tasteam-v2-pgshift-pre-cutover-20261126-0315',
    );
  });

  it('creates the snapshot and waits until it is available (after 3 polls)', async () => {
    rds.on(CreateDBSnapshotCommand).resolves({ DBSnapshot: { Status: 'creating' } });
    rds
      .on(DescribeDBSnapshotsCommand)
      .resolvesOnce({ DBSnapshots: [{ Status: 'creating' }] })
      .resolvesOnce({ DBSnapshots: [{ Status: 'creating' }] })
      .resolves({ DBSnapshots: [{ Status: 'available', DBSnapshotArn: 'arn:aws:rds:ap-northeast-2:1:snapshot:s' }] });
    const clock = fakeClock();
    const polls: string[] = [];
    const res = await createDbSnapshot(
      new RDSClient({ region: REGION }),
      opts({ ...clock, intervalMs: 10_000, onPoll: (s: string) => polls.push(s) }),
    );
    expect(res).toMatchObject({ status: 'available', polls: 3, reused: false, arn: 'arn:aws:rds:ap-northeast-2:1:snapshot:s' });
    expect(polls).toEqual(['creating', 'creating', 'available']);
    expect(clock.sleeps).toEqual([10_000, 10_000]);
    const create = rds.commandCalls(CreateDBSnapshotCommand)[0].args[0].input;
    expect(create).toMatchObject({
      DBInstanceIdentifier: 'tasteam-v2',
      DBSnapshotIdentifier: 'tasteam-v2-pgshift-pre-cutover-20261126-0315',
    });
    expect(create.Tags).toContainEqual({ Key: 'pgshift:purpose', Value: 'pre-cutover' });
  });

  it('stops at the deadline with a clear error and the command to keep waiting', async () => {
    rds.on(CreateDBSnapshotCommand).resolves({});
    rds.on(DescribeDBSnapshotsCommand).resolves({ DBSnapshots: [{ Status: 'creating' }] });
    const clock = fakeClock();
    const err = await thrown(
      createDbSnapshot(new RDSClient({ region: REGION }), opts({ ...clock, intervalMs: 15_000, timeoutMs: 60_000 })),
    );
    expect(err.message).toBe("RDS snapshot tasteam-v2-pgshift-pre-cutover-20261126-0315 is still 'creating' after 60 s (limit 60 s)");
    expect(err.hint).toContain('aws rds wait db-snapshot-available --db-snapshot-identifier tasteam-v2-pgshift-pre-cutover-20261126-0315');
    expect(rds.commandCalls(DescribeDBSnapshotsCommand)).toHaveLength(5); // t = 0, 15, 30, 45, 60 s
  });

  it('fails at once when the snapshot fails', async () => {
    rds.on(CreateDBSnapshotCommand).resolves({});
    rds.on(DescribeDBSnapshotsCommand).resolves({ DBSnapshots: [{ Status: 'failed' }] });
    const err = await thrown(createDbSnapshot(new RDSClient({ region: REGION }), opts(fakeClock())));
    expect(err.message).toMatch(/ended in state 'failed'/);
    expect(rds.commandCalls(DescribeDBSnapshotsCommand)).toHaveLength(1);
  });

  it('on a rerun, waits for the snapshot that already exists', async () => {
    rds.on(CreateDBSnapshotCommand).rejects(new DBSnapshotAlreadyExistsFault({ message: 'exists', $metadata: {} }));
    rds.on(DescribeDBSnapshotsCommand).resolves({ DBSnapshots: [{ Status: 'available' }] });
    const res = await createDbSnapshot(new RDSClient({ region: REGION }), opts(fakeClock()));
    expect(res).toMatchObject({ reused: true, status: 'available', polls: 1 });
  });

  it('names rds:CreateDBSnapshot when it is not allowed', async () => {
    rds.on(CreateDBSnapshotCommand).rejects(awsError('AccessDenied'));
    const err = await thrown(createDbSnapshot(new RDSClient({ region: REGION }), opts(fakeClock())));
    expect(err.message).toContain('AWS denied rds:CreateDBSnapshot');
    // Tags on CreateDBSnapshot are authorized separately: the hint names both actions.
    expect(err.hint).toContain('allow rds:CreateDBSnapshot and rds:AddTagsToResource');
  });
});

describe('EC2 source host', () => {
  const client = () => new EC2Client({ region: REGION });
  const ec2Instance = (id: string, ip = '10.1.1.25') => ({
    InstanceId: id,
    PrivateIpAddress: ip,
    PublicIpAddress: '3.35.1.1',
    State: { Name: 'running' as const },
    VpcId: 'vpc-1',
    SecurityGroups: [{ GroupId: 'sg-source' }],
    Tags: [{ Key: 'Name', Value: 'tasteam-v1' }],
  });

  it('finds the private IP by Name tag (never the public one)', async () => {
    ec2.on(DescribeInstancesCommand).resolves({ Reservations: [{ Instances: [ec2Instance('i-0abc')] }] });
    const src = await findSourceInstance(client(), { nameTag: 'tasteam-v1' }, REGION);
    expect(src).toEqual({
      instanceId: 'i-0abc',
      name: 'tasteam-v1',
      state: 'running',
      privateIp: '10.1.1.25',
      vpcId: 'vpc-1',
      securityGroupIds: ['sg-source'],
    });
    const filters = ec2.commandCalls(DescribeInstancesCommand)[0].args[0].input.Filters;
    expect(filters).toContainEqual({ Name: 'tag:Name', Values: ['tasteam-v1'] });
  });

  it('finds it by instance id, following NextToken', async () => {
    ec2
      .on(DescribeInstancesCommand, { InstanceIds: ['i-0abc'], NextToken: undefined })
      .resolves({ Reservations: [], NextToken: 't2' })
      .on(DescribeInstancesCommand, { InstanceIds: ['i-0abc'], NextToken: 't2' })
      .resolves({ Reservations: [{ Instances: [ec2Instance('i-0abc', '172.31.5.9')] }] });
    expect((await findSourceInstance(client(), { instanceId: 'i-0abc' }, REGION)).privateIp).toBe('172.31.5.9');
  });

  it('refuses an ambiguous Name tag and lists the ids', async () => {
    ec2.on(DescribeInstancesCommand).resolves({ Reservations: [{ Instances: [ec2Instance('i-1'), ec2Instance('i-2')] }] });
    const err = await thrown(findSourceInstance(client(), { nameTag: 'tasteam-v1' }, REGION));
    expect(err.oneLine()).toBe(
      '2 EC2 instances are tagged Name=tasteam-v1 in ap-northeast-2 (i-1, i-2) — pass the source instance id instead of the Name tag',
    );
  });

  it('reports a missing instance and a denied DescribeInstances', async () => {
    ec2.on(DescribeInstancesCommand).resolves({ Reservations: [] });
    expect((await thrown(findSourceInstance(client(), { nameTag: 'nope' }, REGION))).message).toBe(
      'no EC2 instance Name=nope in ap-northeast-2',
    );
    ec2.reset();
    ec2
      .on(DescribeInstancesCommand)
      .rejects(awsError('UnauthorizedOperation', 'You are not authorized. Encoded authorization failure message: AAAA'));
    expect((await thrown(findSourceInstance(client(), { instanceId: 'i-1' }, REGION))).message).toContain(
      'AWS denied ec2:DescribeInstances',
    );
  });

  it('creates the AMI without rebooting the source and waits until it is available', async () => {
    ec2.on(CreateImageCommand).resolves({ ImageId: 'ami-0123' });
    ec2
      .on(DescribeImagesCommand, { ImageIds: ['ami-0123'] })
      .rejectsOnce(awsError('InvalidAMIID.NotFound')) // not visible yet right after CreateImage
      .resolvesOnce({ Images: [{ State: 'pending' }] })
      .resolves({ Images: [{ State: 'available' }] });
    const name = imageName('i-0abc', 'pre-cutover', new Date('2026-11-26T03:15:00Z'));
    const res = await createSourceImage(client(), { instanceId: 'i-0abc', name, region: REGION, wait: fakeClock() });
    expect(res).toEqual({
      imageId: 'ami-0123',
      name: 'pgshift-i-0abc-pre-cutover-20261126-0315',
      state: 'available',
      reused: false,
      polls: 3,
    });
    const input = ec2.commandCalls(CreateImageCommand)[0].args[0].input;
    expect(input.NoReboot).toBe(true);
    expect(input.InstanceId).toBe('i-0abc');
  });

  it('on a rerun, finds the AMI of the same name and waits for it', async () => {
    ec2.on(CreateImageCommand).rejects(awsError('InvalidAMIName.Duplicate'));
    ec2.on(DescribeImagesCommand, { Owners: ['self'] }).resolves({ Images: [{ ImageId: 'ami-0old', State: 'pending' }] });
    ec2.on(DescribeImagesCommand, { ImageIds: ['ami-0old'] }).resolves({ Images: [{ State: 'available' }] });
    const res = await createSourceImage(client(), { instanceId: 'i-0abc', name: 'pgshift-x', region: REGION, wait: fakeClock() });
    expect(res).toMatchObject({ imageId: 'ami-0old', reused: true, state: 'available' });
  });

  it('stops waiting at the deadline, and fails at once on a failed image', async () => {
    ec2.on(CreateImageCommand).resolves({ ImageId: 'ami-0slow' });
    ec2.on(DescribeImagesCommand).resolves({ Images: [{ State: 'pending' }] });
    const err = await thrown(
      createSourceImage(client(), {
        instanceId: 'i-0abc',
        name: 'n',
        region: REGION,
        wait: { ...fakeClock(), timeoutMs: 120_000, intervalMs: 30_000 },
      }),
    );
    expect(err.message).toBe("AMI ami-0slow (n) is still 'pending' after 120 s (limit 120 s)");
    expect(err.hint).toContain('aws ec2 wait image-available --image-ids ami-0slow');
    ec2.reset();
    ec2.on(CreateImageCommand).resolves({ ImageId: 'ami-0bad' });
    ec2.on(DescribeImagesCommand).resolves({ Images: [{ State: 'failed' }] });
    expect(
      (await thrown(createSourceImage(client(), { instanceId: 'i-0abc', name: 'n', region: REGION, wait: fakeClock() }))).message,
    ).toMatch(/ended in state 'failed'/);
  });
});

describe('takePreCutoverBackups', () => {
  it('takes the RDS snapshot and the source AMI and waits for both', async () => {
    rds.on(CreateDBSnapshotCommand).resolves({});
    rds
      .on(DescribeDBSnapshotsCommand)
      .resolvesOnce({ DBSnapshots: [{ Status: 'creating' }] })
      .resolves({ DBSnapshots: [{ Status: 'available' }] });
    ec2.on(CreateImageCommand).resolves({ ImageId: 'ami-1' });
    ec2.on(DescribeImagesCommand).resolves({ Images: [{ State: 'available' }] });
    const res = await takePreCutoverBackups({
      dbInstanceIdentifier: 'tasteam-v2',
      sourceInstanceId: 'i-0abc',
      region: REGION,
      at: new Date('2026-11-26T03:15:00Z'),
      wait: fakeClock(),
      clients: { rds: new RDSClient({ region: REGION }), ec2: new EC2Client({ region: REGION }) },
    });
    expect(res.snapshot).toMatchObject({
      snapshotIdentifier: 'tasteam-v2-pgshift-pre-cutover-20261126-0315',
      status: 'available',
      polls: 2,
    });
    expect(res.image).toMatchObject({ imageId: 'ami-1', name: 'pgshift-i-0abc-pre-cutover-20261126-0315', state: 'available' });
  });
});

describe('IAM permissions', () => {
  it('lists every IAM action the adapter and the host script name, so the infra policy can grant exactly these', () => {
    const sources = [...readdirSync('src/aws').map((f) => `src/aws/${f}`), 'scripts/setup-source-host.sh'].filter(
      (f) => !f.endsWith('permissions.ts'),
    );
    const named = new Set<string>();
    for (const file of sources) {
      for (const m of readFileSync(file, 'utf8').matchAll(/\b(?:rds|ec2|secretsmanager|kms|ssm):[A-Z][A-Za-z]+/g)) named.add(m[0]);
    }
    const listed = new Set(PGSHIFT_IAM_ACTIONS.map((p) => p.action));
    expect([...named].filter((a) => !listed.has(a))).toEqual([]);
    expect(named).toContain('ssm:GetParameter'); // the host script's hint for `aws ssm get-parameter`
    expect(named.size).toBeGreaterThanOrEqual(8);
  });
});

describe('resolveSourceFromTarget', () => {
  it("swaps the runner's host for the source instance's private IP, keeping user, password, database and sslmode", async () => {
    ec2.on(DescribeInstancesCommand).resolves({
      Reservations: [
        { Instances: [{ InstanceId: 'i-0abc', PrivateIpAddress: '10.1.1.25', PublicIpAddress: '3.35.1.1', State: { Name: 'running' } }] },
      ],
    });
    const sourceUrl = `postgres://replicator:${encodeURIComponent(PASSWORD)}@localhost:15432/tasteam?sslmode=prefer`;
    const res = await resolveSourceFromTarget({
      sourceUrl,
      instance: { nameTag: 'tasteam-v1' },
      port: 5432,
      region: REGION,
      clients: { ec2: new EC2Client({ region: REGION }) },
    });
    expect(res.info).toMatchObject({
      host: '10.1.1.25',
      port: 5432,
      user: 'replicator',
      password: PASSWORD,
      database: 'tasteam',
      sslmode: 'prefer',
    });
    expect(res.url).not.toContain('3.35.1.1');
    expect(redact(`CONNECTION ${res.url}`)).toBe('CONNECTION 10.1.1.25:5432/tasteam');
  });

  it('rejects a malformed source URL before calling AWS', async () => {
    const err = await thrown(
      resolveSourceFromTarget({
        sourceUrl: 'mysql://x@y/z',
        instance: { instanceId: 'i-1' },
        region: REGION,
        clients: { ec2: new EC2Client({ region: REGION }) },
      }),
    );
    expect(err.message).toContain('must start with postgres://');
    expect(ec2.calls()).toHaveLength(0);
  });
});
