// Experiment 03's AWS DMS side: a provisioned replication instance in private subnets, the two PostgreSQL
// endpoints, and the network between them. The replication *task* is not here: pgshift creates it at run
// time (cdc start --engine dms), because its start LSN is known only after full-load, and Terraform stops
// a running task on any change.
//  - Provisioned, not Serverless: Serverless cannot start CDC at a given position.
//  - auto_minor_version_upgrade off: an engine upgrade restarts running tasks in the middle of CDC.
//  - Endpoints read their credentials from their own Secrets Manager secrets {username, password, host,
//    port}: the RDS-managed master secret has no host or port, and no password ever enters Terraform.
//    The secrets are created empty; runbooks/dms.md puts the values in.
//  - DMS 3.4.7+ in a private subnet reaches Secrets Manager only through a VPC endpoint (443).
//  - Every endpoint on RDS verifies RDS's certificate (verify-full) against the RDS CA bundle.
//  - Two endpoint pairs: forward (reads the source, writes RDS) and reverse (reads RDS, writes the old
//    source) for `--reverse-engine dms`. An endpoint pair per direction, one secret per server: the DMS
//    user on a server is the same whichever way the data goes.
import { Construct } from 'constructs';
import { DmsCertificate } from '@cdktf/provider-aws/lib/dms-certificate/index.js';
import { DmsEndpoint } from '@cdktf/provider-aws/lib/dms-endpoint/index.js';
import { DmsReplicationInstance } from '@cdktf/provider-aws/lib/dms-replication-instance/index.js';
import { DmsReplicationSubnetGroup } from '@cdktf/provider-aws/lib/dms-replication-subnet-group/index.js';
import { IamRole } from '@cdktf/provider-aws/lib/iam-role/index.js';
import { IamRolePolicy } from '@cdktf/provider-aws/lib/iam-role-policy/index.js';
import { SecretsmanagerSecret } from '@cdktf/provider-aws/lib/secretsmanager-secret/index.js';
import { SecurityGroup } from '@cdktf/provider-aws/lib/security-group/index.js';
import { VpcEndpoint } from '@cdktf/provider-aws/lib/vpc-endpoint/index.js';
import { VpcSecurityGroupEgressRule } from '@cdktf/provider-aws/lib/vpc-security-group-egress-rule/index.js';
import { VpcSecurityGroupIngressRule } from '@cdktf/provider-aws/lib/vpc-security-group-ingress-rule/index.js';
import { environmentProfile, type EnvironmentName } from '../config.js';
import type { DmsConfig } from '../dms-config.js';
import { policyDocument } from './policy.js';
import { POSTGRES_PORT } from './postgres-target.js';

export interface DmsReplicationProps {
  /** Prefix of every resource name, e.g. "pgshift-01-dms". */
  name: string;
  /** The secrets-access role's name: it must carry the experiment's IAM prefix the apply role may manage. */
  secretsRoleName: string;
  environment: EnvironmentName;
  region: string;
  vpcId: string;
  vpcCidr: string;
  /** Private subnets in two availability zones. */
  subnetIds: string[];
  sourceSecurityGroupId: string;
  targetSecurityGroupId: string;
  databaseName: string;
  dms: DmsConfig;
  /** PEM of the RDS CA bundle for the target's verify-full. */
  rdsCaBundlePem: string;
}

export class DmsReplication extends Construct {
  readonly securityGroup: SecurityGroup;
  readonly instance: DmsReplicationInstance;
  /** Forward: reads the source, writes RDS. */
  readonly source: DmsEndpoint;
  readonly target: DmsEndpoint;
  /** Reverse (`--reverse-engine dms`, after cutover): reads RDS, writes the old source. */
  readonly reverseSource: DmsEndpoint;
  readonly reverseTarget: DmsEndpoint;
  readonly sourceSecret: SecretsmanagerSecret;
  readonly targetSecret: SecretsmanagerSecret;

  constructor(scope: Construct, id: string, props: DmsReplicationProps) {
    super(scope, id);
    const { name, dms } = props;
    const profile = environmentProfile(props.environment);
    const pg = { ipProtocol: 'tcp', fromPort: POSTGRES_PORT, toPort: POSTGRES_PORT };
    const https = { ipProtocol: 'tcp', fromPort: 443, toPort: 443 };

    this.securityGroup = new SecurityGroup(this, 'sg', {
      name,
      description: `${name}: DMS replication instance, PostgreSQL to the source and to RDS, HTTPS to Secrets Manager`,
      vpcId: props.vpcId,
      tags: { Name: name },
    });
    const sg = this.securityGroup.id;
    for (const [side, peer] of [
      ['source', props.sourceSecurityGroupId],
      ['target', props.targetSecurityGroupId],
    ] as const) {
      new VpcSecurityGroupEgressRule(this, `to-${side}-out`, {
        ...pg,
        securityGroupId: sg,
        referencedSecurityGroupId: peer,
        description: `DMS to the ${side} PostgreSQL`,
      });
      new VpcSecurityGroupIngressRule(this, `to-${side}-in`, {
        ...pg,
        securityGroupId: peer,
        referencedSecurityGroupId: sg,
        description: `PostgreSQL from the DMS replication instance (${name})`,
      });
    }
    this.secretsManagerPath(props, https);

    const subnets = new DmsReplicationSubnetGroup(this, 'subnets', {
      replicationSubnetGroupId: name,
      replicationSubnetGroupDescription: `${name}: private subnets in two availability zones`,
      subnetIds: props.subnetIds,
    });
    this.instance = new DmsReplicationInstance(this, 'instance', {
      replicationInstanceId: name,
      replicationInstanceClass: dms.instanceClass,
      allocatedStorage: dms.allocatedStorageGb,
      engineVersion: dms.engineVersion,
      autoMinorVersionUpgrade: false,
      allowMajorVersionUpgrade: false,
      publiclyAccessible: false,
      multiAz: false,
      replicationSubnetGroupId: subnets.id,
      vpcSecurityGroupIds: [sg],
      applyImmediately: profile.applyImmediately,
      tags: { Name: name },
    });

    const secret = (side: 'source' | 'target') =>
      new SecretsmanagerSecret(this, `${side}-secret`, {
        name: `${name}/${side}`,
        description: `DMS ${side} endpoint credentials as {"username","password","host","port"}; filled by hand (runbooks/dms.md), never by Terraform`,
        recoveryWindowInDays: profile.skipFinalSnapshot ? 0 : 7,
      });
    this.sourceSecret = secret('source');
    this.targetSecret = secret('target');
    const access = new IamRole(this, 'secrets-role', {
      name: props.secretsRoleName,
      description: `${name}: lets DMS read its two endpoint secrets`,
      assumeRolePolicy: policyDocument([
        { Effect: 'Allow', Principal: { Service: `dms.${props.region}.amazonaws.com` }, Action: 'sts:AssumeRole' },
      ]),
    });
    new IamRolePolicy(this, 'secrets-read', {
      name: 'read-endpoint-secrets',
      role: access.id,
      policy: policyDocument([
        {
          Sid: 'EndpointSecrets',
          Effect: 'Allow',
          Action: ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'],
          Resource: [this.sourceSecret.arn, this.targetSecret.arn],
        },
      ]),
    });

    const certificate = new DmsCertificate(this, 'rds-ca', { certificateId: `${name}-rds-ca`, certificatePem: props.rdsCaBundlePem });
    const credentials = (s: SecretsmanagerSecret) => ({ secretsManagerArn: s.arn, secretsManagerAccessRoleArn: access.arn });
    const onRds = {
      sslMode: 'verify-full',
      certificateArn: certificate.certificateArn,
      ...credentials(this.targetSecret),
      tags: { 'pgshift:server': 'rds' },
    };
    const onSource = { sslMode: dms.sourceSslMode, ...credentials(this.sourceSecret), tags: { 'pgshift:server': 'source' } };
    // A slot pgshift made, read with test_decoding: without slot_name DMS makes its own at "now" and loses
    // every write since (forward: full-load's slot with its exported snapshot; reverse: the slot cutover
    // makes on RDS inside the write freeze). DDL capture would install event triggers and tables: off.
    const reading = (slotName: string) => ({
      slotName,
      pluginName: 'test-decoding',
      captureDdls: false,
      failTasksOnLobTruncation: true,
      mapLongVarcharAs: dms.mapLongVarcharAs,
      mapBooleanAsBoolean: true,
      heartbeatEnable: false,
    });
    // Like a native apply worker: triggers and foreign keys on the target do not fire for replicated rows.
    const writing = { afterConnectScript: "SET session_replication_role = 'replica'", mapBooleanAsBoolean: true };
    const endpoint = (id: string, endpointType: 'source' | 'target', server: typeof onRds | typeof onSource, settings: object) =>
      new DmsEndpoint(this, id, {
        endpointId: `${name}-${id}`,
        endpointType,
        engineName: 'postgres',
        databaseName: props.databaseName,
        ...server,
        postgresSettings: settings,
        dependsOn: [this.instance],
      });
    this.source = endpoint('source', 'source', onSource, reading(dms.slotName));
    this.target = endpoint('target', 'target', onRds, writing);
    this.reverseSource = endpoint('reverse-source', 'source', onRds, reading(`${dms.slotName}_reverse`));
    this.reverseTarget = endpoint('reverse-target', 'target', onSource, writing);
  }

  /** DMS 3.4.7+ in a private subnet reaches Secrets Manager only through an interface endpoint. */
  private secretsManagerPath(props: DmsReplicationProps, https: { ipProtocol: string; fromPort: number; toPort: number }): void {
    const sg = this.securityGroup.id;
    if (!props.dms.createSecretsManagerEndpoint) {
      // The VPC's existing endpoint: its address is somewhere in the VPC.
      new VpcSecurityGroupEgressRule(this, 'secretsmanager-out', {
        ...https,
        securityGroupId: sg,
        cidrIpv4: props.vpcCidr,
        description: "DMS to the VPC's Secrets Manager endpoint",
      });
      return;
    }
    const endpointSg = new SecurityGroup(this, 'secretsmanager-sg', {
      name: `${props.name}-secretsmanager`,
      description: `${props.name}: Secrets Manager interface endpoint, HTTPS from DMS only`,
      vpcId: props.vpcId,
      tags: { Name: `${props.name}-secretsmanager` },
    });
    new VpcSecurityGroupEgressRule(this, 'secretsmanager-out', {
      ...https,
      securityGroupId: sg,
      referencedSecurityGroupId: endpointSg.id,
      description: 'DMS to the Secrets Manager endpoint',
    });
    new VpcSecurityGroupIngressRule(this, 'secretsmanager-in', {
      ...https,
      securityGroupId: endpointSg.id,
      referencedSecurityGroupId: sg,
      description: 'HTTPS from the DMS replication instance',
    });
    new VpcEndpoint(this, 'secretsmanager', {
      vpcId: props.vpcId,
      serviceName: `com.amazonaws.${props.region}.secretsmanager`,
      vpcEndpointType: 'Interface',
      privateDnsEnabled: true,
      subnetIds: props.subnetIds,
      securityGroupIds: [endpointSg.id],
      tags: { Name: `${props.name}-secretsmanager` },
    });
  }
}
