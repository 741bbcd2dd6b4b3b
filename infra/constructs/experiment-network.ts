// The plan's §3.2 network: one VPC, a public subnet for the source EC2 with an internet gateway, and two
// private subnets (two AZs, as a DB subnet group requires) with no route out — no NAT, as the plan decided.
import { Construct } from 'constructs';
import { Vpc } from '@cdktf/provider-aws/lib/vpc/index.js';
import { Subnet } from '@cdktf/provider-aws/lib/subnet/index.js';
import { InternetGateway } from '@cdktf/provider-aws/lib/internet-gateway/index.js';
import { RouteTable } from '@cdktf/provider-aws/lib/route-table/index.js';
import { Route } from '@cdktf/provider-aws/lib/route/index.js';
import { RouteTableAssociation } from '@cdktf/provider-aws/lib/route-table-association/index.js';
import type { ExperimentConfig } from '../config.js';

export class ExperimentNetwork extends Construct {
  readonly vpc: Vpc;
  readonly publicSubnet: Subnet;
  readonly privateSubnets: Subnet[];

  constructor(scope: Construct, id: string, config: ExperimentConfig) {
    super(scope, id);
    const name = config.name;
    const { primary, secondary } = config.availabilityZones;

    this.vpc = new Vpc(this, 'vpc', {
      cidrBlock: config.vpcCidr,
      // The RDS endpoint is a DNS name that must resolve to its private address inside the VPC.
      enableDnsSupport: true,
      enableDnsHostnames: true,
      tags: { Name: `${name}-vpc` },
    });

    const igw = new InternetGateway(this, 'igw', { vpcId: this.vpc.id, tags: { Name: `${name}-igw` } });

    this.publicSubnet = new Subnet(this, 'public', {
      vpcId: this.vpc.id,
      cidrBlock: config.publicSubnetCidr,
      availabilityZone: primary,
      // The instance needs the internet at first boot (packages, runner) before its Elastic IP is attached.
      mapPublicIpOnLaunch: true,
      tags: { Name: `${name}-public-${primary}`, Tier: 'public' },
    });
    const publicRoutes = new RouteTable(this, 'public-rt', { vpcId: this.vpc.id, tags: { Name: `${name}-public` } });
    new Route(this, 'public-default', { routeTableId: publicRoutes.id, destinationCidrBlock: '0.0.0.0/0', gatewayId: igw.id });
    new RouteTableAssociation(this, 'public-rta', { subnetId: this.publicSubnet.id, routeTableId: publicRoutes.id });

    // An explicit route table with only the local route: the subnets stay private even if someone later
    // adds an internet route to the VPC's main table.
    const privateRoutes = new RouteTable(this, 'private-rt', { vpcId: this.vpc.id, tags: { Name: `${name}-private` } });
    this.privateSubnets = config.privateSubnetCidrs.map((cidr, i) => {
      const az = i === 0 ? primary : secondary;
      const subnet = new Subnet(this, `private-${i}`, {
        vpcId: this.vpc.id,
        cidrBlock: cidr,
        availabilityZone: az,
        mapPublicIpOnLaunch: false,
        tags: { Name: `${name}-private-${az}`, Tier: 'private' },
      });
      new RouteTableAssociation(this, `private-rta-${i}`, { subnetId: subnet.id, routeTableId: privateRoutes.id });
      return subnet;
    });
  }
}
