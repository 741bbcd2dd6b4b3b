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
const HEADER = 5; // type byte + int32 length (the length counts itself, not the type byte)

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
 * `COPY ... TO STDOUT` as a Readable of whole CopyData frames (headers included), ready to be
 * written to a CopyInFrames. `payloadBytes` counts the data without the headers.
 */
export class CopyOutFrames extends Readable {
  rowCount = 0;
  payloadBytes = 0;
  private connection: PgConnection | undefined;
  private pgDataHandler: DataHandler | undefined;
  /** Bytes of a message whose header (or, for a non-data message, whole body) has not all arrived. */
  private carry: Buffer | undefined;
  /** Bytes of the current CopyData frame still to come in later socket chunks. */
  private frameLeft = 0;
  private wanted = false;
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

  /** Move socket chunks into this stream while the consumer wants more. */
  private pump(): void {
    if (this.pumping || !this.connection || !this.pgDataHandler) return;
    this.pumping = true;
    try {
      const socket = this.connection.stream;
      while (this.wanted && this.pgDataHandler) {
        const chunk = socket.read() as Buffer | null;
        if (chunk === null) break;
        this.wanted = this.scan(chunk);
      }
    } finally {
      this.pumping = false;
    }
  }

  /** Walk the message headers in one socket chunk; returns whether the consumer wants more. */
  private scan(chunk: Buffer): boolean {
    const buf = this.carry ? Buffer.concat([this.carry, chunk]) : chunk;
    this.carry = undefined;
    const end = buf.length;
    let i = Math.min(this.frameLeft, end);
    this.frameLeft -= i;
    let runStart = 0;
    let wanted = true;
    const flushRun = (upTo: number) => {
      if (upTo > runStart) wanted = this.push(buf.subarray(runStart, upTo)) && wanted;
    };
    while (i < end) {
      if (end - i < HEADER) {
        this.carry = buf.subarray(i);
        break;
      }
      const type = buf[i]!;
      const size = 1 + buf.readUInt32BE(i + 1);
      if (type === COPY_DATA) {
        this.payloadBytes += size - HEADER;
        if (i + size > end) {
          this.frameLeft = i + size - end;
          i = end;
          break;
        }
        i += size;
        continue;
      }
      // Not data: what came before it goes out as is.
      flushRun(i);
      if (type === ERROR_RESPONSE) {
        // pg parses the error (and the ReadyForQuery after it) and calls handleError.
        this.giveBackToPg(buf.subarray(i));
        return false;
      }
      if (type === COPY_DONE) {
        this.giveBackToPg(buf.subarray(i + size));
        this.push(null);
        return false;
      }
      // CopyOutResponse, NoticeResponse, ParameterStatus...: never forwarded to the target.
      if (i + size > end) {
        this.carry = buf.subarray(i);
        runStart = end;
        i = end;
        break;
      }
      // A notice still reaches the client's 'notice' listeners through pg's parser.
      if (type !== 0x48 /* CopyOutResponse */) this.pgDataHandler!(buf.subarray(i, i + size));
      i += size;
      runStart = i;
    }
    flushRun(i);
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
      if (this.connection!.stream.write(chunk)) done();
      else this.connection!.stream.once('drain', () => done());
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
      const reason = Buffer.from(`${err?.message ?? 'copy aborted'}\0`, 'utf8');
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
