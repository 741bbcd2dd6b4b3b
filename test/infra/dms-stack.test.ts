// Experiment 03's stacks (03-dms, production-dms) and the bootstrap additions, on synthesized JSON. Offline
// `terraform validate` of both stacks runs in terraform.test.ts. What only AWS can show (does DMS accept the
// secrets, does the CA verify RDS) is the runbook's first experiment step (runbooks/dms.md).
import { describe, expect, it } from 'vitest';
import { InfraConfigError } from '../../infra/config.js';
import { guardrailViolations } from '../../infra/guardrails.js';
import { DMS_MIGRATION_ACTIONS } from '../../infra/stacks/bootstrap-dms.js';
import { PGSHIFT_DMS_IAM_ACTIONS } from '../../src/aws/dms.js';
import { exampleConfig, ofType, only, ref, synthesize, type Json } from './fixtures.js';

const all = synthesize();
const tf = all.dms!;
const prod = all.productionDms!;
/** The forward endpoints (reads the source, writes RDS); the reverse pair is `reverse-source` / `reverse-target`. */
const endpoint = (doc: Json, type: 'source' | 'target' | 'reverse-source' | 'reverse-target'): Json =>
  ofType(doc, 'aws_dms_endpoint').find(([, e]) => String(e.endpoint_id).endsWith(`-dms-${type}`))![1];
const clone = (doc: Json): Json => JSON.parse(JSON.stringify(doc));

describe('03-dms: the replication instance', () => {
  it('is provisioned (not Serverless), private, pinned at 3.6.1 with no automatic upgrade', () => {
    expect(only(tf, 'aws_dms_replication_instance')).toMatchObject({
      replication_instance_id: 'pgshift-01-dms',
      replication_instance_class: 'dms.t3.medium',
      allocated_storage: 50,
      engine_version: '3.6.1',
      auto_minor_version_upgrade: false,
      publicly_accessible: false,
      vpc_security_group_ids: [ref(tf, 'aws_security_group', (s) => s.name === 'pgshift-01-dms')],
    });
    expect(ofType(tf, 'aws_dms_replication_config')).toEqual([]);
    expect(ofType(tf, 'aws_dms_replication_task')).toEqual([]);
  });

  it("sits in a subnet group over experiment 01's two private subnets, found by CIDR in 01's VPC", () => {
    const group = only(tf, 'aws_dms_replication_subnet_group');
    expect(group.subnet_ids).toBe(`\${data.aws_subnets.private-subnets.ids}`);
    const subnets = tf.data.aws_subnets['private-subnets'];
    expect(subnets.filter).toEqual([
      { name: 'vpc-id', values: [`\${data.aws_vpc.vpc.id}`] },
      { name: 'cidr-block', values: ['10.1.10.0/24', '10.1.11.0/24'] },
    ]);
    expect(tf.data.aws_vpc.vpc.filter).toEqual([{ name: 'tag:Name', values: ['pgshift-01-vpc'] }]);
  });

  it('reaches 5432 on the source and on RDS, and 443 only to the Secrets Manager endpoint: nothing public', () => {
    const dmsSg = ref(tf, 'aws_security_group', (s) => s.name === 'pgshift-01-dms');
    const endpointSg = ref(tf, 'aws_security_group', (s) => s.name === 'pgshift-01-dms-secretsmanager');
    const egress = ofType(tf, 'aws_vpc_security_group_egress_rule').map(([, r]) => r);
    expect(egress.map((r) => [r.from_port, r.referenced_security_group_id ?? r.cidr_ipv4]).sort()).toEqual([
      [443, endpointSg],
      [5432, `\${data.aws_security_group.rds-sg.id}`],
      [5432, `\${data.aws_security_group.source-sg.id}`],
    ]);
    for (const r of egress) expect(r.security_group_id).toBe(dmsSg);
    const ingress = ofType(tf, 'aws_vpc_security_group_ingress_rule').map(([, r]) => r);
    for (const r of ingress) expect(r.referenced_security_group_id).toBe(dmsSg);
    expect(JSON.stringify(tf)).not.toMatch(/0\.0\.0\.0\/0|::\/0/);
    expect(only(tf, 'aws_vpc_endpoint')).toMatchObject({
      service_name: 'com.amazonaws.ap-northeast-2.secretsmanager',
      vpc_endpoint_type: 'Interface',
      private_dns_enabled: true,
      security_group_ids: [endpointSg],
    });
  });

  it('without its own Secrets Manager endpoint (the VPC has one), 443 goes to the VPC only', () => {
    const own = synthesize(exampleConfig((c) => (c.dms.createSecretsManagerEndpoint = false))).dms!;
    expect(ofType(own, 'aws_vpc_endpoint')).toEqual([]);
    const https = ofType(own, 'aws_vpc_security_group_egress_rule').find(([, r]) => r.from_port === 443)![1];
    expect(https.cidr_ipv4).toBe('10.1.0.0/16');
  });
});

describe('03-dms: the endpoints', () => {
  it("the source reads full-load's slot with test-decoding, captures no DDL, fails on LOB truncation", () => {
    expect(endpoint(tf, 'source')).toMatchObject({
      endpoint_id: 'pgshift-01-dms-source',
      engine_name: 'postgres',
      database_name: 'tasteam',
      ssl_mode: 'require',
      postgres_settings: {
        slot_name: 'pgshift',
        plugin_name: 'test-decoding',
        capture_ddls: false,
        fail_tasks_on_lob_truncation: true,
        map_long_varchar_as: 'wstring',
      },
    });
  });

  it('the target verifies RDS (verify-full) against a DmsCertificate of the RDS CA bundle given as a variable', () => {
    const cert = only(tf, 'aws_dms_certificate');
    expect(cert.certificate_pem).toBe('${var.rds_ca_bundle_pem}');
    expect(tf.variable.rds_ca_bundle_pem.validation[0].condition).toMatch(/BEGIN CERTIFICATE/);
    expect(endpoint(tf, 'target')).toMatchObject({
      ssl_mode: 'verify-full',
      certificate_arn: ref(tf, 'aws_dms_certificate', () => true, 'certificate_arn'),
      postgres_settings: { after_connect_script: "SET session_replication_role = 'replica'" },
    });
  });

  it('the reverse pair (--reverse-engine dms) reads the reverse slot on RDS with verify-full, and writes the old source', () => {
    expect(ofType(tf, 'aws_dms_endpoint')).toHaveLength(4);
    const cert = ref(tf, 'aws_dms_certificate', () => true, 'certificate_arn');
    expect(endpoint(tf, 'reverse-source')).toMatchObject({
      endpoint_type: 'source',
      engine_name: 'postgres',
      database_name: 'tasteam',
      ssl_mode: 'verify-full',
      certificate_arn: cert,
      tags: { 'pgshift:server': 'rds' },
      postgres_settings: {
        // migrationNames(slotName).reverseSlot: the slot cutover makes on RDS inside the write freeze
        slot_name: 'pgshift_reverse',
        plugin_name: 'test-decoding',
        capture_ddls: false,
        fail_tasks_on_lob_truncation: true,
        map_long_varchar_as: 'wstring',
      },
    });
    expect(endpoint(tf, 'reverse-target')).toMatchObject({
      endpoint_type: 'target',
      ssl_mode: endpoint(tf, 'source').ssl_mode,
      tags: { 'pgshift:server': 'source' },
      postgres_settings: { after_connect_script: "SET session_replication_role = 'replica'" },
    });
    const outputs = Object.keys(tf.output);
    expect(outputs).toEqual(expect.arrayContaining(['reverse_source_endpoint_arn', 'reverse_target_endpoint_arn']));
    expect(tf.output.reverse_source_endpoint_arn.value).toBe(
      ref(tf, 'aws_dms_endpoint', (e) => e.endpoint_id === 'pgshift-01-dms-reverse-source', 'endpoint_arn'),
    );
  });

  it('all four authenticate through a secret per server (no password anywhere), readable only by a role DMS assumes', () => {
    const secrets = ofType(tf, 'aws_secretsmanager_secret').map(([, s]) => s.name);
    expect(secrets).toEqual(['pgshift-01-dms/source', 'pgshift-01-dms/target']);
    expect(ofType(tf, 'aws_secretsmanager_secret_version')).toEqual([]);
    for (const [which, secret] of [
      ['source', 'source'],
      ['reverse-target', 'source'],
      ['target', 'target'],
      ['reverse-source', 'target'],
    ] as const) {
      const e = endpoint(tf, which);
      expect(e.password).toBeUndefined();
      expect(e.username).toBeUndefined();
      expect(e.secrets_manager_arn).toBe(ref(tf, 'aws_secretsmanager_secret', (s) => s.name === `pgshift-01-dms/${secret}`, 'arn'));
    }
    const role = only(tf, 'aws_iam_role');
    expect(role.name).toBe('pgshift-01-dms-secrets');
    expect(JSON.parse(role.assume_role_policy).Statement).toEqual([
      { Effect: 'Allow', Principal: { Service: 'dms.ap-northeast-2.amazonaws.com' }, Action: 'sts:AssumeRole' },
    ]);
    expect(JSON.parse(only(tf, 'aws_iam_role_policy').policy).Statement[0].Resource).toHaveLength(2);
    expect(guardrailViolations(tf)).toEqual([]);
    expect(all.text.dms).not.toMatch(/"password"/);
  });
});

describe('production-dms', () => {
  it("joins the existing v1 VPC by id, production's DB subnets by CIDR, and the EC2's security group by id", () => {
    expect(prod.data.aws_subnets['db-subnets'].filter).toEqual([
      { name: 'vpc-id', values: ['vpc-0123456789abcdef0'] },
      { name: 'cidr-block', values: ['172.31.128.0/24', '172.31.129.0/24'] },
    ]);
    expect(prod.data.aws_vpc).toBeUndefined();
    const toSource = ofType(prod, 'aws_vpc_security_group_ingress_rule').find(([, r]) => r.security_group_id === 'sg-0123456789abcdef0');
    expect(toSource![1]).toMatchObject({ from_port: 5432, to_port: 5432 });
    expect(only(prod, 'aws_dms_replication_instance').replication_instance_id).toBe('pgshift-prod-dms');
    expect(only(prod, 'aws_iam_role').name).toBe('pgshift-01-prod-dms-secrets');
    expect(ofType(prod, 'aws_secretsmanager_secret_version')).toEqual([]);
    expect(prod.terraform.backend.s3.key).toBe('v1-v2-migration/production-dms/terraform.tfstate');
    expect(guardrailViolations(prod)).toEqual([]);
  });

  it('is not synthesized without a dms block, nor without production', () => {
    expect(synthesize(exampleConfig((c) => delete c.dms)).dms).toBeUndefined();
    const noProd = synthesize(exampleConfig((c) => delete c.production));
    expect(noProd.dms).toBeDefined();
    expect(noProd.productionDms).toBeUndefined();
  });
});

describe('bootstrap for DMS', () => {
  const boot = all.bootstrap;
  const inline = (roleName: string): Json[] => {
    const roleRef = `\${aws_iam_role.${ofType(boot, 'aws_iam_role').find(([, r]) => r.name === roleName)![0]}.id}`;
    return ofType(boot, 'aws_iam_role_policy')
      .filter(([, p]) => p.role === roleRef)
      .flatMap(([, p]) => JSON.parse(p.policy).Statement);
  };

  it('creates dms-vpc-role and dms-cloudwatch-logs-role with their AWS policies, trusted by dms.amazonaws.com only', () => {
    const roles = ofType(boot, 'aws_iam_role').filter(([, r]) => String(r.name).startsWith('dms-'));
    expect(roles.map(([, r]) => r.name).sort()).toEqual(['dms-cloudwatch-logs-role', 'dms-vpc-role']);
    for (const [, r] of roles)
      expect(JSON.parse(r.assume_role_policy).Statement).toEqual([
        { Effect: 'Allow', Principal: { Service: 'dms.amazonaws.com' }, Action: 'sts:AssumeRole' },
      ]);
    const attached = ofType(boot, 'aws_iam_role_policy_attachment').map(([, a]) => a.policy_arn);
    expect(attached).toContain('arn:aws:iam::aws:policy/service-role/AmazonDMSVPCManagementRole');
    expect(attached).toContain('arn:aws:iam::aws:policy/service-role/AmazonDMSCloudWatchLogsRole');
  });

  it('skips them where the account has them already', () => {
    const existing = synthesize(exampleConfig((c) => (c.dms.serviceRolesExist = true))).bootstrap;
    expect(ofType(existing, 'aws_iam_role').filter(([, r]) => String(r.name).startsWith('dms-'))).toEqual([]);
  });

  it('grants the migration role exactly the dms: and cloudwatch: actions src/aws/dms.ts calls', () => {
    const granted = inline('pgshift-migration')
      .filter((s) => String(s.Sid).startsWith('Dms'))
      .flatMap((s) => s.Action)
      .sort();
    expect(granted).toEqual(PGSHIFT_DMS_IAM_ACTIONS.map((a) => a.action).sort());
    expect(Object.values(DMS_MIGRATION_ACTIONS).flat().sort()).toEqual(granted);
    expect(inline('pgshift-migration').find((s) => s.Sid === 'DmsRunTasks')!.Resource).toBe('arn:aws:dms:ap-northeast-2:*:*');
  });

  it('lets the apply role pass roles to DMS only', () => {
    const pass = inline('pgshift-infra-apply').find((s) => s.Sid === 'PassRolesToDms')!;
    expect(pass.Condition).toEqual({ StringEquals: { 'iam:PassedToService': 'dms.amazonaws.com' } });
  });
});

describe('guardrails and config for DMS', () => {
  it('refuse what terraform validate lets through: plugin_name, map_long_varchar_as, a public or auto-upgrading instance', () => {
    const bad = clone(tf);
    const src = Object.values<Json>(bad.resource.aws_dms_endpoint).find((e) => e.endpoint_type === 'source')!;
    src.postgres_settings.plugin_name = 'pgoutput';
    src.postgres_settings.map_long_varchar_as = 'text';
    src.postgres_settings.capture_ddls = true;
    delete src.postgres_settings.slot_name;
    src.password = 'hunter2';
    const tgt = Object.values<Json>(bad.resource.aws_dms_endpoint).find((e) => e.endpoint_type === 'target')!;
    tgt.ssl_mode = 'require';
    const revSrc = Object.values<Json>(bad.resource.aws_dms_endpoint).find((e) => String(e.endpoint_id).endsWith('-reverse-source'))!;
    delete revSrc.certificate_arn;
    const revTgt = Object.values<Json>(bad.resource.aws_dms_endpoint).find((e) => String(e.endpoint_id).endsWith('-reverse-target'))!;
    delete revTgt.tags;
    const inst = Object.values<Json>(bad.resource.aws_dms_replication_instance)[0]!;
    inst.publicly_accessible = true;
    inst.auto_minor_version_upgrade = true;
    inst.engine_version = '3.5.4';
    bad.resource.aws_dms_replication_task = { t: { migration_type: 'cdc' } };
    const violations = guardrailViolations(bad);
    const rules = violations.map((v) => v.rule);
    // The reverse source on RDS without the CA certificate is refused on its own account.
    const revSrcName = Object.entries<Json>(bad.resource.aws_dms_endpoint).find(([, e]) => e === revSrc)![0];
    expect(violations).toContainEqual({
      resource: `aws_dms_endpoint.${revSrcName}`,
      rule: 'an endpoint on RDS must use ssl_mode verify-full (with the RDS CA certificate)',
    });
    for (const expected of [
      /plugin_name must be one of test-decoding/,
      /map_long_varchar_as must be one of wstring, clob, nclob/,
      /capture_ddls must be false/,
      /slot_name must name full-load's slot/,
      /not username\/password/,
      /"password" holds a literal/,
      /an endpoint on RDS must use ssl_mode verify-full/,
      /tags\['pgshift:server'\] must say which server/,
      /publicly_accessible must be false/,
      /auto_minor_version_upgrade must be false/,
      /engine_version must be 3\.6\.1 or later/,
      /the task is created at run time by pgshift/,
    ])
      expect(rules.some((r) => expected.test(r))).toBe(true);
  });

  it('config: names each wrong dms field', () => {
    let message = '';
    try {
      exampleConfig((c) => {
        c.dms.engineVersion = '3.5.4';
        c.dms.mapLongVarcharAs = 'text';
        c.dms.instanceClass = 'serverless';
        c.dms.slotName = 'Bad-Name';
      });
    } catch (err) {
      expect(err).toBeInstanceOf(InfraConfigError);
      message = (err as Error).message;
    }
    expect(message).toMatch(/dms\.engineVersion: 3\.6\.1 or later/);
    expect(message).toMatch(/dms\.mapLongVarcharAs: one of wstring, clob, nclob/);
    expect(message).toMatch(/dms\.instanceClass: a provisioned class/);
    expect(message).toMatch(/dms\.slotName/);
  });
});
