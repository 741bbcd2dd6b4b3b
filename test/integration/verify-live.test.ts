/**
 * verify while real logical replication runs (source 15 -> target 17) and the source takes
 * writes during the first check: the tables that differ because of lag are rechecked once
 * the target has applied past the source's LSN, and converge.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { freshPair, type TestPair } from '../support/databases.js';
import { silentLogger } from '../../src/report/logger.js';
import { libpqConninfo } from '../../src/postgres/conninfo.js';
import { literal } from '../../src/postgres/sql.js';
import { catchUpWaiter } from '../../src/postgres/lsn.js';
import { runVerify } from '../../src/engine/verify/verify.js';

const SCHEMA = `
  CREATE TABLE public.accounts (id bigint PRIMARY KEY, balance numeric(12,2) NOT NULL, touched timestamptz);
  CREATE TABLE public."주문 Lines" ("Order" int, line int, qty int, PRIMARY KEY ("Order", line));
  CREATE TABLE public.events (kind text, at timestamptz);
  ALTER TABLE public.events REPLICA IDENTITY FULL;
`;

let pair: TestPair;

beforeAll(async () => {
  pair = await freshPair('verify_live');
  await pair.src(SCHEMA);
  await pair.tgt(SCHEMA);
  await pair.src(`INSERT INTO public.accounts SELECT i, i, NULL FROM generate_series(1, 20000) AS i`);
  await pair.src(`INSERT INTO public."주문 Lines" SELECT o, l, o + l FROM generate_series(1, 2000) AS o, generate_series(1, 5) AS l`);
  await pair.src(`INSERT INTO public.events SELECT 'seed', timestamptz '2024-01-01' + i * interval '1 s' FROM generate_series(1, 3000) AS i`);
  await pair.src(`CREATE PUBLICATION verify_live FOR ALL TABLES`);
  await pair.tgt(`CREATE SUBSCRIPTION verify_live CONNECTION ${literal(libpqConninfo(pair.source, { includePassword: true }))} PUBLICATION verify_live`);
  // The initial copy finishes when every table is 'r'eady.
  for (let i = 0; i < 600; i++) {
    const { rows } = await pair.tgt(`SELECT count(*) FILTER (WHERE srsubstate <> 'r') AS pending, count(*) AS total FROM pg_subscription_rel`);
    if (Number(rows[0].total) === 3 && Number(rows[0].pending) === 0) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('the subscription did not finish its initial copy');
});
afterAll(() => pair?.drop());

it('tables that differ under live writes converge after the target catches up', async () => {
  let writing = true;
  let writes = 0;
  // A writer on the source that keeps changing all three tables until verify first waits for catch-up.
  const writer = (async () => {
    for (let i = 0; writing; i++) {
      await pair.src(
        `WITH a AS (UPDATE public.accounts SET balance = balance + 1, touched = now() WHERE id % 97 = $1 RETURNING 1),
              l AS (UPDATE public."주문 Lines" SET qty = qty + 1 WHERE "Order" % 53 = $1 % 53 RETURNING 1)
         INSERT INTO public.events SELECT 'write', now() FROM generate_series(1, 20)`,
        [i % 97],
      );
      writes++;
    }
  })();
  const waitForApplied = catchUpWaiter(pair.source, 'verify_live', 30_000);
  const lsns: string[] = [];
  // Let the writer get going so the first check overlaps it.
  while (writes < 5) await new Promise((r) => setTimeout(r, 10));
  const report = await runVerify({
    source: pair.source,
    target: pair.target,
    mode: 'full',
    chunkRows: 2000,
    log: silentLogger,
    waitForCatchUp: async (lsn) => {
      lsns.push(lsn);
      writing = false;
      await writer;
      return waitForApplied(lsn);
    },
  });
  writing = false;
  await writer;

  expect(writes).toBeGreaterThan(5);
  expect(report.tables.map((t) => t.verdict).every((v) => v === 'equal' || v === 'converged-after-recheck')).toBe(true);
  // Whatever differed at the first check was lag, and the report says so.
  const converged = report.tables.filter((t) => t.verdict === 'converged-after-recheck');
  expect(converged.length > 0).toBe(lsns.length > 0);
  for (const t of converged) expect(t.rechecks).toBeGreaterThanOrEqual(1);
  expect(report.schemaDrift).toEqual([]);
  expect(report.ok).toBe(true);

  // And an independent check on the final state: plain counts agree.
  const [s, t] = await Promise.all([pair.src(`SELECT count(*) AS n FROM public.events`), pair.tgt(`SELECT count(*) AS n FROM public.events`)]);
  expect(t.rows[0].n).toBe(s.rows[0].n);
});
