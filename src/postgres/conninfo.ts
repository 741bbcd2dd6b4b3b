import { readFileSync } from 'node:fs';
import { usageError } from '../errors.js';
import { describeUrl, registerSecret } from './redact.js';

export type SslMode = 'disable' | 'prefer' | 'require' | 'verify-ca' | 'verify-full';
const SSL_MODES: readonly SslMode[] = ['disable', 'prefer', 'require', 'verify-ca', 'verify-full'];

/** Which end of the migration a connection belongs to; used in every message about it. */
export type Side = 'source' | 'target';

/** A parsed connection: what pg, pg_dump and CREATE SUBSCRIPTION each need, built from one URL. */
export interface ConnInfo {
  side: Side;
  host: string;
  port: number;
  database: string;
  user: string;
  password?: string;
  sslmode: SslMode;
  /** CA bundle (RDS: the region's global-bundle.pem) used by verify-ca / verify-full. */
  sslrootcert?: string;
}

/**
 * Parse a `postgres://user:pass@host:port/db?sslmode=...&sslrootcert=...` URL.
 * The password is registered for redaction before anything else can print it.
 */
export function parseConnInfo(url: string, side: Side, defaults: { caBundle?: string } = {}): ConnInfo {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw usageError(
      `the ${side} connection is not a postgres:// URL`,
      `set PGSHIFT_${side.toUpperCase()}_URL to a URL like postgres://app@db-host:5432/tasteam (password after app:)`,
    );
  }
  if (u.protocol !== 'postgres:' && u.protocol !== 'postgresql:') {
    throw usageError(
      `the ${side} connection must start with postgres://`,
      `set PGSHIFT_${side.toUpperCase()}_URL to a URL like postgres://app@db-host:5432/tasteam (password after app:)`,
    );
  }
  const password = u.password ? decodeURIComponent(u.password) : undefined;
  registerSecret(password);
  const database = decodeURIComponent(u.pathname.replace(/^\//, ''));
  if (!database) throw usageError(`the ${side} URL names no database (${describeUrl(url)})`, 'add /dbname to the URL');
  const sslmodeParam = u.searchParams.get('sslmode') ?? 'prefer';
  if (!SSL_MODES.includes(sslmodeParam as SslMode)) {
    throw usageError(`unknown sslmode '${sslmodeParam}' in the ${side} URL`, `use one of ${SSL_MODES.join(', ')}`);
  }
  const sslmode = sslmodeParam as SslMode;
  const sslrootcert = u.searchParams.get('sslrootcert') ?? defaults.caBundle;
  if ((sslmode === 'verify-ca' || sslmode === 'verify-full') && !sslrootcert) {
    throw usageError(
      `sslmode=${sslmode} on the ${side} needs a CA bundle`,
      'pass --ca-bundle /path/global-bundle.pem (RDS) or add sslrootcert= to the URL',
    );
  }
  return {
    side,
    host: u.hostname.replace(/^\[|\]$/g, '') || 'localhost',
    port: u.port ? Number(u.port) : 5432,
    database,
    user: decodeURIComponent(u.username) || 'postgres',
    password,
    sslmode,
    sslrootcert: sslrootcert ?? undefined,
  };
}

/** `host:port/db` with no secret, for messages. */
export function describe(info: ConnInfo): string {
  return `${info.side} ${info.host}:${info.port}/${info.database}`;
}

/** The same server and database? Used to refuse source = target. */
export function sameDatabase(a: ConnInfo, b: ConnInfo): boolean {
  const host = (h: string) => (h === 'localhost' || h === '::1' ? '127.0.0.1' : h);
  return host(a.host) === host(b.host) && a.port === b.port && a.database === b.database;
}

/** TLS options for node-postgres, following libpq's meaning of each sslmode. */
export function tlsOptions(info: ConnInfo): false | { rejectUnauthorized: boolean; ca?: string; checkServerIdentity?: () => undefined } {
  switch (info.sslmode) {
    case 'disable':
      return false;
    // libpq's prefer falls back to plain text; node-postgres cannot, so prefer means "no TLS demanded".
    case 'prefer':
      return false;
    case 'require':
      return { rejectUnauthorized: false };
    case 'verify-ca':
      return { rejectUnauthorized: true, ca: readCa(info), checkServerIdentity: () => undefined };
    case 'verify-full':
      return { rejectUnauthorized: true, ca: readCa(info) };
  }
}

function readCa(info: ConnInfo): string {
  try {
    return readFileSync(info.sslrootcert!, 'utf8');
  } catch {
    throw usageError(
      `cannot read the ${info.side} CA bundle ${info.sslrootcert}`,
      'download the RDS global-bundle.pem and pass its path with --ca-bundle',
    );
  }
}

/**
 * libpq keyword/value string, e.g. for CREATE SUBSCRIPTION ... CONNECTION.
 * Values are single-quoted with backslash and quote escaped, as libpq requires.
 */
export function libpqConninfo(info: ConnInfo, opts: { includePassword: boolean }): string {
  const pairs: [string, string | number | undefined][] = [
    ['host', info.host],
    ['port', info.port],
    ['dbname', info.database],
    ['user', info.user],
    ['password', opts.includePassword ? info.password : undefined],
    ['sslmode', info.sslmode],
    ['sslrootcert', info.sslrootcert],
  ];
  return pairs
    .filter(([, v]) => v !== undefined && v !== '')
    .map(([k, v]) => `${k}='${String(v).replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`)
    .join(' ');
}

/** Environment for pg_dump/pg_restore/psql: the password travels in PGPASSWORD, never in argv. */
export function libpqEnv(info: ConnInfo): Record<string, string> {
  const env: Record<string, string> = {
    PGHOST: info.host,
    PGPORT: String(info.port),
    PGDATABASE: info.database,
    PGUSER: info.user,
    PGSSLMODE: info.sslmode,
    PGAPPNAME: 'pgshift',
  };
  if (info.password) env.PGPASSWORD = info.password;
  if (info.sslrootcert) env.PGSSLROOTCERT = info.sslrootcert;
  return env;
}

/** The same connection pointed at another database on the same server. */
export function withDatabase(info: ConnInfo, database: string): ConnInfo {
  return { ...info, database };
}
