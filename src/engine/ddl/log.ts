/**
 * The operator's view of captured DDL (`pgshift cdc ddl`) and the way to unblock a stop
 * (`pgshift cdc ddl resolve`). The source's log says what was captured; the target's
 * ddl_applied says what ran there, in the apply worker's transaction. A stop is resolved by
 * recording, on the target, either the SQL to run in its place or that it was applied by hand;
 * the trigger uses it when the apply worker retries that transaction (every
 * wal_retrieve_retry_interval, or after `cdc start` re-enables a subscription made with
 * --disable-on-error). Never ALTER SUBSCRIPTION … SKIP: it discards the whole
 * transaction's rows, not only the DDL.
 */
import type pg from 'pg';
import { usageError } from '../../errors.js';

export type DdlState = 'applied' | 'pending' | 'stopped' | 'resolved';

export interface DdlEntry {
  id: number;
  capturedAt: string;
  class: 'replay' | 'derived' | 'stop';
  reason: string | null;
  commandTags: string[];
  objects: string[];
  query: string;
  statements: string[];
  role: string;
  state: DdlState;
  appliedAt: string | null;
  appliedHow: string | null;
}

export interface DdlListing {
  subscriptionEnabled: boolean | null;
  entries: DdlEntry[];
  /** The entry replication is stopped on, if any. */
  stoppedOn: DdlEntry | null;
}

export async function listDdl(source: pg.Client, target: pg.Client, subscription: string): Promise<DdlListing> {
  const captured = await source.query(
    `SELECT id::int, captured_at::text, class, reason, command_tags, object_identities, query, statements, role_name, attached, detached
       FROM _pgshift.ddl_log ORDER BY id`,
  );
  const hasApplied = (await target.query(`SELECT to_regclass('_pgshift.ddl_applied') IS NOT NULL AS ok`)).rows[0].ok;
  const applied = new Map<number, { at: string; how: string }>();
  const resolved = new Set<number>();
  if (hasApplied) {
    for (const r of (await target.query('SELECT id::int, applied_at::text, how FROM _pgshift.ddl_applied')).rows)
      applied.set(r.id, { at: r.applied_at, how: r.how });
    for (const r of (await target.query('SELECT id::int FROM _pgshift.ddl_resolution')).rows) resolved.add(r.id);
  }
  const sub = await target.query(
    `SELECT subenabled FROM pg_subscription WHERE subname = $1 AND subdbid = (SELECT oid FROM pg_database WHERE datname = current_database())`,
    [subscription],
  );
  const subscriptionEnabled: boolean | null = sub.rowCount ? sub.rows[0].subenabled : null;
  let stoppedOn: DdlEntry | null = null;
  // A CREATE EXTENSION the target cannot install, or an ATTACH PARTITION of a table the
  // subscription has not copied, stops replication as surely as a stop-class entry.
  const unavailable = await unavailableExtensionEntries(target, captured.rows);
  const attachBlocked = await uncopiedAttachEntries(target, captured.rows, applied);
  for (const [id] of attachBlocked) unavailable.add(id);
  const entries: DdlEntry[] = captured.rows.map((r) => {
    const a = applied.get(r.id);
    let state: DdlState = a ? 'applied' : resolved.has(r.id) ? 'resolved' : 'pending';
    const entry: DdlEntry = {
      id: r.id,
      capturedAt: r.captured_at,
      class: r.class,
      reason: r.reason,
      commandTags: r.command_tags,
      objects: r.object_identities,
      query: r.query,
      statements: r.statements,
      role: r.role_name,
      state,
      appliedAt: a?.at ?? null,
      appliedHow: a?.how ?? null,
    };
    // Replication stands on the first entry not applied when the subscription is disabled, or
    // on the first entry the target cannot apply (the apply worker retries it every few
    // seconds): a stop-class entry, or one blocked by the target's state. Earlier entries of the
    // same transaction are pending behind it.
    if (!a && !stoppedOn && state === 'pending' && (subscriptionEnabled === false || r.class === 'stop' || unavailable.has(r.id))) {
      state = 'stopped';
      entry.state = state;
      stoppedOn = entry;
    }
    return entry;
  });
  for (const e of entries)
    if (e.state === 'pending')
      e.reason ??= await detachWaiting(
        target,
        captured.rows.find((r) => r.id === e.id),
      );
  const stopped = stoppedOn as DdlEntry | null;
  if (stopped && attachBlocked.has(stopped.id)) stopped.reason = attachBlocked.get(stopped.id) ?? null;
  if (stopped && !stopped.reason) stopped.reason = await whyItFailed(target, stopped);
  return { subscriptionEnabled, entries, stoppedOn: stopped };
}

async function unavailableExtensionEntries(
  target: pg.Client,
  rows: { id: number; command_tags: string[]; object_identities: string[] }[],
): Promise<Set<number>> {
  const out = new Set<number>();
  for (const r of rows) {
    if (!r.command_tags.includes('CREATE EXTENSION')) continue;
    const res = await target.query(
      'SELECT bool_and(EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = x)) AS ok FROM unnest($1::text[]) x',
      [r.object_identities],
    );
    if (res.rows[0].ok === false) out.add(r.id);
  }
  return out;
}

/** Tables (as captured, schema-qualified) whose own changes this database's subscription does not apply yet (not ready). */
async function notSubscribed(target: pg.Client, tables: string[]): Promise<string[]> {
  const res = await target.query<{ name: string }>(
    `SELECT x AS name FROM unnest($1::text[]) x
      WHERE NOT EXISTS (SELECT 1 FROM pg_subscription_rel sr JOIN pg_subscription s ON s.oid = sr.srsubid
                         WHERE sr.srrelid = to_regclass(x) AND sr.srsubstate = 'r'
                           AND s.subdbid = (SELECT oid FROM pg_database WHERE datname = current_database()))`,
    [tables],
  );
  return res.rows.map((r) => r.name);
}

/** A DETACH PARTITION waits in the stream until its table is subscribed (replay-sql.ts); null when it does not wait. */
async function detachWaiting(target: pg.Client, row: { detached?: string[] } | undefined): Promise<string | null> {
  if (!row?.detached?.length) return null;
  const missing = await notSubscribed(target, row.detached);
  if (!missing.length) return null;
  return `waits: ${missing.join(', ')} must join the subscription before this DETACH PARTITION is applied; 'pgshift cdc ddl' (or a running 'cdc status --watch') adds it without a copy`;
}

/** ATTACH PARTITION entries not applied whose table the subscription does not hold ready (replay-sql.ts stops on them). */
async function uncopiedAttachEntries(
  target: pg.Client,
  rows: { id: number; attached: string[] }[],
  applied: Map<number, unknown>,
): Promise<Map<number, string>> {
  const out = new Map<number, string>();
  for (const r of rows) {
    if (!r.attached?.length || applied.has(r.id)) continue;
    const missing = await notSubscribed(target, r.attached);
    if (missing.length)
      out.set(
        r.id,
        `ATTACH PARTITION of ${missing.join(', ')}, which the subscription has not copied: its rows would be missing on the target`,
      );
  }
  return out;
}

/**
 * A replay-class statement that failed on the target: the trigger's error is in the target's
 * log only, so name what can be checked from here.
 */
async function whyItFailed(target: pg.Client, e: DdlEntry): Promise<string> {
  if (e.commandTags.includes('CREATE EXTENSION')) {
    const res = await target.query<{ name: string }>(
      'SELECT x AS name FROM unnest($1::text[]) x WHERE NOT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = x)',
      [e.objects],
    );
    if (res.rowCount) return `extension ${res.rows.map((r) => r.name).join(', ')} is not available on the target`;
  }
  return `failed on the target: the error is in the target's log ("pgshift DDL #${e.id} failed on the target: …")`;
}

export interface Resolution {
  sql?: string;
  markApplied?: boolean;
}

/** Record how the target gets past captured DDL `id`. Takes effect when the apply worker next reaches it. */
export async function resolveDdl(source: pg.Client, target: pg.Client, id: number, how: Resolution): Promise<DdlEntry['class']> {
  if (Boolean(how.sql) === Boolean(how.markApplied))
    throw usageError('cdc ddl resolve needs exactly one of --sql and --mark-applied', "e.g. --sql 'ALTER TABLE …' or --mark-applied");
  if (!Number.isSafeInteger(id) || id <= 0)
    throw usageError(`DDL id '${id}' is not a positive integer`, "see the ids with 'pgshift cdc ddl'");
  const row = await source.query('SELECT class FROM _pgshift.ddl_log WHERE id = $1', [id]);
  if (!row.rowCount) throw usageError(`no captured DDL #${id} on the source`, "see the ids with 'pgshift cdc ddl'");
  const done = await target.query('SELECT how FROM _pgshift.ddl_applied WHERE id = $1', [id]);
  if (done.rowCount) throw usageError(`DDL #${id} is already applied on the target (${done.rows[0].how})`, 'nothing to resolve');
  await target.query(
    `INSERT INTO _pgshift.ddl_resolution (id, sql, mark_applied) VALUES ($1, $2, $3)
     ON CONFLICT (id) DO UPDATE SET sql = EXCLUDED.sql, mark_applied = EXCLUDED.mark_applied, resolved_at = clock_timestamp()`,
    [id, how.sql ?? null, Boolean(how.markApplied)],
  );
  return row.rows[0].class;
}
