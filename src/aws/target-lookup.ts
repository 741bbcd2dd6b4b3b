import { usageError } from '../errors.js';
import { parseConnInfo, type ConnInfo, type SslMode } from '../postgres/conninfo.js';
import { registerSecret } from '../postgres/redact.js';
import type { AwsCheck } from './checks.js';
import { assumeTargetRole, awsClients, type AwsClients } from './clients.js';
import { describeDbInstance, rdsChecks, type RdsInstance } from './rds.js';
import { readMasterCredentials } from './secrets.js';

export interface RdsTargetOptions {
  dbInstanceIdentifier: string;
  /** The database on the instance to migrate into (RDS creates `postgres`; the app's database is created by pgshift or infra). */
  database: string;
  region?: string;
  /** Default: verify-full when a CA bundle is given, else require (RDS for PostgreSQL 15+ forces TLS). */
  sslmode?: SslMode;
  /** Path to the RDS CA bundle (global-bundle.pem). */
  caBundle?: string;
  /** Experiment 02: a role in the RDS instance's account (B) that the runner assumes for these lookups. */
  targetRoleArn?: string;
  /** Injected clients (tests); otherwise built for the region. */
  clients?: Partial<Omit<AwsClients, 'region' | 'targetRole'>>;
}

export interface RdsTarget {
  /** postgres:// URL with the master password; the password is registered for redaction. */
  url: string;
  info: ConnInfo;
  endpoint: { host: string; port: number };
  instance: RdsInstance;
  /** RDS-side preflight checks (status, rds.logical_replication, access, backups). */
  checks: AwsCheck[];
}

/**
 * The target connection from nothing but the DB instance identifier: endpoint from RDS, master
 * credentials from the Secrets Manager secret RDS manages, plus the RDS-side checks.
 * Steps: assume the target account's role (when the target is in another account) → describe the
 * instance → check it → read the master secret → build the URL.
 */
export async function resolveRdsTarget(opts: RdsTargetOptions): Promise<RdsTarget> {
  const aws = awsClients({ region: opts.region, targetRoleArn: opts.targetRoleArn, ...opts.clients });
  await assumeTargetRole(aws);
  const instance = await describeDbInstance(aws.rds, opts.dbInstanceIdentifier, aws.region);
  const checks = await rdsChecks(aws.rds, instance);
  const endpoint = requireEndpoint(instance);
  const secretArn = requireManagedSecret(instance);
  const credentials = await readMasterCredentials(aws.secrets, secretArn, aws.region);
  const url = buildUrl({
    ...endpoint,
    database: opts.database,
    ...credentials,
    sslmode: opts.sslmode ?? (opts.caBundle ? 'verify-full' : 'require'),
    caBundle: opts.caBundle,
  });
  registerSecret(credentials.password);
  registerSecret(url);
  const info = parseConnInfo(url, 'target', { caBundle: opts.caBundle });
  return { url, info, endpoint, instance, checks };
}

function requireEndpoint(instance: RdsInstance): { host: string; port: number } {
  if (!instance.endpoint) {
    throw usageError(
      `RDS instance ${instance.identifier} has no endpoint yet (status ${instance.status})`,
      `wait for it: aws rds wait db-instance-available --db-instance-identifier ${instance.identifier} --region ${instance.region}`,
    );
  }
  return instance.endpoint;
}

function requireManagedSecret(instance: RdsInstance): string {
  if (!instance.masterUserSecretArn) {
    throw usageError(
      `RDS instance ${instance.identifier} does not keep its master password in Secrets Manager`,
      `set PGSHIFT_TARGET_URL instead, or let RDS manage it: aws rds modify-db-instance --db-instance-identifier ${instance.identifier} --manage-master-user-password --apply-immediately --region ${instance.region}`,
    );
  }
  return instance.masterUserSecretArn;
}

function buildUrl(p: {
  host: string;
  port: number;
  database: string;
  username: string;
  password: string;
  sslmode: SslMode;
  caBundle?: string;
}): string {
  const query = new URLSearchParams({ sslmode: p.sslmode });
  if (p.caBundle) query.set('sslrootcert', p.caBundle);
  const enc = encodeURIComponent;
  return `postgres://${enc(p.username)}:${enc(p.password)}@${p.host}:${p.port}/${enc(p.database)}?${query.toString()}`;
}
