// Experiment 01 (the plan's §3): a VPC of its own, the source EC2 from the production AMI, RDS PostgreSQL 17,
// with the plan's gaps closed (replication path both ways, no open SSH/PostgreSQL, managed password,
// encryption, backups, IMDSv2, instance profile, runner registration).
import type { Construct } from 'constructs';
import { TerraformOutput, TerraformStack } from 'cdktf';
import { STACKS, type InfraConfig } from '../config.js';
import { awsProvider, stateBackend } from '../constructs/aws-stack-base.js';
import { ExperimentNetwork } from '../constructs/experiment-network.js';
import { PostgresTarget, POSTGRES_PORT } from '../constructs/postgres-target.js';
import { ReplicationPath } from '../constructs/replication-path.js';
import { SourceHost } from '../constructs/source-host.js';

export class SingleVpcRdsStack extends TerraformStack {
  readonly network: ExperimentNetwork;
  readonly target: PostgresTarget;
  readonly source: SourceHost;

  constructor(scope: Construct, config: InfraConfig) {
    super(scope, STACKS.experiment);
    const experiment = config.experiment;
    awsProvider(this, config, { Experiment: STACKS.experiment, Environment: experiment.environment });
    stateBackend(this, config, STACKS.experiment);

    this.network = new ExperimentNetwork(this, 'network', experiment);
    this.target = new PostgresTarget(this, 'target', {
      environment: experiment.environment,
      vpcId: this.network.vpc.id,
      subnetIds: this.network.privateSubnets.map((s) => s.id),
      database: experiment.database,
    });
    this.source = new SourceHost(this, 'source', {
      config: experiment,
      github: config.github,
      region: config.region,
      vpcId: this.network.vpc.id,
      subnetId: this.network.publicSubnet.id,
      dbInstanceArn: this.target.instance.arn,
      dbIdentifier: experiment.database.identifier,
      dbSecretArn: this.target.masterSecretArn,
    });
    new ReplicationPath(this, 'replication', {
      sourceSecurityGroupId: this.source.securityGroup.id,
      targetSecurityGroupId: this.target.securityGroup.id,
    });

    this.outputs(config);
  }

  private outputs(config: InfraConfig): void {
    const { source, database } = config.experiment;
    const db = this.target.instance;
    const publicIp = this.source.eip.publicIp;
    const instanceId = this.source.instance.id;
    const out = (id: string, value: string, description: string): void => {
      new TerraformOutput(this, id, { value, description });
    };
    out('source_instance_id', instanceId, 'Source EC2 instance id');
    out('source_public_ip', publicIp, 'Source EC2 Elastic IP');
    out('source_private_ip', this.source.instance.privateIp, 'Source EC2 private IP: the address RDS subscribes to');
    out('rds_endpoint', db.address, 'RDS endpoint (private; reachable from the source host)');
    out('rds_port', `${db.port}`, 'RDS port');
    out('rds_identifier', db.identifier, 'RDS instance identifier');
    out('rds_master_secret_arn', this.target.masterSecretArn, 'Secrets Manager secret holding the RDS master credentials');
    out(
      'ssm_command',
      `aws ssm start-session --region ${config.region} --target ${instanceId}`,
      'Shell on the source host through Session Manager',
    );
    const key = source.keyName === undefined ? '' : `-i ~/.ssh/${source.keyName}.pem `;
    out(
      'ssh_command',
      source.adminCidrs.length > 0
        ? `ssh ${key}${source.sshUser}@${publicIp}`
        : 'SSH is closed (no adminCidrs configured): use ssm_command',
      'SSH to the source host',
    );
    // Run on the source host: RDS is private. The password comes from Secrets Manager at the moment of use.
    out(
      'psql_command',
      `PGPASSWORD="$(aws secretsmanager get-secret-value --region ${config.region} --secret-id '${this.target.masterSecretArn}' --query SecretString --output text | jq -r .password)" ` +
        `psql "host=${db.address} port=${POSTGRES_PORT} dbname=${database.dbName} user=${database.masterUsername} sslmode=require"`,
      'psql to RDS, to paste on the source host',
    );
    out(
      'source_conninfo_for_rds',
      `host=${this.source.instance.privateIp} port=${POSTGRES_PORT} dbname=${database.dbName}`,
      'How RDS reaches the source (for the subscription; add user and password)',
    );
  }
}
