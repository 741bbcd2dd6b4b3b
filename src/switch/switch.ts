/**
 * How the application is moved from one server to the other. Cutover and rollback use one
 * interface whatever the mechanism:
 *
 *   freeze()   — application writes wait (PgBouncer PAUSE); absent when the mechanism cannot hold clients
 *   pointAt()  — the application's path now leads to `target`
 *   unfreeze() — waiting clients go on (RESUME)
 *   current()  — where the path leads now, so rollback can record where to go back to
 *   paused()   — whether application writes are held right now (status and recover read it)
 */
import { usageError } from '../errors.js';
import type { ConnInfo } from '../postgres/conninfo.js';
import { silentLogger, type Logger } from '../log/logger.js';
import { runSwitchHook } from './command.js';
import { DEFAULT_ENV_KEY, pointEnvFileAt, readEnvValue } from './env-file.js';
import { describeUrl } from '../postgres/redact.js';
import { pauseDatabase, pointDatabaseAt, readDatabaseTarget, resumeDatabase, showDatabase } from './pgbouncer.js';

export type SwitchKind = 'pgbouncer' | 'env-file' | 'command' | 'none';
export const SWITCH_KINDS: readonly SwitchKind[] = ['pgbouncer', 'env-file', 'command', 'none'];

/** Where the application's path leads, without secrets. */
export interface SwitchPosition {
  host?: string;
  port?: number;
  database?: string;
}

export interface Switch {
  readonly kind: SwitchKind;
  /** One line for logs and summaries, no secrets. */
  describe(): string;
  freeze?(): Promise<void>;
  unfreeze?(): Promise<void>;
  pointAt(target: ConnInfo): Promise<void>;
  current?(): Promise<SwitchPosition>;
  paused?(): Promise<boolean>;
}

export type SwitchOptions =
  | { kind: 'pgbouncer'; adminUrl: string; iniPath: string; dbEntry: string; pauseTimeoutMs?: number; logger?: Logger }
  | { kind: 'env-file'; path: string; key?: string; restartCommand?: string; restartTimeoutMs?: number; logger?: Logger }
  | { kind: 'command'; command: string; timeoutMs?: number; logger?: Logger }
  | { kind: 'none'; logger?: Logger };

export function makeSwitch(opts: SwitchOptions): Switch {
  const logger = opts.logger ?? silentLogger;
  switch (opts.kind) {
    case 'pgbouncer': {
      const { adminUrl, iniPath, dbEntry } = opts;
      return {
        kind: 'pgbouncer',
        describe: () => `PgBouncer entry ${dbEntry} in ${iniPath} (admin ${describeUrl(adminUrl)})`,
        freeze: async () => {
          const { ms } = await pauseDatabase(adminUrl, dbEntry, { timeoutMs: opts.pauseTimeoutMs });
          logger.info(`PgBouncer: ${dbEntry} paused in ${Math.round(ms)} ms`);
        },
        unfreeze: async () => {
          await resumeDatabase(adminUrl, dbEntry);
          logger.info(`PgBouncer: ${dbEntry} resumed`);
        },
        pointAt: async (target) => {
          await pointDatabaseAt(adminUrl, iniPath, dbEntry, { host: target.host, port: target.port, dbname: target.database });
          logger.info(`PgBouncer: ${dbEntry} now points at ${target.host}:${target.port}/${target.database} (reloaded)`);
        },
        current: async () => {
          const t = readDatabaseTarget(iniPath, dbEntry);
          return { host: t.host, port: t.port, database: t.dbname };
        },
        paused: async () => (await showDatabase(adminUrl, dbEntry))?.paused ?? false,
      };
    }
    case 'env-file': {
      const key = opts.key ?? DEFAULT_ENV_KEY;
      return {
        kind: 'env-file',
        describe: () => `${key} in ${opts.path}${opts.restartCommand ? ', then the restart command' : ''}`,
        pointAt: async (target) => {
          await pointEnvFileAt({ ...opts, logger }, target);
        },
        current: async () => {
          const value = readEnvValue(opts.path, key);
          try {
            const u = new URL(value);
            return { host: u.hostname, port: u.port ? Number(u.port) : 5432, database: decodeURIComponent(u.pathname.replace(/^\//, '')) };
          } catch {
            return {};
          }
        },
      };
    }
    case 'command': {
      if (!opts.command.trim())
        throw usageError(
          '--switch command needs --switch-command',
          'pass the shell command that points the application at PGSHIFT_NEW_URL',
        );
      return {
        kind: 'command',
        describe: () => 'the switch hook command',
        pointAt: async (target) => {
          await runSwitchHook(opts.command, target, { timeoutMs: opts.timeoutMs, logger });
        },
      };
    }
    case 'none':
      return {
        kind: 'none',
        describe: () => 'no switch (the operator repoints the application)',
        pointAt: async (target) => {
          logger.warn(`no switch configured: point the application at ${target.host}:${target.port}/${target.database} yourself`);
        },
      };
  }
}
