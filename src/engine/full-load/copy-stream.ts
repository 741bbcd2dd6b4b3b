/**
 * One chunk moves as a streamed COPY source -> target through this process: no dump file on
 * disk, memory bounded by the stream buffers whatever the table size.
 */
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import pgCopy from 'pg-copy-streams';
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
export async function copyChunk(source: pg.Client, target: pg.Client, chunk: CopyChunk, onBytes: (n: number) => void): Promise<ChunkResult> {
  const cols = chunk.table.columns.map(ident).join(', ');
  const out = source.query(pgCopy.to(chunkSelect(chunk)));
  const into = target.query(pgCopy.from(`COPY ${quoteRelation(chunk.table)} (${cols}) FROM STDIN${copyFormat(chunk)}`));
  let bytes = 0;
  const meter = new Transform({
    transform(buf: Buffer, _enc, done) {
      bytes += buf.length;
      onBytes(buf.length);
      done(null, buf);
    },
  });
  await pipeline(out, meter, into);
  return { rows: into.rowCount, bytes };
}
