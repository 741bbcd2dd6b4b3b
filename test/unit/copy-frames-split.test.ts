/**
 * The CopyOutFrames scanner against every way a socket can cut the server's byte stream: frames
 * of 0 to 300 bytes, notices between them, CopyDone and what pg must see after it, fed in pieces
 * of 1 to 200 bytes. The integration tests (copy-frames.test.ts) run real servers; this one
 * reaches the split points a real socket hits only by chance. Seeded, so a failure reproduces.
 */
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { CopyOutFrames } from '../../src/postgres/copy-frames.js';

/** mulberry32: a small deterministic PRNG. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const message = (type: string, payload: Buffer): Buffer => {
  const b = Buffer.alloc(5 + payload.length);
  b[0] = type.charCodeAt(0);
  b.writeUInt32BE(4 + payload.length, 1);
  payload.copy(b, 5);
  return b;
};

/** Every chunk the stream emits must be a run of whole CopyData frames. */
function wholeFrames(chunk: Buffer): boolean {
  let i = 0;
  while (i < chunk.length) {
    if (chunk[i] !== 0x64 || i + 5 > chunk.length) return false;
    i += 1 + chunk.readUInt32BE(i + 1);
  }
  return i === chunk.length;
}

async function runTrial(
  random: () => number,
): Promise<{ emitted: Buffer[]; expected: Buffer; toPg: Buffer; tail: Buffer; notices: number }> {
  const frames: Buffer[] = [];
  let notices = 0;
  const stream: Buffer[] = [message('H', Buffer.from([0, 0, 1, 0, 0]))];
  const rows = 1 + Math.floor(random() * 60);
  for (let k = 0; k < rows; k++) {
    const size = random() < 0.1 ? Math.floor(random() * 300) : Math.floor(random() * 12);
    const frame = message('d', Buffer.alloc(size, k % 251));
    frames.push(frame);
    stream.push(frame);
    if (random() < 0.05) {
      stream.push(message('N', Buffer.from('SNOTICE\0Mslow\0\0')));
      notices++;
    }
  }
  stream.push(message('c', Buffer.alloc(0)));
  // What follows CopyDone belongs to pg: CommandComplete and ReadyForQuery.
  const tail = Buffer.concat([message('C', Buffer.from(`COPY ${rows}\0`)), message('Z', Buffer.from('I'))]);
  stream.push(tail);
  const bytes = Buffer.concat(stream);

  const socket = new PassThrough();
  const toPg: Buffer[] = [];
  socket.on('data', (b: Buffer) => toPg.push(b)); // pg's own reader
  const out = new CopyOutFrames('COPY t TO STDOUT');
  out.submit({ stream: socket, query: () => undefined });
  const emitted: Buffer[] = [];
  out.on('data', (b: Buffer) => emitted.push(b));
  const ended = new Promise<void>((resolve, reject) => {
    out.on('end', resolve);
    out.on('error', reject);
  });
  for (let i = 0; i < bytes.length; ) {
    const step = 1 + Math.floor(random() * (random() < 0.5 ? 7 : 200));
    socket.write(bytes.subarray(i, i + step));
    i += step;
    // One socket read per write: let the stream take this piece before the next arrives.
    await new Promise((r) => setImmediate(r));
  }
  await ended;
  await new Promise((r) => setImmediate(r));
  return { emitted, expected: Buffer.concat(frames), toPg: Buffer.concat(toPg), tail, notices };
}

describe('CopyOutFrames under arbitrary socket splits', () => {
  it('passes every CopyData frame through whole and in order, and hands pg the notices and everything after CopyDone', async () => {
    const random = prng(20261126);
    for (let trial = 0; trial < 400; trial++) {
      const r = await runTrial(random);
      expect(Buffer.concat(r.emitted).equals(r.expected), `trial ${trial}: the frames`).toBe(true);
      expect(r.emitted.every(wholeFrames), `trial ${trial}: a chunk ending inside a frame`).toBe(true);
      // pg sees each notice (as one whole message) and then exactly the bytes after CopyDone.
      expect(r.toPg.subarray(r.toPg.length - r.tail.length).equals(r.tail), `trial ${trial}: the tail`).toBe(true);
      expect(r.toPg.length, `trial ${trial}: bytes handed to pg`).toBe(
        r.tail.length + r.notices * message('N', Buffer.from('SNOTICE\0Mslow\0\0')).length,
      );
    }
  }, 60_000);
});
