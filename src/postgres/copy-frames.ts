/**
 * COPY between two servers as the wire protocol's own CopyData frames, untouched.
 *
 * Why not pg-copy-streams for this: its COPY TO stream cuts every CopyData message out of the
 * socket buffer (several Buffer objects per row) and its COPY FROM stream wraps each chunk in
 * a new message again. On the 7.6 M-row benchmark that per-row work was 3.3 of the 3.9 CPU
 * seconds the pgshift process spent, on a 2-core machine whose cores the two servers already
 * fill. A CopyData message from the server ('d', int32 length, payload) is byte for byte the
 * message a client sends for COPY FROM STDIN, so the frames can go to the target socket as
 * they arrive: this module only walks the 5-byte headers to find where the data ends.
 *
 * Protocol (https://www.postgresql.org/docs/current/protocol-flow.html#PROTOCOL-COPY):
 *   COPY TO:   CopyOutResponse, CopyData*, CopyDone, CommandComplete, ReadyForQuery; an
 *              ErrorResponse may replace the rest; NoticeResponse/ParameterStatus may come
 *              between any of them.
 *   COPY FROM: CopyInResponse, then the client sends CopyData* and CopyDone (or CopyFail),
 *              and the server answers CommandComplete (or ErrorResponse), ReadyForQuery.
 *
 * Both classes are pg "submittables": `client.query(new CopyOutFrames(sql))` queues them like any
 * query. While COPY TO runs, CopyOutFrames reads the socket itself (pg would otherwise parse each
 * row into a message object) and gives everything after CopyDone — or from an ErrorResponse on —
 * back to pg's own parser, so the client carries on as usual afterwards.
 */
import { type Duplex, Readable, Writable } from 'node:stream';

const COPY_DATA = 0x64; // 'd'
const COPY_DONE = 0x63; // 'c'
const COPY_FAIL = 0x66; // 'f'
const ERROR_RESPONSE = 0x45; // 'E'
const COPY_OUT_RESPONSE = 0x48; // 'H'
const HEADER = 5; // type byte + int32 length (the length counts itself, not the type byte)
/** Bytes CopyInFrames lets queue up in the target socket before it waits: memory stays bounded. */
const IN_FLIGHT_BYTES = 1 << 20;

/** The part of pg's Connection a submittable uses (the socket, plain or TLS, and the simple query). */
interface PgConnection {
  readonly stream: Duplex;
  query(text: string): void;
}

type DataHandler = (chunk: Buffer) => void;

const commandRowCount = (msg: { text?: string } | undefined): number | undefined => {
  const m = /^COPY (\d+)/.exec(msg?.text ?? '');
  return m ? Number(m[1]) : undefined;
};

/**
 * `COPY ... TO STDOUT` as a Readable of whole CopyData frames (headers included; a chunk never
 * ends inside one), ready to be written to a CopyInFrames. `payloadBytes` counts the data
 * without the headers.
 */
export class CopyOutFrames extends Readable {
  rowCount = 0;
  payloadBytes = 0;
  private connection: PgConnection | undefined;
  private pgDataHandler: DataHandler | undefined;
  /**
   * The start of a message that has not fully arrived. Only whole frames are passed on, so a
   * COPY FROM aborted between two writes never leaves the target half a message to misread.
   */
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** Size of that message once its header is in (0 while fewer than 5 bytes are). */
  private pendingSize = 0;
  private wanted = false;
  /** Destroyed before CopyDone: the rest of the output is read and dropped so pg gets its socket back. */
  private discarding = false;
  private pumping = false;
  private readonly onReadable = () => this.pump();

  constructor(readonly text: string) {
    super({ highWaterMark: 1 << 20 });
  }

  /** Called by pg when the query reaches the front of the client's queue. */
  submit(connection: PgConnection): void {
    this.connection = connection;
    const socket = connection.stream;
    const handlers = socket.listeners('data') as DataHandler[];
    // pg reads its socket through exactly one 'data' listener; anything else means pg changed.
    if (handlers.length !== 1) throw new Error(`COPY stream: expected pg's single socket reader, found ${handlers.length}`);
    this.pgDataHandler = handlers[0];
    socket.removeListener('data', this.pgDataHandler!);
    socket.pause();
    socket.on('readable', this.onReadable);
    connection.query(this.text);
  }

  override _read(): void {
    this.wanted = true;
    this.pump();
  }

  /**
   * The consumer gave up (the target failed): keep reading the source's output to its end and
   * drop it, then hand the socket back, so this session can still COMMIT and be reused. The
   * rest of one chunk is all there is to read (a range of pages, not the whole table).
   */
  override _destroy(err: Error | null, done: (err?: Error | null) => void): void {
    this.discarding = true;
    process.nextTick(() => this.pump());
    done(err);
  }

  /** Move socket chunks into this stream while the consumer wants more (or while discarding). */
  private pump(): void {
    if (this.pumping || !this.connection || !this.pgDataHandler) return;
    this.pumping = true;
    try {
      const socket = this.connection.stream;
      while ((this.wanted || this.discarding) && this.pgDataHandler) {
        const chunk = socket.read() as Buffer | null;
        if (chunk === null) break;
        this.wanted = this.scan(chunk);
      }
    } finally {
      this.pumping = false;
    }
  }

  /** Take one socket chunk; returns whether the consumer wants more. */
  private scan(chunk: Buffer): boolean {
    if (this.pendingBytes === 0) return this.scanWhole(chunk);
    let rest = chunk;
    if (this.pendingSize === 0) {
      // Not even the 5-byte header of the pending message is in yet.
      const take = Math.min(HEADER - this.pendingBytes, chunk.length);
      this.pending.push(chunk.subarray(0, take));
      this.pendingBytes += take;
      if (this.pendingBytes < HEADER) return true;
      const header = Buffer.concat(this.pending, HEADER);
      this.pending = [header];
      this.pendingSize = header[0] === ERROR_RESPONSE ? HEADER : 1 + header.readUInt32BE(1);
      rest = chunk.subarray(take);
    }
    if (this.pending[0]![0] !== COPY_DATA) {
      // CopyDone, ErrorResponse or a notice cut by the socket (rare): join it all and go on from there.
      const all = Buffer.concat([...this.pending, rest]);
      this.clearPending();
      return this.scanWhole(all);
    }
    const need = this.pendingSize - this.pendingBytes;
    if (need > rest.length) {
      // A big row arrives over many socket reads: its pieces are joined once, when it is complete.
      this.pending.push(rest);
      this.pendingBytes += rest.length;
      return true;
    }
    // Join only the one frame that straddles the reads, not the whole chunk (that would copy
    // every byte a second time), then go on with the rest of the chunk in place.
    const frame = Buffer.concat([...this.pending, rest.subarray(0, need)]);
    this.clearPending();
    const wanted = this.scanWhole(frame);
    return this.scanWhole(rest.subarray(need)) && wanted;
  }

  private clearPending(): void {
    this.pending = [];
    this.pendingBytes = 0;
    this.pendingSize = 0;
  }

  /** Walk the message headers of a buffer that starts on a message boundary. */
  private scanWhole(buf: Buffer): boolean {
    const end = buf.length;
    let i = 0;
    let runStart = 0;
    let wanted = true;
    const flushRun = (upTo: number) => {
      if (upTo > runStart && !this.discarding) wanted = this.push(buf.subarray(runStart, upTo)) && wanted;
      runStart = upTo;
    };
    while (end - i >= HEADER) {
      const type = buf[i]!;
      if (type === ERROR_RESPONSE) {
        flushRun(i);
        // pg parses the error (and the ReadyForQuery after it) and calls handleError.
        this.giveBackToPg(buf.subarray(i));
        return false;
      }
      const size = 1 + buf.readUInt32BE(i + 1);
      if (i + size > end) {
        this.pendingSize = size;
        break;
      }
      if (type === COPY_DATA) {
        this.payloadBytes += size - HEADER;
        i += size;
        continue;
      }
      // Not data: what came before it goes out as is; the message itself never reaches the target.
      flushRun(i);
      if (type === COPY_DONE) {
        this.giveBackToPg(buf.subarray(i + size));
        if (!this.discarding) this.push(null);
        return false;
      }
      // NoticeResponse, ParameterStatus...: pg's parser raises them as usual ('notice' events).
      if (type !== COPY_OUT_RESPONSE) this.pgDataHandler!(buf.subarray(i, i + size));
      i += size;
      runStart = i;
    }
    flushRun(i);
    if (i < end) {
      this.pending = [buf.subarray(i)];
      this.pendingBytes = end - i;
    }
    return wanted;
  }

  /** Hand the socket back to pg with the bytes it has not seen yet. */
  private giveBackToPg(rest: Buffer): void {
    const socket = this.connection!.stream;
    const handler = this.pgDataHandler!;
    this.pgDataHandler = undefined;
    socket.removeListener('readable', this.onReadable);
    socket.on('data', handler);
    if (rest.length > 0) handler(rest);
    // Resume on the next tick: pg's handler may itself pause the socket while it runs.
    process.nextTick(() => socket.resume());
  }

  handleCommandComplete(msg: { text?: string }): void {
    this.rowCount = commandRowCount(msg) ?? this.rowCount;
  }

  handleError(err: Error): void {
    this.destroy(err);
  }

  handleReadyForQuery(): void {}

  /** pg replaces this to run its query_timeout; called on completion to clear it. */
  callback(): void {}
}

/**
 * `COPY ... FROM STDIN` as a Writable that takes whole CopyData frames (from CopyOutFrames) and
 * writes them to the socket unchanged. Finishes once the server has committed the COPY.
 * Chunks must end on frame boundaries: then an abort between two of them leaves the server a
 * clean message stream (CopyFail, or — after its own error — frames it skips per protocol).
 */
export class CopyInFrames extends Writable {
  rowCount = 0;
  private connection: PgConnection | undefined;
  private inCopy = false;
  private whenInCopy: (() => void) | undefined;
  private finished: ((err?: Error | null) => void) | undefined;
  private failed = false;

  constructor(readonly text: string) {
    super({ highWaterMark: 1 << 20 });
  }

  submit(connection: PgConnection): void {
    this.connection = connection;
    connection.query(this.text);
  }

  handleCopyInResponse(): void {
    this.inCopy = true;
    const go = this.whenInCopy;
    this.whenInCopy = undefined;
    go?.();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (err?: Error | null) => void): void {
    const send = () => {
      const socket = this.connection!.stream;
      socket.write(chunk);
      // The socket's own high-water mark (16 kB) is below one read from the source (64 kB), so
      // waiting for 'drain' after every write would stall the pipe once per chunk.
      if (socket.writableLength <= IN_FLIGHT_BYTES) done();
      else socket.once('drain', () => done());
    };
    if (this.inCopy) send();
    else this.whenInCopy = send;
  }

  override _final(done: (err?: Error | null) => void): void {
    this.finished = done;
    const send = () => this.connection!.stream.write(Buffer.from([COPY_DONE, 0, 0, 0, 4]));
    if (this.inCopy) send();
    else this.whenInCopy = send;
  }

  /**
   * Aborted (the source failed, or the pipeline was torn down): tell the server with CopyFail so
   * it rolls the COPY back and the session leaves COPY mode instead of waiting for more data.
   */
  override _destroy(err: Error | null, done: (err?: Error | null) => void): void {
    if (this.connection && !this.failed && this.finished === undefined) {
      // A fixed reason: the server logs it, and the error that caused the abort is not ours to ship.
      const reason = Buffer.from('pgshift: copy aborted\0', 'utf8');
      const msg = Buffer.alloc(HEADER + reason.length);
      msg[0] = COPY_FAIL;
      msg.writeUInt32BE(4 + reason.length, 1);
      reason.copy(msg, HEADER);
      // Before CopyInResponse the server has not entered COPY yet; it reads this message
      // once it does (or ignores it, per protocol, if the COPY failed to start).
      this.connection.stream.write(msg);
    }
    done(err);
  }

  handleCommandComplete(msg: { text?: string }): void {
    this.rowCount = commandRowCount(msg) ?? this.rowCount;
  }

  handleError(err: Error): void {
    this.failed = true;
    this.callback();
    const finished = this.finished;
    this.finished = undefined;
    if (finished) finished(err);
    else this.destroy(err);
  }

  handleReadyForQuery(): void {
    this.callback();
    const finished = this.finished;
    this.finished = undefined;
    finished?.();
  }

  callback(): void {}
}
