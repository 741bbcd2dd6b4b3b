// Account B's side of experiment 02: a VPC of its own, two private DB subnets placed by zone *id*, one
// route table (the peering adds the route to the source), a customer-managed KMS key for the master secret,
// and the RDS target built exactly like experiment 01's (PostgresTarget).
import { Construct } from 'constructs';
import { Vpc } from '@cdktf/provider-aws/lib/vpc/index.js';
import { Subnet } from '@cdktf/provider-aws/lib/subnet/index.js';
import { RouteTable } from '@cdktf/provider-aws/lib/route-table/index.js';
import { RouteTableAssociation } from '@cdktf/provider-aws/lib/route-table-association/index.js';
import { KmsKey } from '@cdktf/provider-aws/lib/kms-key/index.js';
import { KmsAlias } from '@cdktf/provider-aws/lib/kms-alias/index.js';
import type { EnvironmentName } from '../config.js';
import type { TargetAccountNetwork } from '../cross-account-config.js';
import { PostgresTarget } from './postgres-target.js';
import { policyDocument } from './policy.js';

export interface TargetAccountDatabaseProps {
  environment: EnvironmentName;
  name: string;
  region: string;
  sourceAccountId: string;
  targetAccountId: string;
  network: TargetAccountNetwork;
  /** A's roles that may decrypt the master secret (through Secrets Manager only). */
  runnerRoleArns: string[];
}

export class TargetAccountDatabase extends Construct {
  readonly vpc: Vpc;
  readonly subnets: Subnet[];
  readonly routeTable: RouteTable;
  readonly secretKey: KmsKey;
  readonly target: PostgresTarget;

  constructor(scope: Construct, id: string, props: TargetAccountDatabaseProps) {
    super(scope, id);
    const { name, network } = props;

    this.vpc = new Vpc(this, 'vpc', {
      cidrBlock: network.vpcCidr,
      // The RDS endpoint must resolve to its private address, here and (with the peering's DNS option) in A.
      enableDnsSupport: true,
      enableDnsHostnames: true,
      tags: { Name: `${name}-db-vpc` },
    });
    // Only the local route and the peering's route to the source: no internet gateway, no NAT.
    this.routeTable = new RouteTable(this, 'db-rt', { vpcId: this.vpc.id, tags: { Name: `${name}-db-private` } });
    this.subnets = network.dbSubnets.map((s, i) => {
      const subnet = new Subnet(this, `db-${i}`, {
        vpcId: this.vpc.id,
        cidrBlock: s.cidr,
        // By zone id: ap-northeast-2a in A may be another building than ap-northeast-2a in B. Same id = same
        // zone in every account, which is also what keeps source-to-RDS traffic in one zone (and free).
        availabilityZoneId: s.availabilityZoneId,
        mapPublicIpOnLaunch: false,
        tags: { Name: `${name}-db-${s.availabilityZoneId}`, Tier: 'private' },
      });
      new RouteTableAssociation(this, `db-rta-${i}`, { subnetId: subnet.id, routeTableId: this.routeTable.id });
      return subnet;
    });

    // The AWS-managed aws/secretsmanager key cannot be used from another account. This key can: B's IAM
    // governs it as usual (the account root statement), and A's runner roles may decrypt, but only through
    // Secrets Manager in this region. Principals by aws:PrincipalArn, so the policy is valid before those
    // roles exist and survives their re-creation.
    const secretsService = `secretsmanager.${props.region}.amazonaws.com`;
    this.secretKey = new KmsKey(this, 'master-secret-key', {
      description: `${name}: RDS master secret of ${network.database.identifier}, readable by account A's pgshift runner`,
      enableKeyRotation: true,
      deletionWindowInDays: props.environment === 'production' ? 30 : 7,
      policy: policyDocument([
        {
          Sid: 'AccountBAdministersThroughIam',
          Effect: 'Allow',
          Principal: { AWS: `arn:aws:iam::${props.targetAccountId}:root` },
          Action: 'kms:*',
          Resource: '*',
        },
        {
          Sid: 'AccountARunnerReadsTheMasterSecret',
          Effect: 'Allow',
          Principal: { AWS: `arn:aws:iam::${props.sourceAccountId}:root` },
          Action: ['kms:Decrypt', 'kms:DescribeKey'],
          Resource: '*',
          Condition: {
            ArnEquals: { 'aws:PrincipalArn': props.runnerRoleArns },
            StringEquals: { 'kms:ViaService': secretsService },
          },
        },
      ]),
      tags: { Name: `${name}-master-secret` },
    });
    new KmsAlias(this, 'master-secret-key-alias', { name: `alias/${name}-master-secret`, targetKeyId: this.secretKey.keyId });

    this.target = new PostgresTarget(this, 'rds', {
      environment: props.environment,
      vpcId: this.vpc.id,
      subnetIds: this.subnets.map((s) => s.id),
      database: network.database,
      masterUserSecretKmsKeyId: this.secretKey.arn,
    });
  }
}
