// PostgreSQL between the source host and RDS, in both directions. The plan opens only EC2 -> RDS, but a
// logical-replication subscription on RDS connects *out* to the source's walsender (RDS -> source 5432),
// and rollback's reverse replication needs the source to reach RDS (EC2 -> RDS 5432). Security groups are
// stateful per connection, so each direction needs the initiator's egress and the receiver's ingress.
import { Construct } from 'constructs';
import { VpcSecurityGroupIngressRule } from '@cdktf/provider-aws/lib/vpc-security-group-ingress-rule/index.js';
import { VpcSecurityGroupEgressRule } from '@cdktf/provider-aws/lib/vpc-security-group-egress-rule/index.js';
import { POSTGRES_PORT } from './postgres-target.js';

export interface ReplicationPathProps {
  /** The source EC2's security group: one this stack made, or an existing one by id (production). */
  sourceSecurityGroupId: string;
  targetSecurityGroupId: string;
}

export class ReplicationPath extends Construct {
  constructor(scope: Construct, id: string, props: ReplicationPathProps) {
    super(scope, id);
    const { sourceSecurityGroupId: source, targetSecurityGroupId: target } = props;
    const pg = { ipProtocol: 'tcp', fromPort: POSTGRES_PORT, toPort: POSTGRES_PORT };

    // Source host -> RDS: pg_restore and the data copy, the application after cutover, reverse replication.
    new VpcSecurityGroupEgressRule(this, 'source-to-target-out', {
      ...pg,
      securityGroupId: source,
      referencedSecurityGroupId: target,
      description: 'pgshift: source host to RDS PostgreSQL (load, app, reverse replication)',
    });
    new VpcSecurityGroupIngressRule(this, 'source-to-target-in', {
      ...pg,
      securityGroupId: target,
      referencedSecurityGroupId: source,
      description: 'pgshift: PostgreSQL from the source host',
    });

    // RDS -> source host: the subscription's connection to the source's publication (forward CDC).
    new VpcSecurityGroupEgressRule(this, 'target-to-source-out', {
      ...pg,
      securityGroupId: target,
      referencedSecurityGroupId: source,
      description: 'pgshift: RDS subscription to the source publication',
    });
    new VpcSecurityGroupIngressRule(this, 'target-to-source-in', {
      ...pg,
      securityGroupId: source,
      referencedSecurityGroupId: target,
      description: 'pgshift: logical replication from RDS (subscription connects to the source)',
    });
  }
}
