// The crossAccount section: what synthesis refuses before anything reaches AWS, each refusal naming the field.
import { describe, expect, it } from 'vitest';
import { InfraConfigError } from '../../infra/config.js';
import { DOCKER_DEFAULT_POOLS } from '../../infra/cross-account-config.js';
import { exampleConfig, type Json } from './fixtures.js';

const refusal = (edit: (raw: Json) => void): string => {
  try {
    exampleConfig(edit);
  } catch (err) {
    expect(err).toBeInstanceOf(InfraConfigError);
    return (err as Error).message;
  }
  throw new Error('the configuration was accepted');
};

describe('crossAccount configuration', () => {
  it('accepts the example (A 10.1.0.0/16, B 10.2.0.0/16, production B 10.3.0.0/16)', () => {
    const x = exampleConfig().crossAccount!;
    expect(x.experiment.source.vpcCidr).toBe('10.1.0.0/16');
    expect(x.experiment.target.vpcCidr).toBe('10.2.0.0/16');
    expect(x.production!.source.vpcCidr).toBe('172.31.0.0/16');
  });

  it('is optional: without it nothing cross-account is checked or built', () => {
    expect(
      exampleConfig((c) => {
        delete c.crossAccount;
      }).crossAccount,
    ).toBeUndefined();
  });

  it('refuses B equal to A', () => {
    expect(
      refusal((c) => {
        c.crossAccount.targetAccountId = c.crossAccount.sourceAccountId;
      }),
    ).toMatch(/crossAccount\.targetAccountId must differ from sourceAccountId/);
  });

  it('refuses an account A other than the pinned accountId, and malformed account ids', () => {
    expect(
      refusal((c) => {
        c.accountId = '999999999999';
      }),
    ).toMatch(/crossAccount\.sourceAccountId 123456789012 differs from accountId 999999999999/);
    expect(
      refusal((c) => {
        c.crossAccount.targetAccountId = '2109876543';
      }),
    ).toMatch(/crossAccount\.targetAccountId: account B \(RDS\), 12 digits/);
  });

  it("refuses B's VPC overlapping A's", () => {
    expect(
      refusal((c) => {
        c.crossAccount.experiment.target.vpcCidr = '10.1.128.0/17';
        c.crossAccount.experiment.target.dbSubnets = [
          { cidr: '10.1.200.0/24', availabilityZoneId: 'apne2-az2' },
          { cidr: '10.1.201.0/24', availabilityZoneId: 'apne2-az4' },
        ];
      }),
    ).toMatch(
      /crossAccount\.experiment\.target\.vpcCidr 10\.1\.128\.0\/17 overlaps account A \(experiment\.source\.vpcCidr\) \(10\.1\.0\.0\/16\)/,
    );
  });

  it("refuses B overlapping v1's 172.31.0.0/16, in the experiment and in production", () => {
    const tooWide = (at: 'experiment' | 'production') =>
      refusal((c) => {
        c.crossAccount[at].target.vpcCidr = '172.16.0.0/12';
        c.crossAccount[at].target.dbSubnets = [
          { cidr: '172.16.10.0/24', availabilityZoneId: 'apne2-az2' },
          { cidr: '172.16.11.0/24', availabilityZoneId: 'apne2-az4' },
        ];
      });
    expect(tooWide('experiment')).toMatch(
      /crossAccount\.experiment\.target\.vpcCidr 172\.16\.0\.0\/12 overlaps v1's VPC \(172\.31\.0\.0\/16\)/,
    );
    expect(tooWide('production')).toMatch(
      /crossAccount\.production\.target\.vpcCidr 172\.16\.0\.0\/12 overlaps account A \(production\.source\.vpcCidr\) \(172\.31\.0\.0\/16\)/,
    );
  });

  it("refuses B overlapping experiment 01's VPC", () => {
    expect(
      refusal((c) => {
        c.experiment.vpcCidr = '10.2.0.0/16';
        c.experiment.publicSubnetCidr = '10.2.1.0/24';
        c.experiment.privateSubnetCidrs = ['10.2.200.0/24', '10.2.201.0/24'];
      }),
    ).toMatch(/crossAccount\.experiment\.target\.vpcCidr 10\.2\.0\.0\/16 overlaps experiment 01's VPC \(10\.2\.0\.0\/16\)/);
  });

  it.each([
    ['172.17.0.0/16', '172.17.0.0/16'],
    ['172.24.0.0/16', '172.24.0.0/16'],
    ['192.168.0.0/16', '192.168.0.0/16'],
    ['192.168.64.0/20', '192.168.0.0/16'],
  ])("refuses B at %s: inside Docker's default address pools on the source host (%s)", (cidr, pool) => {
    const base = cidr.split('/')[0]!.split('.').slice(0, 2).join('.');
    const third = Number(cidr.split('.')[2]);
    const message = refusal((c) => {
      c.crossAccount.experiment.target.vpcCidr = cidr;
      c.crossAccount.experiment.target.dbSubnets = [
        { cidr: `${base}.${third}.0/24`, availabilityZoneId: 'apne2-az2' },
        { cidr: `${base}.${third + 1}.0/24`, availabilityZoneId: 'apne2-az4' },
      ];
    });
    expect(message).toContain(`overlaps Docker's default address pool ${pool} on the source host`);
  });

  it("covers all of Docker's default pools: 172.17–172.31 and 192.168", () => {
    expect(DOCKER_DEFAULT_POOLS[0]).toBe('172.17.0.0/16');
    expect(DOCKER_DEFAULT_POOLS).toContain('172.31.0.0/16');
    expect(DOCKER_DEFAULT_POOLS).toContain('192.168.0.0/16');
    expect(DOCKER_DEFAULT_POOLS).toHaveLength(16);
  });

  it('refuses a production variant without the route table id (the main one for default-VPC subnets)', () => {
    for (const edit of [
      (c: Json) => {
        delete c.crossAccount.production.source.routeTableIds;
      },
      (c: Json) => {
        c.crossAccount.production.source.routeTableIds = [];
      },
      (c: Json) => {
        c.crossAccount.production.source.routeTableIds = ['main'];
      },
    ]) {
      expect(refusal(edit)).toMatch(/crossAccount\.production\.source\.routeTableIds: .*MAIN route table/);
    }
  });

  it('refuses zone names where zone ids are needed (names differ between accounts)', () => {
    expect(
      refusal((c) => {
        c.crossAccount.experiment.target.dbSubnets[0].availabilityZoneId = 'ap-northeast-2a';
      }),
    ).toMatch(/crossAccount\.experiment\.target\.dbSubnets: .*ids such as "apne2-az1", not names/);
    expect(
      refusal((c) => {
        c.crossAccount.experiment.source.subnet = { cidr: '10.1.1.0/24', availabilityZone: 'ap-northeast-2b' };
      }),
    ).toMatch(/crossAccount\.experiment\.source: vpcCidr and subnet/);
  });

  it("refuses DB subnets outside B's VPC, in one zone, or overlapping", () => {
    expect(
      refusal((c) => {
        c.crossAccount.experiment.target.dbSubnets[1].cidr = '10.9.0.0/24';
      }),
    ).toMatch(/crossAccount\.experiment\.target\.dbSubnets: 10\.9\.0\.0\/24 is outside 10\.2\.0\.0\/16/);
    expect(
      refusal((c) => {
        c.crossAccount.experiment.target.dbSubnets[1].availabilityZoneId = 'apne2-az2';
      }),
    ).toMatch(/two zones/);
  });

  it("checks B's database like the other targets, and refuses runner roles outside account A", () => {
    expect(
      refusal((c) => {
        c.crossAccount.production.target.database.backupRetentionDays = 0;
      }),
    ).toMatch(/crossAccount\.production\.target\.database\.backupRetentionDays/);
    expect(
      refusal((c) => {
        c.crossAccount.runnerRoleArns = ['arn:aws:iam::210987654321:role/elsewhere'];
      }),
    ).toMatch(/crossAccount\.runnerRoleArns: role ARNs in account A/);
  });
});
