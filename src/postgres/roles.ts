/**
 * Roles are cluster-wide, so a database dump does not carry them. The application must work
 * on the target the moment it switches, so every role that owns objects or holds privileges
 * in the source database is created on the target when missing, with its password verifier
 * when the source lets us read it (a Docker superuser can; RDS as a source could not).
 */
import type pg from 'pg';
import { ident, literal } from './sql.js';
import { applicationSchema } from './schemas.js';

export interface RoleSpec {
  name: string;
  canLogin: boolean;
  inherit: boolean;
  createDb: boolean;
  createRole: boolean;
  connectionLimit: number;
  validUntil: string | null;
  /** SCRAM (or md5) verifier, only when readable. Never printed. */
  verifier: string | null;
  memberOf: string[];
}

/** Roles that own something in the current database or appear in one of its ACLs. */
export async function rolesUsedByDatabase(client: pg.Client): Promise<string[]> {
  const res = await client.query(`
    WITH acls AS (
      SELECT relacl AS acl FROM pg_class UNION ALL SELECT nspacl FROM pg_namespace
      UNION ALL SELECT proacl FROM pg_proc UNION ALL SELECT typacl FROM pg_type
      UNION ALL SELECT datacl FROM pg_database WHERE datname = current_database()
      UNION ALL SELECT defaclacl FROM pg_default_acl UNION ALL SELECT attacl FROM pg_attribute WHERE attacl IS NOT NULL
      UNION ALL SELECT lomacl FROM pg_largeobject_metadata
    ), ids AS (
      SELECT (aclexplode(acl)).grantee AS id FROM acls WHERE acl IS NOT NULL
      UNION SELECT relowner FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE ${applicationSchema()}
      UNION SELECT nspowner FROM pg_namespace WHERE ${applicationSchema('nspname')}
      UNION SELECT proowner FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE ${applicationSchema()}
      UNION SELECT typowner FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace WHERE ${applicationSchema()}
      UNION SELECT lomowner FROM pg_largeobject_metadata
      UNION SELECT datdba FROM pg_database WHERE datname = current_database()
    )
    SELECT r.rolname FROM ids JOIN pg_roles r ON r.oid = ids.id
     WHERE r.rolname NOT LIKE 'pg\\_%' AND r.rolname NOT LIKE 'rds%'
     ORDER BY 1`);
  return res.rows.map((r) => r.rolname);
}

export async function describeRoles(client: pg.Client, names: string[]): Promise<RoleSpec[]> {
  // pg_authid is readable by superusers only; elsewhere passwords must be set by hand.
  const canReadAuthid = (await client.query(`SELECT rolsuper FROM pg_roles WHERE rolname = current_user`)).rows[0]?.rolsuper === true;
  const res = await client.query(
    `SELECT r.rolname, r.rolcanlogin, r.rolinherit, r.rolcreatedb, r.rolcreaterole, r.rolconnlimit, r.rolvaliduntil::text,
            ${canReadAuthid ? '(SELECT a.rolpassword FROM pg_authid a WHERE a.oid = r.oid)' : 'NULL::text'} AS verifier,
            ARRAY(SELECT g.rolname::text FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid
                   WHERE m.member = r.oid AND g.rolname = ANY($1::text[])) AS member_of
       FROM pg_roles r WHERE r.rolname = ANY($1::text[]) ORDER BY r.rolname`,
    [names],
  );
  return res.rows.map((r) => ({
    name: r.rolname,
    canLogin: r.rolcanlogin,
    inherit: r.rolinherit,
    createDb: r.rolcreatedb,
    createRole: r.rolcreaterole,
    connectionLimit: r.rolconnlimit,
    validUntil: r.rolvaliduntil,
    verifier: r.verifier,
    memberOf: r.member_of,
  }));
}

export async function existingRoles(client: pg.Client, names: string[]): Promise<Set<string>> {
  const res = await client.query('SELECT rolname FROM pg_roles WHERE rolname = ANY($1::text[])', [names]);
  return new Set(res.rows.map((r) => r.rolname));
}

export interface RoleCreation {
  created: string[];
  existing: string[];
  /** Login roles created without a password: the operator sets it (ALTER ROLE ... PASSWORD). */
  needPassword: string[];
}

/**
 * Create the missing roles. SUPERUSER, REPLICATION and BYPASSRLS are never copied: RDS refuses
 * them and the application does not need them. When we are not superuser on the target (RDS),
 * we grant each new role to ourselves so that the restore can make it the owner of its objects.
 */
export async function createMissingRoles(target: pg.Client, specs: RoleSpec[]): Promise<RoleCreation> {
  const have = await existingRoles(
    target,
    specs.map((s) => s.name),
  );
  const result: RoleCreation = { created: [], existing: [...have], needPassword: [] };
  const superuser = (await target.query('SELECT rolsuper FROM pg_roles WHERE rolname = current_user')).rows[0]?.rolsuper === true;
  for (const s of specs.filter((s) => !have.has(s.name))) {
    const attrs = [
      s.canLogin ? 'LOGIN' : 'NOLOGIN',
      s.inherit ? 'INHERIT' : 'NOINHERIT',
      s.createDb ? 'CREATEDB' : 'NOCREATEDB',
      s.createRole ? 'CREATEROLE' : 'NOCREATEROLE',
      `CONNECTION LIMIT ${Math.trunc(s.connectionLimit)}`,
    ];
    if (s.validUntil) attrs.push(`VALID UNTIL ${literal(s.validUntil)}`);
    if (s.verifier) attrs.push(`PASSWORD ${literal(s.verifier)}`);
    try {
      await target.query(`CREATE ROLE ${ident(s.name)} ${attrs.join(' ')}`);
    } catch (err) {
      // Roles are cluster-wide: a concurrent run (or another database's migration) may have made it.
      if ((err as { code?: string }).code !== '42710') throw err;
      result.existing.push(s.name);
      continue;
    }
    result.created.push(s.name);
    if (s.canLogin && !s.verifier) result.needPassword.push(s.name);
    if (!superuser) await target.query(`GRANT ${ident(s.name)} TO CURRENT_USER`);
  }
  for (const s of specs) {
    for (const group of s.memberOf) {
      await target.query(`GRANT ${ident(group)} TO ${ident(s.name)}`);
    }
  }
  return result;
}
