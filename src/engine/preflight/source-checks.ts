/**
 * Checks on the source server: can it feed logical replication safely, and what will not
 * travel through it (large objects, unlogged and foreign tables, materialized views).
 *
 * Over 350 lines: a table of source checks, one small function each with its remediation; they share helpers and read best side by side.
 */
import { ident, literal, qualified } from '../../postgres/sql.js';
import { check, displayName, dockerRestartRemediation, formatBytes, nameList, NOT_EXTENSION_MEMBER, USER_SCHEMA_FILTER } from './common.js';
import type { CheckContext, PreflightCheck } from './types.js';

/** Logical replication exists from 10; publishing a partitioned table through its root from 13. */
export async function checkSourceVersion(ctx: CheckContext): Promise<PreflightCheck> {
  const f = ctx.sourceFacts;
  const title = 'Source version';
  if (f.major < 10) {
    return check('source.version', 'source', 'FAIL', title, `PostgreSQL ${f.version} has no logical replication (10 or later is needed).`, {
      remediation: 'Upgrade the source to PostgreSQL 13 or later first (pg_upgrade), or move it offline with --load-strategy dump-restore.',
    });
  }
  if (f.major < 13) {
    return check(
      'source.version',
      'source',
      'WARN',
      title,
      `PostgreSQL ${f.version}: partitioned tables cannot be published through their root before 13; each partition is replicated on its own.`,
      {
        remediation: 'Create the same partitions on the target before cdc start, or upgrade the source to 13 or later.',
      },
    );
  }
  return check('source.version', 'source', 'PASS', title, `PostgreSQL ${f.version}.`);
}

interface SettingRow {
  name: string;
  setting: string;
  pending_restart: boolean;
}

async function settings(ctx: CheckContext, names: string[]): Promise<Map<string, SettingRow>> {
  const r = await ctx.source.query<SettingRow>('SELECT name, setting, pending_restart FROM pg_settings WHERE name = ANY($1)', [names]);
  return new Map(r.rows.map((row) => [row.name, row]));
}

/** The restart settings to recommend: what is configured, raised to leave room for pgshift. */
async function recommendedRestartSettings(ctx: CheckContext): Promise<Record<string, string | number>> {
  const s = await settings(ctx, ['max_replication_slots', 'max_wal_senders']);
  const used = await ctx.source.query<{ slots: number; senders: number }>(
    `SELECT (SELECT count(*) FROM pg_replication_slots)::int AS slots, (SELECT count(*) FROM pg_stat_replication)::int AS senders`,
  );
  const { slots, senders } = used.rows[0];
  return {
    wal_level: 'logical',
    max_replication_slots: Math.max(10, Number(s.get('max_replication_slots')?.setting ?? 0), slots + 4),
    max_wal_senders: Math.max(10, Number(s.get('max_wal_senders')?.setting ?? 0), senders + 4),
  };
}

export async function checkWalLevel(ctx: CheckContext): Promise<PreflightCheck> {
  const title = 'Source wal_level = logical';
  const row = (await settings(ctx, ['wal_level'])).get('wal_level')!;
  if (row.setting === 'logical') return check('source.wal-level', 'source', 'PASS', title, 'wal_level is logical.');
  const pending = row.pending_restart ? ' A new value is configured but the server has not been restarted since.' : '';
  return check('source.wal-level', 'source', 'FAIL', title, `wal_level is ${row.setting}: no logical slot can be created.${pending}`, {
    remediation: dockerRestartRemediation(await recommendedRestartSettings(ctx)),
  });
}

/** full-load makes one slot; subscription-copy adds up to two table-sync slots while it copies. */
export async function checkReplicationSlots(ctx: CheckContext): Promise<PreflightCheck> {
  const title = 'Source replication slot headroom';
  const r = await ctx.source.query<{ max: number; used: number; names: string[] }>(
    `SELECT current_setting('max_replication_slots')::int AS max, count(s.*)::int AS used,
            coalesce(array_agg(s.slot_name::text ORDER BY s.slot_name) FILTER (WHERE s.slot_name IS NOT NULL), '{}') AS names
     FROM (SELECT 1) one LEFT JOIN pg_replication_slots s ON true`,
  );
  const { max, used, names } = r.rows[0];
  const free = max - used;
  const detail = `max_replication_slots = ${max}, ${used} in use${names.length ? ` (${nameList(names)})` : ''}, ${free} free.`;
  if (free >= 3) return check('source.replication-slots', 'source', 'PASS', title, detail);
  const remediation = dockerRestartRemediation(await recommendedRestartSettings(ctx));
  if (free >= 1) {
    return check(
      'source.replication-slots',
      'source',
      'WARN',
      title,
      `${detail} Enough for full-load's slot; --cdc-strategy subscription-copy needs 2 more while tables sync.`,
      { remediation },
    );
  }
  return check('source.replication-slots', 'source', 'FAIL', title, `${detail} full-load needs one free slot.`, {
    remediation,
    objects: names,
  });
}

/** One walsender for the snapshot connection during full-load, one for the subscription. */
export async function checkWalSenders(ctx: CheckContext): Promise<PreflightCheck> {
  const title = 'Source wal sender headroom';
  const r = await ctx.source.query<{ max: number; used: number }>(
    `SELECT current_setting('max_wal_senders')::int AS max, (SELECT count(*) FROM pg_stat_replication)::int AS used`,
  );
  const { max, used } = r.rows[0];
  const free = max - used;
  const detail = `max_wal_senders = ${max}, ${used} in use, ${free} free.`;
  if (free >= 2) return check('source.wal-senders', 'source', 'PASS', title, detail);
  return check('source.wal-senders', 'source', 'FAIL', title, `${detail} pgshift needs 2 (the snapshot connection and the subscription).`, {
    remediation: dockerRestartRemediation(await recommendedRestartSettings(ctx)),
  });
}

/** A slot that stops being consumed keeps every WAL segment: on a 30 GB disk that takes production down. */
export async function checkSlotWalKeepSize(ctx: CheckContext): Promise<PreflightCheck> {
  const title = 'Source max_slot_wal_keep_size (WAL a stuck slot may hold)';
  if (ctx.sourceFacts.major < 13) {
    return check(
      'source.slot-wal-keep',
      'source',
      'WARN',
      title,
      `PostgreSQL ${ctx.sourceFacts.major} cannot cap the WAL a slot retains: a stuck slot can fill the disk.`,
      {
        remediation: 'Watch `pgshift cdc status` (retained WAL) and drop the slot with `pgshift cdc stop` if the disk runs low.',
      },
    );
  }
  const row = (await settings(ctx, ['max_slot_wal_keep_size'])).get('max_slot_wal_keep_size')!;
  const mb = Number(row.setting);
  if (mb < 0) {
    return check(
      'source.slot-wal-keep',
      'source',
      'WARN',
      title,
      'max_slot_wal_keep_size is unlimited (-1): if replication stalls, the slot keeps WAL until the disk (30 GB on the EC2 host) is full and PostgreSQL stops.',
      {
        remediation:
          "ALTER SYSTEM SET max_slot_wal_keep_size = '10GB';\nSELECT pg_reload_conf();\n" +
          '(no restart needed; a slot that falls further behind is invalidated and CDC must start again from a new full-load, which is better than a full disk)',
      },
    );
  }
  return check('source.slot-wal-keep', 'source', 'PASS', title, `max_slot_wal_keep_size = ${formatBytes(mb * 1024 * 1024)}.`);
}

interface IdentityRow {
  schema: string;
  name: string;
  replident: 'd' | 'n' | 'f' | 'i';
  has_pk: boolean;
  has_ident_index: boolean;
  unique_index: string | null;
}

/**
 * docs/design.md rule 2: once a publication covers a table whose replica identity cannot name a
 * row (no primary key with DEFAULT, or NOTHING), UPDATE and DELETE on the *source* fail.
 */
export async function checkReplicaIdentity(ctx: CheckContext): Promise<PreflightCheck> {
  const title = 'Replica identity of every published table';
  const r = await ctx.source.query<IdentityRow>(
    `SELECT n.nspname AS schema, c.relname AS name, c.relreplident AS replident,
            EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary) AS has_pk,
            EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisreplident) AS has_ident_index,
            -- A unique, non-partial index on NOT NULL plain columns can serve as the identity.
            (SELECT ic.relname FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
              WHERE i.indrelid = c.oid AND i.indisunique AND i.indimmediate AND i.indisvalid AND i.indpred IS NULL AND i.indexprs IS NULL
                AND NOT EXISTS (SELECT 1 FROM unnest(i.indkey) k JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k WHERE NOT a.attnotnull)
              ORDER BY ic.relname LIMIT 1) AS unique_index
     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE c.relkind = 'r' AND c.relpersistence = 'p' AND ${USER_SCHEMA_FILTER} AND ${NOT_EXTENSION_MEMBER('pg_class', 'c.oid')}
       AND (c.relreplident = 'n' OR (c.relreplident = 'd' AND NOT EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary))
            OR (c.relreplident = 'i' AND NOT EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisreplident)))
     ORDER BY 1, 2`,
  );
  if (r.rows.length === 0) {
    return check('source.replica-identity', 'source', 'PASS', title, 'Every table has a primary key or a usable REPLICA IDENTITY.');
  }
  const objects = r.rows.map((t) => displayName(t.schema, t.name));
  const fixes = r.rows.map(identityFix);
  return check(
    'source.replica-identity',
    'source',
    'FAIL',
    title,
    `${r.rows.length} table(s) have no usable replica identity: once published, every UPDATE and DELETE on them fails on the source: ${nameList(objects)}.`,
    {
      objects,
      remediation: `Run on the source (a primary key is best; FULL makes every replicated UPDATE/DELETE a full scan on the target unless it has an index):\n${fixes.join('\n')}`,
    },
  );
}

function identityFix(t: IdentityRow): string {
  const rel = qualified(t.schema, t.name);
  if (t.has_pk) return `ALTER TABLE ${rel} REPLICA IDENTITY DEFAULT;`;
  if (t.unique_index) return `ALTER TABLE ${rel} REPLICA IDENTITY USING INDEX ${ident(t.unique_index)};`;
  return `ALTER TABLE ${rel} ADD PRIMARY KEY (<columns>);  -- or: ALTER TABLE ${rel} REPLICA IDENTITY FULL;`;
}

/**
 * REPLICA IDENTITY FULL: the subscriber finds each updated/deleted row by comparing whole rows.
 * Without an index that is a sequential scan per row; subscribers from 16 on use any b-tree
 * index whose first column is a plain column, so a helper index on the target is enough.
 */
export async function checkReplicaIdentityFull(ctx: CheckContext): Promise<PreflightCheck> {
  const title = 'REPLICA IDENTITY FULL tables without an index the target can use';
  const r = await ctx.source.query<{ schema: string; name: string; rows: number; column: string | null }>(
    `SELECT n.nspname AS schema, c.relname AS name, greatest(c.reltuples, 0)::bigint AS rows,
            -- The most distinct b-tree-indexable column (from the source's statistics) makes the best helper index.
            (SELECT a.attname FROM pg_attribute a
               LEFT JOIN pg_stats s ON s.schemaname = n.nspname AND s.tablename = c.relname AND s.attname = a.attname
              WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
                AND EXISTS (SELECT 1 FROM pg_opclass oc JOIN pg_am am ON am.oid = oc.opcmethod
                             WHERE am.amname = 'btree' AND oc.opcdefault AND oc.opcintype = a.atttypid)
              ORDER BY CASE WHEN s.n_distinct < 0 THEN -s.n_distinct * greatest(c.reltuples, 1) ELSE coalesce(s.n_distinct, 0) END DESC, a.attnum
              LIMIT 1) AS column
     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE c.relkind = 'r' AND c.relpersistence = 'p' AND c.relreplident = 'f' AND ${USER_SCHEMA_FILTER}
       AND NOT EXISTS (SELECT 1 FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_am am ON am.oid = ic.relam
                        WHERE i.indrelid = c.oid AND am.amname = 'btree' AND i.indisvalid AND i.indpred IS NULL AND i.indkey[0] <> 0)
     ORDER BY 1, 2`,
  );
  if (r.rows.length === 0) {
    return check('source.replica-identity-full', 'source', 'PASS', title, 'No REPLICA IDENTITY FULL table lacks a usable b-tree index.');
  }
  const objects = r.rows.map((t) => displayName(t.schema, t.name));
  const detail =
    `${nameList(r.rows.map((t) => `${displayName(t.schema, t.name)} (~${t.rows} rows)`))}: each replicated UPDATE/DELETE scans the whole table on the target ` +
    '(a 5,000-row table updated a few hundred rows at a time stalled apply for over a minute).';
  const fixes = r.rows.map((t) =>
    t.column
      ? `CREATE INDEX ON ${qualified(t.schema, t.name)} (${ident(t.column)});`
      : `CREATE INDEX ON ${qualified(t.schema, t.name)} (<column>);`,
  );
  return check('source.replica-identity-full', 'source', 'WARN', title, detail, {
    objects,
    remediation: `Run \`pgshift cdc start --create-helper-indexes\`, or create them yourself on the target after full-load and before cdc start (PostgreSQL 16+ subscribers use them for FULL lookups), or give the tables a primary key on the source:\n${fixes.join('\n')}`,
  });
}

/** pg_largeobject is a catalog: logical replication never carries it. */
export async function checkLargeObjects(ctx: CheckContext): Promise<PreflightCheck> {
  const title = 'Large objects (not replicated)';
  const r = await ctx.source.query<{ n: number; bytes: string }>(
    `SELECT (SELECT count(*) FROM pg_largeobject_metadata)::int AS n, pg_total_relation_size('pg_largeobject') AS bytes`,
  );
  const { n, bytes } = r.rows[0];
  if (n === 0) return check('source.large-objects', 'source', 'PASS', title, 'No large objects.');
  return check(
    'source.large-objects',
    'source',
    'WARN',
    title,
    `${n} large object(s) (${formatBytes(Number(bytes))}): full-load copies them as of its snapshot; changes made afterwards never reach the target.`,
    {
      remediation:
        'Keep the application from creating or changing large objects between full-load and cutover, or move them into bytea columns on the source (UPDATE ... SET data = lo_get(oid)).',
      data: { count: n, bytes: Number(bytes) },
    },
  );
}

/** Unlogged tables write no WAL, so no change to them is ever decoded. */
export async function checkUnloggedTables(ctx: CheckContext): Promise<PreflightCheck> {
  const title = 'Unlogged tables (not replicated)';
  const r = await ctx.source.query<{ schema: string; name: string }>(
    `SELECT n.nspname AS schema, c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE c.relkind IN ('r', 'p') AND c.relpersistence = 'u' AND ${USER_SCHEMA_FILTER} ORDER BY 1, 2`,
  );
  if (r.rows.length === 0) return check('source.unlogged-tables', 'source', 'PASS', title, 'No unlogged tables.');
  const objects = r.rows.map((t) => displayName(t.schema, t.name));
  return check(
    'source.unlogged-tables',
    'source',
    'WARN',
    title,
    `${nameList(objects)}: full-load copies their rows, but later changes are not replicated.`,
    {
      objects,
      remediation: `If their changes must reach the target, make them logged on the source (rewrites the table):\n${r.rows.map((t) => `ALTER TABLE ${qualified(t.schema, t.name)} SET LOGGED;`).join('\n')}`,
    },
  );
}

/** Materialized views are not replicated: full-load refreshes them, cutover refreshes them again. */
export async function checkMaterializedViews(ctx: CheckContext): Promise<PreflightCheck> {
  const title = 'Materialized views (refreshed, not replicated)';
  const r = await ctx.source.query<{ schema: string; name: string; populated: boolean }>(
    `SELECT schemaname AS schema, matviewname AS name, ispopulated AS populated FROM pg_matviews ORDER BY 1, 2`,
  );
  if (r.rows.length === 0) return check('source.materialized-views', 'source', 'PASS', title, 'No materialized views.');
  const objects = r.rows.map((t) => displayName(t.schema, t.name));
  const unpopulated = r.rows.filter((t) => !t.populated).map((t) => displayName(t.schema, t.name));
  return check(
    'source.materialized-views',
    'source',
    'PASS',
    title,
    `${nameList(objects)}: refreshed on the target at the end of full-load and again at cutover; during CDC they are as old as the full-load.` +
      (unpopulated.length ? ` Not populated on the source (left unpopulated): ${nameList(unpopulated)}.` : ''),
    { objects },
  );
}

/** Foreign tables hold no data here; the target must reach their servers itself. */
export async function checkForeignTables(ctx: CheckContext): Promise<PreflightCheck> {
  const title = 'Foreign tables';
  const r = await ctx.source.query<{ schema: string; name: string; server: string; wrapper: string }>(
    `SELECT n.nspname AS schema, c.relname AS name, s.srvname AS server, w.fdwname AS wrapper
     FROM pg_foreign_table ft JOIN pg_class c ON c.oid = ft.ftrelid JOIN pg_namespace n ON n.oid = c.relnamespace
     JOIN pg_foreign_server s ON s.oid = ft.ftserver JOIN pg_foreign_data_wrapper w ON w.oid = s.srvfdw
     ORDER BY 1, 2`,
  );
  if (r.rows.length === 0) return check('source.foreign-tables', 'source', 'PASS', title, 'No foreign tables.');
  const objects = r.rows.map((t) => displayName(t.schema, t.name));
  const servers = [...new Set(r.rows.map((t) => t.server))];
  return check(
    'source.foreign-tables',
    'source',
    'WARN',
    title,
    `${nameList(objects)} (server ${nameList(servers)}): their data lives elsewhere and is neither copied nor replicated; the definitions come with the schema.`,
    {
      objects,
      remediation:
        'The server and user-mapping definitions come with the schema. After full-load, on the target, make sure each mapping has working credentials\n' +
        '(RDS requires a password in the mapping for non-superusers), e.g.\n' +
        servers.map((s) => `ALTER USER MAPPING FOR CURRENT_USER SERVER ${ident(s)} OPTIONS (ADD password '<password>');`).join('\n') +
        '\nand allow the RDS security group to reach each foreign server. The wrapper extension must be available on RDS (see target.extensions).',
    },
  );
}

/** Creating a slot and a publication needs REPLICATION (or superuser) and ownership of the tables. */
export async function checkSourcePrivileges(ctx: CheckContext): Promise<PreflightCheck> {
  const title = 'Source role privileges (replication, publication)';
  const user = ctx.sourceFacts.user;
  const r = await ctx.source.query<{ replication: boolean; rds_super: boolean; rds_repl: boolean }>(
    `SELECT rolreplication AS replication,
            EXISTS (SELECT 1 FROM pg_roles g WHERE g.rolname = 'rds_superuser' AND pg_has_role(current_user, g.oid, 'MEMBER')) AS rds_super,
            EXISTS (SELECT 1 FROM pg_roles g WHERE g.rolname = 'rds_replication' AND pg_has_role(current_user, g.oid, 'MEMBER')) AS rds_repl
     FROM pg_roles WHERE rolname = current_user`,
  );
  const p = r.rows[0];
  if (ctx.sourceFacts.isSuperuser || p.rds_super) {
    return check(
      'source.privileges',
      'source',
      'PASS',
      title,
      `${user} is ${ctx.sourceFacts.isSuperuser ? 'a superuser' : 'a member of rds_superuser'}.`,
    );
  }
  if (!p.replication && !p.rds_repl) {
    return check(
      'source.privileges',
      'source',
      'FAIL',
      title,
      `${user} has neither REPLICATION nor superuser: it cannot create the replication slot.`,
      {
        remediation: `As a superuser on the source: ALTER ROLE ${ident(user)} WITH REPLICATION;`,
      },
    );
  }
  const notOwned = await ctx.source.query<{ schema: string; name: string; owner: string }>(
    `SELECT n.nspname AS schema, c.relname AS name, pg_get_userbyid(c.relowner) AS owner FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE c.relkind IN ('r', 'p') AND c.relpersistence = 'p' AND ${USER_SCHEMA_FILTER} AND NOT pg_has_role(current_user, c.relowner, 'USAGE')
     ORDER BY 1, 2`,
  );
  if (notOwned.rows.length > 0) {
    const objects = notOwned.rows.map((t) => displayName(t.schema, t.name));
    const owners = [...new Set(notOwned.rows.map((t) => t.owner))];
    return check(
      'source.privileges',
      'source',
      'FAIL',
      title,
      `${user} has REPLICATION but does not own ${nameList(objects)}: CREATE PUBLICATION needs ownership of every published table (FOR ALL TABLES needs superuser).`,
      {
        objects,
        remediation: `Run pgshift as a superuser on the source, or make ${user} a member of the owning role(s), as a superuser:\n${owners.map((o) => `GRANT ${ident(o)} TO ${ident(user)};`).join('\n')}`,
      },
    );
  }
  return check('source.privileges', 'source', 'PASS', title, `${user} has REPLICATION and owns every table.`);
}

/**
 * Creating the slot waits for every transaction running at that moment, anywhere on the server;
 * a transaction left open for hours makes full-load hang at its first step.
 */
export async function checkLongTransactions(ctx: CheckContext): Promise<PreflightCheck> {
  const title = 'Long-running and prepared transactions on the source';
  const limit = ctx.opts.longTransactionSeconds ?? 60;
  const sessions = await ctx.source.query<{
    pid: number;
    usename: string | null;
    datname: string | null;
    application_name: string;
    state: string | null;
    seconds: number;
  }>(
    `SELECT pid, usename, datname, application_name, state, extract(epoch FROM now() - xact_start)::int AS seconds
     FROM pg_stat_activity
     WHERE xact_start < now() - make_interval(secs => $1) AND pid <> pg_backend_pid() AND backend_type = 'client backend'
     ORDER BY xact_start`,
    [limit],
  );
  const prepared = await ctx.source.query<{ gid: string; database: string; seconds: number }>(
    `SELECT gid, database, extract(epoch FROM now() - prepared)::int AS seconds FROM pg_prepared_xacts ORDER BY prepared`,
  );
  if (sessions.rows.length === 0 && prepared.rows.length === 0) {
    return check(
      'source.long-transactions',
      'source',
      'PASS',
      title,
      `No transaction open longer than ${limit} s, no prepared transaction.`,
    );
  }
  const lines = [
    ...sessions.rows.map(
      (s) =>
        `pid ${s.pid} (${s.usename ?? '?'}@${s.datname ?? '?'}, ${s.application_name || 'no application_name'}, ${s.state ?? '?'}) open ${s.seconds} s`,
    ),
    ...prepared.rows.map((p) => `prepared transaction ${p.gid} in ${p.database}, ${p.seconds} s old`),
  ];
  const fixes = [
    ...sessions.rows.map((s) => `SELECT pg_terminate_backend(${s.pid});`),
    ...prepared.rows.map(
      (p) => `ROLLBACK PREPARED ${literal(p.gid)};  -- in database ${p.database}, or COMMIT PREPARED if it must complete`,
    ),
  ];
  return check('source.long-transactions', 'source', 'WARN', title, `${nameList(lines, 5)}. Slot creation waits for them to end.`, {
    objects: lines,
    remediation: `Let them finish, or end them on the source:\n${fixes.join('\n')}`,
  });
}

/** What full-load will move: the biggest tables decide its duration. */
export async function checkTableSizes(ctx: CheckContext): Promise<PreflightCheck> {
  const title = 'Source size per table';
  const r = await ctx.source.query<{ schema: string; name: string; bytes: string; rows: string }>(
    `SELECT n.nspname AS schema, c.relname AS name, pg_total_relation_size(c.oid) AS bytes, greatest(c.reltuples, 0)::bigint AS rows
     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE c.relkind IN ('r', 'm') AND ${USER_SCHEMA_FILTER}
     ORDER BY pg_total_relation_size(c.oid) DESC, 1, 2`,
  );
  const db = await ctx.source.query<{ bytes: string }>('SELECT pg_database_size(current_database()) AS bytes');
  const tables = r.rows.map((t) => ({ table: displayName(t.schema, t.name), bytes: Number(t.bytes), rows: Number(t.rows) }));
  const total = Number(db.rows[0].bytes);
  const top = tables.slice(0, 5).map((t) => `${t.table} ${formatBytes(t.bytes)}`);
  return check(
    'source.table-sizes',
    'source',
    'PASS',
    title,
    `Database ${formatBytes(total)}, ${tables.length} tables; largest: ${top.join(', ') || 'none'}.`,
    {
      data: { databaseBytes: total, tables },
    },
  );
}
