// Production: RDS PostgreSQL added to the existing v1 VPC, next to the running EC2. The VPC and the EC2's
// security group are referenced by id and never managed here (no data sources either: ids come from the
// reviewed config), so a plan can only ever add to them — private subnets, the database, and the four
// PostgreSQL rules of the replication path (two of them on the existing group).
import type { Construct } from 'constructs';
import { TerraformOutput, TerraformStack } from 'cdktf';
import { Subnet } from '@cdktf/provider-aws/lib/subnet/index.js';
import { RouteTable } from '@cdktf/provider-aws/lib/route-table/index.js';
import { RouteTableAssociation } from '@cdktf/provider-aws/lib/route-table-association/index.js';
import { STACKS, type InfraConfig, type ProductionConfig } from '../config.js';
import { awsProvider, stateBackend } from '../constructs/aws-stack-base.js';
import { PostgresTarget, POSTGRES_PORT } from '../constructs/postgres-target.js';
import { ReplicationPath } from '../constructs/replication-path.js';

export class ProductionStack extends TerraformStack {
  readonly target: PostgresTarget;
  readonly subnets: Subnet[];

  constructor(scope: Construct, config: InfraConfig, production: ProductionConfig) {
    super(scope, STACKS.production);
    awsProvider(this, config, { Environment: production.environment });
    stateBackend(this, config, STACKS.production);

    // v1's VPC is the default-VPC layout whose main route table reaches the internet; the database gets
    // its own subnets with their own table holding only the local route.
    const routes = new RouteTable(this, 'db-private-rt', { vpcId: production.vpcId, tags: { Name: `${production.name}-db-private` } });
    this.subnets = production.dbSubnets.map((s, i) => {
      const subnet = new Subnet(this, `db-private-${i}`, {
        vpcId: production.vpcId,
        cidrBlock: s.cidr,
        availabilityZone: s.availabilityZone,
        mapPublicIpOnLaunch: false,
        tags: { Name: `${production.name}-db-${s.availabilityZone}`, Tier: 'private' },
      });
      new RouteTableAssociation(this, `db-private-rta-${i}`, { subnetId: subnet.id, routeTableId: routes.id });
      return subnet;
    });

    this.target = new PostgresTarget(this, 'target', {
      environment: production.environment,
      vpcId: production.vpcId,
      subnetIds: this.subnets.map((s) => s.id),
      database: production.database,
    });
    new ReplicationPath(this, 'replication', {
      sourceSecurityGroupId: production.sourceSecurityGroupId,
      targetSecurityGroupId: this.target.securityGroup.id,
    });

    const db = this.target.instance;
    const d = production.database;
    new TerraformOutput(this, 'rds_endpoint', { value: db.address, description: 'RDS endpoint (private; reachable from the v1 EC2)' });
    new TerraformOutput(this, 'rds_port', { value: db.port, description: 'RDS port' });
    new TerraformOutput(this, 'rds_identifier', { value: db.identifier, description: 'RDS instance identifier' });
    new TerraformOutput(this, 'rds_master_secret_arn', {
      value: this.target.masterSecretArn,
      description: 'Secrets Manager secret holding the RDS master credentials',
    });
    new TerraformOutput(this, 'rds_security_group_id', {
      value: this.target.securityGroup.id,
      description: 'Security group of the RDS instance',
    });
    new TerraformOutput(this, 'psql_command', {
      value:
        `PGPASSWORD="$(aws secretsmanager get-secret-value --region ${config.region} --secret-id '${this.target.masterSecretArn}' --query SecretString --output text | jq -r .password)" ` +
        `psql "host=${db.address} port=${POSTGRES_PORT} dbname=${d.dbName} user=${d.masterUsername} sslmode=require"`,
      description: 'psql to RDS, to paste on the v1 EC2',
    });
  }
}
