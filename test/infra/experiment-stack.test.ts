// Stack 01-single-vpc-rds as the plan's §3.2–3.4 describe it, and each gap the plan leaves, closed.
import { describe, expect, it } from 'vitest';
import { exampleConfig, ofType, only, ref, synthesize, type Json } from './fixtures.js';

const { experiment: tf } = synthesize();

const subnetByCidr = (cidr: string): Json => ofType(tf, 'aws_subnet').find(([, s]) => s.cidr_block === cidr)![1];
const subnetRef = (cidr: string): string => ref(tf, 'aws_subnet', (s) => s.cidr_block === cidr);
const sgRef = (namePart: string): string => ref(tf, 'aws_security_group', (s) => String(s.name).endsWith(namePart));
const rules = (type: 'ingress' | 'egress'): Json[] => ofType(tf, `aws_vpc_security_group_${type}_rule`).map(([, r]) => r);
const policies = (): Array<{ name: string; doc: Json }> =>
  ofType(tf, 'aws_iam_role_policy').map(([, p]) => ({ name: p.name, doc: JSON.parse(p.policy) }));
const statement = (sid: string): Json =>
  policies()
    .flatMap((p) => p.doc.Statement)
    .find((s: Json) => s.Sid === sid);

describe('network (plan §3.2)', () => {
  it("a VPC 10.1.0.0/16 with DNS, apart from v1's 172.31.0.0/16", () => {
    expect(only(tf, 'aws_vpc')).toMatchObject({ cidr_block: '10.1.0.0/16', enable_dns_support: true, enable_dns_hostnames: true });
  });

  it('a public subnet 10.1.1.0/24 in 2b and private 10.1.10.0/24 (2b) and 10.1.11.0/24 (2d)', () => {
    expect(ofType(tf, 'aws_subnet')).toHaveLength(3);
    expect(subnetByCidr('10.1.1.0/24')).toMatchObject({ availability_zone: 'ap-northeast-2b', map_public_ip_on_launch: true });
    expect(subnetByCidr('10.1.10.0/24')).toMatchObject({ availability_zone: 'ap-northeast-2b', map_public_ip_on_launch: false });
    expect(subnetByCidr('10.1.11.0/24')).toMatchObject({ availability_zone: 'ap-northeast-2d', map_public_ip_on_launch: false });
  });

  it('the public subnet routes 0.0.0.0/0 to the internet gateway; the private ones have no route out and no NAT', () => {
    const igw = ref(tf, 'aws_internet_gateway', () => true);
    const route = only(tf, 'aws_route');
    expect(route).toMatchObject({ destination_cidr_block: '0.0.0.0/0', gateway_id: igw });
    const associations = ofType(tf, 'aws_route_table_association').map(([, a]) => a);
    const tableOf = (cidr: string): string => associations.find((a) => a.subnet_id === subnetRef(cidr))!.route_table_id;
    expect(tableOf('10.1.1.0/24')).toBe(route.route_table_id);
    const privateTable = tableOf('10.1.10.0/24');
    expect(tableOf('10.1.11.0/24')).toBe(privateTable);
    expect(privateTable).not.toBe(route.route_table_id);
    for (const [, table] of ofType(tf, 'aws_route_table')) expect(table.route).toBeUndefined();
    expect(ofType(tf, 'aws_nat_gateway')).toEqual([]);
  });
});

describe('RDS target (plan §3.2, §3.4, and what it misses)', () => {
  const db = only(tf, 'aws_db_instance');

  it('PostgreSQL 17 on db.t3.micro, gp3 20 GB, single-AZ, in a subnet group of the two private subnets', () => {
    expect(db).toMatchObject({
      engine: 'postgres',
      engine_version: '17',
      instance_class: 'db.t3.micro',
      allocated_storage: 20,
      storage_type: 'gp3',
      multi_az: false,
      db_name: 'tasteam',
      username: 'postgres',
      port: 5432,
    });
    const group = only(tf, 'aws_db_subnet_group');
    expect(group.subnet_ids).toEqual([subnetRef('10.1.10.0/24'), subnetRef('10.1.11.0/24')]);
    expect(db.db_subnet_group_name).toBe(ref(tf, 'aws_db_subnet_group', () => true, 'name'));
  });

  it('a postgres17 parameter group with rds.logical_replication = 1, applied at pending-reboot', () => {
    const group = only(tf, 'aws_db_parameter_group');
    expect(group.family).toBe('postgres17');
    expect(group.parameter).toEqual([{ name: 'rds.logical_replication', value: '1', apply_method: 'pending-reboot' }]);
    expect(group.lifecycle).toEqual({ create_before_destroy: true });
    expect(db.parameter_group_name).toBe(ref(tf, 'aws_db_parameter_group', () => true, 'name'));
  });

  it('private and encrypted', () => {
    expect(db.publicly_accessible).toBe(false);
    expect(db.storage_encrypted).toBe(true);
  });

  it('the master password is managed by Secrets Manager: no password attribute, no variable', () => {
    expect(db.manage_master_user_password).toBe(true);
    expect(db.password).toBeUndefined();
    expect(db.password_wo).toBeUndefined();
    expect(tf.variable).toBeUndefined();
  });

  it('keeps automated backups at least a day, so a pre-cutover snapshot and point-in-time restore work', () => {
    expect(db.backup_retention_period).toBeGreaterThanOrEqual(1);
    expect(db.copy_tags_to_snapshot).toBe(true);
  });

  it('experiment: no deletion protection and no final snapshot, as the plan ends it with terraform destroy', () => {
    expect(db).toMatchObject({ deletion_protection: false, skip_final_snapshot: true, apply_immediately: true });
    expect(db.final_snapshot_identifier).toBeUndefined();
  });
});

describe('security groups: the replication path in both directions', () => {
  const source = sgRef('-source');
  const target = sgRef('-rds');

  it('RDS accepts 5432 from the source host and the source host may connect out to it (EC2 -> RDS)', () => {
    expect(rules('ingress')).toContainEqual(
      expect.objectContaining({
        security_group_id: target,
        referenced_security_group_id: source,
        ip_protocol: 'tcp',
        from_port: 5432,
        to_port: 5432,
      }),
    );
    expect(rules('egress')).toContainEqual(
      expect.objectContaining({ security_group_id: source, referenced_security_group_id: target, from_port: 5432, to_port: 5432 }),
    );
  });

  it('the source accepts 5432 from RDS and RDS may connect out to it (the subscription, RDS -> source), which the plan forgets', () => {
    expect(rules('ingress')).toContainEqual(
      expect.objectContaining({
        security_group_id: source,
        referenced_security_group_id: target,
        ip_protocol: 'tcp',
        from_port: 5432,
        to_port: 5432,
      }),
    );
    expect(rules('egress')).toContainEqual(
      expect.objectContaining({ security_group_id: target, referenced_security_group_id: source, from_port: 5432, to_port: 5432 }),
    );
  });

  it('RDS has no other rule at all', () => {
    const onTarget = [...rules('ingress'), ...rules('egress')].filter((r) => r.security_group_id === target);
    expect(onTarget).toHaveLength(2);
    expect(onTarget.every((r) => r.cidr_ipv4 === undefined && r.referenced_security_group_id === source)).toBe(true);
  });

  it('SSH only from the configured admin ranges', () => {
    const ssh = rules('ingress').filter((r) => r.from_port === 22);
    expect(ssh).toEqual([expect.objectContaining({ security_group_id: source, cidr_ipv4: '203.0.113.0/24', to_port: 22 })]);
  });

  it('with no admin ranges there is no port 22 at all, and the SSH output points to Session Manager', () => {
    const closed = synthesize(
      exampleConfig((c) => {
        c.experiment.source.adminCidrs = [];
      }),
    ).experiment;
    const ingress = ofType(closed, 'aws_vpc_security_group_ingress_rule').map(([, r]) => r);
    expect(ingress.filter((r) => r.from_port === 22)).toEqual([]);
    expect(closed.output.ssh_command.value).toMatch(/SSH is closed.*ssm_command/);
    expect(closed.output.ssm_command.value).toMatch(/^aws ssm start-session --region ap-northeast-2 --target \$\{aws_instance\./);
  });

  it('two admin ranges give two SSH rules and nothing wider', () => {
    const two = synthesize(
      exampleConfig((c) => {
        c.experiment.source.adminCidrs = ['198.51.100.7/32', '203.0.113.0/24'];
      }),
    ).experiment;
    const ssh = ofType(two, 'aws_vpc_security_group_ingress_rule')
      .map(([, r]) => r)
      .filter((r) => r.from_port === 22);
    expect(ssh.map((r) => r.cidr_ipv4).sort()).toEqual(['198.51.100.7/32', '203.0.113.0/24']);
  });

  it('the source host reaches the internet only on 443 and 80 (packages, GitHub, AWS APIs)', () => {
    const world = rules('egress').filter((r) => r.cidr_ipv4 !== undefined);
    expect(world.map((r) => [r.from_port, r.to_port, r.cidr_ipv4]).sort()).toEqual([
      [443, 443, '0.0.0.0/0'],
      [80, 80, '0.0.0.0/0'],
    ]);
  });
});

describe('source EC2', () => {
  const vm = only(tf, 'aws_instance');

  it('from source_ami, c7i-flex.large, in the public subnet, with an Elastic IP', () => {
    expect(vm).toMatchObject({
      ami: 'ami-0123456789abcdef0',
      instance_type: 'c7i-flex.large',
      subnet_id: subnetRef('10.1.1.0/24'),
      key_name: 'tasteam-experiment',
    });
    expect(vm.vpc_security_group_ids).toEqual([sgRef('-source')]);
    expect(only(tf, 'aws_eip')).toMatchObject({ domain: 'vpc', instance: ref(tf, 'aws_instance', () => true) });
  });

  it('requires IMDSv2 and encrypts its root volume', () => {
    expect(vm.metadata_options).toEqual({ http_endpoint: 'enabled', http_tokens: 'required', http_put_response_hop_limit: 1 });
    expect(vm.root_block_device).toMatchObject({ encrypted: true, volume_type: 'gp3', volume_size: 30 });
  });

  it('runs with an instance profile whose role only EC2 can assume, plus Session Manager', () => {
    const role = only(tf, 'aws_iam_role');
    expect(JSON.parse(role.assume_role_policy).Statement).toEqual([
      { Effect: 'Allow', Principal: { Service: 'ec2.amazonaws.com' }, Action: 'sts:AssumeRole' },
    ]);
    expect(only(tf, 'aws_iam_instance_profile').role).toBe(ref(tf, 'aws_iam_role', () => true, 'name'));
    expect(vm.iam_instance_profile).toBe(ref(tf, 'aws_iam_instance_profile', () => true, 'name'));
    expect(only(tf, 'aws_iam_role_policy_attachment').policy_arn).toBe('arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore');
  });

  it('may read the runner registration token from SSM, and that permission exists before the instance boots', () => {
    expect(statement('ReadRunnerRegistrationToken')).toMatchObject({
      Action: ['ssm:GetParameter'],
      Resource: 'arn:aws:ssm:ap-northeast-2:*:parameter/pgshift/github-runner-registration-token',
    });
    const bootPolicy = ofType(tf, 'aws_iam_role_policy').find(([, p]) => p.name === 'runner-registration-token')![0];
    expect(vm.depends_on).toContain(`aws_iam_role_policy.${bootPolicy}`);
  });

  it('may read the DB secret, describe RDS, snapshot the target and make an AMI of itself — scoped to these resources', () => {
    const db = (attr: string): string => ref(tf, 'aws_db_instance', () => true, attr);
    expect(statement('ReadTargetMasterSecret')).toMatchObject({
      Action: ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'],
      Resource: db('master_user_secret[0].secret_arn'),
    });
    expect(statement('DescribeRds').Action).toContain('rds:DescribeDBInstances');
    expect(statement('SnapshotTargetBeforeCutover')).toMatchObject({
      Action: ['rds:CreateDBSnapshot', 'rds:AddTagsToResource'],
      Resource: [db('arn'), 'arn:aws:rds:ap-northeast-2:*:snapshot:pgshift-01-target-*'],
    });
    expect(statement('ImageOfSourceBeforeCutover').Resource[0]).toBe(ref(tf, 'aws_instance', () => true, 'arn'));
    expect(statement('TagTheImageItMakes').Condition).toEqual({ StringEquals: { 'ec2:CreateAction': 'CreateImage' } });
    const actions = policies()
      .flatMap((p) => p.doc.Statement)
      .flatMap((s: Json) => [s.Action].flat());
    expect(actions.filter((a: string) => a.endsWith('*'))).toEqual([]);
  });

  it('user-data installs the PostgreSQL client and registers the runner with label pgshift-source, token from SSM', () => {
    const script: string = vm.user_data;
    expect(script.startsWith('#!/bin/bash\n')).toBe(true);
    expect(script).toContain("RUNNER_LABEL='pgshift-source'");
    expect(script).toContain("REPOSITORY='tasteam/pgshift'");
    expect(script).toContain("TOKEN_PARAMETER='/pgshift/github-runner-registration-token'");
    expect(script).toContain('postgresql-client-$${PG_CLIENT_MAJOR}');
    expect(script).toContain('aws ssm get-parameter');
    expect(script).toContain('./config.sh --unattended');
    expect(script).toMatch(/--labels "\$RUNNER_LABEL"/);
    // Every shell ${...} reaches Terraform escaped, or Terraform would try to evaluate it.
    expect(script.match(/(?<!\$)\$\{/g)).toBeNull();
    expect(script.split('\n')).toContain('DOCKER_EXEC=0');
    expect(vm.lifecycle).toEqual({ ignore_changes: ['user_data'] });
  });
});

describe('state, provider and outputs', () => {
  it("S3 backend with the plan's key, encrypted, with S3 lock-file locking", () => {
    expect(tf.terraform.backend.s3).toEqual({
      bucket: 'tasteam-terraform-state',
      key: 'v1-v2-migration/01-single-vpc-rds/terraform.tfstate',
      region: 'ap-northeast-2',
      encrypt: true,
      use_lockfile: true,
    });
    // S3 lock files arrived in Terraform 1.10; an older CLI must refuse rather than run unlocked.
    expect(tf.terraform.required_version).toBe('>= 1.10.0');
  });

  it('AWS provider 5.100.0 in ap-northeast-2 with default tags, and no data sources (plans offline, no lookups)', () => {
    expect(tf.terraform.required_providers.aws).toEqual({ source: 'aws', version: '5.100.0' });
    expect(tf.provider.aws[0].region).toBe('ap-northeast-2');
    expect(tf.provider.aws[0].default_tags[0].tags).toMatchObject({
      Experiment: '01-single-vpc-rds',
      Environment: 'experiment',
      ManagedBy: 'pgshift-infra',
    });
    expect(tf.data).toBeUndefined();
  });

  it('an accountId in the config pins the provider to that account', () => {
    const pinned = synthesize(
      exampleConfig((c) => {
        c.accountId = '123456789012';
      }),
    ).experiment;
    expect(pinned.provider.aws[0].allowed_account_ids).toEqual(['123456789012']);
  });

  it('outputs IPs, the endpoint and ready-to-paste SSH and psql commands, without any password', () => {
    const out = tf.output as Record<string, { value: string }>;
    expect(Object.keys(out).sort()).toEqual([
      'psql_command',
      'rds_endpoint',
      'rds_identifier',
      'rds_master_secret_arn',
      'rds_port',
      'source_conninfo_for_rds',
      'source_instance_id',
      'source_private_ip',
      'source_public_ip',
      'ssh_command',
      'ssm_command',
    ]);
    expect(out.ssh_command!.value).toBe(`ssh -i ~/.ssh/tasteam-experiment.pem ubuntu@${ref(tf, 'aws_eip', () => true, 'public_ip')}`);
    const endpoint = ref(tf, 'aws_db_instance', () => true, 'address');
    expect(out.rds_endpoint!.value).toBe(endpoint);
    expect(out.psql_command!.value).toContain(`psql "host=${endpoint} port=5432 dbname=tasteam user=postgres sslmode=require"`);
    expect(out.psql_command!.value).toContain(
      `aws secretsmanager get-secret-value --region ap-northeast-2 --secret-id '${ref(tf, 'aws_db_instance', () => true, 'master_user_secret[0].secret_arn')}'`,
    );
    expect(out.source_conninfo_for_rds!.value).toBe(`host=${ref(tf, 'aws_instance', () => true, 'private_ip')} port=5432 dbname=tasteam`);
  });

  it('without a key pair, the SSH command has no -i', () => {
    const keyless = synthesize(
      exampleConfig((c) => {
        delete c.experiment.source.keyName;
      }),
    ).experiment;
    expect(only(keyless, 'aws_instance').key_name).toBeUndefined();
    expect(keyless.output.ssh_command.value).toMatch(/^ssh ubuntu@\$\{aws_eip\./);
  });
});
