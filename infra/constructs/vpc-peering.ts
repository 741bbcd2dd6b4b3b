// VPC peering between account A (requester: the source) and account B (accepter: RDS), with routes and
// PostgreSQL rules on both sides. What the provider's cross-account behaviour dictates:
//  - the requester has no `auto_accept` and no inline `requester`/`accepter` blocks: those call
//    ModifyVpcPeeringConnectionOptions with A's credentials for both sides and fail across accounts;
//  - B adopts its side with the accepter resource (`auto_accept = true`), with B's credentials;
//  - each side sets its own options in a separate options resource that references the *accepter*'s id,
//    because options on a connection that is not active yet fail with OperationNotPermitted;
//  - routes also reference the accepter, so they are made once the connection is active.
import { Construct } from 'constructs';
import type { AwsProvider } from '@cdktf/provider-aws/lib/provider/index.js';
import { VpcPeeringConnection } from '@cdktf/provider-aws/lib/vpc-peering-connection/index.js';
import { VpcPeeringConnectionAccepterA } from '@cdktf/provider-aws/lib/vpc-peering-connection-accepter/index.js';
import { VpcPeeringConnectionOptions } from '@cdktf/provider-aws/lib/vpc-peering-connection-options/index.js';
import { Route } from '@cdktf/provider-aws/lib/route/index.js';
import { VpcSecurityGroupIngressRule } from '@cdktf/provider-aws/lib/vpc-security-group-ingress-rule/index.js';
import { VpcSecurityGroupEgressRule } from '@cdktf/provider-aws/lib/vpc-security-group-egress-rule/index.js';
import { POSTGRES_PORT } from './postgres-target.js';

export interface PeeringSide {
  provider: AwsProvider;
  vpcId: string;
  /** Route tables that get a route to the other side through the peering. */
  routeTableIds: string[];
  /** The PostgreSQL host's security group on this side (the source EC2's; RDS's). */
  securityGroupId: string;
  /** The CIDRs the other side reaches: the source's subnet (or v1's VPC); B's DB subnets, never RDS's /32, which moves on failover. */
  cidrs: string[];
}

export interface VpcPeeringProps {
  name: string;
  /** Account B's id: the connection's peer_owner_id. */
  targetAccountId: string;
  source: PeeringSide;
  target: PeeringSide;
}

export class VpcPeering extends Construct {
  readonly connection: VpcPeeringConnection;
  readonly accepter: VpcPeeringConnectionAccepterA;

  constructor(scope: Construct, id: string, props: VpcPeeringProps) {
    super(scope, id);
    const { source: a, target: b } = props;

    this.connection = new VpcPeeringConnection(this, 'requester', {
      provider: a.provider,
      vpcId: a.vpcId,
      peerVpcId: b.vpcId,
      peerOwnerId: props.targetAccountId,
      tags: { Name: props.name, Side: 'requester' },
    });
    this.accepter = new VpcPeeringConnectionAccepterA(this, 'accepter', {
      provider: b.provider,
      vpcPeeringConnectionId: this.connection.id,
      autoAccept: true,
      tags: { Name: props.name, Side: 'accepter' },
    });
    const active = this.accepter.id;

    // The RDS endpoint and the source host's private DNS name resolve to private addresses across the peering.
    new VpcPeeringConnectionOptions(this, 'requester-options', {
      provider: a.provider,
      vpcPeeringConnectionId: active,
      requester: { allowRemoteVpcDnsResolution: true },
    });
    new VpcPeeringConnectionOptions(this, 'accepter-options', {
      provider: b.provider,
      vpcPeeringConnectionId: active,
      accepter: { allowRemoteVpcDnsResolution: true },
    });

    routes(this, 'source-route', a, b.cidrs, active);
    routes(this, 'target-route', b, a.cidrs, active);

    // CIDR rules, not group references: `account/sg-id` references across accounts have open provider bugs
    // (a perpetual diff without the prefix, InvalidGroupId.Malformed on update).
    const pg = { ipProtocol: 'tcp', fromPort: POSTGRES_PORT, toPort: POSTGRES_PORT };
    b.cidrs.forEach((cidr, i) => {
      // Source host -> RDS: the load, the application after cutover, reverse replication at rollback.
      new VpcSecurityGroupEgressRule(this, `source-to-target-out-${i}`, {
        ...pg,
        provider: a.provider,
        securityGroupId: a.securityGroupId,
        cidrIpv4: cidr,
        description: `pgshift: source host to RDS PostgreSQL in account B (${cidr})`,
      });
      // RDS's subscription -> the source's publication (forward CDC).
      new VpcSecurityGroupIngressRule(this, `target-to-source-in-${i}`, {
        ...pg,
        provider: a.provider,
        securityGroupId: a.securityGroupId,
        cidrIpv4: cidr,
        description: `pgshift: logical replication from RDS in account B (${cidr})`,
      });
    });
    a.cidrs.forEach((cidr, i) => {
      new VpcSecurityGroupIngressRule(this, `source-to-target-in-${i}`, {
        ...pg,
        provider: b.provider,
        securityGroupId: b.securityGroupId,
        cidrIpv4: cidr,
        description: `pgshift: PostgreSQL from the source in account A (${cidr})`,
      });
      new VpcSecurityGroupEgressRule(this, `target-to-source-out-${i}`, {
        ...pg,
        provider: b.provider,
        securityGroupId: b.securityGroupId,
        cidrIpv4: cidr,
        description: `pgshift: RDS subscription to the source publication in account A (${cidr})`,
      });
    });
  }
}

function routes(scope: Construct, id: string, side: PeeringSide, destinations: string[], connectionId: string): void {
  side.routeTableIds.forEach((routeTableId, t) => {
    destinations.forEach((cidr, d) => {
      new Route(scope, `${id}-${t}-${d}`, {
        provider: side.provider,
        routeTableId,
        destinationCidrBlock: cidr,
        vpcPeeringConnectionId: connectionId,
      });
    });
  });
}
