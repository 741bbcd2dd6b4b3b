import {
  CreateDBSnapshotCommand,
  DescribeDBInstancesCommand,
  DescribeDBParametersCommand,
  type DescribeDBParametersCommandOutput,
  DescribeDBSnapshotsCommand,
  type DBInstance,
  type RDSClient,
} from '@aws-sdk/client-rds';
import { type PgshiftError, usageError } from '../errors.js';
import type { AwsCheck } from './checks.js';
import { awsErrorName, explainAwsError } from './errors.js';
import { pollUntil, type WaitOptions } from './wait.js';

/** What pgshift needs to know about the target RDS instance. */
export interface RdsInstance {
  identifier: string;
  region: string;
  status: string;
  engine: string;
  engineVersion: string;
  /** Absent while the instance is still being created. */
  endpoint?: { host: string; port: number };
  masterUsername?: string;
  /** ARN of the Secrets Manager secret when the master password is managed by RDS (`manage_master_user_password`). */
  masterUserSecretArn?: string;
  masterUserSecretStatus?: string;
  parameterGroups: { name: string; applyStatus: string }[];
  publiclyAccessible: boolean;
  storageEncrypted: boolean;
  backupRetentionDays: number;
}

export const LOGICAL_REPLICATION_PARAMETER = 'rds.logical_replication';

/** Describe one DB instance by identifier. */
export async function describeDbInstance(rds: RDSClient, identifier: string, region: string): Promise<RdsInstance> {
  let db: DBInstance | undefined;
  try {
    const out = await rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: identifier }));
    db = out.DBInstances?.[0];
  } catch (err) {
    if (isNotFound(err, 'DBInstanceNotFound')) throw notFound(identifier, region);
    throw explainAwsError(err, { action: 'rds:DescribeDBInstances', what: `describing RDS instance ${identifier}`, region });
  }
  if (!db) throw notFound(identifier, region);
  return {
    identifier: db.DBInstanceIdentifier ?? identifier,
    region,
    status: db.DBInstanceStatus ?? 'unknown',
    engine: db.Engine ?? 'unknown',
    engineVersion: db.EngineVersion ?? 'unknown',
    endpoint: db.Endpoint?.Address ? { host: db.Endpoint.Address, port: db.Endpoint.Port ?? 5432 } : undefined,
    masterUsername: db.MasterUsername,
    masterUserSecretArn: db.MasterUserSecret?.SecretArn,
    masterUserSecretStatus: db.MasterUserSecret?.SecretStatus,
    parameterGroups: (db.DBParameterGroups ?? []).map((g) => ({
      name: g.DBParameterGroupName ?? '',
      applyStatus: g.ParameterApplyStatus ?? 'unknown',
    })),
    publiclyAccessible: db.PubliclyAccessible ?? false,
    storageEncrypted: db.StorageEncrypted ?? false,
    backupRetentionDays: db.BackupRetentionPeriod ?? 0,
  };
}

function notFound(identifier: string, region: string): PgshiftError {
  return usageError(
    `RDS instance '${identifier}' does not exist in ${region}`,
    `check the identifier and region: aws rds describe-db-instances --region ${region} --query 'DBInstances[].DBInstanceIdentifier'`,
  );
}

/**
 * The value of `rds.logical_replication` stored in a parameter group (what the instance will run
 * with once the group is in sync), or undefined when the group does not list it.
 * DescribeDBParameters has no working name filter, so this pages until it finds the parameter.
 */
export async function readParameter(rds: RDSClient, groupName: string, parameter: string, region: string): Promise<string | undefined> {
  let marker: string | undefined;
  do {
    let out: DescribeDBParametersCommandOutput;
    try {
      out = await rds.send(new DescribeDBParametersCommand({ DBParameterGroupName: groupName, Marker: marker, MaxRecords: 100 }));
    } catch (err) {
      if (isNotFound(err, 'DBParameterGroupNotFound')) {
        throw usageError(
          `RDS parameter group '${groupName}' does not exist in ${region}`,
          'check the parameter group attached to the instance',
        );
      }
      throw explainAwsError(err, { action: 'rds:DescribeDBParameters', what: `reading parameter group ${groupName}`, region });
    }
    const found = out.Parameters?.find((p) => p.ParameterName === parameter);
    if (found) return found.ParameterValue;
    marker = out.Marker;
  } while (marker);
  return undefined;
}

/**
 * Logical replication on RDS needs `rds.logical_replication = 1` *in effect*: a static parameter,
 * so a changed group stays 'pending-reboot' until the instance reboots, and until then the
 * subscription cannot be created on RDS nor a reverse slot taken there.
 */
export function logicalReplicationCheck(instance: RdsInstance, value: string | undefined): AwsCheck {
  const id = 'rds-logical-replication';
  const group = instance.parameterGroups[0];
  const region = `--region ${instance.region}`;
  const reboot = `aws rds reboot-db-instance --db-instance-identifier ${instance.identifier} ${region}`;
  if (!group) {
    return {
      id,
      status: 'FAIL',
      detail: `${instance.identifier} reports no DB parameter group`,
      remediation: `aws rds describe-db-instances --db-instance-identifier ${instance.identifier} ${region}`,
    };
  }
  const setParameter = (name: string) =>
    `aws rds modify-db-parameter-group --db-parameter-group-name ${name} --parameters "ParameterName=${LOGICAL_REPLICATION_PARAMETER},ParameterValue=1,ApplyMethod=pending-reboot" ${region}`;
  if (value !== '1') {
    const shown = value === undefined ? 'not set (default 0)' : `'${value}'`;
    if (group.name.startsWith('default.')) {
      // Default groups cannot be modified: a custom group of the same family has to be attached first.
      const family = `postgres${instance.engineVersion.split('.')[0]}`;
      const custom = `pgshift-${family}`;
      return {
        id,
        status: 'FAIL',
        detail: `${LOGICAL_REPLICATION_PARAMETER} is ${shown} in the default parameter group ${group.name}, which cannot be changed`,
        remediation: [
          `aws rds create-db-parameter-group --db-parameter-group-name ${custom} --db-parameter-group-family ${family} --description "pgshift logical replication" ${region}`,
          setParameter(custom),
          `aws rds modify-db-instance --db-instance-identifier ${instance.identifier} --db-parameter-group-name ${custom} --apply-immediately ${region}`,
          reboot,
        ].join(' && '),
      };
    }
    return {
      id,
      status: 'FAIL',
      detail: `${LOGICAL_REPLICATION_PARAMETER} is ${shown} in parameter group ${group.name}`,
      remediation: `${setParameter(group.name)} && ${reboot}`,
    };
  }
  if (group.applyStatus === 'pending-reboot') {
    return {
      id,
      status: 'FAIL',
      detail: `${LOGICAL_REPLICATION_PARAMETER} = 1 in ${group.name} but the instance has not rebooted yet (pending-reboot), so it is not in effect`,
      remediation: reboot,
    };
  }
  if (group.applyStatus !== 'in-sync') {
    return {
      id,
      status: 'WARN',
      detail: `${LOGICAL_REPLICATION_PARAMETER} = 1 in ${group.name}, parameter group state '${group.applyStatus}'`,
      remediation: `aws rds wait db-instance-available --db-instance-identifier ${instance.identifier} ${region}`,
    };
  }
  return { id, status: 'PASS', detail: `${LOGICAL_REPLICATION_PARAMETER} = 1 in ${group.name} (in-sync)` };
}

/** The instance must be 'available' to take a subscription and a snapshot. */
export function instanceStatusCheck(instance: RdsInstance): AwsCheck {
  const id = 'rds-status';
  const detail = `${instance.identifier}: ${instance.status}, ${instance.engine} ${instance.engineVersion}`;
  if (instance.engine !== 'postgres') {
    return {
      id,
      status: 'FAIL',
      detail: `${detail}: pgshift targets RDS for PostgreSQL (engine 'postgres')`,
      remediation: 'create an RDS for PostgreSQL 17 instance (see infra/)',
    };
  }
  if (instance.status === 'available') return { id, status: 'PASS', detail };
  const wait = `aws rds wait db-instance-available --db-instance-identifier ${instance.identifier} --region ${instance.region}`;
  // Transitional states end by themselves; anything else (stopped, failed, storage-full) needs a person.
  const transitional = [
    'creating',
    'backing-up',
    'modifying',
    'rebooting',
    'starting',
    'configuring-enhanced-monitoring',
    'maintenance',
    'upgrading',
    'renaming',
    'resetting-master-credentials',
  ];
  if (transitional.includes(instance.status)) return { id, status: 'WARN', detail, remediation: wait };
  const remediation =
    instance.status === 'stopped'
      ? `aws rds start-db-instance --db-instance-identifier ${instance.identifier} --region ${instance.region}`
      : `aws rds describe-events --source-type db-instance --source-identifier ${instance.identifier} --region ${instance.region}`;
  return { id, status: 'FAIL', detail, remediation };
}

/** After cutover RDS is the primary: without automated backups there is no point-in-time recovery. */
export function backupRetentionCheck(instance: RdsInstance): AwsCheck {
  const id = 'rds-backups';
  if (instance.backupRetentionDays >= 1)
    return { id, status: 'PASS', detail: `automated backups kept ${instance.backupRetentionDays} day(s)` };
  return {
    id,
    status: 'WARN',
    detail: 'automated backups are off: no point-in-time recovery once RDS takes the writes',
    remediation: `aws rds modify-db-instance --db-instance-identifier ${instance.identifier} --backup-retention-period 7 --apply-immediately --region ${instance.region}`,
  };
}

/** A target reachable from the internet is one leaked password away from everyone. */
export function privateAccessCheck(instance: RdsInstance): AwsCheck {
  const id = 'rds-private';
  if (!instance.publiclyAccessible) return { id, status: 'PASS', detail: 'not publicly accessible' };
  return {
    id,
    status: 'WARN',
    detail: 'the instance is publicly accessible',
    remediation: `aws rds modify-db-instance --db-instance-identifier ${instance.identifier} --no-publicly-accessible --apply-immediately --region ${instance.region}`,
  };
}

/** Every RDS-side check preflight lists, in runbook order. */
export async function rdsChecks(rds: RDSClient, instance: RdsInstance): Promise<AwsCheck[]> {
  const group = instance.parameterGroups[0];
  const value = group ? await readParameter(rds, group.name, LOGICAL_REPLICATION_PARAMETER, instance.region) : undefined;
  return [
    instanceStatusCheck(instance),
    logicalReplicationCheck(instance, value),
    privateAccessCheck(instance),
    backupRetentionCheck(instance),
  ];
}

/**
 * A snapshot identifier RDS accepts (letters, digits and single hyphens, starting with a letter),
 * e.g. `tasteam-v2-pgshift-pre-cutover-20261126-0315`. It starts with the instance identifier
 * because the migration role may create snapshots named `<instance>-*` only (infra/stacks/bootstrap.ts).
 */
export function snapshotIdentifier(dbInstanceIdentifier: string, purpose: string, at: Date = new Date()): string {
  const stamp = at.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 13);
  const raw = `${dbInstanceIdentifier}-pgshift-${purpose}-${stamp}`.toLowerCase();
  return raw
    .replace(/[^a-z0-9-]/g, '-')
    .replace(/-+/g, '-')
    .replace(/-$/, '')
    .slice(0, 255);
}

export interface SnapshotResult {
  snapshotIdentifier: string;
  arn?: string;
  status: string;
  /** True when a snapshot with this identifier already existed (a rerun) and was waited for instead. */
  reused: boolean;
  polls: number;
}

/**
 * The plan's checklist takes an RDS snapshot before cutover. Creates it (or, on a rerun, finds
 * the one with the same identifier) and waits, bounded, until it is 'available'.
 */
export async function createDbSnapshot(
  rds: RDSClient,
  opts: { dbInstanceIdentifier: string; snapshotIdentifier: string; region: string; tags?: Record<string, string>; wait?: WaitOptions },
): Promise<SnapshotResult> {
  const { dbInstanceIdentifier: db, snapshotIdentifier: snap, region } = opts;
  let reused = false;
  try {
    await rds.send(
      new CreateDBSnapshotCommand({
        DBInstanceIdentifier: db,
        DBSnapshotIdentifier: snap,
        Tags: Object.entries({ 'pgshift:purpose': 'pre-cutover', ...opts.tags }).map(([Key, Value]) => ({ Key, Value })),
      }),
    );
  } catch (err) {
    const name = awsErrorName(err);
    if (name === 'DBSnapshotAlreadyExistsFault' || name === 'DBSnapshotAlreadyExists') reused = true;
    else if (isNotFound(err, 'DBInstanceNotFound')) throw notFound(db, region);
    else if (name === 'SnapshotQuotaExceededFault' || name === 'SnapshotQuotaExceeded') {
      throw usageError(
        `the manual snapshot quota in ${region} is used up`,
        `delete old snapshots: aws rds describe-db-snapshots --snapshot-type manual --region ${region}`,
      );
    } else if (name === 'InvalidDBInstanceStateFault' || name === 'InvalidDBInstanceState') {
      throw usageError(
        `RDS instance ${db} cannot be snapshotted in its current state`,
        `wait for it: aws rds wait db-instance-available --db-instance-identifier ${db} --region ${region}`,
      );
    } else
      throw explainAwsError(err, {
        action: 'rds:CreateDBSnapshot',
        alsoNeeds: ['rds:AddTagsToResource'],
        what: `snapshotting ${db}`,
        region,
      });
  }
  let arn: string | undefined;
  const { state, polls } = await pollUntil(
    async () => {
      try {
        const out = await rds.send(new DescribeDBSnapshotsCommand({ DBSnapshotIdentifier: snap }));
        const s = out.DBSnapshots?.[0];
        arn = s?.DBSnapshotArn;
        return s?.Status ?? 'missing';
      } catch (err) {
        if (isNotFound(err, 'DBSnapshotNotFound')) return 'missing';
        throw explainAwsError(err, { action: 'rds:DescribeDBSnapshots', what: `waiting for snapshot ${snap}`, region });
      }
    },
    {
      ready: ['available'],
      failed: ['failed', 'incompatible-restore', 'incompatible-parameters', 'deleted'],
      what: `RDS snapshot ${snap}`,
      onTimeout: `wait for it with \`aws rds wait db-snapshot-available --db-snapshot-identifier ${snap} --region ${region}\`, then rerun: the same identifier is reused`,
      onFailed: `look at \`aws rds describe-events --source-type db-snapshot --source-identifier ${snap} --region ${region}\` and take a new snapshot`,
    },
    opts.wait,
  );
  return { snapshotIdentifier: snap, arn, status: state, reused, polls };
}

/** RDS raises `<Thing>NotFoundFault` (modeled) or `<Thing>NotFound` (wire code) for a missing resource. */
function isNotFound(err: unknown, code: string): boolean {
  const name = awsErrorName(err);
  return name === code || name === `${code}Fault`;
}
