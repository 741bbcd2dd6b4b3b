/**
 * Checks on the target (RDS): can it hold the source's schema and data, and can it later
 * replicate back to the source for a lossless rollback.
 */
import { ident, literal } from '../../postgres/sql.js';
import {
  check,
  displayName,
  dockerRestartRemediation,
  nameList,
  NOT_EXTENSION_MEMBER,
  rdsParameterRemediation,
  USER_SCHEMA_FILTER,
} from './common.js';
import type { CheckContext, PreflightCheck } from './types.js';

export async function checkTargetVersion(ctx: CheckContext): Promise<PreflightCheck> {
  const s = ctx.sourceFacts;
  const t = ctx.targetFacts;
  const title = 'Target version ≥ source version';
  if (t.major < s.major) {
    return check(
      'target.version',
      'target',
      'FAIL',
      title,
      `The target runs PostgreSQL ${t.version}, older than the source's ${s.version}: pg_dump output and replication only go to the same or a newer major.`,
      {
        remediation: `Create the RDS instance with engine version ${s.major} or later (the plan uses 17).`,
      },
    );
  }
  return check('target.version', 'target', 'PASS', title, `Target PostgreSQL ${t.version}, source ${s.version}.`);
}

interface TargetObject {
  kind: string;
  schema: string;
  name: string | null;
}

/**
 * full-load creates the schema from scratch: anything already there would collide or,
 * worse, mix with the copy. Only pgshift's own bookkeeping schema is expected.
 */
export async function checkTargetEmpty(ctx: CheckContext): Promise<PreflightCheck> {
  const title = 'Target database is empty';
  const state = ctx.opts.names.stateSchema;
  const r = await ctx.target.query<TargetObject>(
    `SELECT 'table' AS kind, n.nspname AS schema, c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND ${USER_SCHEMA_FILTER} AND n.nspname <> $1 AND ${NOT_EXTENSION_MEMBER('pg_class', 'c.oid')}
     UNION ALL
     SELECT 'schema', n.nspname, NULL FROM pg_namespace n
      WHERE ${USER_SCHEMA_FILTER} AND n.nspname NOT IN ('public', $1) AND ${NOT_EXTENSION_MEMBER('pg_namespace', 'n.oid')}
     UNION ALL
     SELECT 'function', n.nspname, p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
      WHERE ${USER_SCHEMA_FILTER} AND n.nspname <> $1 AND ${NOT_EXTENSION_MEMBER('pg_proc', 'p.oid')}
     UNION ALL
     SELECT 'type', n.nspname, t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
      WHERE t.typtype IN ('e', 'd', 'r') AND ${USER_SCHEMA_FILTER} AND n.nspname <> $1 AND ${NOT_EXTENSION_MEMBER('pg_type', 't.oid')}
     UNION ALL
     SELECT 'subscription', '', s.subname FROM pg_subscription s WHERE s.subdbid = (SELECT oid FROM pg_database WHERE datname = current_database())
     ORDER BY 1, 2, 3`,
    [state],
  );
  const previousRun = (await ctx.target.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [state])).rowCount! > 0;
  if (r.rows.length === 0) {
    return check(
      'target.empty',
      'target',
      'PASS',
      title,
      previousRun ? `Empty apart from pgshift's own ${state} schema.` : 'No user tables, schemas, functions or types.',
    );
  }
  const objects = r.rows.map((o) =>
    o.kind === 'schema'
      ? `schema ${o.schema}`
      : o.kind === 'subscription'
        ? `subscription ${o.name}`
        : `${o.kind} ${displayName(o.schema, o.name!)}`,
  );
  const origin = previousRun ? ` A previous pgshift run left its ${state} schema here.` : '';
  if (ctx.opts.clean) {
    return check(
      'target.empty',
      'target',
      'WARN',
      title,
      `${objects.length} object(s) on the target will be dropped by full-load --clean: ${nameList(objects)}.${origin}`,
      { objects },
    );
  }
  return check('target.empty', 'target', 'FAIL', title, `The target database is not empty: ${nameList(objects)}.${origin}`, {
    objects,
    remediation: `Re-run with --clean to let full-load drop them (only if this database holds nothing you need), or point the target URL at a new database: CREATE DATABASE ${ident(ctx.targetFacts.database + '_new')};`,
  });
}

/** Compare extension version strings such as 1.10 and 1.9 numerically. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split(/[.-]/).map((x) => Number.parseInt(x, 10) || 0);
  const pb = b.split(/[.-]/).map((x) => Number.parseInt(x, 10) || 0);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

export async function checkExtensions(ctx: CheckContext): Promise<PreflightCheck> {
  const title = 'Source extensions available on the target';
  const src = await ctx.source.query<{ name: string; version: string }>(
    `SELECT extname AS name, extversion AS version FROM pg_extension WHERE extname <> 'plpgsql' ORDER BY 1`,
  );
  if (src.rows.length === 0) return check('target.extensions', 'target', 'PASS', title, 'The source uses no extension besides plpgsql.');
  const names = src.rows.map((e) => e.name);
  const avail = await ctx.target.query<{ name: string; default_version: string }>(
    `SELECT name, default_version FROM pg_available_extensions WHERE name = ANY($1)`,
    [names],
  );
  const available = new Map(avail.rows.map((a) => [a.name, a.default_version]));
  // RDS can restrict CREATE EXTENSION to a list in the parameter group.
  const allowed = ctx.targetFacts.isRds
    ? ((await ctx.target.query<{ v: string | null }>(`SELECT current_setting('rds.allowed_extensions', true) AS v`)).rows[0].v ?? '*')
    : '*';
  const allowList = allowed.trim() === '*' || allowed.trim() === '' ? null : new Set(allowed.split(',').map((x) => x.trim()));
  const missing = src.rows.filter((e) => !available.has(e.name) || (allowList && !allowList.has(e.name)));
  const older = src.rows.filter((e) => available.has(e.name) && compareVersions(available.get(e.name)!, e.version) < 0);
  const list = src.rows.map((e) => `${e.name} ${e.version}`);
  if (missing.length > 0) {
    const objects = missing.map((e) => e.name);
    return check(
      'target.extensions',
      'target',
      'FAIL',
      title,
      `Not available on the target: ${nameList(objects)} (source uses ${nameList(list)}).`,
      {
        objects,
        remediation:
          (ctx.targetFacts.isRds
            ? 'Check `SHOW rds.extensions;` on RDS and add them to rds.allowed_extensions in the parameter group if listed; '
            : 'Install the extension packages on the target server; ') +
          `otherwise remove them from the source if nothing uses them:\n${missing.map((e) => `DROP EXTENSION ${ident(e.name)};`).join('\n')}`,
      },
    );
  }
  if (older.length > 0) {
    const objects = older.map((e) => `${e.name} (source ${e.version}, target ${available.get(e.name)})`);
    return check(
      'target.extensions',
      'target',
      'WARN',
      title,
      `Older on the target than on the source: ${nameList(objects)}; objects that need the newer version may fail to restore.`,
      { objects },
    );
  }
  return check('target.extensions', 'target', 'PASS', title, `All available: ${nameList(list)}.`, { objects: names });
}

/** glibc spells the same locale en_US.utf8 and en_US.UTF-8. */
const normalizeLocale = (l: string) => l.toLowerCase().replace('utf-8', 'utf8');

export async function checkEncodingAndCollation(ctx: CheckContext): Promise<PreflightCheck> {
  const title = 'Encoding and collation match';
  const q = `SELECT pg_encoding_to_char(encoding) AS encoding, datcollate AS collate, datctype AS ctype FROM pg_database WHERE datname = current_database()`;
  const [s, t] = await Promise.all([ctx.source.query(q), ctx.target.query(q)]);
  const src = s.rows[0] as { encoding: string; collate: string; ctype: string };
  const tgt = t.rows[0] as { encoding: string; collate: string; ctype: string };
  const detail = `source ${src.encoding} / ${src.collate} / ${src.ctype}, target ${tgt.encoding} / ${tgt.collate} / ${tgt.ctype}.`;
  const recreate = `Re-create the target database to match:\nCREATE DATABASE ${ident(ctx.targetFacts.database)} TEMPLATE template0 ENCODING ${literal(src.encoding)} LC_COLLATE ${literal(src.collate)} LC_CTYPE ${literal(src.ctype)};`;
  if (src.encoding !== tgt.encoding) {
    return check('target.encoding', 'target', 'FAIL', title, `Encodings differ: ${detail} Text that does not convert would fail to load.`, {
      remediation: recreate,
    });
  }
  if (normalizeLocale(src.collate) !== normalizeLocale(tgt.collate) || normalizeLocale(src.ctype) !== normalizeLocale(tgt.ctype)) {
    return check(
      'target.encoding',
      'target',
      'WARN',
      title,
      `Collations differ: ${detail} ORDER BY results, text index order and case rules would change after the switch.`,
      { remediation: recreate },
    );
  }
  return check('target.encoding', 'target', 'PASS', title, detail);
}

/** Columns using a named system collation (e.g. "ko_KR.utf8") need it on the target too. */
export async function checkColumnCollations(ctx: CheckContext): Promise<PreflightCheck> {
  const title = 'Column collations exist on the target';
  const used = await ctx.source.query<{ name: string; columns: string[] }>(
    `SELECT co.collname AS name, array_agg(DISTINCT format('%s.%s.%s', n.nspname, c.relname, a.attname)) AS columns
     FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
     JOIN pg_collation co ON co.oid = a.attcollation JOIN pg_namespace cn ON cn.oid = co.collnamespace
     WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p', 'm', 'v') AND ${USER_SCHEMA_FILTER}
       AND cn.nspname = 'pg_catalog' AND co.collname NOT IN ('default', 'C', 'POSIX', 'ucs_basic')
     GROUP BY 1 ORDER BY 1`,
  );
  if (used.rows.length === 0) return check('target.collations', 'target', 'PASS', title, 'No column uses a named system collation.');
  const present = await ctx.target.query<{ collname: string }>(
    `SELECT collname FROM pg_collation WHERE collnamespace = 'pg_catalog'::regnamespace AND collname = ANY($1)`,
    [used.rows.map((u) => u.name)],
  );
  const have = new Set(present.rows.map((p) => p.collname));
  const missing = used.rows.filter((u) => !have.has(u.name));
  if (missing.length === 0)
    return check('target.collations', 'target', 'PASS', title, `All present: ${nameList(used.rows.map((u) => u.name))}.`);
  return check(
    'target.collations',
    'target',
    'FAIL',
    title,
    `Missing on the target: ${nameList(missing.map((m) => `${m.name} (${nameList(m.columns, 3)})`))}.`,
    {
      objects: missing.map((m) => m.name),
      remediation:
        'Use an ICU collation that exists on both sides (e.g. "ko-x-icu") on the source columns, or create the collation on the target before full-load: CREATE COLLATION ... (provider = icu, locale = ...);',
    },
  );
}

/** CREATE SUBSCRIPTION: superuser, rds_superuser, or from 16 pg_create_subscription + CREATE on the database. */
export async function checkSubscriptionPrivilege(ctx: CheckContext): Promise<PreflightCheck> {
  const title = 'Target role may create subscriptions';
  const user = ctx.targetFacts.user;
  const r = await ctx.target.query<{ rds_super: boolean; create_sub: boolean; can_create: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM pg_roles g WHERE g.rolname = 'rds_superuser' AND pg_has_role(current_user, g.oid, 'MEMBER')) AS rds_super,
            EXISTS (SELECT 1 FROM pg_roles g WHERE g.rolname = 'pg_create_subscription' AND pg_has_role(current_user, g.oid, 'MEMBER')) AS create_sub,
            has_database_privilege(current_database(), 'CREATE') AS can_create`,
  );
  const p = r.rows[0];
  if (ctx.targetFacts.isSuperuser) return check('target.subscription-privilege', 'target', 'PASS', title, `${user} is a superuser.`);
  if (p.rds_super) return check('target.subscription-privilege', 'target', 'PASS', title, `${user} is a member of rds_superuser.`);
  if (p.create_sub && p.can_create)
    return check(
      'target.subscription-privilege',
      'target',
      'PASS',
      title,
      `${user} has pg_create_subscription and CREATE on the database.`,
    );
  return check('target.subscription-privilege', 'target', 'FAIL', title, `${user} cannot create subscriptions on the target.`, {
    remediation: ctx.targetFacts.isRds
      ? `As the RDS master user: GRANT rds_superuser TO ${ident(user)};`
      : `As a superuser on the target: GRANT pg_create_subscription TO ${ident(user)}; GRANT CREATE ON DATABASE ${ident(ctx.targetFacts.database)} TO ${ident(user)};`,
  });
}

/**
 * Cutover starts replication from the target back to the source so that rollback loses
 * nothing: the target must be able to publish (wal_level=logical: rds.logical_replication=1
 * on RDS, which needs a reboot — better learnt now than at cutover).
 */
export async function checkReverseReplication(ctx: CheckContext): Promise<PreflightCheck> {
  const title = 'Target can replicate back to the source (rollback)';
  const r = await ctx.target.query<{
    wal_level: string;
    slots_free: number;
    senders_free: number;
    replication: boolean;
    rds_repl: boolean;
  }>(
    `SELECT current_setting('wal_level') AS wal_level,
            current_setting('max_replication_slots')::int - (SELECT count(*) FROM pg_replication_slots)::int AS slots_free,
            current_setting('max_wal_senders')::int - (SELECT count(*) FROM pg_stat_replication)::int AS senders_free,
            (SELECT rolreplication FROM pg_roles WHERE rolname = current_user) AS replication,
            EXISTS (SELECT 1 FROM pg_roles g WHERE g.rolname IN ('rds_replication', 'rds_superuser') AND pg_has_role(current_user, g.oid, 'MEMBER')) AS rds_repl`,
  );
  const s = r.rows[0];
  const problems: string[] = [];
  if (s.wal_level !== 'logical') problems.push(`wal_level is ${s.wal_level}`);
  if (s.slots_free < 1) problems.push('no free replication slot');
  if (s.senders_free < 1) problems.push('no free wal sender');
  const mayReplicate = ctx.targetFacts.isSuperuser || s.replication || s.rds_repl;
  if (!mayReplicate) problems.push(`${ctx.targetFacts.user} has no REPLICATION privilege`);
  const detail = `wal_level ${s.wal_level}, ${s.slots_free} free slot(s), ${s.senders_free} free wal sender(s).`;
  if (problems.length === 0) return check('target.reverse-replication', 'target', 'PASS', title, detail);
  const fixes: string[] = [];
  if (s.wal_level !== 'logical' || s.slots_free < 1 || s.senders_free < 1) {
    fixes.push(
      ctx.targetFacts.isRds
        ? rdsParameterRemediation({ 'rds.logical_replication': 1 })
        : dockerRestartRemediation({ wal_level: 'logical', max_replication_slots: 10, max_wal_senders: 10 }),
    );
  }
  if (!mayReplicate) {
    fixes.push(
      ctx.targetFacts.isRds
        ? `GRANT rds_replication TO ${ident(ctx.targetFacts.user)};`
        : `ALTER ROLE ${ident(ctx.targetFacts.user)} WITH REPLICATION;`,
    );
  }
  return check(
    'target.reverse-replication',
    'target',
    'FAIL',
    title,
    `${problems.join('; ')}: cutover could not keep the source in sync for a rollback. ${detail}`,
    {
      remediation: fixes.join('\n'),
    },
  );
}
