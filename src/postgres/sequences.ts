/**
 * Sequences are not replicated (docs/design.md rule 5). Full-load copies them once; cutover sets
 * every one of them — owned by a column or standalone (Hibernate-style) — from the source.
 */
import type pg from 'pg';
import type { RelationName } from './sql.js';
import { applicationSchema } from './schemas.js';

export interface SequenceValue extends RelationName {
  /** null when nextval was never called. */
  lastValue: string | null;
  increment: string;
}

export async function readSequences(client: pg.Client): Promise<SequenceValue[]> {
  const res = await client.query(
    `SELECT schemaname AS schema, sequencename AS name, last_value::text AS last_value, increment_by::text AS increment
       FROM pg_sequences
      WHERE ${applicationSchema('schemaname')}
      ORDER BY 1, 2`,
  );
  return res.rows.map((r) => ({ schema: r.schema, name: r.name, lastValue: r.last_value, increment: r.increment }));
}

/**
 * Set each sequence on `client` to the given value plus `margin` increments (margin covers
 * values handed out on the old primary between our read and the freeze taking hold).
 * Sequences that were never used stay untouched unless a margin asks to move them.
 */
export async function applySequences(client: pg.Client, values: SequenceValue[], margin = 0): Promise<number> {
  let applied = 0;
  for (const s of values) {
    if (s.lastValue === null && margin === 0) continue;
    await client.query(
      `SELECT setval(format('%I.%I', $1::text, $2::text)::regclass,
                     (CASE WHEN $3::numeric IS NULL THEN (SELECT start_value FROM pg_sequences WHERE schemaname = $1 AND sequencename = $2)
                          ELSE $3::numeric END + $4::numeric * $5::numeric)::bigint,
                     $3::numeric IS NOT NULL OR $4::numeric <> 0)`,
      [s.schema, s.name, s.lastValue, margin, s.increment],
    );
    applied++;
  }
  return applied;
}
