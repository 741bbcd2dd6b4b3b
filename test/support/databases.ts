/**
 * Per-test-file databases on the shared servers, so test files never see each other's
 * tables, publications or slots.
 */
import pg from 'pg';
import { inject } from 'vitest';
import { parseConnInfo, type ConnInfo } from '../../src/postgres/conninfo.js';

export function serverUrl(side: 'source' | 'target', database = 'postgres'): string {
  const s = inject(side);
  return `postgres://postgres:${encodeURIComponent(s.password)}@${s.host}:${s.port}/${encodeURIComponent(database)}`;
}

export async function admin<T>(side: 'source' | 'target', database: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client(serverUrl(side, database));
  c.on('error', () => undefined);
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

export interface TestPair {
  name: string;
  sourceUrl: string;
  targetUrl: string;
  source: ConnInfo;
  target: ConnInfo;
  /** Run SQL on the source database. */
  src<T extends pg.QueryResultRow = any>(sql: string, params?: unknown[]): Promise<pg.QueryResult<T>>;
  /** Run SQL on the target database. */
  tgt<T extends pg.QueryResultRow = any>(sql: string, params?: unknown[]): Promise<pg.QueryResult<T>>;
  drop(): Promise<void>;
}

/**
 * Create a fresh, empty database called `name` on both servers (dropping any leftover,
 * with its subscriptions and slots) and return handles to both.
 */
export async function freshPair(name: string): Promise<TestPair> {
  await dropEverywhere(name);
  await admin('source', 'postgres', (c) => c.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`));
  await admin('target', 'postgres', (c) => c.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`));
  const sourceUrl = serverUrl('source', name);
  const targetUrl = serverUrl('target', name);
  const clients: pg.Client[] = [];
  const run = (url: string) => async (sql: string, params?: unknown[]) => {
    const c = new pg.Client(url);
    c.on('error', () => undefined);
    await c.connect();
    clients.push(c);
    try {
      return await c.query(sql, params);
    } finally {
      await c.end().catch(() => undefined);
    }
  };
  return {
    name,
    sourceUrl,
    targetUrl,
    source: parseConnInfo(sourceUrl, 'source'),
    target: parseConnInfo(targetUrl, 'target'),
    src: run(sourceUrl) as TestPair['src'],
    tgt: run(targetUrl) as TestPair['tgt'],
    drop: () => dropEverywhere(name),
  };
}

/** Drop the database on both sides, with every subscription in it and every slot made for it. */
export async function dropEverywhere(name: string): Promise<void> {
  for (const side of ['target', 'source'] as const) {
    const exists = await admin(
      side,
      'postgres',
      async (c) => (await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])).rowCount,
    );
    if (exists) {
      await admin(side, name, async (c) => {
        // A database a switchover left frozen (the replica after a cutover) refuses DDL in a read-only session.
        await c.query('SET default_transaction_read_only = off');
        const subs = await c.query(
          `SELECT subname FROM pg_subscription WHERE subdbid = (SELECT oid FROM pg_database WHERE datname = current_database())`,
        );
        for (const { subname } of subs.rows) {
          const q = pg.escapeIdentifier(subname);
          await c.query(`ALTER SUBSCRIPTION ${q} DISABLE`).catch(() => undefined);
          await c.query(`ALTER SUBSCRIPTION ${q} SET (slot_name = NONE)`).catch(() => undefined);
          await c.query(`DROP SUBSCRIPTION ${q}`).catch(() => undefined);
        }
      });
    }
    await admin(side, 'postgres', async (c) => {
      await c
        .query(
          `SELECT pg_terminate_backend(pid) FROM pg_stat_replication WHERE pid IN (SELECT active_pid FROM pg_replication_slots WHERE database = $1)`,
          [name],
        )
        .catch(() => undefined);
      await c.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`, [name]);
      for (let i = 0; i < 20; i++) {
        const slots = await c.query(`SELECT slot_name, active FROM pg_replication_slots WHERE database = $1`, [name]);
        if (slots.rows.every((r) => !r.active)) {
          for (const r of slots.rows) await c.query('SELECT pg_drop_replication_slot($1)', [r.slot_name]).catch(() => undefined);
          break;
        }
        await new Promise((r) => setTimeout(r, 100));
      }
      await c.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`);
    });
  }
}
