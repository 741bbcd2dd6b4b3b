// Typed configuration for the infrastructure stacks. Every value a person would otherwise hard-code in a
// .tf file (AMI, sizes, CIDRs, environment) lives here, is checked before anything is synthesized, and is
// reviewed in the pull request that changes infra/config.json.
import { existsSync, readFileSync } from 'node:fs';
import { parseCidr, cidrContains, cidrsOverlap } from './cidr.js';
import { checkDmsConfig, type DmsConfig } from './dms-config.js';
import { crossAccountProblems, type CrossAccountConfig } from './cross-account-config.js';

export type EnvironmentName = 'experiment' | 'production';

/** What differs between an experiment and production by policy, not by taste: how hard the database is to lose. */
export interface EnvironmentProfile {
  /** RDS refuses to be deleted while this is on. */
  deletionProtection: boolean;
  /** Off: `terraform destroy` takes a final snapshot named `<identifier>-final`. */
  skipFinalSnapshot: boolean;
  /** Changes apply now (experiment) or in the maintenance window (production). */
  applyImmediately: boolean;
}

export function environmentProfile(environment: EnvironmentName): EnvironmentProfile {
  // The plan ends experiment 01 with `terraform destroy`, so nothing may stand in its way there;
  // in production a destroy must be impossible without first turning protection off in a reviewed change.
  return environment === 'experiment'
    ? { deletionProtection: false, skipFinalSnapshot: true, applyImmediately: true }
    : { deletionProtection: true, skipFinalSnapshot: false, applyImmediately: false };
}

export interface StateConfig {
  /** The existing S3 bucket that already holds the v1 state (the plan's checklist: "S3 backend bucket access"). */
  bucket: string;
  region: string;
  /** Every stack's key is `<keyPrefix>/<stack>/terraform.tfstate`; the plan's prefix keeps v1 state apart. */
  keyPrefix: string;
}

export interface DatabaseConfig {
  identifier: string;
  /** Major version only: RDS picks the current minor, and minor upgrades then do not show up as drift. */
  engineVersion: string;
  parameterGroupFamily: string;
  instanceClass: string;
  allocatedStorageGb: number;
  multiAz: boolean;
  dbName: string;
  masterUsername: string;
  /** At least 1: a pre-cutover snapshot and point-in-time restore need automated backups. */
  backupRetentionDays: number;
}

export interface GitHubConfig {
  /** owner/name of the repository whose workflows run the migration. */
  repository: string;
  runnerLabel: string;
  /** SSM Parameter Store name (SecureString) that holds a runner registration token when the host boots. */
  runnerTokenParameter: string;
  /** Empty: the newest release of actions/runner; otherwise e.g. "2.329.0". */
  runnerVersion: string;
}

export interface ExperimentConfig {
  environment: 'experiment';
  name: string;
  availabilityZones: { primary: string; secondary: string };
  vpcCidr: string;
  publicSubnetCidr: string;
  privateSubnetCidrs: [string, string];
  source: {
    /** The production AMI snapshot (PostgreSQL in Docker with data). Required: there is no sensible default. */
    ami: string;
    instanceType: string;
    rootVolumeGb: number;
    /** EC2 key pair for SSH; omit to rely on SSM Session Manager only. */
    keyName?: string;
    sshUser: string;
    /** Who may SSH in. Empty: no port 22 at all, use `aws ssm start-session`. */
    adminCidrs: string[];
    /**
     * Put the runner's service user in the docker group so pgshift can `docker exec` into the source
     * container. That group is root on the host in all but name: leave it off when PostgreSQL's port is published.
     */
    runnerDockerExec: boolean;
  };
  database: DatabaseConfig;
}

export interface ProductionConfig {
  environment: 'production';
  name: string;
  /** The existing v1 VPC and the existing EC2's security group: referenced by id, never recreated. */
  vpcId: string;
  vpcCidr: string;
  sourceSecurityGroupId: string;
  /** New private subnets inside the v1 VPC for the DB subnet group (two AZs, no route to the internet). */
  dbSubnets: Array<{ cidr: string; availabilityZone: string }>;
  database: DatabaseConfig;
}

export interface BootstrapConfig {
  /** GitHub environments the migration workflows run in (e.g. experiment-cutover); each may assume the migration role. */
  migrationEnvironments: string[];
  /** Environment of the pull-request plan job (read-only role). */
  planEnvironment: string;
  /** Environments that apply or destroy infrastructure (administrative role). */
  applyEnvironments: string[];
  /** Whether this account already has the GitHub OIDC provider (one per account): then reference it instead of creating it. */
  existingOidcProviderArn?: string;
}

export interface InfraConfig {
  region: string;
  /** Terraform refuses to touch any other account when this is set. */
  accountId?: string;
  state: StateConfig;
  github: GitHubConfig;
  tags: Record<string, string>;
  bootstrap: BootstrapConfig;
  experiment: ExperimentConfig;
  production?: ProductionConfig;
  /** Experiment 03: AWS DMS as a second replication engine (stacks 03-dms and production-dms). */
  dms?: DmsConfig;
  /** Experiment 02 (source in account A, RDS in account B over VPC peering): infra/cross-account-config.ts. */
  crossAccount?: CrossAccountConfig;
}

export class InfraConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InfraConfigError';
  }
}

/** The stack names; also the folder names under cdktf.out/stacks and the state key segment. */
export const STACKS = { experiment: '01-single-vpc-rds', bootstrap: 'bootstrap', production: 'production' } as const;

export function stateKey(state: StateConfig, stack: string): string {
  return `${state.keyPrefix}/${stack}/terraform.tfstate`;
}

/**
 * Checks a configuration and returns it typed. Each failure names the field and what to put there,
 * because the person reading it is editing infra/config.json.
 */
export function parseConfig(raw: unknown, origin = 'infra/config.json'): InfraConfig {
  const problems: string[] = [];
  const c = raw as InfraConfig;
  const need = (ok: boolean, message: string): void => {
    if (!ok) problems.push(message);
  };
  if (typeof raw !== 'object' || raw === null) throw new InfraConfigError(`${origin}: expected a JSON object`);

  need(isNonEmpty(c.region), 'region: the AWS region, e.g. "ap-northeast-2"');
  need(c.accountId === undefined || /^\d{12}$/.test(c.accountId), 'accountId: 12 digits, or leave it out');
  need(isNonEmpty(c.state?.bucket), 'state.bucket: the existing S3 bucket for Terraform state');
  need(isNonEmpty(c.state?.region), "state.region: the state bucket's region");
  need(isNonEmpty(c.state?.keyPrefix) && !c.state.keyPrefix.endsWith('/'), 'state.keyPrefix: e.g. "v1-v2-migration" (no trailing slash)');
  need(/^[A-Za-z0-9-]+\/[A-Za-z0-9._-]+$/.test(c.github?.repository ?? ''), 'github.repository: "owner/name"');
  need(isNonEmpty(c.github?.runnerLabel), 'github.runnerLabel: e.g. "pgshift-source"');
  need(
    /^\/[A-Za-z0-9_.\-/]+$/.test(c.github?.runnerTokenParameter ?? ''),
    'github.runnerTokenParameter: an SSM parameter name starting with "/"',
  );
  need(
    c.github?.runnerVersion === '' || /^\d+\.\d+\.\d+$/.test(c.github?.runnerVersion ?? ''),
    'github.runnerVersion: "" (newest) or e.g. "2.329.0"',
  );
  need(typeof c.tags === 'object' && c.tags !== null, 'tags: an object of tag names to values ({} is fine)');

  const b = c.bootstrap;
  need(
    Array.isArray(b?.migrationEnvironments) && b.migrationEnvironments.every(isEnvironmentName),
    'bootstrap.migrationEnvironments: GitHub environment names',
  );
  need(isEnvironmentName(b?.planEnvironment), 'bootstrap.planEnvironment: the GitHub environment of the plan job, e.g. "infra-plan"');
  need(
    Array.isArray(b?.applyEnvironments) && b.applyEnvironments.length > 0 && b.applyEnvironments.every(isEnvironmentName),
    'bootstrap.applyEnvironments: e.g. ["infra", "infra-destroy"]',
  );
  need(
    b?.existingOidcProviderArn === undefined ||
      /^arn:aws[a-z-]*:iam::\d{12}:oidc-provider\/token\.actions\.githubusercontent\.com$/.test(b.existingOidcProviderArn),
    "bootstrap.existingOidcProviderArn: the ARN of the account's token.actions.githubusercontent.com provider, or leave it out",
  );
  need(
    !(b?.applyEnvironments ?? []).includes(b?.planEnvironment),
    'bootstrap.planEnvironment must differ from the apply environments (it has no reviewers)',
  );

  const e = c.experiment;
  if (e === undefined) problems.push('experiment: the 01-single-vpc-rds settings');
  else {
    need(e.environment === 'experiment', 'experiment.environment: "experiment"');
    need(
      /^ami-[0-9a-f]{8,17}$/.test(e.source?.ami ?? ''),
      'experiment.source.ami: the AMI made from the production EC2 (ami-…); it is required',
    );
    need(isNonEmpty(e.source?.instanceType), 'experiment.source.instanceType: e.g. "c7i-flex.large"');
    need(
      Number.isInteger(e.source?.rootVolumeGb) && e.source.rootVolumeGb >= 8,
      "experiment.source.rootVolumeGb: at least the AMI's root volume (30 in v1)",
    );
    need(isNonEmpty(e.source?.sshUser), 'experiment.source.sshUser: the AMI\'s login user, e.g. "ubuntu"');
    checkAdminCidrs(e.source?.adminCidrs, 'experiment.source.adminCidrs', problems);
    need(
      typeof e.source?.runnerDockerExec === 'boolean',
      'experiment.source.runnerDockerExec: true only if pgshift must `docker exec` into the source container (docker group = root on the host)',
    );
    checkDatabase(e.database, 'experiment.database', problems);
    const cidrs = [e.vpcCidr, e.publicSubnetCidr, ...(e.privateSubnetCidrs ?? [])];
    if (cidrs.every(isCidr) && e.privateSubnetCidrs?.length === 2) {
      for (const subnet of cidrs.slice(1))
        need(cidrContains(e.vpcCidr, subnet), `experiment: subnet ${subnet} is outside the VPC ${e.vpcCidr}`);
      need(!hasOverlap(cidrs.slice(1)), 'experiment: the subnets overlap');
      // The plan picked 10.1.0.0/16 so that it never collides with v1's 172.31.0.0/16 (a later peering needs that).
      need(!cidrsOverlap(e.vpcCidr, '172.31.0.0/16'), `experiment.vpcCidr ${e.vpcCidr} overlaps v1's 172.31.0.0/16`);
    } else problems.push('experiment: vpcCidr, publicSubnetCidr and two privateSubnetCidrs must be IPv4 CIDRs');
    need(
      isNonEmpty(e.availabilityZones?.primary) &&
        isNonEmpty(e.availabilityZones?.secondary) &&
        e.availabilityZones.primary !== e.availabilityZones.secondary,
      'experiment.availabilityZones: two different zones (a DB subnet group needs two)',
    );
  }

  const p = c.production;
  if (p !== undefined) {
    need(p.environment === 'production', 'production.environment: "production"');
    need(/^vpc-[0-9a-f]{8,17}$/.test(p.vpcId ?? ''), 'production.vpcId: the existing v1 VPC id (vpc-…)');
    need(
      /^sg-[0-9a-f]{8,17}$/.test(p.sourceSecurityGroupId ?? ''),
      "production.sourceSecurityGroupId: the existing EC2's security group id (sg-…)",
    );
    need(isCidr(p.vpcCidr), 'production.vpcCidr: the v1 VPC CIDR, e.g. "172.31.0.0/16"');
    const subnets = p.dbSubnets ?? [];
    need(
      subnets.length >= 2 && new Set(subnets.map((s) => s.availabilityZone)).size >= 2,
      'production.dbSubnets: at least two subnets in two availability zones',
    );
    if (isCidr(p.vpcCidr) && subnets.every((s) => isCidr(s.cidr))) {
      for (const s of subnets) need(cidrContains(p.vpcCidr, s.cidr), `production.dbSubnets: ${s.cidr} is outside the VPC ${p.vpcCidr}`);
      need(!hasOverlap(subnets.map((s) => s.cidr)), 'production.dbSubnets: the subnets overlap');
    } else problems.push('production.dbSubnets: every cidr must be an IPv4 CIDR');
    checkDatabase(p.database, 'production.database', problems);
  }

  checkDmsConfig(c.dms, problems);
  // Experiment 02 and its production variant (infra/cross-account-config.ts).
  const x = c.crossAccount;
  problems.push(...crossAccountProblems(x, { accountId: c.accountId, experiment01VpcCidr: e?.vpcCidr }));
  if (x?.experiment?.target?.database !== undefined)
    checkDatabase(x.experiment.target.database, 'crossAccount.experiment.target.database', problems);
  if (x?.production?.target?.database !== undefined)
    checkDatabase(x.production.target.database, 'crossAccount.production.target.database', problems);

  if (problems.length > 0) throw new InfraConfigError(`${origin} is not usable:\n  - ${problems.join('\n  - ')}`);
  return c;
}

/**
 * Reads the configuration the stacks are built from. An explicit path (PGSHIFT_INFRA_CONFIG, set by the
 * workflows) must exist; otherwise infra/config.json, and failing that the example so that a fresh clone
 * can synthesize and run the tests (it says so on stderr: the example's AMI is not yours).
 */
export function loadConfig(infraDir: string, env: NodeJS.ProcessEnv = process.env, warn: (line: string) => void = () => {}): InfraConfig {
  const explicit = env.PGSHIFT_INFRA_CONFIG;
  if (explicit !== undefined && explicit !== '') {
    if (!existsSync(explicit))
      throw new InfraConfigError(
        `PGSHIFT_INFRA_CONFIG=${explicit} does not exist; copy infra/config.example.json there and fill in your values`,
      );
    return parseConfig(readJson(explicit), explicit);
  }
  const own = `${infraDir}/config.json`;
  if (existsSync(own)) return parseConfig(readJson(own), 'infra/config.json');
  warn(
    'infra/config.json not found: synthesizing with infra/config.example.json (example AMI and bucket; copy it to infra/config.json before planning)',
  );
  return parseConfig(readJson(`${infraDir}/config.example.json`), 'infra/config.example.json');
}

function readJson(path: string): unknown {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new InfraConfigError(`${path}: not valid JSON (${(err as Error).message})`);
  }
}

function checkDatabase(d: DatabaseConfig | undefined, at: string, problems: string[]): void {
  const need = (ok: boolean, message: string): void => {
    if (!ok) problems.push(`${at}.${message}`);
  };
  if (d === undefined) {
    problems.push(`${at}: the RDS settings`);
    return;
  }
  need(
    /^[a-z][a-z0-9-]{0,62}$/.test(d.identifier ?? '') && !d.identifier.endsWith('-') && !d.identifier.includes('--'),
    'identifier: lowercase letters, digits and single hyphens',
  );
  need(/^\d+$/.test(d.engineVersion ?? ''), 'engineVersion: a major version such as "17"');
  need(
    d.parameterGroupFamily === `postgres${d.engineVersion}`,
    `parameterGroupFamily: "postgres${d.engineVersion}" to match engineVersion`,
  );
  need(/^db\./.test(d.instanceClass ?? ''), 'instanceClass: e.g. "db.t3.micro"');
  need(Number.isInteger(d.allocatedStorageGb) && d.allocatedStorageGb >= 20, 'allocatedStorageGb: at least 20 (gp3 minimum)');
  need(typeof d.multiAz === 'boolean', 'multiAz: true or false');
  need(/^[A-Za-z][A-Za-z0-9_]{0,62}$/.test(d.dbName ?? ''), 'dbName: letters, digits, underscore');
  need(
    /^[A-Za-z][A-Za-z0-9_]{0,15}$/.test(d.masterUsername ?? '') && d.masterUsername !== 'rdsadmin',
    'masterUsername: letters, digits, underscore (not rdsadmin)',
  );
  need(
    Number.isInteger(d.backupRetentionDays) && d.backupRetentionDays >= 1 && d.backupRetentionDays <= 35,
    'backupRetentionDays: 1–35 (0 turns backups off, and then no pre-cutover snapshot or point-in-time restore)',
  );
}

function checkAdminCidrs(cidrs: string[] | undefined, at: string, problems: string[]): void {
  if (!Array.isArray(cidrs)) {
    problems.push(`${at}: a list of CIDRs allowed to SSH in ([] for none: use SSM Session Manager)`);
    return;
  }
  for (const cidr of cidrs) {
    if (!isCidr(cidr)) problems.push(`${at}: "${cidr}" is not an IPv4 CIDR`);
    // SSH from the whole internet is what the plan does; a source database host must not be that reachable.
    else if (parseCidr(cidr).prefix < 16)
      problems.push(`${at}: "${cidr}" is too wide for SSH (narrower than /16 required; use your office or VPN range)`);
  }
}

function isCidr(value: unknown): value is string {
  try {
    parseCidr(value as string);
    return true;
  } catch {
    return false;
  }
}

function hasOverlap(cidrs: string[]): boolean {
  return cidrs.some((a, i) => cidrs.slice(i + 1).some((b) => cidrsOverlap(a, b)));
}

function isNonEmpty(value: unknown): value is string {
  return typeof value === 'string' && value.trim() !== '';
}

function isEnvironmentName(value: unknown): value is string {
  return typeof value === 'string' && /^[A-Za-z0-9_.-]+$/.test(value);
}
