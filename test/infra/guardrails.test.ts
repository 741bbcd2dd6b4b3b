// Negative policy tests over every synthesized stack — nothing on 22 or 5432 from the internet, RDS
// private and encrypted, no password in the JSON, IMDSv2 — and proof that each check fires on the
// mistake it exists for (so a green run means something).
import { TerraformStack, Testing } from 'cdktf';
import { AwsProvider } from '@cdktf/provider-aws/lib/provider/index.js';
import { SecurityGroup } from '@cdktf/provider-aws/lib/security-group/index.js';
import { VpcSecurityGroupIngressRule } from '@cdktf/provider-aws/lib/vpc-security-group-ingress-rule/index.js';
import { SecurityGroupRule } from '@cdktf/provider-aws/lib/security-group-rule/index.js';
import { DbInstance } from '@cdktf/provider-aws/lib/db-instance/index.js';
import { Instance } from '@cdktf/provider-aws/lib/instance/index.js';
import { describe, expect, it } from 'vitest';
import { guardrailViolations } from '../../infra/guardrails.js';
import { exampleConfig, synthesize, type Json } from './fixtures.js';

const variants = {
  example: synthesize(),
  'no SSH ranges': synthesize(
    exampleConfig((c) => {
      c.experiment.source.adminCidrs = [];
    }),
  ),
  'pinned account, existing OIDC provider': synthesize(
    exampleConfig((c) => {
      c.accountId = '123456789012';
      c.bootstrap.existingOidcProviderArn = 'arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com';
    }),
  ),
};

const stacksOf = (s: ReturnType<typeof synthesize>): Array<[string, string]> =>
  Object.entries(s.text).filter((e): e is [string, string] => typeof e[1] === 'string');

describe.each(Object.entries(variants))('every stack (%s config)', (_, synthesized) => {
  it.each(stacksOf(synthesized))('%s passes every guardrail', (_stack, text) => {
    expect(guardrailViolations(text)).toEqual([]);
  });

  it.each(stacksOf(synthesized))('%s has no rule from or to 0.0.0.0/0 or ::/0 on 22 or 5432', (_stack, text) => {
    const doc = JSON.parse(text) as Json;
    const rules = ['aws_vpc_security_group_ingress_rule', 'aws_vpc_security_group_egress_rule'].flatMap((t) =>
      Object.values<Json>(doc.resource?.[t] ?? {}),
    );
    for (const r of rules) {
      if (r.cidr_ipv4 === '0.0.0.0/0' || r.cidr_ipv6 === '::/0') {
        expect(r.ip_protocol).toBe('tcp');
        expect([22, 5432].some((p) => r.from_port <= p && p <= r.to_port)).toBe(false);
      }
    }
    // No inline rules or legacy rule resources that could hide an opening.
    for (const sg of Object.values<Json>(doc.resource?.aws_security_group ?? {})) {
      expect(sg.ingress).toBeUndefined();
      expect(sg.egress).toBeUndefined();
    }
    expect(doc.resource?.aws_security_group_rule).toBeUndefined();
  });

  it.each(stacksOf(synthesized))('%s: every RDS instance is private and encrypted', (_stack, text) => {
    for (const db of Object.values<Json>(JSON.parse(text).resource?.aws_db_instance ?? {})) {
      expect(db.publicly_accessible).toBe(false);
      expect(db.storage_encrypted).toBe(true);
    }
  });

  it.each(stacksOf(synthesized))('%s holds no password anywhere in its JSON', (_stack, text) => {
    expect(text).not.toMatch(/"(password|password_wo|master_password|db_password)"\s*:/);
    expect(text).not.toMatch(/aws_secretsmanager_secret_version|secret_string/);
    expect(text).not.toMatch(/PGPASSWORD=(?!\\"\$\(aws secretsmanager)/);
    // The runner token lives in SSM: only the parameter's name is in the stack.
    expect(text).not.toMatch(/ACTIONS_RUNNER_INPUT_TOKEN=(?!\$\(retry aws ssm)/);
  });
});

describe('the guardrails fire on the mistakes they exist for', () => {
  const bad = (build: (stack: TerraformStack) => void): string => {
    const stack = new TerraformStack(Testing.app(), 'bad');
    new AwsProvider(stack, 'aws', { region: 'ap-northeast-2' });
    build(stack);
    return Testing.synth(stack);
  };

  it('PostgreSQL or SSH open to the internet, in any rule form', () => {
    const text = bad((s) => {
      const sg = new SecurityGroup(s, 'sg', {
        name: 'x',
        ingress: [{ protocol: 'tcp', fromPort: 5432, toPort: 5432, cidrBlocks: ['0.0.0.0/0'] }],
      });
      new VpcSecurityGroupIngressRule(s, 'ssh', {
        securityGroupId: sg.id,
        ipProtocol: 'tcp',
        fromPort: 22,
        toPort: 22,
        cidrIpv4: '0.0.0.0/0',
      });
      new VpcSecurityGroupIngressRule(s, 'all', { securityGroupId: sg.id, ipProtocol: '-1', cidrIpv6: '::/0' });
      new SecurityGroupRule(s, 'range', {
        type: 'ingress',
        securityGroupId: sg.id,
        protocol: 'tcp',
        fromPort: 5000,
        toPort: 6000,
        cidrBlocks: ['0.0.0.0/0'],
      });
    });
    // ip_protocol -1 (all traffic) counts as every port; it is reported as the first guarded one.
    expect(
      guardrailViolations(text)
        .map((v) => v.rule)
        .sort(),
    ).toEqual([
      'ingress port 22 open to 0.0.0.0/0',
      'ingress port 22 open to ::/0',
      'ingress port 5432 open to 0.0.0.0/0',
      'ingress port 5432 open to 0.0.0.0/0',
    ]);
  });

  it('a public, unencrypted RDS with a password and no backups', () => {
    const text = bad((s) => {
      new DbInstance(s, 'db', {
        instanceClass: 'db.t3.micro',
        engine: 'postgres',
        publiclyAccessible: true,
        password: 'hunter2hunter2',
        backupRetentionPeriod: 0,
      });
    });
    expect(guardrailViolations(text).map((v) => v.rule)).toEqual([
      'publicly_accessible must be false',
      'storage_encrypted must be true',
      'manage_master_user_password must be true (Secrets Manager keeps the password)',
      'backup_retention_period must be at least 1 day',
      '"password" holds a literal; keep credentials in Secrets Manager or SSM',
    ]);
  });

  it('an instance that still answers IMDSv1', () => {
    const text = bad((s) => {
      new Instance(s, 'vm', { ami: 'ami-0123456789abcdef0', instanceType: 't3.micro', metadataOptions: { httpTokens: 'optional' } });
    });
    expect(guardrailViolations(text)).toEqual([
      { resource: 'aws_instance.vm', rule: 'metadata_options.http_tokens must be "required" (IMDSv2)' },
    ]);
  });
});
