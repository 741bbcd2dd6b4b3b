/**
 * Roles are cluster-wide and pg_dump of one database does not create them. The application
 * must work on the target the moment it switches (the plan's §7), so every role that owns
 * something or holds a privilege in the source database must exist there.
 */
import { ident } from '../../postgres/sql.js';
import { check, nameList, USER_SCHEMA_FILTER } from './common.js';
import type { CheckContext, PreflightCheck } from './types.js';

export interface SourceRole {
  name: string;
  why: string[];
  superuser: boolean;
  login: boolean;
  createdb: boolean;
  createrole: boolean;
  replication: boolean;
  bypassrls: boolean;
  connlimit: number;
}

/** Roles that own objects, hold grants or default privileges in the current database (predefined pg_* roles excluded). */
export async function sourceRoles(ctx: CheckContext): Promise<SourceRole[]> {
  const r = await ctx.source.query<SourceRole>(
    `WITH refs(role, why) AS (
       SELECT c.relowner, 'owns tables' FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE ${USER_SCHEMA_FILTER}
       UNION SELECT n.nspowner, 'owns schemas' FROM pg_namespace n WHERE ${USER_SCHEMA_FILTER}
       UNION SELECT p.proowner, 'owns functions' FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE ${USER_SCHEMA_FILTER}
       UNION SELECT t.typowner, 'owns types' FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace WHERE ${USER_SCHEMA_FILTER}
       UNION SELECT d.datdba, 'owns the database' FROM pg_database d WHERE d.datname = current_database()
       UNION SELECT m.lomowner, 'owns large objects' FROM pg_largeobject_metadata m
       UNION SELECT s.srvowner, 'owns foreign servers' FROM pg_foreign_server s
       UNION SELECT u.umuser, 'has user mappings' FROM pg_user_mappings u WHERE u.umuser <> 0
       UNION SELECT e.evtowner, 'owns event triggers' FROM pg_event_trigger e
       UNION SELECT (aclexplode(c.relacl)).grantee, 'has table grants' FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relacl IS NOT NULL AND ${USER_SCHEMA_FILTER}
       UNION SELECT (aclexplode(a.attacl)).grantee, 'has column grants' FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace WHERE a.attacl IS NOT NULL AND ${USER_SCHEMA_FILTER}
       UNION SELECT (aclexplode(n.nspacl)).grantee, 'has schema grants' FROM pg_namespace n WHERE n.nspacl IS NOT NULL AND ${USER_SCHEMA_FILTER}
       UNION SELECT (aclexplode(p.proacl)).grantee, 'has function grants' FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE p.proacl IS NOT NULL AND ${USER_SCHEMA_FILTER}
       UNION SELECT (aclexplode(t.typacl)).grantee, 'has type grants' FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace WHERE t.typacl IS NOT NULL AND ${USER_SCHEMA_FILTER}
       UNION SELECT (aclexplode(d.datacl)).grantee, 'has database grants' FROM pg_database d WHERE d.datname = current_database() AND d.datacl IS NOT NULL
       UNION SELECT (aclexplode(m.lomacl)).grantee, 'has large object grants' FROM pg_largeobject_metadata m WHERE m.lomacl IS NOT NULL
       UNION SELECT (aclexplode(s.srvacl)).grantee, 'has foreign server grants' FROM pg_foreign_server s WHERE s.srvacl IS NOT NULL
       UNION SELECT da.defaclrole, 'sets default privileges' FROM pg_default_acl da
       UNION SELECT (aclexplode(da.defaclacl)).grantee, 'has default privileges' FROM pg_default_acl da
     )
     SELECT r.rolname AS name, array_agg(DISTINCT refs.why ORDER BY refs.why) AS why,
            r.rolsuper AS superuser, r.rolcanlogin AS login, r.rolcreatedb AS createdb, r.rolcreaterole AS createrole,
            r.rolreplication AS replication, r.rolbypassrls AS bypassrls, r.rolconnlimit AS connlimit
     FROM refs JOIN pg_roles r ON r.oid = refs.role
     WHERE refs.role <> 0 AND r.rolname !~ '^pg_'
     GROUP BY r.rolname, r.rolsuper, r.rolcanlogin, r.rolcreatedb, r.rolcreaterole, r.rolreplication, r.rolbypassrls, r.rolconnlimit
     ORDER BY r.rolname`,
  );
  return r.rows;
}

/**
 * CREATE ROLE with the source's attributes. SUPERUSER cannot be given on RDS (rds_superuser
 * is the nearest), and passwords cannot be read from the source: they are set separately.
 */
export function createRoleSql(role: SourceRole, targetIsRds: boolean): string {
  const attrs = [role.login ? 'LOGIN' : 'NOLOGIN'];
  if (role.superuser && !targetIsRds) attrs.push('SUPERUSER');
  if (role.createdb) attrs.push('CREATEDB');
  if (role.createrole) attrs.push('CREATEROLE');
  if (role.replication && !targetIsRds) attrs.push('REPLICATION');
  if (role.bypassrls && !targetIsRds) attrs.push('BYPASSRLS');
  if (role.connlimit >= 0) attrs.push(`CONNECTION LIMIT ${role.connlimit}`);
  let sql = `CREATE ROLE ${ident(role.name)} ${attrs.join(' ')};`;
  if (role.login) sql += ` ALTER ROLE ${ident(role.name)} PASSWORD '<password>';`;
  if (targetIsRds && role.superuser) sql += ` GRANT rds_superuser TO ${ident(role.name)};`;
  return sql;
}

export async function checkRolesExist(ctx: CheckContext): Promise<PreflightCheck> {
  const title = 'Roles that own objects or hold privileges exist on the target';
  const roles = await sourceRoles(ctx);
  if (roles.length === 0)
    return check('roles.exist', 'roles', 'PASS', title, 'No role owns objects or holds privileges in the source database.');
  const present = await ctx.target.query<{ rolname: string }>('SELECT rolname FROM pg_roles WHERE rolname = ANY($1)', [
    roles.map((r) => r.name),
  ]);
  const have = new Set(present.rows.map((r) => r.rolname));
  const missing = roles.filter((r) => !have.has(r.name));
  const data = roles.map((r) => ({ role: r.name, why: r.why, onTarget: have.has(r.name) }));
  if (missing.length === 0) {
    return check('roles.exist', 'roles', 'PASS', title, `All present on the target: ${nameList(roles.map((r) => r.name))}.`, {
      objects: roles.map((r) => r.name),
      data,
    });
  }
  const objects = missing.map((r) => r.name);
  const describeRole = (r: SourceRole) => `${r.name} (${r.why.join(', ')})`;
  return check(
    'roles.exist',
    'roles',
    'WARN',
    title,
    `Missing on the target, full-load will create them: ${nameList(missing.map(describeRole))}. Their passwords cannot be copied; set them before the application switches.`,
    {
      objects,
      data,
      remediation: `To create them yourself before full-load (with the passwords from your secret store):\n${missing.map((r) => createRoleSql(r, ctx.targetFacts.isRds)).join('\n')}`,
    },
  );
}
