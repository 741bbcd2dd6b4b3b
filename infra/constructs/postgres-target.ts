// The migration target: RDS for PostgreSQL in private subnets, with logical replication on from the first
// boot, its master password kept by Secrets Manager, encrypted, backed up. Shared by the experiment and
// production stacks so the two cannot drift apart in what matters.
import { Construct } from 'constructs';
import { DbInstance } from '@cdktf/provider-aws/lib/db-instance/index.js';
import { DbParameterGroup } from '@cdktf/provider-aws/lib/db-parameter-group/index.js';
import { DbSubnetGroup } from '@cdktf/provider-aws/lib/db-subnet-group/index.js';
import { SecurityGroup } from '@cdktf/provider-aws/lib/security-group/index.js';
import { environmentProfile, type DatabaseConfig, type EnvironmentName } from '../config.js';

export const POSTGRES_PORT = 5432;

export interface PostgresTargetProps {
  environment: EnvironmentName;
  vpcId: string;
  subnetIds: string[];
  database: DatabaseConfig;
  /**
   * KMS key for the master secret; default: the AWS-managed aws/secretsmanager key, which no other
   * account may use. Experiment 02 gives a customer-managed key that account A's runner may decrypt with.
   */
  masterUserSecretKmsKeyId?: string;
}

export class PostgresTarget extends Construct {
  readonly securityGroup: SecurityGroup;
  readonly parameterGroup: DbParameterGroup;
  readonly subnetGroup: DbSubnetGroup;
  readonly instance: DbInstance;

  constructor(scope: Construct, id: string, props: PostgresTargetProps) {
    super(scope, id);
    const db = props.database;
    const profile = environmentProfile(props.environment);

    // No inline rules: the replication path adds them as separate rule resources, so nothing here
    // fights with rules added to this group later, and every rule shows up on its own in a plan.
    this.securityGroup = new SecurityGroup(this, 'sg', {
      name: `${db.identifier}-rds`,
      description: `RDS ${db.identifier}: PostgreSQL only to and from the source host`,
      vpcId: props.vpcId,
      tags: { Name: `${db.identifier}-rds` },
    });

    this.subnetGroup = new DbSubnetGroup(this, 'subnets', {
      name: `${db.identifier}-private`,
      description: `Private subnets for ${db.identifier}`,
      subnetIds: props.subnetIds,
    });

    this.parameterGroup = new DbParameterGroup(this, 'params', {
      // A prefix and create-before-destroy: a changed group is created next to the one in use, never deleted under it.
      namePrefix: `${db.identifier}-`,
      family: db.parameterGroupFamily,
      description: `${db.identifier}: logical replication for CDC and for reverse replication at rollback`,
      parameter: [
        // Static parameter: takes effect at creation, later only with a reboot (the plan's §3.4).
        { name: 'rds.logical_replication', value: '1', applyMethod: 'pending-reboot' },
      ],
      lifecycle: { createBeforeDestroy: true },
    });

    this.instance = new DbInstance(this, 'db', {
      identifier: db.identifier,
      engine: 'postgres',
      engineVersion: db.engineVersion,
      allowMajorVersionUpgrade: false,
      autoMinorVersionUpgrade: true,
      instanceClass: db.instanceClass,
      allocatedStorage: db.allocatedStorageGb,
      storageType: 'gp3',
      storageEncrypted: true,
      multiAz: db.multiAz,
      dbName: db.dbName,
      username: db.masterUsername,
      // RDS creates and rotates the password in Secrets Manager: it never sits in a variable, a tfvars file or the state.
      manageMasterUserPassword: true,
      masterUserSecretKmsKeyId: props.masterUserSecretKmsKeyId,
      port: POSTGRES_PORT,
      parameterGroupName: this.parameterGroup.name,
      dbSubnetGroupName: this.subnetGroup.name,
      vpcSecurityGroupIds: [this.securityGroup.id],
      publiclyAccessible: false,
      // Automated backups are what a pre-cutover snapshot and point-in-time restore stand on.
      backupRetentionPeriod: db.backupRetentionDays,
      copyTagsToSnapshot: true,
      deletionProtection: profile.deletionProtection,
      skipFinalSnapshot: profile.skipFinalSnapshot,
      finalSnapshotIdentifier: profile.skipFinalSnapshot ? undefined : `${db.identifier}-final`,
      applyImmediately: profile.applyImmediately,
      tags: { Name: db.identifier },
    });
  }

  /** ARN of the Secrets Manager secret RDS keeps the master credentials in. */
  get masterSecretArn(): string {
    return this.instance.masterUserSecret.get(0).secretArn;
  }
}
