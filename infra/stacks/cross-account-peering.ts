// Experiment 02 (the plan's cross-account step): the source in account A, RDS in account B, joined by VPC
// peering — one stack, two providers (constructs/account-providers.ts). And its production variant: A is
// v1's existing network (VPC, the EC2's security group, its route tables — the main one for default-VPC
// subnets), referenced by id; B gets a new VPC and RDS with the production profile.
import { Construct } from 'constructs';
import { TerraformOutput, TerraformStack } from 'cdktf';
import { Vpc } from '@cdktf/provider-aws/lib/vpc/index.js';
import { Subnet } from '@cdktf/provider-aws/lib/subnet/index.js';
import { InternetGateway } from '@cdktf/provider-aws/lib/internet-gateway/index.js';
import { RouteTable } from '@cdktf/provider-aws/lib/route-table/index.js';
import { Route } from '@cdktf/provider-aws/lib/route/index.js';
import { RouteTableAssociation } from '@cdktf/provider-aws/lib/route-table-association/index.js';
import { IamRolePolicy } from '@cdktf/provider-aws/lib/iam-role-policy/index.js';
import type { InfraConfig } from '../config.js';
import { CROSS_ACCOUNT_STACKS, type CrossAccountConfig, type CrossAccountProduction } from '../cross-account-config.js';
import { runnerRoleArns, targetRoleArns } from '../cross-account-roles.js';
import { stateBackend } from '../constructs/aws-stack-base.js';
import { accountProviders, useProvider, type AccountProviders } from '../constructs/account-providers.js';
import { SourceHost } from '../constructs/source-host.js';
import { TargetAccountDatabase } from '../constructs/target-account-database.js';
import { VpcPeering } from '../constructs/vpc-peering.js';
import { policyDocument } from '../constructs/policy.js';

export class CrossAccountPeeringStack extends TerraformStack {
  readonly providers: AccountProviders;
  readonly sourceVpc: Vpc;
  readonly source: SourceHost;
  readonly target: TargetAccountDatabase;
  readonly peering: VpcPeering;

  constructor(scope: Construct, config: InfraConfig, x: CrossAccountConfig) {
    super(scope, CROSS_ACCOUNT_STACKS.experiment);
    const e = x.experiment;
    this.providers = accountProviders(
      this,
      config,
      { source: x.sourceAccountId, target: x.targetAccountId },
      { Experiment: CROSS_ACCOUNT_STACKS.experiment, Environment: e.environment },
    );
    stateBackend(this, config, CROSS_ACCOUNT_STACKS.experiment);

    // Account B first: the source host's instance profile names B's database.
    const accountB = new Construct(this, 'account-b');
    this.target = new TargetAccountDatabase(accountB, 'target', {
      environment: 'experiment',
      name: e.name,
      region: config.region,
      sourceAccountId: x.sourceAccountId,
      targetAccountId: x.targetAccountId,
      network: e.target,
      runnerRoleArns: runnerRoleArns(x),
    });
    useProvider(accountB, this.providers.target);

    // Account A: experiment 01's source side, in a VPC of its own.
    const accountA = new Construct(this, 'account-a');
    this.sourceVpc = new Vpc(accountA, 'vpc', {
      cidrBlock: e.source.vpcCidr,
      enableDnsSupport: true,
      enableDnsHostnames: true,
      tags: { Name: `${e.name}-source-vpc` },
    });
    const igw = new InternetGateway(accountA, 'igw', { vpcId: this.sourceVpc.id, tags: { Name: `${e.name}-igw` } });
    const subnet = new Subnet(accountA, 'public', {
      vpcId: this.sourceVpc.id,
      cidrBlock: e.source.subnet.cidr,
      availabilityZoneId: e.source.subnet.availabilityZoneId,
      mapPublicIpOnLaunch: true,
      tags: { Name: `${e.name}-public-${e.source.subnet.availabilityZoneId}`, Tier: 'public' },
    });
    const routes = new RouteTable(accountA, 'public-rt', { vpcId: this.sourceVpc.id, tags: { Name: `${e.name}-public` } });
    new Route(accountA, 'public-default', { routeTableId: routes.id, destinationCidrBlock: '0.0.0.0/0', gatewayId: igw.id });
    new RouteTableAssociation(accountA, 'public-rta', { subnetId: subnet.id, routeTableId: routes.id });

    const db = this.target.target;
    this.source = new SourceHost(accountA, 'source', {
      config: { ...config.experiment, name: e.name },
      github: config.github,
      region: config.region,
      vpcId: this.sourceVpc.id,
      subnetId: subnet.id,
      dbInstanceArn: db.instance.arn,
      dbIdentifier: e.target.database.identifier,
      dbSecretArn: db.masterSecretArn,
    });
    const roles = targetRoleArns(x);
    // The runner on this host reads B through B's reader role (src/aws/clients.ts), and may decrypt the
    // master secret with B's customer-managed key.
    new IamRolePolicy(accountA, 'runner-reads-account-b', {
      name: 'pgshift-target-account',
      role: this.source.role.id,
      policy: policyDocument([
        { Sid: 'AssumeTargetAccountReader', Effect: 'Allow', Action: ['sts:AssumeRole', 'sts:TagSession'], Resource: roles.runnerReader },
        {
          Sid: 'DecryptTargetMasterSecret',
          Effect: 'Allow',
          Action: ['kms:Decrypt', 'kms:DescribeKey'],
          Resource: this.target.secretKey.arn,
        },
      ]),
    });
    useProvider(accountA, this.providers.source);

    this.peering = new VpcPeering(this, 'peering', {
      name: e.name,
      targetAccountId: x.targetAccountId,
      source: {
        provider: this.providers.source,
        vpcId: this.sourceVpc.id,
        routeTableIds: [routes.id],
        securityGroupId: this.source.securityGroup.id,
        cidrs: [e.source.subnet.cidr],
      },
      target: {
        provider: this.providers.target,
        vpcId: this.target.vpc.id,
        routeTableIds: [this.target.routeTable.id],
        securityGroupId: db.securityGroup.id,
        cidrs: e.target.dbSubnets.map((s) => s.cidr),
      },
    });

    const out = (id: string, value: string, description: string): void => {
      new TerraformOutput(this, id, { value, description });
    };
    out('source_instance_id', this.source.instance.id, 'Source EC2 instance id (account A)');
    out(
      'source_private_ip',
      this.source.instance.privateIp,
      'Source EC2 private IP: what RDS in account B subscribes to, through the peering',
    );
    out('ssm_command', `aws ssm start-session --region ${config.region} --target ${this.source.instance.id}`, 'Shell on the source host');
    targetOutputs(this, this.target, roles.runnerReader);
    out('peering_connection_id', this.peering.accepter.id, 'VPC peering connection (requester A, accepter B)');
  }
}

export class CrossAccountProductionStack extends TerraformStack {
  readonly providers: AccountProviders;
  readonly target: TargetAccountDatabase;
  readonly peering: VpcPeering;

  constructor(scope: Construct, config: InfraConfig, x: CrossAccountConfig, p: CrossAccountProduction) {
    super(scope, CROSS_ACCOUNT_STACKS.production);
    this.providers = accountProviders(
      this,
      config,
      { source: x.sourceAccountId, target: x.targetAccountId },
      { Environment: p.environment, Stack: CROSS_ACCOUNT_STACKS.production },
    );
    stateBackend(this, config, CROSS_ACCOUNT_STACKS.production);

    const accountB = new Construct(this, 'account-b');
    this.target = new TargetAccountDatabase(accountB, 'target', {
      environment: 'production',
      name: p.name,
      region: config.region,
      sourceAccountId: x.sourceAccountId,
      targetAccountId: x.targetAccountId,
      network: p.target,
      runnerRoleArns: runnerRoleArns(x),
    });
    useProvider(accountB, this.providers.target);

    // Account A is v1: nothing is created there but the peering request, its options, routes in the given
    // tables (the main one included) and PostgreSQL rules on the EC2's existing group.
    this.peering = new VpcPeering(this, 'peering', {
      name: p.name,
      targetAccountId: x.targetAccountId,
      source: {
        provider: this.providers.source,
        vpcId: p.source.vpcId,
        routeTableIds: p.source.routeTableIds,
        securityGroupId: p.source.securityGroupId,
        cidrs: [p.source.vpcCidr],
      },
      target: {
        provider: this.providers.target,
        vpcId: this.target.vpc.id,
        routeTableIds: [this.target.routeTable.id],
        securityGroupId: this.target.target.securityGroup.id,
        cidrs: p.target.dbSubnets.map((s) => s.cidr),
      },
    });
    targetOutputs(this, this.target, targetRoleArns(x).runnerReader);
    new TerraformOutput(this, 'peering_connection_id', {
      value: this.peering.accepter.id,
      description: 'VPC peering connection (requester A, accepter B)',
    });
  }
}

function targetOutputs(stack: TerraformStack, t: TargetAccountDatabase, readerRoleArn: string): void {
  const db = t.target.instance;
  const out = (id: string, value: string, description: string): void => {
    new TerraformOutput(stack, id, { value, description });
  };
  out('rds_endpoint', db.address, 'RDS endpoint in account B (private; resolves across the peering)');
  out('rds_port', `${db.port}`, 'RDS port');
  out('rds_identifier', db.identifier, 'RDS instance identifier (rds-instance-id of the pgshift actions)');
  out('rds_master_secret_arn', t.target.masterSecretArn, 'Secrets Manager secret (account B) holding the master credentials');
  out('master_secret_kms_key_arn', t.secretKey.arn, "Customer-managed key of the master secret (account A's runner may decrypt)");
  out('target_reader_role_arn', readerRoleArn, 'aws-target-role-arn of the pgshift actions: the runner assumes it to read B');
}
