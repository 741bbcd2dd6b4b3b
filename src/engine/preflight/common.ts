import type pg from 'pg';
import { describe, type ConnInfo } from '../../postgres/conninfo.js';
import type { CheckScope, CheckStatus, PreflightCheck, ServerFacts } from './types.js';
import { applicationSchema } from '../../postgres/schemas.js';

/**
 * Catalog filter for "the application's objects": not system schemas, not temp or TOAST
 * schemas. `n` must be the pg_namespace alias.
 */
export const USER_SCHEMA_FILTER = applicationSchema();

/** Not created by an extension (CREATE EXTENSION re-creates those on the target). */
export const NOT_EXTENSION_MEMBER = (classid: string, oidExpr: string) =>
  `NOT EXISTS (SELECT 1 FROM pg_depend dep WHERE dep.classid = '${classid}'::regclass AND dep.objid = ${oidExpr} AND dep.deptype = 'e')`;

export function check(
  id: string,
  scope: CheckScope,
  status: CheckStatus,
  title: string,
  detail: string,
  extra: Partial<PreflightCheck> = {},
): PreflightCheck {
  return { id, scope, status, title, detail, ...extra };
}

/** `a, b, c and 7 more`: detail lines stay readable; the full list is in `objects`. */
export function nameList(names: string[], max = 10): string {
  if (names.length <= max) return names.join(', ');
  return `${names.slice(0, max).join(', ')} and ${names.length - max} more`;
}

/** schema.name as a person reads it: quoted when a part has capitals, spaces, quotes or non-ASCII (reserved words stay bare). */
export function displayName(schema: string, name: string): string {
  const part = (s: string) => (/^[a-z_][a-z0-9_$]*$/.test(s) ? s : `"${s.replace(/"/g, '""')}"`);
  return `${part(schema)}.${part(name)}`;
}

export function formatBytes(n: number): string {
  if (n >= 1024 ** 3) return `${(n / 1024 ** 3).toFixed(2)} GiB`;
  if (n >= 1024 ** 2) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  if (n >= 1024) return `${(n / 1024).toFixed(0)} KiB`;
  return `${n} B`;
}

export async function readServerFacts(client: pg.Client): Promise<ServerFacts> {
  const r = await client.query<{ num: string; version: string; usr: string; db: string; su: boolean; rds: boolean }>(
    `SELECT current_setting('server_version_num') AS num, current_setting('server_version') AS version,
            current_user AS usr, current_database() AS db,
            (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) AS su,
            -- rds.extensions exists only on RDS (it lists what CREATE EXTENSION may install there).
            (current_setting('rds.extensions', true) IS NOT NULL OR EXISTS (SELECT 1 FROM pg_settings WHERE name LIKE 'rds.%')) AS rds`,
  );
  const row = r.rows[0];
  const versionNum = Number(row.num);
  return {
    versionNum,
    version: row.version,
    major: Math.floor(versionNum / 10000),
    user: row.usr,
    database: row.db,
    isSuperuser: row.su,
    isRds: row.rds,
  };
}

export function serverLabel(info: ConnInfo): string {
  return describe(info);
}

/**
 * The source runs PostgreSQL in Docker (the plan's v1): server settings that need a restart go on
 * the compose service's command line. Keep every -c option already there; these add to them.
 */
export function dockerRestartRemediation(settings: Record<string, string | number>): string {
  const flags = Object.entries(settings)
    .map(([k, v]) => `-c ${k}=${v}`)
    .join(' ');
  const alter = Object.entries(settings)
    .map(([k, v]) => `ALTER SYSTEM SET ${k} = '${v}';`)
    .join(' ');
  return [
    'In docker-compose.yml, on the postgres service (keep any -c options it already has):',
    `  command: postgres ${flags}`,
    'then recreate the container (a restart of a few seconds; the data volume stays): docker compose up -d postgres',
    `Without compose: ${alter} then docker restart <container>`,
  ].join('\n');
}

/** The same change on RDS: a custom parameter group and a reboot. */
export function rdsParameterRemediation(parameters: Record<string, string | number>): string {
  const params = Object.entries(parameters)
    .map(([k, v]) => `"ParameterName=${k},ParameterValue=${v},ApplyMethod=pending-reboot"`)
    .join(' ');
  return [
    `aws rds modify-db-parameter-group --db-parameter-group-name <parameter-group> --parameters ${params}`,
    'aws rds reboot-db-instance --db-instance-identifier <instance>',
  ].join('\n');
}
