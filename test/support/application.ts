/**
 * The application as the switchover tests see it: a login role on the source with the rights an
 * application has, a real PgBouncer entry in front of the source that it connects through, and the
 * switchover options that point pgshift at that entry. One definition for every cutover/rollback test.
 */
import pg from 'pg';
import type { SwitchoverOptions } from '../../src/engine/cutover/switchover.js';
import type { MigrationNames } from '../../src/engine/names.js';
import type { Logger } from '../../src/log/logger.js';
import { parseConnInfo } from '../../src/postgres/conninfo.js';
import { ident, literal } from '../../src/postgres/sql.js';
import { startPgBouncer, type LocalPgBouncer } from '../../src/rehearse/pgbouncer-server.js';
import { makeSwitch } from '../../src/switch/switch.js';
import type { TestPair } from './databases.js';

/**
 * Create the application's login role on the source (or reset its password, when an earlier run left it), with
 * DML on every table and sequence in public. full-load copies it with its password verifier, so the application
 * logs in on either server.
 */
export async function createApplicationRole(source: pg.Client, role: string, password: string): Promise<void> {
  const exists = (await source.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [role])).rowCount;
  await source.query(`${exists ? 'ALTER' : 'CREATE'} ROLE ${ident(role)} LOGIN PASSWORD ${literal(password)}`);
  await source.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO ${ident(role)}`);
  await source.query(`GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO ${ident(role)}`);
}

export interface Application {
  bouncer: LocalPgBouncer;
  /** PgBouncer's database entry the application connects to. */
  entry: string;
  /** The application's URL, through PgBouncer. */
  url: string;
  /** The port of the server the entry leads to now (the source's before cutover, the target's after). */
  serverOfEntry(): Promise<number>;
  /** Switchover options for this pair and this application, with what the test changes. */
  switchover(base: SwitchoverBase, overrides?: Partial<SwitchoverOptions>): SwitchoverOptions;
}

export interface SwitchoverBase {
  names: MigrationNames;
  stateDir: string;
  log: Logger;
  maxFreezeMs?: number;
}

/** A PgBouncer entry `entry` for the pair's source database, with `role` as its one user. */
export async function startApplication(pair: TestPair, entry: string, role: string, password: string): Promise<Application> {
  const bouncer = await startPgBouncer({
    databases: [{ name: entry, host: pair.source.host, port: pair.source.port, dbname: pair.name }],
    users: [{ user: role, password }],
  });
  const url = bouncer.appUrl(entry, role, password);
  return {
    bouncer,
    entry,
    url,
    serverOfEntry: async () => {
      const c = new pg.Client(url);
      await c.connect();
      try {
        return Number((await c.query('SELECT inet_server_port() AS p')).rows[0].p);
      } finally {
        await c.end();
      }
    },
    switchover: (base, overrides = {}) => ({
      source: pair.source,
      target: pair.target,
      names: base.names,
      switch: makeSwitch({ kind: 'pgbouncer', adminUrl: bouncer.adminUrl, iniPath: bouncer.iniPath, dbEntry: entry }),
      appPath: parseConnInfo(url, 'target'),
      stateDir: base.stateDir,
      maxFreezeMs: base.maxFreezeMs ?? 10_000,
      log: base.log,
      ...overrides,
    }),
  };
}
