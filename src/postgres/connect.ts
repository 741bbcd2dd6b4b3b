import pg from 'pg';
import { connectionError, type PgshiftError } from '../errors.js';
import { describe, tlsOptions, type ConnInfo } from './conninfo.js';
import { redact } from './redact.js';

/** application_name of every session pgshift opens; the write freeze spares these sessions. */
export const PGSHIFT_APPLICATION_NAME = 'pgshift';

export interface ConnectOptions {
  /** `database` opens a walsender connection (replication protocol), e.g. to export a snapshot. */
  replication?: 'database';
  applicationName?: string;
  connectTimeoutMs?: number;
}

/**
 * Open a session. pgshift's own sessions always run with default_transaction_read_only=off:
 * the cutover freezes writes with that setting at database level, and the migration's
 * own work (sequence sync, ALTER SUBSCRIPTION) must carry on through the freeze.
 */
export async function connect(info: ConnInfo, opts: ConnectOptions = {}): Promise<pg.Client> {
  const config: pg.ClientConfig & { replication?: string } = {
    host: info.host,
    port: info.port,
    database: info.database,
    user: info.user,
    password: info.password,
    ssl: tlsOptions(info),
    application_name: opts.applicationName ?? PGSHIFT_APPLICATION_NAME,
    connectionTimeoutMillis: opts.connectTimeoutMs ?? 10_000,
    options: '-c default_transaction_read_only=off -c statement_timeout=0',
  };
  if (opts.replication) config.replication = opts.replication;
  const client = new pg.Client(config);
  // An idle client whose server goes away emits 'error'; without a handler that would crash the process.
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (err) {
    await client.end().catch(() => undefined);
    throw explainConnectError(err, info);
  }
  return client;
}

/** Run `fn` with a session that is always closed afterwards. */
export async function withClient<T>(info: ConnInfo, fn: (client: pg.Client) => Promise<T>, opts?: ConnectOptions): Promise<T> {
  const client = await connect(info, opts);
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** A session on each side, the source's first; when the target's connect fails, the source's is closed again. */
export async function connectBoth(
  source: ConnInfo,
  target: ConnInfo,
  opts?: ConnectOptions,
): Promise<{ source: pg.Client; target: pg.Client; close(): Promise<void> }> {
  const s = await connect(source, opts);
  let t: pg.Client;
  try {
    t = await connect(target, opts);
  } catch (err) {
    await s.end().catch(() => undefined);
    throw err;
  }
  return {
    source: s,
    target: t,
    close: async () => {
      await t.end().catch(() => undefined);
      await s.end().catch(() => undefined);
    },
  };
}

/** Run `fn` with a session on each side; both are always closed afterwards. */
export async function withClients<T>(
  source: ConnInfo,
  target: ConnInfo,
  fn: (source: pg.Client, target: pg.Client) => Promise<T>,
  opts?: ConnectOptions,
): Promise<T> {
  const pair = await connectBoth(source, target, opts);
  try {
    return await fn(pair.source, pair.target);
  } finally {
    await pair.close();
  }
}

/** Turn a driver error at connect time into one line naming the side and the next step. */
export function explainConnectError(err: unknown, info: ConnInfo): PgshiftError {
  const where = describe(info);
  const e = err as { code?: string; message?: string };
  const code = e?.code ?? '';
  if (['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ETIMEDOUT', 'ENETUNREACH', 'EAI_AGAIN'].includes(code)) {
    return connectionError(
      `cannot reach the ${where} (${code})`,
      `check the host and port, that PostgreSQL listens there and that the security group allows 5432 from this machine`,
    );
  }
  if (/timeout/i.test(e?.message ?? '')) {
    return connectionError(`timed out connecting to the ${where}`, 'check the host, port and security group rules');
  }
  if (code === '28P01') {
    return connectionError(
      `the ${where} refused user ${info.user}: password authentication failed`,
      `check the password in PGSHIFT_${info.side.toUpperCase()}_URL`,
    );
  }
  if (code === '28000') {
    return connectionError(
      `the ${where} refused user ${info.user} (pg_hba.conf or role)`,
      'allow this host in pg_hba.conf and check that the role may log in',
    );
  }
  if (code === '3D000') {
    return connectionError(`database ${info.database} does not exist on the ${where}`, 'check the database name in the URL');
  }
  if (/SSL|TLS|certificate/i.test(e?.message ?? '')) {
    return connectionError(`TLS to the ${where} failed: ${redact(e.message ?? '')}`, 'check sslmode and the CA bundle (--ca-bundle)');
  }
  return connectionError(`cannot connect to the ${where}: ${redact(e?.message ?? String(err))}`, 'check the connection URL');
}

/**
 * A plain session by URL, without pgshift's session options: what an application (or a test,
 * a benchmark, the fixture loader) sees. Always closed afterwards.
 */
export async function withUrl<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client(url);
  client.on('error', () => undefined);
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}
