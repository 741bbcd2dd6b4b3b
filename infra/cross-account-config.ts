// The `crossAccount` section of infra/config.json: experiment 02 (source in account A, RDS in account B,
// joined by VPC peering) and its production variant (A = the existing v1 network, referenced by id).
// Kept apart from config.ts so that the checks that only matter across accounts read in one place.
import { cidrContains, cidrsOverlap, parseCidr } from './cidr.js';
import type { DatabaseConfig } from './config.js';

export const CROSS_ACCOUNT_STACKS = {
  experiment: '02-cross-account-peering',
  production: '02-cross-account-peering-production',
  /** Account B's roles; an administrator applies it by hand, like `bootstrap`. */
  bootstrap: 'bootstrap-target-account',
} as const;

/** v1's default VPC: whatever B gets must never collide with it, in the experiment as in production. */
export const V1_VPC_CIDR = '172.31.0.0/16';

/**
 * Docker's default address pools on the source host (dockerd without `default-address-pools`): bridges are
 * carved from 172.17.0.0/16 … 172.31.0.0/16 and then 192.168.0.0/16. A peer network inside one of them is
 * routed to a local bridge on the host instead of through the peering, and the runner never reaches RDS.
 */
export const DOCKER_DEFAULT_POOLS: string[] = [...Array.from({ length: 15 }, (_, i) => `172.${17 + i}.0.0/16`), '192.168.0.0/16'];

/** An availability zone by id (apne2-az1), not by name: names map to different zones in different accounts. */
export interface ZoneSubnet {
  cidr: string;
  availabilityZoneId: string;
}

export interface TargetAccountNetwork {
  /** Account B's new VPC for the database. */
  vpcCidr: string;
  /** Two private DB subnets (a DB subnet group needs two zones), placed by zone id. */
  dbSubnets: ZoneSubnet[];
  database: DatabaseConfig;
}

export interface CrossAccountExperiment {
  environment: 'experiment';
  /** Name prefix of everything this stack creates (IAM names included: bootstrap's patterns cover `<name>-*`). */
  name: string;
  source: {
    vpcCidr: string;
    /** The source EC2's public subnet, by zone id. */
    subnet: ZoneSubnet;
  };
  target: TargetAccountNetwork;
}

export interface CrossAccountProduction {
  environment: 'production';
  name: string;
  /** v1's network in account A, referenced by id and never managed. */
  source: {
    vpcId: string;
    vpcCidr: string;
    securityGroupId: string;
    /**
     * Every route table of the source host's subnets. Default-VPC subnets without an explicit association
     * use the VPC's MAIN route table: its id must be here, or the source has no route back to B.
     */
    routeTableIds: string[];
  };
  target: TargetAccountNetwork;
}

export interface CrossAccountConfig {
  /** Account A: the source, the state bucket, the GitHub OIDC roles. */
  sourceAccountId: string;
  /** Account B: the RDS target. */
  targetAccountId: string;
  /**
   * More of A's roles that may assume B's runner reader role, besides A's pgshift-migration role and the
   * experiment's source host role — e.g. the instance role of v1's EC2, whose runner does the production run.
   */
  runnerRoleArns: string[];
  experiment: CrossAccountExperiment;
  production?: CrossAccountProduction;
}

/**
 * Checks `crossAccount` and returns what is wrong, one line per problem, each naming the field.
 * `experiment01VpcCidr` is experiment 01's VPC, which the source host's network may also route to.
 */
export function crossAccountProblems(
  x: CrossAccountConfig | undefined,
  ctx: { accountId?: string; experiment01VpcCidr?: string },
): string[] {
  if (x === undefined) return [];
  const problems: string[] = [];
  const need = (ok: boolean, message: string): void => {
    if (!ok) problems.push(`crossAccount.${message}`);
  };
  need(/^\d{12}$/.test(x.sourceAccountId ?? ''), 'sourceAccountId: account A (source, state, GitHub roles), 12 digits');
  need(/^\d{12}$/.test(x.targetAccountId ?? ''), 'targetAccountId: account B (RDS), 12 digits');
  // Peering an account with itself works, but then this is experiment 01 with extra moving parts and
  // B's roles would be A's: refuse it rather than build a cross-account setup that proves nothing.
  need(x.targetAccountId !== x.sourceAccountId, 'targetAccountId must differ from sourceAccountId (B equal to A is experiment 01)');
  need(
    ctx.accountId === undefined || ctx.accountId === x.sourceAccountId,
    `sourceAccountId ${x.sourceAccountId} differs from accountId ${ctx.accountId}: account A is where the other stacks and the state live`,
  );
  need(
    Array.isArray(x.runnerRoleArns) &&
      x.runnerRoleArns.every((arn) => new RegExp(`^arn:aws[a-z-]*:iam::${x.sourceAccountId}:role/[\\w+=,.@/-]+$`).test(arn)),
    'runnerRoleArns: role ARNs in account A ([] for none)',
  );

  const e = x.experiment;
  if (e === undefined) problems.push('crossAccount.experiment: the 02-cross-account-peering settings');
  else {
    need(e.environment === 'experiment', 'experiment.environment: "experiment"');
    need(/^[a-z][a-z0-9-]{1,30}$/.test(e.name ?? ''), 'experiment.name: lowercase name prefix, e.g. "pgshift-02"');
    const sourceOk = isCidr(e.source?.vpcCidr) && isZoneSubnet(e.source?.subnet);
    need(sourceOk, 'experiment.source: vpcCidr and subnet {cidr, availabilityZoneId} (e.g. "apne2-az2")');
    if (sourceOk)
      need(
        cidrContains(e.source.vpcCidr, e.source.subnet.cidr),
        `experiment.source.subnet ${e.source.subnet.cidr} is outside ${e.source.vpcCidr}`,
      );
    problems.push(...targetProblems(e.target, 'experiment.target'));
    if (sourceOk && targetCidrsOk(e.target)) {
      problems.push(
        ...peerOverlaps(e.target.vpcCidr, 'experiment.target.vpcCidr', {
          'account A (experiment.source.vpcCidr)': e.source.vpcCidr,
          ...others(ctx),
        }),
      );
      // The source side is a new VPC too: keep it clear of v1 so that v1 and it can be peered later.
      need(!cidrsOverlap(e.source.vpcCidr, V1_VPC_CIDR), `experiment.source.vpcCidr ${e.source.vpcCidr} overlaps v1's ${V1_VPC_CIDR}`);
    }
  }

  const p = x.production;
  if (p !== undefined) {
    need(p.environment === 'production', 'production.environment: "production"');
    need(/^[a-z][a-z0-9-]{1,30}$/.test(p.name ?? ''), 'production.name: lowercase name prefix, e.g. "pgshift-prod-b"');
    need(/^vpc-[0-9a-f]{8,17}$/.test(p.source?.vpcId ?? ''), 'production.source.vpcId: the existing v1 VPC id (vpc-…)');
    need(
      /^sg-[0-9a-f]{8,17}$/.test(p.source?.securityGroupId ?? ''),
      "production.source.securityGroupId: the v1 EC2's security group id (sg-…)",
    );
    need(isCidr(p.source?.vpcCidr), `production.source.vpcCidr: the v1 VPC CIDR, e.g. "${V1_VPC_CIDR}"`);
    const tables = p.source?.routeTableIds;
    need(
      Array.isArray(tables) && tables.length > 0 && tables.every((t) => /^rtb-[0-9a-f]{8,17}$/.test(t)),
      "production.source.routeTableIds: the route table ids of the source host's subnets (rtb-…); a default-VPC subnet without an explicit association uses the MAIN route table: " +
        'aws ec2 describe-route-tables --filters Name=vpc-id,Values=<vpcId> Name=association.main,Values=true --query "RouteTables[].RouteTableId"',
    );
    problems.push(...targetProblems(p.target, 'production.target'));
    if (isCidr(p.source?.vpcCidr) && targetCidrsOk(p.target)) {
      problems.push(
        ...peerOverlaps(p.target.vpcCidr, 'production.target.vpcCidr', {
          'account A (production.source.vpcCidr)': p.source.vpcCidr,
          ...others(ctx),
        }),
      );
    }
  }
  return problems;
}

function others(ctx: { experiment01VpcCidr?: string }): Record<string, string> {
  const named: Record<string, string> = { "v1's VPC": V1_VPC_CIDR };
  if (ctx.experiment01VpcCidr !== undefined && isCidr(ctx.experiment01VpcCidr)) named["experiment 01's VPC"] = ctx.experiment01VpcCidr;
  for (const pool of DOCKER_DEFAULT_POOLS) named[`Docker's default address pool ${pool} on the source host`] = pool;
  return named;
}

/** B's network must be reachable from everything on A's side: disjoint from A, v1, experiment 01 and Docker's pools. */
function peerOverlaps(peer: string, at: string, against: Record<string, string>): string[] {
  return Object.entries(against)
    .filter(([, cidr]) => cidrsOverlap(peer, cidr))
    .map(([what, cidr]) => `crossAccount.${at} ${peer} overlaps ${what} (${cidr}): pick a range outside it, e.g. 10.2.0.0/16`);
}

function targetProblems(t: TargetAccountNetwork | undefined, at: string): string[] {
  const problems: string[] = [];
  if (t === undefined) return [`crossAccount.${at}: vpcCidr, dbSubnets and database`];
  if (!isCidr(t.vpcCidr)) problems.push(`crossAccount.${at}.vpcCidr: an IPv4 CIDR, e.g. "10.2.0.0/16"`);
  const subnets = t.dbSubnets ?? [];
  if (!(subnets.length >= 2 && subnets.every(isZoneSubnet) && new Set(subnets.map((s) => s.availabilityZoneId)).size >= 2)) {
    problems.push(
      `crossAccount.${at}.dbSubnets: at least two {cidr, availabilityZoneId} in two zones (ids such as "apne2-az1", not names)`,
    );
  } else if (isCidr(t.vpcCidr)) {
    for (const s of subnets)
      if (!cidrContains(t.vpcCidr, s.cidr)) problems.push(`crossAccount.${at}.dbSubnets: ${s.cidr} is outside ${t.vpcCidr}`);
    if (subnets.some((a, i) => subnets.slice(i + 1).some((b) => cidrsOverlap(a.cidr, b.cidr))))
      problems.push(`crossAccount.${at}.dbSubnets: the subnets overlap`);
  }
  if (t.database === undefined) problems.push(`crossAccount.${at}.database: the RDS settings`);
  return problems;
}

function targetCidrsOk(t: TargetAccountNetwork | undefined): t is TargetAccountNetwork {
  return t !== undefined && isCidr(t.vpcCidr);
}

function isZoneSubnet(s: ZoneSubnet | undefined): boolean {
  // Zone ids look like apne2-az1 / use1-az6; a zone name (ap-northeast-2a) is refused on purpose.
  return s !== undefined && isCidr(s.cidr) && /^[a-z]{2,4}\d+-az\d+$/.test(s.availabilityZoneId ?? '');
}

function isCidr(value: unknown): value is string {
  try {
    parseCidr(value as string);
    return true;
  } catch {
    return false;
  }
}
