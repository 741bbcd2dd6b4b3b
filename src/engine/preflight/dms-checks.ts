/**
 * Preflight for `--engine dms` (experiment 03): what makes AWS DMS fail, or silently lose data, on this
 * source. Run after the common checks, which still hold (DMS reads a logical slot like a subscription does).
 * Each finding says what DMS does wrong and the fix; pgshift's verify stays the authority afterwards.
 */
import { qualified } from '../../postgres/sql.js';
import { check, displayName, nameList, NOT_EXTENSION_MEMBER, USER_SCHEMA_FILTER } from './common.js';
import type { CheckContext, PreflightCheck } from './types.js';

const TABLES = `c.relkind = 'r' AND c.relpersistence = 'p' AND ${USER_SCHEMA_FILTER} AND ${NOT_EXTENSION_MEMBER('pg_class', 'c.oid')}`;

async function setting(ctx: CheckContext, name: string): Promise<{ setting: string; unit: string | null } | undefined> {
  const r = await ctx.source.query<{ setting: string; unit: string | null }>('SELECT setting, unit FROM pg_settings WHERE name = $1', [
    name,
  ]);
  return r.rows[0];
}

export async function checkDmsWalLevel(ctx: CheckContext): Promise<PreflightCheck> {
  const title = 'DMS: wal_level = logical';
  const level = (await setting(ctx, 'wal_level'))?.setting;
  if (level === 'logical') return check('dms.wal-level', 'source', 'PASS', title, 'wal_level is logical.');
  return check(
    'dms.wal-level',
    'source',
    'FAIL',
    title,
    `wal_level is ${level}. DMS cannot help here: its CDC reads a logical replication slot exactly like native replication does, so it needs the same restart of the source.`,
    { remediation: 'Set wal_level = logical on the source and restart it (see source.wal-level).' },
  );
}

export async function checkDmsWalSenderTimeout(ctx: CheckContext): Promise<PreflightCheck> {
  const title = 'DMS: wal_sender_timeout is 0 or at least 10 s';
  const ms = Number((await setting(ctx, 'wal_sender_timeout'))?.setting ?? 60000);
  if (ms >= 1 && ms <= 9999)
    return check(
      'dms.wal-sender-timeout',
      'source',
      'FAIL',
      title,
      `wal_sender_timeout is ${ms} ms: DMS refuses values from 1 to 9999 ms (its task fails at start).`,
      { remediation: 'ALTER SYSTEM SET wal_sender_timeout = 60000; SELECT pg_reload_conf();' },
    );
  return check('dms.wal-sender-timeout', 'source', 'PASS', title, `wal_sender_timeout is ${ms} ms.`);
}

export async function checkDmsSlotWalKeep(ctx: CheckContext): Promise<PreflightCheck> {
  const title = 'DMS: max_slot_wal_keep_size';
  const s = await setting(ctx, 'max_slot_wal_keep_size');
  if (!s || s.setting === '-1') return check('dms.max-slot-wal-keep-size', 'source', 'PASS', title, 'Unlimited (the default).');
  return check(
    'dms.max-slot-wal-keep-size',
    'source',
    'WARN',
    title,
    `max_slot_wal_keep_size is ${s.setting}${s.unit ?? ''}: if DMS falls behind by more, PostgreSQL invalidates the slot and the task fails with no way to resume; only a new full-load recovers.`,
    {
      remediation:
        "Keep it only as the disk's last line of defence, and watch retained WAL with 'pgshift cdc status --engine dms'; or ALTER SYSTEM RESET max_slot_wal_keep_size; SELECT pg_reload_conf();",
    },
  );
}

export async function checkDmsPglogical(ctx: CheckContext): Promise<PreflightCheck> {
  const title = 'DMS: pglogical not installed';
  const r = await ctx.source.query('SELECT extversion FROM pg_extension WHERE extname = $1', ['pglogical']);
  if (!r.rowCount) return check('dms.pglogical', 'source', 'PASS', title, 'pglogical is not installed.');
  return check(
    'dms.pglogical',
    'source',
    'WARN',
    title,
    `pglogical ${r.rows[0].extversion} is installed: an endpoint without PluginName uses pglogical instead of the test_decoding slot full-load made, and starts from its own position.`,
    {
      remediation:
        'Keep PluginName = test-decoding and SlotName on the source endpoint (stack 03-dms sets both; cdc start --engine dms checks them), or DROP EXTENSION pglogical if nothing uses it.',
    },
  );
}

export async function checkDmsPrimaryKeys(ctx: CheckContext): Promise<PreflightCheck> {
  const title = 'DMS: every table has a primary key or REPLICA IDENTITY FULL';
  const r = await ctx.source.query<{ schema: string; name: string }>(
    `SELECT n.nspname AS schema, c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE ${TABLES} AND c.relreplident <> 'f'
        AND NOT EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary)
      ORDER BY 1, 2`,
  );
  if (!r.rowCount) return check('dms.primary-keys', 'source', 'PASS', title, 'Every table has a primary key or REPLICA IDENTITY FULL.');
  const objects = r.rows.map((t) => displayName(t.schema, t.name));
  return check(
    'dms.primary-keys',
    'source',
    'FAIL',
    title,
    `${objects.length} table(s) have neither: DMS cannot apply their UPDATEs and DELETEs (it needs the key or the whole old row): ${nameList(objects)}.`,
    {
      objects,
      remediation: r.rows
        .map((t) => `ALTER TABLE ${qualified(t.schema, t.name)} ADD PRIMARY KEY (<columns>);  -- or REPLICA IDENTITY FULL`)
        .join('\n'),
    },
  );
}

export async function checkDmsLobColumns(ctx: CheckContext): Promise<PreflightCheck> {
  const title = 'DMS: NOT NULL LOB columns (text, jsonb, bytea)';
  const r = await ctx.source.query<{ schema: string; name: string; column: string; type: string }>(
    `SELECT n.nspname AS schema, c.relname AS name, a.attname AS column, format_type(a.atttypid, NULL) AS type
       FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE ${TABLES} AND a.attnum > 0 AND NOT a.attisdropped AND a.attnotnull
        AND (a.atttypid IN ('text'::regtype, 'jsonb'::regtype, 'json'::regtype, 'bytea'::regtype, 'xml'::regtype)
             OR (a.atttypid = 'varchar'::regtype AND a.atttypmod < 0))
      ORDER BY 1, 2, 3`,
  );
  if (!r.rowCount) return check('dms.lob-columns', 'source', 'PASS', title, 'No NOT NULL column DMS handles as a LOB.');
  const objects = r.rows.map((c) => `${displayName(c.schema, c.name)}.${c.column} (${c.type})`);
  return check(
    'dms.lob-columns',
    'source',
    'WARN',
    title,
    `${objects.length} NOT NULL column(s) DMS treats as LOBs: in full LOB mode it inserts NULL first and fills the value after, which a NOT NULL constraint refuses. pgshift uses limited LOB mode with LobMaxSize measured from the data and fails the task on truncation: ${nameList(objects)}.`,
    {
      objects,
      remediation:
        'Nothing to do while the largest value stays under twice today’s largest; cdc start --engine dms measures it. A task that stops on truncation is restarted with a new measurement.',
    },
  );
}

/** Types DMS does not migrate as such (enum, inet/cidr, ranges, composite types): values arrive changed or not at all. */
export async function checkDmsColumnTypes(ctx: CheckContext): Promise<PreflightCheck> {
  const title = 'DMS: column types it migrates';
  const r = await ctx.source.query<{ schema: string; name: string; column: string; type: string; kind: string }>(
    `SELECT n.nspname AS schema, c.relname AS name, a.attname AS column, format_type(a.atttypid, a.atttypmod) AS type,
            CASE WHEN t.typtype = 'e' THEN 'enum' WHEN t.typtype = 'r' OR t.typtype = 'm' THEN 'range'
                 WHEN t.typtype = 'c' THEN 'composite' ELSE 'network address' END AS kind
       FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
       JOIN pg_type t ON t.oid = a.atttypid
      WHERE ${TABLES} AND a.attnum > 0 AND NOT a.attisdropped
        AND (t.typtype IN ('e', 'r', 'm', 'c') OR a.atttypid IN ('inet'::regtype, 'cidr'::regtype))
      ORDER BY 1, 2, 3`,
  );
  if (!r.rowCount) return check('dms.column-types', 'source', 'PASS', title, 'No enum, inet/cidr, range or composite column.');
  const objects = r.rows.map((c) => `${displayName(c.schema, c.name)}.${c.column} (${c.kind} ${c.type})`);
  return check(
    'dms.column-types',
    'source',
    'FAIL',
    title,
    `${objects.length} column(s) of types DMS does not migrate as such (their changes arrive as text or not at all): ${nameList(objects)}.`,
    { objects, remediation: 'Use the native engine for this database (the default), or change these columns to types DMS supports.' },
  );
}

export async function checkDmsLargeObjects(ctx: CheckContext): Promise<PreflightCheck> {
  const title = 'DMS: large objects';
  const n = Number((await ctx.source.query<{ n: string }>('SELECT count(*) AS n FROM pg_largeobject_metadata')).rows[0]!.n);
  if (n === 0) return check('dms.large-objects', 'source', 'PASS', title, 'No large objects.');
  return check(
    'dms.large-objects',
    'source',
    'WARN',
    title,
    `${n} large object(s): full-load copies them once, but DMS never replicates large objects (nor sequences, indexes or foreign keys), so any written after the load are missing on the target.`,
    { remediation: 'Freeze large-object writes from full-load to cutover, or store the data in bytea columns.' },
  );
}

/** pg_hba lines the DMS subnets need: the database, and `replication` for the slot. */
export async function checkDmsPgHba(ctx: CheckContext): Promise<PreflightCheck> {
  const title = 'DMS: pg_hba.conf admits the DMS subnets';
  const cidrs = ctx.opts.dmsSubnetCidrs ?? [];
  if (!cidrs.length)
    return check('dms.pg-hba', 'source', 'WARN', title, 'No DMS subnet given: pg_hba.conf was not checked.', {
      remediation: 'Run preflight with --dms-subnet-cidrs (the private subnets of stack 03-dms).',
    });
  let rules: { database: string[]; address: string | null; netmask: string | null; type: string; error: string | null }[];
  try {
    rules = (
      await ctx.source.query(
        `SELECT database, address, netmask, type, error FROM pg_hba_file_rules WHERE type IN ('host', 'hostssl') ORDER BY line_number`,
      )
    ).rows;
  } catch {
    return check('dms.pg-hba', 'source', 'WARN', title, 'pg_hba_file_rules is not readable by this user.', {
      remediation: 'Run preflight as a superuser on the source, or check pg_hba.conf by hand.',
    });
  }
  const db = ctx.sourceFacts.database;
  const covers = (rule: (typeof rules)[number], cidr: string) => rule.error === null && addressCovers(rule.address, rule.netmask, cidr);
  const missing: string[] = [];
  for (const cidr of cidrs) {
    if (!rules.some((r) => covers(r, cidr) && (r.database.includes('all') || r.database.includes(db))))
      missing.push(`${cidr} to database ${db}`);
    if (!rules.some((r) => covers(r, cidr) && r.database.includes('replication'))) missing.push(`${cidr} for replication`);
  }
  if (!missing.length) return check('dms.pg-hba', 'source', 'PASS', title, `Lines for ${cidrs.join(', ')}: the database and replication.`);
  return check('dms.pg-hba', 'source', 'FAIL', title, `No pg_hba.conf line admits ${missing.join('; ')}.`, {
    remediation: `Add to pg_hba.conf on the source, then SELECT pg_reload_conf();\n${cidrs
      .flatMap((c) => [`hostssl ${db} <dms user> ${c} scram-sha-256`, `hostssl replication <dms user> ${c} scram-sha-256`])
      .join('\n')}`,
  });
}

/** Whether a pg_hba address (keyword, CIDR or address + netmask) covers the IPv4 network `cidr`. */
export function addressCovers(address: string | null, netmask: string | null, cidr: string): boolean {
  if (address === null) return false;
  if (address === 'all' || address === '0.0.0.0') return true;
  const toInt = (ip: string) => ip.split('.').reduce((acc, o) => acc * 256 + Number(o), 0);
  const [net, bitsText] = cidr.split('/');
  const bits = Number(bitsText ?? 32);
  const maskBits = netmask ? netmask.split('.').reduce((acc, o) => acc + ((Number(o) >>> 0).toString(2).match(/1/g)?.length ?? 0), 0) : 32;
  if (!/^\d+\.\d+\.\d+\.\d+$/.test(address) || !net || !/^\d+\.\d+\.\d+\.\d+$/.test(net)) return false;
  if (maskBits > bits) return false;
  const size = 2 ** (32 - maskBits);
  return Math.floor(toInt(net) / size) === Math.floor(toInt(address) / size);
}
