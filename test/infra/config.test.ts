// The typed configuration: what it accepts, what it refuses (with the field named), and where it is read from.
import { mkdtempSync as makeTempDir, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { environmentProfile, InfraConfigError, loadConfig, parseConfig, stateKey } from '../../infra/config.js';
import { cidrContains, cidrsOverlap, parseCidr } from '../../infra/cidr.js';
import { exampleConfig, infraDir, type Json } from './fixtures.js';

const tempDirs: string[] = [];
const mkdtempSync = (prefix: string): string => {
  const dir = makeTempDir(prefix);
  tempDirs.push(dir);
  return dir;
};
afterAll(() => {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

const refusal = (edit: (raw: Json) => void): string => {
  try {
    exampleConfig(edit);
  } catch (err) {
    expect(err).toBeInstanceOf(InfraConfigError);
    return (err as Error).message;
  }
  throw new Error('the configuration was accepted');
};

describe('parseConfig', () => {
  it("accepts the example, with the plan's values", () => {
    const c = exampleConfig();
    expect(c.experiment).toMatchObject({
      vpcCidr: '10.1.0.0/16',
      publicSubnetCidr: '10.1.1.0/24',
      privateSubnetCidrs: ['10.1.10.0/24', '10.1.11.0/24'],
    });
    expect(c.experiment.source.instanceType).toBe('c7i-flex.large');
    expect(c.experiment.database).toMatchObject({
      engineVersion: '17',
      instanceClass: 'db.t3.micro',
      allocatedStorageGb: 20,
      multiAz: false,
    });
    expect(stateKey(c.state, '01-single-vpc-rds')).toBe('v1-v2-migration/01-single-vpc-rds/terraform.tfstate');
  });

  it('requires source_ami and names the field', () => {
    expect(
      refusal((c) => {
        delete c.experiment.source.ami;
      }),
    ).toMatch(/experiment\.source\.ami: .*required/);
    expect(
      refusal((c) => {
        c.experiment.source.ami = 'ubuntu-22.04';
      }),
    ).toMatch(/experiment\.source\.ami/);
  });

  it('refuses SSH from the whole internet, or anything wider than /16', () => {
    expect(
      refusal((c) => {
        c.experiment.source.adminCidrs = ['0.0.0.0/0'];
      }),
    ).toMatch(/"0\.0\.0\.0\/0" is too wide for SSH/);
    expect(
      refusal((c) => {
        c.experiment.source.adminCidrs = ['10.0.0.0/8'];
      }),
    ).toMatch(/too wide/);
    expect(
      refusal((c) => {
        c.experiment.source.adminCidrs = ['203.0.113.5/24'];
      }),
    ).toMatch(/not an IPv4 CIDR/);
    expect(
      exampleConfig((c) => {
        c.experiment.source.adminCidrs = [];
      }).experiment.source.adminCidrs,
    ).toEqual([]);
  });

  it('requires an explicit choice about docker group access for the runner', () => {
    expect(
      refusal((c) => {
        delete c.experiment.source.runnerDockerExec;
      }),
    ).toMatch(/experiment\.source\.runnerDockerExec: true only if/);
  });

  it('refuses backups off (0 days) or over the RDS maximum', () => {
    expect(
      refusal((c) => {
        c.experiment.database.backupRetentionDays = 0;
      }),
    ).toMatch(/backupRetentionDays: 1–35/);
    expect(
      refusal((c) => {
        c.production.database.backupRetentionDays = 36;
      }),
    ).toMatch(/production\.database\.backupRetentionDays/);
  });

  it('refuses subnets outside the VPC, overlapping subnets, and a VPC that collides with v1', () => {
    expect(
      refusal((c) => {
        c.experiment.publicSubnetCidr = '10.2.1.0/24';
      }),
    ).toMatch(/10\.2\.1\.0\/24 is outside the VPC 10\.1\.0\.0\/16/);
    expect(
      refusal((c) => {
        c.experiment.privateSubnetCidrs = ['10.1.10.0/24', '10.1.10.0/25'];
      }),
    ).toMatch(/subnets overlap/);
    expect(
      refusal((c) => {
        c.experiment.vpcCidr = '172.31.0.0/16';
        c.experiment.publicSubnetCidr = '172.31.1.0/24';
        c.experiment.privateSubnetCidrs = ['172.31.10.0/24', '172.31.11.0/24'];
      }),
    ).toMatch(/overlaps v1's 172\.31\.0\.0\/16/);
    expect(
      refusal((c) => {
        c.production.dbSubnets[1].cidr = '10.9.0.0/24';
      }),
    ).toMatch(/production\.dbSubnets: 10\.9\.0\.0\/24 is outside/);
    expect(
      refusal((c) => {
        c.production.dbSubnets[1].availabilityZone = 'ap-northeast-2b';
      }),
    ).toMatch(/two availability zones/);
  });

  it('refuses a parameter group family that does not match the engine version', () => {
    expect(
      refusal((c) => {
        c.experiment.database.parameterGroupFamily = 'postgres16';
      }),
    ).toMatch(/parameterGroupFamily: "postgres17"/);
  });

  it('refuses production ids that are not ids, and a plan environment that is also an apply environment', () => {
    expect(
      refusal((c) => {
        c.production.vpcId = 'default';
      }),
    ).toMatch(/production\.vpcId/);
    expect(
      refusal((c) => {
        c.production.sourceSecurityGroupId = 'launch-wizard-1';
      }),
    ).toMatch(/production\.sourceSecurityGroupId/);
    expect(
      refusal((c) => {
        c.bootstrap.planEnvironment = 'infra';
      }),
    ).toMatch(/planEnvironment must differ/);
  });

  it('lists every problem at once', () => {
    const message = refusal((c) => {
      delete c.experiment.source.ami;
      c.experiment.database.backupRetentionDays = 0;
      c.github.repository = 'pgshift';
    });
    expect(message.split('\n  - ')).toHaveLength(4);
  });

  it('refuses something that is not an object', () => {
    expect(() => parseConfig(null)).toThrow(InfraConfigError);
  });
});

describe('environmentProfile', () => {
  it('experiment can be destroyed freely; production cannot lose its database silently', () => {
    expect(environmentProfile('experiment')).toEqual({ deletionProtection: false, skipFinalSnapshot: true, applyImmediately: true });
    expect(environmentProfile('production')).toEqual({ deletionProtection: true, skipFinalSnapshot: false, applyImmediately: false });
  });
});

describe('loadConfig', () => {
  it('PGSHIFT_INFRA_CONFIG must exist when given (the workflows set it, so the example is never planned)', () => {
    expect(() => loadConfig(infraDir, { PGSHIFT_INFRA_CONFIG: '/nonexistent/config.json' })).toThrow(
      /PGSHIFT_INFRA_CONFIG=\/nonexistent\/config\.json does not exist/,
    );
  });

  it('reads infra/config.json when present, and falls back to the example with a warning', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pgshift-infra-config-'));
    copyFileSync(join(infraDir, 'config.example.json'), join(dir, 'config.example.json'));
    const warnings: string[] = [];
    expect(loadConfig(dir, {}, (l) => warnings.push(l)).experiment.source.ami).toBe('ami-0123456789abcdef0');
    expect(warnings).toEqual([expect.stringMatching(/config\.json not found: synthesizing with infra\/config\.example\.json/)]);

    const own = exampleConfig((c) => {
      c.experiment.source.ami = 'ami-0fedcba9876543210';
    });
    writeFileSync(join(dir, 'config.json'), JSON.stringify(own));
    const quiet: string[] = [];
    expect(loadConfig(dir, {}, (l) => quiet.push(l)).experiment.source.ami).toBe('ami-0fedcba9876543210');
    expect(quiet).toEqual([]);
  });

  it('says which file is not JSON', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pgshift-infra-config-'));
    writeFileSync(join(dir, 'broken.json'), '{ "region": ');
    expect(() => loadConfig(dir, { PGSHIFT_INFRA_CONFIG: join(dir, 'broken.json') })).toThrow(/broken\.json: not valid JSON/);
  });
});

describe('cidr', () => {
  it('parses, contains and overlaps', () => {
    expect(parseCidr('10.1.0.0/16')).toEqual({ base: 10 * 2 ** 24 + 1 * 2 ** 16, prefix: 16 });
    expect(() => parseCidr('10.1.1.1/24')).toThrow(/host bits/);
    expect(() => parseCidr('300.1.1.0/24')).toThrow(/not an IPv4 CIDR/);
    expect(cidrContains('10.1.0.0/16', '10.1.255.0/24')).toBe(true);
    expect(cidrContains('10.1.0.0/16', '10.2.0.0/24')).toBe(false);
    expect(cidrsOverlap('10.0.0.0/8', '10.1.0.0/16')).toBe(true);
    expect(cidrsOverlap('10.1.0.0/16', '172.31.0.0/16')).toBe(false);
  });
});
