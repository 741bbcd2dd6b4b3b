/**
 * pgshift verify on real servers (source 15, target 17): the same data created on both
 * sides by the same SQL, then the target (or source) changed the way a lost or doubled
 * write would change it, and the report checked for the table, the category and the key.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { admin, freshPair, type TestPair } from '../support/databases.js';
import { snapshotSchema } from '../../src/engine/verify/schema-snapshot.js';
import { silentLogger } from '../../src/log/logger.js';
import { runVerify, type VerifyOptions } from '../../src/engine/verify/verify.js';
import { verifyExitCode, type TableVerdict, type VerifyReport } from '../../src/engine/verify/report.js';

const KOREAN = 'Weird "Table" 주문';
const MIXED_SCHEMA = 'Mixed Schema';

/** Deterministic data: no now(), no random(), so both sides hold exactly the same rows. */
const SCHEMA_AND_DATA = `
  CREATE TABLE public.accounts (
    id bigserial PRIMARY KEY,
    email text NOT NULL,
    balance numeric(12,2),
    created timestamptz NOT NULL,
    ratio float8,
    tags text[],
    doc jsonb,
    raw bytea,
    span interval
  );
  INSERT INTO public.accounts (email, balance, created, ratio, tags, doc, raw, span)
  SELECT 'user' || i || '@example.com', i * 1.25, timestamptz '2024-01-01 00:00:00+00' + i * interval '37 minutes',
         i / 7.0::float8, ARRAY['t' || (i % 5), 'x'], jsonb_build_object('n', i, 'k', 'v' || i),
         decode(md5(i::text), 'hex'), i * interval '1 minute'
  FROM generate_series(1, 1000) AS i;
  -- With a row estimate, the single integer key is split by value (no walk); the text and composite keys below are walked.
  ANALYZE public.accounts;

  CREATE TABLE public.${'"' + KOREAN.replace(/"/g, '""') + '"'} ("Key Col" text PRIMARY KEY, "값" int, "Mixed Case" text);
  INSERT INTO public.${'"' + KOREAN.replace(/"/g, '""') + '"'} SELECT 'k-' || lpad(i::text, 4, '0'), i, 'Ünïcode ' || i FROM generate_series(1, 300) AS i;

  -- An enum's values have different OIDs on each server: it must be compared by label.
  CREATE TYPE public."Mood" AS ENUM ('ok', 'great', '좋아요');
  CREATE TABLE public.order_lines (order_id int, line_no int, qty int NOT NULL, mood public."Mood", PRIMARY KEY (order_id, line_no));
  INSERT INTO public.order_lines SELECT o, l, o * l, (ARRAY['ok', 'great', '좋아요']::public."Mood"[])[1 + (o + l) % 3] FROM generate_series(1, 50) AS o, generate_series(1, 6) AS l;

  CREATE TABLE public.audit_log (kind text, payload text);
  INSERT INTO public.audit_log SELECT 'kind' || (i % 3), 'payload ' || (i % 40) FROM generate_series(1, 200) AS i;

  CREATE TABLE public.measurements (id int, at date, v int, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
  CREATE TABLE public.measurements_2024 PARTITION OF public.measurements FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
  CREATE TABLE public.measurements_2025 PARTITION OF public.measurements FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
  INSERT INTO public.measurements SELECT i, date '2024-06-01' + (i % 400), i FROM generate_series(1, 400) AS i;

  CREATE SCHEMA "${MIXED_SCHEMA}";
  CREATE TABLE "${MIXED_SCHEMA}"."Space Table" ("ID" int PRIMARY KEY, "note it" text);
  INSERT INTO "${MIXED_SCHEMA}"."Space Table" SELECT i, 'n''' || i FROM generate_series(1, 10) AS i;

  CREATE SEQUENCE public.invoice_numbers;
  SELECT nextval('public.invoice_numbers') FROM generate_series(1, 5);
  CREATE SEQUENCE public."주문 ""번호"" Seq";
  SELECT nextval('public."주문 ""번호"" Seq"');
  CREATE VIEW public.rich_accounts AS SELECT id, email FROM public.accounts WHERE balance > 100;
  CREATE MATERIALIZED VIEW public.account_count AS SELECT count(*) AS n FROM public.accounts;
  CREATE FUNCTION public.touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
  CREATE TRIGGER accounts_touch BEFORE UPDATE ON public.accounts FOR EACH ROW EXECUTE FUNCTION public.touch();
  CREATE INDEX accounts_email ON public.accounts (email);
`;

const KOREAN_TABLE = `public."${KOREAN.replace(/"/g, '""')}"`;

async function createOnBoth(pair: TestPair): Promise<void> {
  await pair.src(SCHEMA_AND_DATA);
  // Use up some OIDs on the target first, so its enum values get other OIDs than the source's, as on a real pair of servers.
  await pair.tgt(`CREATE TYPE public.oid_spacer AS ENUM ('a', 'b', 'c', 'd'); DROP TYPE public.oid_spacer`);
  await pair.tgt(SCHEMA_AND_DATA);
}

const verify = (pair: TestPair, extra: Partial<VerifyOptions> = {}): Promise<VerifyReport> =>
  runVerify({ source: pair.source, target: pair.target, mode: 'full', chunkRows: 100, log: silentLogger, ...extra });

const tableOf = (report: VerifyReport, schema: string, name: string): TableVerdict => {
  const t = report.tables.find((x) => x.table.schema === schema && x.table.name === name);
  if (!t) throw new Error(`no verdict for ${schema}.${name}: ${report.tables.map((x) => `${x.table.schema}.${x.table.name}`).join(', ')}`);
  return t;
};

describe('verify on equal data', () => {
  let pair: TestPair;
  beforeAll(async () => {
    pair = await freshPair('verify_equal');
    await createOnBoth(pair);
  });
  afterAll(() => pair?.drop());

  it('full mode: every table equal over several chunks, schemas and sequences equal, exit 0', async () => {
    const report = await verify(pair, { jobs: 3 });
    expect(report.schemaDrift).toEqual([]);
    expect(report.tables.map((t) => [`${t.table.schema}.${t.table.name}`, t.verdict]).sort()).toEqual([
      [`${MIXED_SCHEMA}.Space Table`, 'equal'],
      [`public.${KOREAN}`, 'equal'],
      ['public.accounts', 'equal'],
      ['public.audit_log', 'equal'],
      ['public.measurements_2024', 'equal'],
      ['public.measurements_2025', 'equal'],
      ['public.order_lines', 'equal'],
    ]);
    const accounts = tableOf(report, 'public', 'accounts');
    expect(accounts.sourceRows).toBe(1000);
    expect(accounts.targetRows).toBe(1000);
    // 1000 rows at 100 rows per chunk: the integer key is split by value into about ten chunks.
    expect(accounts.chunks).toBeGreaterThanOrEqual(10);
    // A text key and a composite key are walked in key order; 300 and 300 rows -> several chunks each.
    expect(tableOf(report, 'public', KOREAN).chunks).toBeGreaterThanOrEqual(3);
    expect(tableOf(report, 'public', 'order_lines').chunks).toBeGreaterThanOrEqual(3);
    expect(tableOf(report, 'public', 'audit_log').primaryKey).toBeNull();
    // The partitioned parent is not compared besides its leaves: each row counted once.
    expect(report.tables.some((t) => t.table.name === 'measurements')).toBe(false);
    expect(tableOf(report, 'public', 'measurements_2024').sourceRows + tableOf(report, 'public', 'measurements_2025').sourceRows).toBe(400);
    expect(report.sequences.find((s) => s.sequence.name === 'invoice_numbers')).toMatchObject({
      source: '5',
      target: '5',
      status: 'equal',
    });
    expect(report.materializedViews).toEqual([
      { view: { schema: 'public', name: 'account_count' }, sourceRows: 1, targetRows: 1, status: 'equal' },
    ]);
    expect(report.ok).toBe(true);
    expect(verifyExitCode(report)).toBe(0);
  });

  it('fast mode: exact counts on both sides, equal', async () => {
    const report = await verify(pair, { mode: 'fast' });
    expect(report.ok).toBe(true);
    expect(report.tables.every((t) => t.verdict === 'equal')).toBe(true);
    expect(tableOf(report, 'public', 'accounts')).toMatchObject({ sourceRows: 1000, targetRows: 1000 });
  });

  it('--tables picks tables by schema.name pattern, hostile names included', async () => {
    const report = await verify(pair, { tables: [`${MIXED_SCHEMA}.*`, 'public.measurements'] });
    expect(report.tables.map((t) => t.table.name).sort()).toEqual(['Space Table', 'measurements_2024', 'measurements_2025']);
  });
});

describe('verify after the target was changed behind the source', () => {
  let pair: TestPair;
  beforeAll(async () => {
    pair = await freshPair('verify_changed');
    await createOnBoth(pair);
    // What lost, doubled or corrupted writes look like on the target.
    await pair.tgt(`UPDATE public.accounts SET balance = balance + 0.01 WHERE id = 7`);
    await pair.tgt(`DELETE FROM public.accounts WHERE id = 500`);
    await pair.tgt(`INSERT INTO public.accounts (id, email, created) VALUES (5000, 'ghost@example.com', '2024-01-01')`);
    await pair.tgt(`UPDATE ${KOREAN_TABLE} SET "Mixed Case" = 'changed' WHERE "Key Col" = 'k-0003'`);
    await pair.tgt(`DELETE FROM ${KOREAN_TABLE} WHERE "Key Col" = 'k-0150'`);
    await pair.tgt(`INSERT INTO ${KOREAN_TABLE} VALUES ('가-new', 1, 'x')`);
    await pair.tgt(`DELETE FROM public.order_lines WHERE order_id = 2 AND line_no = 1`);
    await pair.tgt(`UPDATE public.order_lines SET qty = -1 WHERE order_id = 40 AND line_no = 6`);
    // audit_log has duplicates ('kind1','payload 1' exists 5 times): remove exactly one copy.
    await pair.tgt(
      `DELETE FROM public.audit_log WHERE ctid = (SELECT min(ctid) FROM public.audit_log WHERE kind = 'kind1' AND payload = 'payload 1')`,
    );
    await pair.tgt(`UPDATE public.measurements SET v = 0 WHERE id = 10`);
  });
  afterAll(() => pair?.drop());

  it.each(['auto', 'text'] as const)(
    'full mode (row digest %s) fails and names each table and the exact keys per category',
    async (rowDigest) => {
      const report = await verify(pair, { jobs: 2, rowDigest });
      expect(report.ok).toBe(false);
      expect(verifyExitCode(report)).toBe(1);

      const accounts = tableOf(report, 'public', 'accounts');
      expect(accounts.verdict).toBe('differs');
      expect(accounts.differences).toMatchObject({
        missingOnTarget: 1,
        extraOnTarget: 1,
        changed: 1,
        keys: { missingOnTarget: [{ id: '500' }], extraOnTarget: [{ id: '5000' }], changed: [{ id: '7' }] },
        capped: false,
      });

      const korean = tableOf(report, 'public', KOREAN);
      expect(korean.verdict).toBe('differs');
      expect(korean.differences?.keys).toEqual({
        missingOnTarget: [{ 'Key Col': 'k-0150' }],
        extraOnTarget: [{ 'Key Col': '가-new' }],
        changed: [{ 'Key Col': 'k-0003' }],
      });

      const lines = tableOf(report, 'public', 'order_lines');
      expect(lines.differences?.keys).toEqual({
        missingOnTarget: [{ order_id: '2', line_no: '1' }],
        extraOnTarget: [],
        changed: [{ order_id: '40', line_no: '6' }],
      });

      const audit = tableOf(report, 'public', 'audit_log');
      expect(audit.verdict).toBe('differs');
      expect(audit).toMatchObject({ sourceRows: 200, targetRows: 199 });
      expect(audit.differences).toMatchObject({
        missingOnTarget: 1,
        extraOnTarget: 0,
        keys: { missingOnTarget: [{ row: '(kind1,"payload 1")', copies: '1' }] },
      });

      expect(tableOf(report, 'public', 'measurements_2024').differences?.keys.changed).toEqual([{ id: '10', at: expect.any(String) }]);
      expect(tableOf(report, 'public', 'measurements_2025').verdict).toBe('equal');
      expect(tableOf(report, MIXED_SCHEMA, 'Space Table').verdict).toBe('equal');
      // Only the chunks around the changed keys differed.
      expect(accounts.mismatchedChunks).toBeLessThan(accounts.chunks!);
    },
  );

  it('caps the keys listed per table and says so', async () => {
    await pair.tgt(`DELETE FROM public.accounts WHERE id BETWEEN 900 AND 949`);
    const report = await verify(pair, { tables: ['public.accounts'], maxKeysPerTable: 5 });
    const accounts = tableOf(report, 'public', 'accounts');
    expect(accounts.differences?.missingOnTarget).toBe(51);
    expect(accounts.differences?.keys.missingOnTarget).toHaveLength(5);
    expect(accounts.differences?.capped).toBe(true);
  });

  it('fast mode sees the keyless table lost a row (counts differ)', async () => {
    const report = await verify(pair, { mode: 'fast', tables: ['public.audit_log'] });
    expect(tableOf(report, 'public', 'audit_log')).toMatchObject({ verdict: 'differs', sourceRows: 200, targetRows: 199 });
    expect(report.ok).toBe(false);
  });
});

describe('verify: schema drift, sequences, missing tables', () => {
  let pair: TestPair;
  beforeAll(async () => {
    pair = await freshPair('verify_drift');
    await createOnBoth(pair);
  });
  afterAll(() => pair?.drop());

  it('a sequence behind the source is reported but ok, unless strict', async () => {
    await pair.src(`SELECT nextval('public.invoice_numbers') FROM generate_series(1, 3)`);
    await pair.src(`SELECT nextval('public."주문 ""번호"" Seq"')`);
    const report = await verify(pair, { mode: 'fast' });
    expect(report.sequences.find((s) => s.sequence.name === 'invoice_numbers')).toMatchObject({
      source: '8',
      target: '5',
      status: 'behind',
    });
    expect(report.sequences.find((s) => s.sequence.name === '주문 "번호" Seq')).toMatchObject({
      source: '2',
      target: '1',
      status: 'behind',
    });
    expect(report.sequences.find((s) => s.sequence.name === 'accounts_id_seq')).toMatchObject({
      source: '1000',
      target: '1000',
      status: 'equal',
    });
    expect(report.summary.sequencesBehind).toBe(2);
    expect(report.ok).toBe(true);
    const strict = await verify(pair, { mode: 'fast', strict: true });
    expect(strict.ok).toBe(false);
  });

  it('DDL on the source after the copy shows up as schema drift; data is compared on the common columns', async () => {
    // What full-load would keep: the source's schema at copy time.
    const atFullLoad = await admin('source', pair.name, (c) => snapshotSchema(c));
    await pair.src(`ALTER TABLE public.accounts ADD COLUMN "nick name" text`);
    await pair.src(`CREATE INDEX accounts_created ON public.accounts (created)`);
    await pair.src(`CREATE TABLE public.only_on_source (id int PRIMARY KEY)`);
    await pair.src(`INSERT INTO public.only_on_source VALUES (1), (2)`);
    // The lookup index cdc start may add on the target for a REPLICA IDENTITY FULL table is pgshift's own.
    await pair.tgt(`CREATE INDEX pgshift_ri_audit_log_0a1b2c3d ON public.audit_log (payload)`);
    const report = await verify(pair);
    expect(report.schemaDrift.filter((d) => d.kind === 'index').map((d) => d.object)).toEqual([
      'public.accounts_created',
      'public.only_on_source_pkey',
    ]);
    expect(report.schemaDrift).toEqual(
      expect.arrayContaining([
        { kind: 'column', object: 'public.accounts.nick name', change: 'missing-on-target', source: 'text' },
        expect.objectContaining({ kind: 'index', object: 'public.accounts_created', change: 'missing-on-target' }),
        expect.objectContaining({ kind: 'table', object: 'public.accounts', change: 'differs' }),
        expect.objectContaining({ kind: 'table', object: 'public.only_on_source', change: 'missing-on-target' }),
      ]),
    );
    const accounts = tableOf(report, 'public', 'accounts');
    expect(accounts.verdict).toBe('equal');
    expect(accounts.notes.join(' ')).toContain('nick name');
    expect(tableOf(report, 'public', 'only_on_source')).toMatchObject({ verdict: 'missing-on-target', sourceRows: 2, targetRows: null });
    expect(report.ok).toBe(false);
    expect(report.sourceChangedSinceSnapshot).toBeUndefined();

    const sinceFullLoad = await verify(pair, { mode: 'fast', expectSchema: JSON.parse(JSON.stringify(atFullLoad)) });
    expect(sinceFullLoad.sourceChangedSinceSnapshot).toEqual(
      expect.arrayContaining([{ kind: 'column', object: 'public.accounts.nick name', change: 'added', after: 'text' }]),
    );
  });
});

describe('verify under CDC: rechecks after catch-up', () => {
  let pair: TestPair;
  beforeAll(async () => {
    pair = await freshPair('verify_recheck');
    await createOnBoth(pair);
  });
  afterAll(() => pair?.drop());

  it('a table that differs at first and is equal once the target applied past the LSN is reported as converged', async () => {
    // The target has not applied these yet, as under replication lag.
    await pair.src(`UPDATE public.accounts SET balance = 1 WHERE id = 42`);
    await pair.src(`INSERT INTO ${KOREAN_TABLE} VALUES ('k-9999', 9999, 'late')`);
    const lsns: string[] = [];
    const report = await verify(pair, {
      waitForCatchUp: async (lsn) => {
        lsns.push(lsn);
        // What the subscription would do: apply the pending changes.
        await pair.tgt(`UPDATE public.accounts SET balance = 1 WHERE id = 42`);
        await pair.tgt(`INSERT INTO ${KOREAN_TABLE} VALUES ('k-9999', 9999, 'late')`);
        return true;
      },
    });
    expect(lsns).toHaveLength(1);
    expect(lsns[0]).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
    expect(tableOf(report, 'public', 'accounts')).toMatchObject({ verdict: 'converged-after-recheck', rechecks: 1 });
    expect(tableOf(report, 'public', KOREAN)).toMatchObject({
      verdict: 'converged-after-recheck',
      rechecks: 1,
      sourceRows: 301,
      targetRows: 301,
    });
    expect(tableOf(report, 'public', 'order_lines').verdict).toBe('equal');
    expect(report.summary.convergedAfterRecheck).toBe(2);
    expect(report.ok).toBe(true);
  });

  it('when the target does not catch up in time, the difference is reported without a recheck', async () => {
    await pair.tgt(`DELETE FROM public.accounts WHERE id = 77`);
    const report = await verify(pair, { tables: ['public.accounts'], waitForCatchUp: async () => false });
    const accounts = tableOf(report, 'public', 'accounts');
    expect(accounts).toMatchObject({ verdict: 'did-not-converge', rechecks: 0 });
    expect(accounts.notes.join(' ')).toMatch(/did not apply past the source's [0-9A-F]+\/[0-9A-F]+ in time/);
    expect(accounts.differences?.keys.missingOnTarget).toEqual([{ id: '77' }]);
    // Put the row back as the source has it, for the next test.
    const { rows } = await pair.src(`SELECT row_to_json(a) AS r FROM public.accounts a WHERE id = 77`);
    await pair.tgt(`INSERT INTO public.accounts SELECT * FROM json_populate_record(NULL::public.accounts, $1)`, [rows[0].r]);
  });

  it('a difference that stays is reported as did-not-converge after the rechecks, with its keys', async () => {
    await pair.tgt(`DELETE FROM public.order_lines WHERE order_id = 3 AND line_no = 3`);
    let calls = 0;
    const report = await verify(pair, { rechecks: 2, waitForCatchUp: async () => (calls++, true) });
    expect(calls).toBe(2);
    const lines = tableOf(report, 'public', 'order_lines');
    expect(lines).toMatchObject({ verdict: 'did-not-converge', rechecks: 2 });
    expect(lines.differences?.keys.missingOnTarget).toEqual([{ order_id: '3', line_no: '3' }]);
    expect(report.ok).toBe(false);
  });
});

describe('verify under CDC: a row on one side only is reported whatever its key', () => {
  let pair: TestPair;
  beforeAll(async () => {
    pair = await freshPair('verify_one_side');
    await createOnBoth(pair);
  });
  afterAll(() => pair?.drop());

  // The target has applied everything there is (nothing is written), so every recheck sees the same.
  const caughtUp = async () => true;

  it("a row on the target only, above the source's highest key, is extra on target — not converged", async () => {
    await pair.tgt(`INSERT INTO public.accounts (id, email, created) VALUES (5000, 'ghost@example.com', now())`);
    try {
      const report = await verify(pair, { tables: ['public.accounts'], waitForCatchUp: caughtUp });
      const accounts = tableOf(report, 'public', 'accounts');
      expect(accounts.verdict).toBe('did-not-converge');
      expect(accounts.differences).toMatchObject({ missingOnTarget: 0, extraOnTarget: 1, changed: 0 });
      expect(accounts.differences?.keys.extraOnTarget).toEqual([{ id: '5000' }]);
      expect(report.ok).toBe(false);
      expect(verifyExitCode(report)).toBe(1);
    } finally {
      await pair.tgt(`DELETE FROM public.accounts WHERE id = 5000`);
    }
  });

  it('a row on the source only is missing on target, named by its key', async () => {
    await pair.tgt(`DELETE FROM public.accounts WHERE id = 1000`);
    try {
      const report = await verify(pair, { tables: ['public.accounts'], waitForCatchUp: caughtUp });
      const accounts = tableOf(report, 'public', 'accounts');
      expect(accounts.verdict).toBe('did-not-converge');
      expect(accounts.differences).toMatchObject({ missingOnTarget: 1, extraOnTarget: 0, changed: 0 });
      expect(accounts.differences?.keys.missingOnTarget).toEqual([{ id: '1000' }]);
      expect(report.ok).toBe(false);
    } finally {
      const { rows } = await pair.src(`SELECT row_to_json(a) AS r FROM public.accounts a WHERE id = 1000`);
      await pair.tgt(`INSERT INTO public.accounts SELECT * FROM json_populate_record(NULL::public.accounts, $1)`, [rows[0].r]);
    }
  });

  it('a row changed on the target is changed, named by its key', async () => {
    await pair.tgt(`UPDATE public.accounts SET email = 'changed@example.com' WHERE id = 250`);
    const report = await verify(pair, { tables: ['public.accounts'], waitForCatchUp: caughtUp });
    const accounts = tableOf(report, 'public', 'accounts');
    expect(accounts.verdict).toBe('did-not-converge');
    expect(accounts.differences).toMatchObject({ missingOnTarget: 0, extraOnTarget: 0, changed: 1 });
    expect(accounts.differences?.keys.changed).toEqual([{ id: '250' }]);
    expect(report.ok).toBe(false);
  });
});

describe('verify when the sides sort text differently', () => {
  let pair: TestPair;
  beforeAll(async () => {
    pair = await freshPair('verify_collation');
    // Same rows; the target's key column has another collation, as a restore onto a server with another default would give.
    await pair.src(`CREATE TABLE public.codes (code text PRIMARY KEY, label text)`);
    await pair.tgt(`CREATE TABLE public.codes (code text COLLATE "POSIX" PRIMARY KEY, label text)`);
    for (const run of [pair.src, pair.tgt]) {
      await run(
        `INSERT INTO public.codes SELECT c, 'label ' || c FROM unnest(ARRAY['a', 'B', 'b', 'Z', 'z', '_x', '가', 'Ä', '10', '9', 'a b', 'A']) AS c`,
      );
      await run(`INSERT INTO public.codes SELECT 'code-' || i, 'n' FROM generate_series(1, 60) AS i`);
    }
    await pair.tgt(`DELETE FROM public.codes WHERE code = 'Z'`);
  });
  afterAll(() => pair?.drop());

  it('compares key ranges under COLLATE "C" and still finds exactly the missing key', async () => {
    const report = await verify(pair, { chunkRows: 7 });
    const codes = tableOf(report, 'public', 'codes');
    expect(codes.notes.join(' ')).toContain('COLLATE "C"');
    expect(codes.chunks).toBeGreaterThan(5);
    expect(codes.differences).toMatchObject({
      missingOnTarget: 1,
      extraOnTarget: 0,
      changed: 0,
      keys: { missingOnTarget: [{ code: 'Z' }] },
    });
    expect(report.schemaDrift).toEqual([expect.objectContaining({ kind: 'column', object: 'public.codes.code', change: 'differs' })]);
  });
});

describe('verify with a stale row estimate', () => {
  let pair: TestPair;
  beforeAll(async () => {
    pair = await freshPair('verify_stale_stats');
    for (const run of [pair.src, pair.tgt]) {
      // Analyzed at 10 rows, then grown to 1000 without a new ANALYZE: the value split plans one chunk for all of it.
      await run(`CREATE TABLE public.stale (id int PRIMARY KEY, v text) WITH (autovacuum_enabled = false)`);
      await run(`INSERT INTO public.stale SELECT i, 'v' || i FROM generate_series(1, 10) AS i`);
      await run(`ANALYZE public.stale`);
      await run(`INSERT INTO public.stale SELECT i, 'v' || i FROM generate_series(11, 1000) AS i`);
    }
    await pair.tgt(`UPDATE public.stale SET v = 'changed' WHERE id = 777`);
  });
  afterAll(() => pair?.drop());

  it('splits an oversized differing chunk before narrowing and still names the key', async () => {
    const report = await verify(pair);
    const stale = tableOf(report, 'public', 'stale');
    expect(stale.chunks).toBe(1);
    expect(stale.sourceRows).toBe(1000);
    expect(stale.notes.join(' ')).toMatch(/differing chunk of 1000 rows was split into \d+/);
    expect(stale.differences).toMatchObject({ missingOnTarget: 0, extraOnTarget: 0, changed: 1, keys: { changed: [{ id: '777' }] } });
  });
});
