// The experiment's source: an EC2 from the production AMI (Docker PostgreSQL with data), reachable by SSH
// only from configured ranges (or not at all: SSM Session Manager), IMDSv2 only, with an instance profile
// that lets the self-hosted runner on it do the migration's AWS steps and nothing else.
import { Construct } from 'constructs';
import { Instance } from '@cdktf/provider-aws/lib/instance/index.js';
import { Eip } from '@cdktf/provider-aws/lib/eip/index.js';
import { SecurityGroup } from '@cdktf/provider-aws/lib/security-group/index.js';
import { VpcSecurityGroupIngressRule } from '@cdktf/provider-aws/lib/vpc-security-group-ingress-rule/index.js';
import { VpcSecurityGroupEgressRule } from '@cdktf/provider-aws/lib/vpc-security-group-egress-rule/index.js';
import { IamRole } from '@cdktf/provider-aws/lib/iam-role/index.js';
import { IamRolePolicy } from '@cdktf/provider-aws/lib/iam-role-policy/index.js';
import { IamRolePolicyAttachment } from '@cdktf/provider-aws/lib/iam-role-policy-attachment/index.js';
import { IamInstanceProfile } from '@cdktf/provider-aws/lib/iam-instance-profile/index.js';
import type { ExperimentConfig, GitHubConfig } from '../config.js';
import { escapeForTerraform, renderUserData } from './source-host-user-data.js';
import { policyDocument, RDS_DESCRIBE_ACTIONS } from './policy.js';

export interface SourceHostProps {
  config: ExperimentConfig;
  github: GitHubConfig;
  region: string;
  vpcId: string;
  subnetId: string;
  /** The target database, for the instance profile's scope. */
  dbInstanceArn: string;
  dbIdentifier: string;
  dbSecretArn: string;
}

export class SourceHost extends Construct {
  readonly securityGroup: SecurityGroup;
  readonly role: IamRole;
  readonly instance: Instance;
  readonly eip: Eip;

  constructor(scope: Construct, id: string, props: SourceHostProps) {
    super(scope, id);
    const { config, github, region } = props;
    const name = `${config.name}-source`;

    this.securityGroup = new SecurityGroup(this, 'sg', {
      name,
      description: `${name}: SSH from admin ranges only; PostgreSQL rules come from the replication path`,
      vpcId: props.vpcId,
      tags: { Name: name },
    });
    config.source.adminCidrs.forEach((cidr, i) => {
      new VpcSecurityGroupIngressRule(this, `ssh-${i}`, {
        securityGroupId: this.securityGroup.id,
        ipProtocol: 'tcp',
        fromPort: 22,
        toPort: 22,
        cidrIpv4: cidr,
        description: `SSH from admin range ${cidr}`,
      });
    });
    // Out to the internet only for HTTPS/HTTP: packages, the runner and GitHub, SSM, Secrets Manager.
    for (const port of [443, 80]) {
      new VpcSecurityGroupEgressRule(this, `egress-${port}`, {
        securityGroupId: this.securityGroup.id,
        ipProtocol: 'tcp',
        fromPort: port,
        toPort: port,
        cidrIpv4: '0.0.0.0/0',
        description: port === 443 ? 'HTTPS: GitHub, AWS APIs, package repositories' : 'HTTP: package repositories',
      });
    }

    this.role = new IamRole(this, 'role', {
      name,
      description: 'pgshift source host: runner registration, RDS secret, snapshots, AMI',
      assumeRolePolicy: policyDocument([{ Effect: 'Allow', Principal: { Service: 'ec2.amazonaws.com' }, Action: 'sts:AssumeRole' }]),
    });
    // Session Manager: the way in when no SSH range is configured, and a way in when SSH breaks.
    new IamRolePolicyAttachment(this, 'ssm-core', {
      role: this.role.name,
      policyArn: 'arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore',
    });
    // What first boot needs, created before the instance so that user-data finds it in place.
    const bootPolicy = new IamRolePolicy(this, 'runner-registration', {
      name: 'runner-registration-token',
      role: this.role.id,
      policy: policyDocument([
        {
          Sid: 'ReadRunnerRegistrationToken',
          Effect: 'Allow',
          Action: ['ssm:GetParameter'],
          Resource: `arn:aws:ssm:${region}:*:parameter${github.runnerTokenParameter}`,
        },
      ]),
    });
    const profile = new IamInstanceProfile(this, 'profile', { name, role: this.role.name });

    const userData = renderUserData({
      region,
      repository: github.repository,
      runnerLabel: github.runnerLabel,
      tokenParameter: github.runnerTokenParameter,
      runnerVersion: github.runnerVersion,
      pgClientMajor: '17',
      dockerExec: config.source.runnerDockerExec,
    });

    this.instance = new Instance(this, 'instance', {
      ami: config.source.ami,
      instanceType: config.source.instanceType,
      subnetId: props.subnetId,
      vpcSecurityGroupIds: [this.securityGroup.id],
      keyName: config.source.keyName,
      iamInstanceProfile: profile.name,
      metadataOptions: { httpEndpoint: 'enabled', httpTokens: 'required', httpPutResponseHopLimit: 1 },
      rootBlockDevice: { volumeType: 'gp3', volumeSize: config.source.rootVolumeGb, encrypted: true, deleteOnTermination: true },
      userData: escapeForTerraform(userData),
      tags: { Name: name, Role: 'pgshift-source' },
      volumeTags: { Name: name },
      dependsOn: [bootPolicy],
      // user-data runs at first boot only; a later edit would just stop and start the source database.
      lifecycle: { ignoreChanges: ['user_data'] },
    });

    this.eip = new Eip(this, 'eip', { domain: 'vpc', instance: this.instance.id, tags: { Name: name } });

    // The migration's own AWS steps, for the workflows that run on this host.
    new IamRolePolicy(this, 'migration', {
      name: 'pgshift-migration',
      role: this.role.id,
      policy: policyDocument([
        {
          Sid: 'ReadTargetMasterSecret',
          Effect: 'Allow',
          Action: ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'],
          Resource: props.dbSecretArn,
        },
        {
          Sid: 'DescribeRds',
          Effect: 'Allow',
          Action: RDS_DESCRIBE_ACTIONS,
          Resource: '*',
        },
        {
          Sid: 'SnapshotTargetBeforeCutover',
          Effect: 'Allow',
          Action: ['rds:CreateDBSnapshot', 'rds:AddTagsToResource'],
          Resource: [props.dbInstanceArn, `arn:aws:rds:${region}:*:snapshot:${props.dbIdentifier}-*`],
        },
        {
          Sid: 'ImageOfSourceBeforeCutover',
          Effect: 'Allow',
          Action: ['ec2:CreateImage'],
          Resource: [this.instance.arn, `arn:aws:ec2:${region}::image/*`, `arn:aws:ec2:${region}::snapshot/*`],
        },
        {
          Sid: 'TagTheImageItMakes',
          Effect: 'Allow',
          Action: ['ec2:CreateTags'],
          Resource: [`arn:aws:ec2:${region}::image/*`, `arn:aws:ec2:${region}::snapshot/*`],
          Condition: { StringEquals: { 'ec2:CreateAction': 'CreateImage' } },
        },
        {
          Sid: 'DescribeEc2',
          Effect: 'Allow',
          Action: ['ec2:DescribeInstances', 'ec2:DescribeImages', 'ec2:DescribeSnapshots'],
          Resource: '*',
        },
      ]),
    });
  }
}
