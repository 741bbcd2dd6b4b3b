/**
 * Sequences and materialized views are not replicated. While CDC runs, a target sequence
 * behind the source and a materialized view older than the source are expected (cutover
 * sets the sequences; a REFRESH rebuilds the views), so they are reported, and count as
 * differences only under --strict.
 */
import type pg from 'pg';
import { quoteRelation, relationKey, type RelationName } from '../../postgres/sql.js';
import type { MaterializedViewComparison, SequenceComparison, SequenceStatus } from './report.js';
import { applicationSchema } from '../../postgres/schemas.js';

interface SequenceRow {
  schema: string;
  name: string;
  last_value: string | null;
}

const SEQUENCES_SQL = `
  SELECT schemaname::text AS schema, sequencename::text AS name, last_value::text AS last_value
  FROM pg_catalog.pg_sequences
  WHERE ${applicationSchema('schemaname')}
  ORDER BY 1, 2`;

export async function compareSequences(source: pg.Client, target: pg.Client): Promise<SequenceComparison[]> {
  const [s, t] = await Promise.all([source.query<SequenceRow>(SEQUENCES_SQL), target.query<SequenceRow>(SEQUENCES_SQL)]);
  const onTarget = new Map(t.rows.map((r) => [relationKey(r), r]));
  return s.rows.map((row) => {
    const other = onTarget.get(relationKey(row));
    const sequence = { schema: row.schema, name: row.name };
    if (!other) return { sequence, source: row.last_value, target: null, status: 'missing-on-target' as const };
    return { sequence, source: row.last_value, target: other.last_value, status: sequenceStatus(row.last_value, other.last_value) };
  });
}

/** A sequence never called has last_value NULL: treat it as below any value it could have handed out. */
function sequenceStatus(source: string | null, target: string | null): SequenceStatus {
  if (source === target) return 'equal';
  if (source === null) return 'ahead';
  if (target === null) return 'behind';
  return BigInt(target) < BigInt(source) ? 'behind' : BigInt(target) > BigInt(source) ? 'ahead' : 'equal';
}

const MATVIEWS_SQL = `
  SELECT schemaname::text AS schema, matviewname::text AS name, ispopulated AS populated
  FROM pg_catalog.pg_matviews
  WHERE ${applicationSchema('schemaname')}
  ORDER BY 1, 2`;

interface MatviewRow extends RelationName {
  populated: boolean;
}

async function countRows(client: pg.Client, view: RelationName): Promise<number> {
  const { rows } = await client.query<{ n: string }>(`SELECT pg_catalog.count(*)::text AS n FROM ${quoteRelation(view)}`);
  return Number(rows[0].n);
}

/** Materialized views compared by row count: enough to tell a stale one; their contents are derived data. */
export async function compareMaterializedViews(source: pg.Client, target: pg.Client): Promise<MaterializedViewComparison[]> {
  const [s, t] = await Promise.all([source.query<MatviewRow>(MATVIEWS_SQL), target.query<MatviewRow>(MATVIEWS_SQL)]);
  const onTarget = new Map(t.rows.map((r) => [relationKey(r), r]));
  const out: MaterializedViewComparison[] = [];
  for (const row of s.rows) {
    const view = { schema: row.schema, name: row.name };
    const other = onTarget.get(relationKey(row));
    if (!other) {
      out.push({ view, sourceRows: row.populated ? await countRows(source, view) : null, targetRows: null, status: 'missing-on-target' });
      continue;
    }
    if (!row.populated || !other.populated) {
      out.push({
        view,
        sourceRows: row.populated ? await countRows(source, view) : null,
        targetRows: other.populated ? await countRows(target, view) : null,
        status: 'not-populated',
      });
      continue;
    }
    const [sourceRows, targetRows] = await Promise.all([countRows(source, view), countRows(target, view)]);
    out.push({ view, sourceRows, targetRows, status: sourceRows === targetRows ? 'equal' : 'stale' });
  }
  return out;
}
