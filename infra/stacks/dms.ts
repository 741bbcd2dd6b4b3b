// Experiment 03 (the plan's §5–6: AWS DMS as managed CDC, and the fallback when native logical replication
// fails): stack 03-dms next to experiment 01, and production-dms next to production. Both find the network
// they join by the names the other stacks give it (data sources, read at plan time), so nothing of 01 or
// production changes when DMS is added or removed.
//
// Apply order: bootstrap (DMS's fixed-name service roles must exist before the subnet group), the database
// stack, then this one with TF_VAR_rds_ca_bundle_pem set to the RDS CA bundle of the region.
import type { Construct } from 'constructs';
import { TerraformOutput, TerraformStack, TerraformVariable } from 'cdktf';
import { DataAwsSecurityGroup } from '@cdktf/provider-aws/lib/data-aws-security-group/index.js';
import { DataAwsSubnets } from '@cdktf/provider-aws/lib/data-aws-subnets/index.js';
import { DataAwsVpc } from '@cdktf/provider-aws/lib/data-aws-vpc/index.js';
import type { InfraConfig } from '../config.js';
import { awsProvider, stateBackend } from '../constructs/aws-stack-base.js';
import { DmsReplication } from '../constructs/dms-replication.js';
import { DMS_STACKS, type DmsConfig } from '../dms-config.js';

export type DmsVariant = 'experiment' | 'production';

export class DmsStack extends TerraformStack {
  readonly replication: DmsReplication;

  constructor(scope: Construct, config: InfraConfig, dms: DmsConfig, variant: DmsVariant) {
    const stackName = DMS_STACKS[variant];
    super(scope, stackName);
    awsProvider(this, config, { Experiment: DMS_STACKS.experiment, Environment: variant });
    stateBackend(this, config, stackName);

    const caBundle = new TerraformVariable(this, 'rds_ca_bundle_pem', {
      type: 'string',
      description: `PEM of the RDS CA bundle for ${config.region} (https://truststore.pki.rds.amazonaws.com/${config.region}/${config.region}-bundle.pem): the DMS target endpoint verifies RDS with it`,
      validation: [
        {
          condition: '${can(regex("-----BEGIN CERTIFICATE-----", var.rds_ca_bundle_pem))}',
          errorMessage: 'rds_ca_bundle_pem must hold PEM certificates (the RDS CA bundle of the region)',
        },
      ],
    });

    const network = variant === 'experiment' ? this.experimentNetwork(config) : this.productionNetwork(config);
    const name = variant === 'experiment' ? `${config.experiment.name}-dms` : `${config.production!.name}-dms`;
    this.replication = new DmsReplication(this, 'dms', {
      name,
      // The apply role manages only IAM roles under the experiment's prefix (bootstrap stack).
      secretsRoleName: `${config.experiment.name}-${variant === 'experiment' ? 'dms' : 'prod-dms'}-secrets`,
      environment: variant,
      region: config.region,
      ...network,
      dms,
      rdsCaBundlePem: caBundle.stringValue,
    });

    const out = (id: string, value: string, description: string) => new TerraformOutput(this, id, { value, description });
    const r = this.replication;
    out('replication_instance_arn', r.instance.replicationInstanceArn, 'pgshift --dms-instance-arn');
    out('replication_instance_id', r.instance.replicationInstanceId, 'CloudWatch dimension ReplicationInstanceIdentifier');
    out('source_endpoint_arn', r.source.endpointArn, 'pgshift --dms-source-endpoint-arn');
    out('target_endpoint_arn', r.target.endpointArn, 'pgshift --dms-target-endpoint-arn');
    out('reverse_source_endpoint_arn', r.reverseSource.endpointArn, 'pgshift --dms-reverse-source-endpoint-arn (--reverse-engine dms)');
    out('reverse_target_endpoint_arn', r.reverseTarget.endpointArn, 'pgshift --dms-reverse-target-endpoint-arn (--reverse-engine dms)');
    out(
      'source_secret_arn',
      r.sourceSecret.arn,
      'Put {"username","password","host","port"} of the DMS user on the source here (forward source and reverse target endpoints)',
    );
    out(
      'target_secret_arn',
      r.targetSecret.arn,
      'Put {"username","password","host","port"} of the DMS user on RDS here (forward target and reverse source endpoints)',
    );
    out('dms_security_group_id', r.securityGroup.id, "The replication instance's security group (pg_hba on the source: its subnets)");
  }

  /** Stack 01's network, found by the names it gives it. */
  private experimentNetwork(config: InfraConfig) {
    const e = config.experiment;
    const vpc = new DataAwsVpc(this, 'vpc', { filter: [{ name: 'tag:Name', values: [`${e.name}-vpc`] }] });
    const subnets = new DataAwsSubnets(this, 'private-subnets', {
      filter: [
        { name: 'vpc-id', values: [vpc.id] },
        { name: 'cidr-block', values: e.privateSubnetCidrs },
      ],
    });
    const group = (id: string, name: string) =>
      new DataAwsSecurityGroup(this, id, {
        filter: [
          { name: 'vpc-id', values: [vpc.id] },
          { name: 'group-name', values: [name] },
        ],
      }).id;
    return {
      vpcId: vpc.id,
      vpcCidr: e.vpcCidr,
      subnetIds: subnets.ids,
      sourceSecurityGroupId: group('source-sg', `${e.name}-source`),
      targetSecurityGroupId: group('rds-sg', `${e.database.identifier}-rds`),
      databaseName: e.database.dbName,
    };
  }

  /** The v1 VPC and EC2 security group by id (as the production stack takes them); its DB subnets by CIDR. */
  private productionNetwork(config: InfraConfig) {
    const p = config.production!;
    const subnets = new DataAwsSubnets(this, 'db-subnets', {
      filter: [
        { name: 'vpc-id', values: [p.vpcId] },
        { name: 'cidr-block', values: p.dbSubnets.map((s) => s.cidr) },
      ],
    });
    const rds = new DataAwsSecurityGroup(this, 'rds-sg', {
      filter: [
        { name: 'vpc-id', values: [p.vpcId] },
        { name: 'group-name', values: [`${p.database.identifier}-rds`] },
      ],
    });
    return {
      vpcId: p.vpcId,
      vpcCidr: p.vpcCidr,
      subnetIds: subnets.ids,
      sourceSecurityGroupId: p.sourceSecurityGroupId,
      targetSecurityGroupId: rds.id,
      databaseName: p.database.dbName,
    };
  }
}
