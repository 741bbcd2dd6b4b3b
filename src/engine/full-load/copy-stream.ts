/**
 * One chunk moves as a streamed COPY source -> target through this process: no dump file on
 * disk, memory bounded by the stream buffers whatever the table size. The CopyData frames pass
 * through unparsed (src/postgres/copy-frames.ts).
 */
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { CopyInFrames, CopyOutFrames } from '../../postgres/copy-frames.js';
import { ident, quoteRelation } from '../../postgres/sql.js';
import type { CopyChunk } from './tables.js';

export interface ChunkResult {
  rows: number;
  bytes: number;
}

/** SELECT for one chunk. Page bounds are integers we computed, formatted as tid literals. */
export function chunkSelect(chunk: CopyChunk): string {
  const cols = chunk.table.columns.map(ident).join(', ');
  const rel = quoteRelation(chunk.table);
  const format = copyFormat(chunk);
  if (chunk.fromPage === undefined) return `COPY ${rel} (${cols}) TO STDOUT${format}`;
  const bounds = [`ctid >= '(${Math.trunc(chunk.fromPage)},0)'::tid`];
  if (chunk.toPage !== undefined) bounds.push(`ctid < '(${Math.trunc(chunk.toPage)},0)'::tid`);
  return `COPY (SELECT ${cols} FROM ONLY ${rel} WHERE ${bounds.join(' AND ')}) TO STDOUT${format}`;
}

/** Binary where the table's types allow it: no text formatting on the source, no parsing on the target. */
const copyFormat = (chunk: CopyChunk): string => (chunk.table.binary ? ' (FORMAT binary)' : '');

/**
 * Stream one chunk. `source` must already be inside the snapshot transaction.
 */
export async function copyChunk(
  source: pg.Client,
  target: pg.Client,
  chunk: CopyChunk,
  onBytes: (n: number) => void,
): Promise<ChunkResult> {
  const cols = chunk.table.columns.map(ident).join(', ');
  const out = source.query(new CopyOutFrames(chunkSelect(chunk)));
  const into = target.query(new CopyInFrames(`COPY ${quoteRelation(chunk.table)} (${cols}) FROM STDIN${copyFormat(chunk)}`));
  let reported = 0;
  out.on('data', () => {
    onBytes(out.payloadBytes - reported);
    reported = out.payloadBytes;
  });
  await pipeline(out, into);
  return { rows: into.rowCount, bytes: out.payloadBytes };
}
