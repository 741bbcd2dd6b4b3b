/**
 * full-load --engine dms: the slot is made with test_decoding (what AWS DMS reads) and its exported
 * snapshot, and the load is the same as for the native engine. Under live writes, what the target got
 * from the copy and what the slot holds are disjoint and together exactly every acknowledged write —
 * read back with pg_logical_slot_peek_changes, the way DMS would read it (docs/design.md rule 1).
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runFullLoad, type FullLoadResult } from '../../src/engine/full-load/full-load.js';
import { migrationNames } from '../../src/engine/names.js';
import { PgshiftError } from '../../src/errors.js';
import { createSlotWithSnapshot, type SlotPlugin } from '../../src/postgres/slot.js';
import { silentLogger } from '../../src/log/logger.js';
import { freshPair, type TestPair } from '../support/databases.js';

let pair: TestPair;
const names = migrationNames('dms_slot');

/** One test_decoding line, e.g. `table public.ledger: INSERT: id[integer]:5 v[text]:'x'`. */
interface Change {
  op: 'INSERT' | 'UPDATE' | 'DELETE';
  id: number;
}
function parseChanges(lines: string[]): Change[] {
  const out: Change[] = [];
  for (const line of lines) {
    const m = /^table public\.ledger: (INSERT|UPDATE|DELETE): id\[integer\]:(\d+)/.exec(line);
    if (m) out.push({ op: m[1] as Change['op'], id: Number(m[2]) });
  }
  return out;
}

/** Inserts one row per transaction until stopped; records every id the server acknowledged. */
function startWriter(url: string) {
  const acked: number[] = [];
  let stop = false;
  const client = new pg.Client(url);
  client.on('error', () => undefined);
  const done = (async () => {
    await client.connect();
    while (!stop) {
      const r = await client.query<{ id: number }>(`INSERT INTO ledger (v) VALUES ('live') RETURNING id`);
      acked.push(r.rows[0]!.id);
    }
    await client.end();
  })();
  const until = async (n: number) => {
    while (acked.length < n) await new Promise((r) => setTimeout(r, 5));
  };
  return {
    acked,
    until,
    stop: async () => {
      stop = true;
      await done;
    },
  };
}

describe('full-load with a test_decoding slot (engine dms), under live writes', () => {
  let result: FullLoadResult;
  let acked: number[];
  let changes: Change[];
  let targetIds: number[];

  beforeAll(async () => {
    pair = await freshPair('pgshift_dms_slot');
    await pair.src(`CREATE TABLE ledger (id serial PRIMARY KEY, v text NOT NULL)`);
    await pair.src(`INSERT INTO ledger (v) SELECT 'before' FROM generate_series(1, 200)`);
    const writer = startWriter(pair.sourceUrl);
    await writer.until(20);
    result = await runFullLoad({
      source: pair.source,
      target: pair.target,
      names,
      jobs: 2,
      slotPlugin: 'test_decoding',
      log: silentLogger,
    });
    // Writes go on after the load: some of them must be in the slot, whatever the timing.
    const afterLoad = writer.acked.length;
    await writer.until(afterLoad + 20);
    await writer.stop();
    acked = [...writer.acked];
    // Changes to rows the copy has: the slot must carry them too. Committed with synchronous_commit on,
    // so the WAL is flushed past every earlier commit: peek reads only up to the flushed position.
    await pair.src(
      `BEGIN; SET LOCAL synchronous_commit = on; UPDATE ledger SET v = 'updated' WHERE id = 1; DELETE FROM ledger WHERE id = 2; COMMIT`,
    );
    const peek = await pair.src<{ data: string }>(`SELECT data FROM pg_logical_slot_peek_changes($1, NULL, NULL)`, [names.slot]);
    changes = parseChanges(peek.rows.map((r) => r.data));
    targetIds = (await pair.tgt<{ id: number }>(`SELECT id FROM ledger ORDER BY id`)).rows.map((r) => r.id);
  }, 120_000);

  afterAll(async () => {
    await pair?.src(`SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1`, [names.slot]);
    await pair?.drop();
  });

  it('made the slot with test_decoding and reports it', async () => {
    expect(result.slotPlugin).toBe('test_decoding');
    const slot = await pair.src(`SELECT plugin, slot_type FROM pg_replication_slots WHERE slot_name = $1`, [names.slot]);
    expect(slot.rows).toEqual([{ plugin: 'test_decoding', slot_type: 'logical' }]);
  });

  it('the copy and the slot are disjoint and together hold every acknowledged insert, each once', () => {
    const inserted = changes.filter((c) => c.op === 'INSERT').map((c) => c.id);
    expect(new Set(inserted).size).toBe(inserted.length);
    const inCopy = new Set(targetIds);
    expect(inserted.filter((id) => inCopy.has(id))).toEqual([]);
    const everyRow = [...Array.from({ length: 200 }, (_, i) => i + 1), ...acked].sort((a, b) => a - b);
    expect([...targetIds, ...inserted].sort((a, b) => a - b)).toEqual(everyRow);
    // Live writes fell on both sides of the snapshot.
    expect(inserted.length).toBeGreaterThanOrEqual(20);
    expect(targetIds.some((id) => id > 200)).toBe(true);
  });

  it('updates and deletes of copied rows are in the slot, after the inserts', () => {
    expect(changes.slice(-2)).toEqual([
      { op: 'UPDATE', id: 1 },
      { op: 'DELETE', id: 2 },
    ]);
  });

  it('an unknown plugin is refused before any slot is made', async () => {
    const err = await createSlotWithSnapshot(pair.source, 'dms_slot_bad', undefined, 'wal2json' as SlotPlugin).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PgshiftError);
    expect((err as PgshiftError).oneLine()).toMatch(/unknown slot plugin 'wal2json' — use one of pgoutput, test_decoding/);
    expect((await pair.src(`SELECT 1 FROM pg_replication_slots WHERE slot_name = 'dms_slot_bad'`)).rowCount).toBe(0);
  });
});
