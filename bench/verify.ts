/**
 * Benchmark: the plan's verify script against `pgshift verify --mode full`, same data, same run.
 *
 *   npm run bench:verify -- [--gb 1] [--jobs 2] [--string-agg-limit]
 *
 * Starts its own source (PostgreSQL 15) and target (17), creates the same ~N GB on both with
 * the same server-side SQL (deterministic generate_series rows), then times:
 *   - the plan's script (Phase 3): per table, count(*) on the source then the target, then
 *     `md5(string_agg(t::text, '' ORDER BY id))` on the source then the target, one query
 *     after the other as the bash loop does;
 *   - runVerify mode full: chunked sum(hashtextextended) on both sides at once.
 * Prints both times, the ratio, and peak memory: this process's RSS while each method ran
 * and the peak RSS (VmHWM) of the server backends doing the work.
 *
 * --string-agg-limit additionally builds one table whose text form is over 1 GB on the
 * source and runs the plan's checksum on it, to show the error it ends in.
 */
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { startLocalServer, type LocalServer } from '../src/rehearse/local-server.js';
import { parseConnInfo } from '../src/postgres/conninfo.js';
import { ident } from '../src/postgres/sql.js';
import { runVerify } from '../src/engine/verify/verify.js';
import { silentLogger } from '../src/log/logger.js';
import { withUrl } from '../src/postgres/connect.js';

const { values: args } = parseArgs({
  options: {
    gb: { type: 'string', default: '1' },
    jobs: { type: 'string', default: '2' },
    'string-agg-limit': { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
  },
});
const GB = Number(args.gb);
const DB = 'bench_verify';

/** Rows per GB, measured: orders ~190 B/row on disk, reviews ~560 B/row, events ~260 B/row (heap + toast). */
const rowsFor = (gb: number) => ({
  orders: Math.round(2_150_000 * gb),
  reviews: Math.round(1_700_000 * gb),
  events: Math.round(1_400_000 * gb),
});

const schemaSql = (rows: ReturnType<typeof rowsFor>) => `
  CREATE TABLE public.orders (
    id bigint PRIMARY KEY, customer_id int NOT NULL, status text NOT NULL, amount numeric(12,2) NOT NULL,
    created_at timestamptz NOT NULL, note text);
  CREATE TABLE public.reviews (
    id bigint PRIMARY KEY, order_id bigint NOT NULL, rating smallint NOT NULL, body text NOT NULL,
    created_at timestamptz NOT NULL, helpful real);
  CREATE TABLE public.events (
    id bigint PRIMARY KEY, kind text NOT NULL, payload jsonb NOT NULL, at timestamptz NOT NULL);
  INSERT INTO public.orders
    SELECT i, ((i::bigint * 7919) % 200000)::int, (ARRAY['new','paid','shipped','done'])[1 + i % 4], (i % 100000) / 100.0,
           timestamptz '2024-01-01 00:00:00+00' + i * interval '13 seconds',
           CASE WHEN i % 3 = 0 THEN NULL ELSE 'note ' || md5(i::text) || md5((i + 1)::text) END
    FROM generate_series(1, ${rows.orders}) AS i;
  INSERT INTO public.reviews
    SELECT i, 1 + (i::bigint * 31) % ${rows.orders}, 1 + i % 5,
           repeat(md5(i::text) || ' 맛있어요 ', 1 + i % 12),
           timestamptz '2024-01-01 00:00:00+00' + i * interval '17 seconds', (i % 1000) / 7.0
    FROM generate_series(1, ${rows.reviews}) AS i;
  INSERT INTO public.events
    SELECT i, (ARRAY['view','click','search','order'])[1 + i % 4],
           jsonb_build_object('user', i % 50000, 'path', '/r/' || (i % 9000), 'q', md5(i::text)),
           timestamptz '2024-01-01 00:00:00+00' + i * interval '3 seconds'
    FROM generate_series(1, ${rows.events}) AS i;
`;

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MB`;

/** Peak RSS of this process while `fn` runs, sampled every 20 ms. */
async function measured<T>(fn: () => Promise<T>): Promise<{ result: T; ms: number; peakRss: number }> {
  let peakRss = process.memoryUsage().rss;
  const timer = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 20);
  const started = performance.now();
  try {
    const result = await fn();
    return { result, ms: performance.now() - started, peakRss: Math.max(peakRss, process.memoryUsage().rss) };
  } finally {
    clearInterval(timer);
  }
}

/** Peak resident memory (VmHWM) of a server backend, read from /proc (the servers run on this machine). */
function backendPeak(pid: number): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** Watch every backend with application_name `name` on both servers and keep the largest VmHWM seen. */
function watchBackends(urls: string[], name: string): { stop: () => Promise<number> } {
  let peak = 0;
  let running = true;
  const loop = (async () => {
    const clients = await Promise.all(
      urls.map(async (u) => {
        const c = new pg.Client(u);
        c.on('error', () => undefined);
        await c.connect();
        return c;
      }),
    );
    while (running) {
      for (const c of clients) {
        const { rows } = await c.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE application_name = $1', [name]);
        for (const r of rows) peak = Math.max(peak, backendPeak(r.pid));
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    await Promise.all(clients.map((c) => c.end()));
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return peak;
    },
  };
}

/** The plan's Phase 3 script, query for query: counts, then the string_agg checksum, source then target. */
async function plansScript(
  sourceUrl: string,
  targetUrl: string,
): Promise<{ tables: { table: string; equal: boolean }[]; backendPeak: number }> {
  const open = async (url: string) => {
    const c = new pg.Client({ connectionString: url, application_name: 'plan script' });
    await c.connect();
    return c;
  };
  const [src, tgt] = [await open(sourceUrl), await open(targetUrl)];
  try {
    const tables = (
      await src.query<{ tablename: string }>(`SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1`)
    ).rows.map((r) => r.tablename);
    const out: { table: string; equal: boolean }[] = [];
    let peak = 0;
    const srcPid = (await src.query('SELECT pg_backend_pid() AS p')).rows[0].p;
    const tgtPid = (await tgt.query('SELECT pg_backend_pid() AS p')).rows[0].p;
    for (const table of tables) {
      const count = `SELECT count(*) FROM public.${ident(table)}`;
      const sum = `SELECT md5(string_agg(t::text, '' ORDER BY id)) AS m FROM public.${ident(table)} t`;
      const sc = (await src.query(count)).rows[0].count;
      const tc = (await tgt.query(count)).rows[0].count;
      const sm = (await src.query(sum)).rows[0].m;
      const tm = (await tgt.query(sum)).rows[0].m;
      out.push({ table, equal: sc === tc && sm === tm });
    }
    peak = Math.max(backendPeak(srcPid), backendPeak(tgtPid));
    return { tables: out, backendPeak: peak };
  } finally {
    await Promise.all([src.end(), tgt.end()]);
  }
}

async function main(): Promise<void> {
  console.log(`bench:verify — ${GB} GB on PostgreSQL 15 (source) and 17 (target), ${args.jobs} verify job(s)`);
  const servers: LocalServer[] = await Promise.all([
    startLocalServer({ major: 15, name: 'bench-verify-source' }),
    startLocalServer({ major: 17, name: 'bench-verify-target' }),
  ]);
  const [source, target] = servers;
  try {
    await Promise.all(servers.map((s) => withUrl(s.url(), (c) => c.query(`CREATE DATABASE ${ident(DB)}`))));
    const sourceUrl = source.url(DB);
    const targetUrl = target.url(DB);
    if (args.keep) console.log(`--keep: source ${sourceUrl}\n        target ${targetUrl}`);

    const rows = rowsFor(GB);
    const gen = await measured(() =>
      Promise.all(
        [sourceUrl, targetUrl].map((u) =>
          withUrl(u, async (c) => {
            await c.query(schemaSql(rows));
            // Hint bits and the visibility map set once, so neither method pays for them.
            await c.query('VACUUM (ANALYZE) public.orders, public.reviews, public.events');
          }),
        ),
      ),
    );
    const sizes = await withUrl(
      sourceUrl,
      async (c) =>
        (
          await c.query<{ heap: string; total: string; text: string }>(`
      SELECT sum(pg_table_size(c.oid))::text AS heap, sum(pg_total_relation_size(c.oid))::text AS total,
             (SELECT sum(octet_length(t::text)) FROM public.reviews t)::text AS text
      FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r'`)
        ).rows[0],
    );
    const totalRows = rows.orders + rows.reviews + rows.events;
    console.log(
      `data: ${totalRows.toLocaleString('en')} rows in 3 tables, ${mb(Number(sizes.heap))} of table data (${mb(Number(sizes.total))} with indexes) per side; generated in ${seconds(gen.ms)}`,
    );
    console.log(`      largest table's text form (reviews, what string_agg concatenates): ${mb(Number(sizes.text))}`);

    // Warm both servers' caches the same way before either method runs.
    await Promise.all(
      [sourceUrl, targetUrl].map((u) =>
        withUrl(u, (c) =>
          c.query(`SELECT count(*) FROM public.orders; SELECT count(*) FROM public.reviews; SELECT count(*) FROM public.events`),
        ),
      ),
    );

    const planWatch = watchBackends([source.url(), target.url()], 'plan script');
    const plan = await measured(() => plansScript(sourceUrl, targetUrl));
    const planServerPeak = Math.max(await planWatch.stop(), plan.result.backendPeak);
    console.log(
      `plan's script (count + md5(string_agg) per table, sides in turn): ${seconds(plan.ms)}  all equal: ${plan.result.tables.every((t) => t.equal)}`,
    );

    const oursWatch = watchBackends([source.url(), target.url()], 'pgshift verify');
    const ours = await measured(() =>
      runVerify({
        source: parseConnInfo(sourceUrl, 'source'),
        target: parseConnInfo(targetUrl, 'target'),
        mode: 'full',
        jobs: Number(args.jobs),
        log: silentLogger,
      }),
    );
    const oursServerPeak = await oursWatch.stop();
    const report = ours.result;
    const chunks = report.tables.reduce((n, t) => n + (t.chunks ?? 0), 0);
    console.log(`pgshift verify --mode full (${chunks} chunks, both sides at once): ${seconds(ours.ms)}  ok: ${report.ok}`);
    console.log('');
    console.log(`| method | time | ratio | process peak RSS | server backend peak RSS |`);
    console.log(`|---|---|---|---|---|`);
    console.log(
      `| plan: count + md5(string_agg(t::text, '' ORDER BY id)), source then target | ${seconds(plan.ms)} | 1.00 | ${mb(plan.peakRss)} | ${mb(planServerPeak)} |`,
    );
    console.log(
      `| pgshift verify --mode full | ${seconds(ours.ms)} | ${(ours.ms / plan.ms).toFixed(2)} | ${mb(ours.peakRss)} | ${mb(oursServerPeak)} |`,
    );
    console.log(
      `process maxRSS over the whole run: ${mb(process.resourceUsage().maxRSS * 1024)}; machine load average now ${loadavg()
        .map((l) => l.toFixed(1))
        .join(' ')} (other work on the machine slows both methods)`,
    );
    if (!report.ok || !plan.result.tables.every((t) => t.equal)) throw new Error('the two sides should be equal in this benchmark');

    if (args['string-agg-limit']) await stringAggLimit(sourceUrl);
  } finally {
    if (!args.keep) await Promise.all(servers.map((s) => s.destroy()));
  }
}

/** One table whose text form passes 1 GB: string_agg cannot build the string. */
async function stringAggLimit(sourceUrl: string): Promise<void> {
  await withUrl(sourceUrl, async (c) => {
    // ~1.1 GB of text: 1.1 M rows of 1,000 characters (compressed on disk by TOAST? no: under 2 kB stays inline).
    await c.query(`CREATE TABLE public.big_text (id bigint PRIMARY KEY, body text NOT NULL)`);
    await c.query(`INSERT INTO public.big_text SELECT i, repeat(md5(i::text), 31) FROM generate_series(1, 1100000) AS i`);
    const size = (await c.query(`SELECT sum(octet_length(t::text))::text AS n FROM public.big_text t`)).rows[0].n;
    const started = performance.now();
    try {
      await c.query(`SELECT md5(string_agg(t::text, '' ORDER BY id)) FROM public.big_text t`);
      console.log(`string_agg over ${mb(Number(size))} of text unexpectedly succeeded`);
    } catch (err) {
      console.log(
        `plan's checksum on a table with ${mb(Number(size))} of text: failed after ${seconds(performance.now() - started)}: ${(err as Error).message}${(err as { detail?: string }).detail ? ` (${(err as { detail?: string }).detail})` : ''}`,
      );
    }
    const ours = performance.now();
    const { rows } = await c.query(`SELECT count(*) AS n, sum(hashtextextended(t::text, 0)) AS h FROM public.big_text t`);
    console.log(`sum(hashtextextended(t::text, 0)) on the same table: ${seconds(performance.now() - ours)} (${rows[0].n} rows)`);
  });
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
