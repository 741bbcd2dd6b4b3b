/**
 * The Tasteam fixture carries every feature the migration must survive. If someone trims the
 * fixture, the tests built on it would quietly stop covering that feature: this file catches it
 * by asking the source's catalog for each one.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateData } from '../../src/rehearse/fixture/generate.js';
import { fixtureCounts, loadFixture, loadHazards } from '../../src/rehearse/fixture/load.js';
import { freshPair, type TestPair } from '../support/databases.js';

let pair: TestPair;
const rows = 2000;

beforeAll(async () => {
  pair = await freshPair('fixture_catalog');
  const c = new pg.Client(pair.sourceUrl);
  await c.connect();
  try {
    await loadFixture(c, { rows });
  } finally {
    await c.end();
  }
});

afterAll(async () => {
  await pair?.drop();
});

const one = async (sql: string, params?: unknown[]) => (await pair.src(sql, params)).rows[0];

describe('Tasteam fixture (loaded on the source)', () => {
  it('has the expected row counts, deterministically', async () => {
    const c = fixtureCounts(rows);
    const counts = await one(`SELECT (SELECT count(*) FROM member)::int AS members, (SELECT count(*) FROM restaurant)::int AS restaurants,
      (SELECT count(*) FROM review)::int AS reviews, (SELECT count(*) FROM chat_message)::int AS messages,
      (SELECT count(*) FROM analytics.event_log)::int AS events, (SELECT count(*) FROM "리뷰 태그")::int AS tags`);
    // Every 50th event is written twice (duplicate rows in the keyless table).
    expect(counts).toEqual({
      members: c.members,
      restaurants: c.restaurants,
      reviews: c.reviews,
      messages: c.chatMessages,
      events: c.events + Math.floor(c.events / 50),
      tags: 8,
    });
    const total = await one(`SELECT sum(n_live_tup)::int AS n FROM pg_stat_user_tables`);
    expect(total.n).toBeGreaterThan(10_000);
    // Same content every time: data comes from arithmetic over generate_series, not random().
    const email = await one(`SELECT email, nickname, "표시 이름" AS label FROM member WHERE id = 7`);
    expect(email).toEqual({ email: 'member7@tasteam.kr', nickname: 'user_7', label: '야식왕 7' });
  });

  it('has identity, serial and text keys, and a composite key', async () => {
    const identity = await pair.src(`SELECT c.relname, a.attname, a.attidentity FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
      WHERE a.attidentity <> '' AND c.relnamespace = 'public'::regnamespace ORDER BY 1`);
    expect(identity.rows).toContainEqual({ relname: 'member', attname: 'id', attidentity: 'd' });
    expect(identity.rows).toContainEqual({ relname: 'group', attname: 'id', attidentity: 'a' });
    const serial = await one(`SELECT pg_get_serial_sequence('public.restaurant', 'id') AS s`);
    expect(serial.s).toBe('public.restaurant_id_seq');
    const textPk =
      await one(`SELECT format_type(a.atttypid, a.atttypmod) AS t FROM pg_constraint k JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = k.conkey[1]
      WHERE k.contype = 'p' AND k.conrelid = 'public."리뷰 태그"'::regclass`);
    expect(textPk.t).toBe('text');
    const composite = await pair.src(
      `SELECT conrelid::regclass::text AS rel, array_length(conkey, 1) AS n FROM pg_constraint WHERE contype = 'p' AND array_length(conkey, 1) > 1 ORDER BY 1`,
    );
    expect(composite.rows.map((r) => r.rel)).toEqual(expect.arrayContaining(['group_member', 'review_tag', 'analytics."MixedCase Table"']));
  });

  it('has a standalone sequence (owned by no column) used by a default', async () => {
    const seq =
      await one(`SELECT NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = 'public.hibernate_sequence'::regclass AND d.deptype IN ('a', 'i')) AS standalone,
      (SELECT last_value FROM public.hibernate_sequence) AS last_value`);
    expect(seq.standalone).toBe(true);
    expect(Number(seq.last_value)).toBeGreaterThan(1000);
    const def =
      await one(`SELECT pg_get_expr(d.adbin, d.adrelid) AS expr FROM pg_attrdef d JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum
      WHERE d.adrelid = 'public.favorite'::regclass AND a.attname = 'id'`);
    expect(def.expr).toContain('hibernate_sequence');
  });

  it('has foreign keys, jsonb, arrays, an enum, timestamptz and bytea columns', async () => {
    const fks = await one(`SELECT count(*)::int AS n FROM pg_constraint WHERE contype = 'f' AND connamespace = 'public'::regnamespace`);
    expect(fks.n).toBeGreaterThanOrEqual(8);
    const types = await pair.src(`SELECT DISTINCT format_type(atttypid, NULL) AS t FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
      WHERE c.relkind IN ('r', 'p') AND c.relnamespace IN ('public'::regnamespace, 'analytics'::regnamespace) AND a.attnum > 0`);
    const names = types.rows.map((r) => r.t);
    expect(names).toEqual(expect.arrayContaining(['jsonb', 'text[]', 'member_status', 'timestamp with time zone', 'bytea', 'oid']));
    const enumType = await one(`SELECT typtype FROM pg_type WHERE typname = 'member_status'`);
    expect(enumType.typtype).toBe('e');
    const bytes = await one(`SELECT count(*)::int AS n FROM member WHERE avatar IS NOT NULL`);
    expect(bytes.n).toBeGreaterThan(0);
  });

  it('has a partitioned table whose rows land in several partitions, including the default', async () => {
    const parts = await pair.src(`SELECT tableoid::regclass::text AS part, count(*)::int AS n FROM chat_message GROUP BY 1 ORDER BY 1`);
    expect(parts.rows.length).toBeGreaterThanOrEqual(5);
    expect(parts.rows.map((r) => r.part)).toContain('chat_message_default');
    const kind = await one(`SELECT relkind FROM pg_class WHERE oid = 'public.chat_message'::regclass`);
    expect(kind.relkind).toBe('p');
  });

  it('has a keyless table with REPLICA IDENTITY FULL in a non-public schema, holding duplicate rows', async () => {
    const t =
      await one(`SELECT c.relreplident, n.nspname, EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary) AS has_pk
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = 'analytics.event_log'::regclass`);
    expect(t).toEqual({ relreplident: 'f', nspname: 'analytics', has_pk: false });
    const dup = await one(`SELECT count(*)::int AS n FROM (SELECT 1 FROM analytics.event_log GROUP BY event_log.* HAVING count(*) > 1) d`);
    expect(dup.n).toBeGreaterThan(0);
  });

  it('has quoted mixed-case, reserved-word and Korean identifiers, and Korean data', async () => {
    const rels = await pair.src(
      `SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = 'r' ORDER BY 1, 2`,
    );
    const names = rels.rows.map((r) => `${r.nspname}.${r.relname}`);
    expect(names).toEqual(expect.arrayContaining(['analytics.MixedCase Table', 'public.리뷰 태그', 'public.group']));
    const cols = await pair.src(
      `SELECT attname FROM pg_attribute WHERE attrelid IN ('public.member'::regclass, 'analytics."MixedCase Table"'::regclass) AND attnum > 0`,
    );
    expect(cols.rows.map((r) => r.attname)).toEqual(expect.arrayContaining(['표시 이름', 'RestaurantId', 'weird "quoted" col']));
    const korean = await one(`SELECT "표시 이름" AS label FROM "리뷰 태그" WHERE "태그 코드" = 'TASTY'`);
    expect(korean.label).toBe('맛있어요');
  });

  it('has TOAST-sized values', async () => {
    const t = await one(`SELECT count(*)::int AS n FROM review WHERE octet_length(content) > 4000`);
    expect(t.n).toBeGreaterThan(0);
  });

  it('has a view, a populated materialized view, a function and a trigger', async () => {
    const v = await one(`SELECT count(*)::int AS n FROM pg_views WHERE schemaname = 'public' AND viewname = 'restaurant_summary'`);
    expect(v.n).toBe(1);
    const mv = await one(`SELECT ispopulated FROM pg_matviews WHERE schemaname = 'analytics' AND matviewname = 'restaurant_rating'`);
    expect(mv.ispopulated).toBe(true);
    const trig = await pair.src(
      `SELECT tgrelid::regclass::text AS rel, tgfoid::regproc::text AS fn FROM pg_trigger WHERE NOT tgisinternal ORDER BY 1`,
    );
    expect(trig.rows).toContainEqual({ rel: 'member', fn: 'touch_updated_at' });
  });

  it('has grants to an application role that owns nothing', async () => {
    const role = await one(`SELECT rolname FROM pg_roles WHERE rolname = 'tasteam_app'`);
    expect(role.rolname).toBe('tasteam_app');
    const owns = await one(`SELECT count(*)::int AS n FROM pg_class WHERE relowner = 'tasteam_app'::regrole`);
    expect(owns.n).toBe(0);
    const privs = await one(`SELECT has_table_privilege('tasteam_app', 'public.review', 'SELECT, INSERT, UPDATE, DELETE') AS dml,
      has_table_privilege('tasteam_app', 'analytics.event_log', 'INSERT') AS log,
      has_sequence_privilege('tasteam_app', 'public.hibernate_sequence', 'USAGE') AS seq,
      has_schema_privilege('tasteam_app', 'analytics', 'USAGE') AS schema`);
    expect(privs).toEqual({ dml: true, log: true, seq: true, schema: true });
  });

  it('has large objects, check constraints and an expression index', async () => {
    const lo = await one(`SELECT count(*)::int AS n FROM pg_largeobject_metadata m JOIN notice ON notice.attachment = m.oid`);
    expect(lo.n).toBe(3);
    const checks = await one(`SELECT count(*)::int AS n FROM pg_constraint WHERE contype = 'c' AND connamespace = 'public'::regnamespace`);
    expect(checks.n).toBeGreaterThanOrEqual(3);
    const expr = await one(
      `SELECT indexrelid::regclass::text AS idx FROM pg_index WHERE indexprs IS NOT NULL AND indrelid = 'public.member'::regclass`,
    );
    expect(expr.idx).toBe('member_email_lower_key');
  });

  it('loads the hazards on top', async () => {
    const c = new pg.Client(pair.sourceUrl);
    await c.connect();
    try {
      await loadHazards(c);
    } finally {
      await c.end();
    }
    const h = await one(`SELECT (SELECT relpersistence FROM pg_class WHERE oid = 'public.session_cache'::regclass) AS unlogged,
      (SELECT relreplident FROM pg_class WHERE oid = 'public.legacy_import'::regclass) AS legacy,
      (SELECT count(*)::int FROM pg_foreign_table) AS foreign_tables`);
    expect(h).toEqual({ unlogged: 'u', legacy: 'd', foreign_tables: 1 });
  });
});

describe('generateData (benchmark scaling)', () => {
  it('grows the same schema to the requested size with every foreign key still satisfied', async () => {
    const big = await freshPair('fixture_generate');
    const c = new pg.Client(big.sourceUrl);
    await c.connect();
    try {
      const result = await generateData(c, { targetBytes: 80e6 });
      const size = (await big.src(`SELECT pg_database_size(current_database())::bigint AS b`)).rows[0];
      expect(Number(size.b)).toBeGreaterThanOrEqual(80e6);
      // Not far past the target either: the last round is shrunk to fit.
      expect(Number(size.b)).toBeLessThan(80e6 * 1.6);
      expect(result.databaseBytes).toBe(Number(size.b));
      const n = (
        await big.src(`SELECT (SELECT count(*) FROM review)::int AS reviews, (SELECT count(*) FROM chat_message)::int AS messages`)
      ).rows[0];
      expect(n).toEqual({ reviews: result.rows.reviews, messages: result.rows.chatMessages });
      // FK triggers are skipped while generating (speed), so prove the data satisfies them.
      const orphans = (
        await big.src(`SELECT
          (SELECT count(*) FROM review r WHERE NOT EXISTS (SELECT 1 FROM member m WHERE m.id = r.member_id)
                                            OR NOT EXISTS (SELECT 1 FROM restaurant t WHERE t.id = r.restaurant_id)
                                            OR (r.group_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM "group" g WHERE g.id = r.group_id)))::int AS reviews,
          (SELECT count(*) FROM review_tag x WHERE NOT EXISTS (SELECT 1 FROM review r WHERE r.id = x.review_id))::int AS tags,
          (SELECT count(*) FROM chat_message x WHERE NOT EXISTS (SELECT 1 FROM chat_room r WHERE r.id = x.chat_room_id)
                                                 OR NOT EXISTS (SELECT 1 FROM member m WHERE m.id = x.member_id))::int AS messages`)
      ).rows[0];
      expect(orphans).toEqual({ reviews: 0, tags: 0, messages: 0 });
    } finally {
      await c.end();
      await big.drop();
    }
  });
});
