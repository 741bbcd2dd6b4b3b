/**
 * The post-check: a real write through the path the application uses (PgBouncer, or the URL
 * it was switched to) lands on the new primary. A plain client, without pgshift's session
 * options, so it sees exactly what the application sees (read-only settings included).
 */
import pg from 'pg';
import { tlsOptions, type ConnInfo } from '../../postgres/conninfo.js';

export interface ServerIdentity {
  port: number;
  startedAt: string;
  version: string;
}

export interface AppPathCheck {
  ok: boolean;
  /** The server the write landed on. */
  landedOn?: ServerIdentity;
  error?: string;
  ms: number;
}

const IDENTITY_SQL = `SELECT inet_server_port() AS port, pg_postmaster_start_time()::text AS started, current_setting('server_version_num') AS version`;

export async function serverIdentity(client: pg.Client): Promise<ServerIdentity> {
  const r = (await client.query(IDENTITY_SQL)).rows[0];
  return { port: Number(r.port), startedAt: r.started, version: r.version };
}

export async function checkWriteThroughAppPath(app: ConnInfo, expected: ServerIdentity): Promise<AppPathCheck> {
  const started = Date.now();
  const client = new pg.Client({
    host: app.host,
    port: app.port,
    database: app.database,
    user: app.user,
    password: app.password,
    ssl: tlsOptions(app),
    connectionTimeoutMillis: 10_000,
  });
  client.on('error', () => undefined);
  try {
    await client.connect();
    // One transaction, so it works under transaction pooling; the temp table disappears at commit.
    await client.query('BEGIN');
    await client.query('CREATE TEMP TABLE pgshift_post_check (at timestamptz) ON COMMIT DROP');
    await client.query('INSERT INTO pgshift_post_check VALUES (now())');
    const landedOn = await serverIdentity(client);
    await client.query('COMMIT');
    const same = landedOn.startedAt === expected.startedAt && landedOn.version === expected.version;
    return {
      ok: same,
      landedOn,
      error: same ? undefined : 'the write landed on another server than the new primary',
      ms: Date.now() - started,
    };
  } catch (err) {
    return { ok: false, error: (err as Error).message, ms: Date.now() - started };
  } finally {
    await client.end().catch(() => undefined);
  }
}
