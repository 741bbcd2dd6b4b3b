import type { Logger } from '../../log/logger.js';
import type { TableToCopy } from './tables.js';

/** Progress on stderr: one line per finished table, and an overall line with rate and ETA every few seconds. */
export class LoadProgress {
  private bytes = 0;
  private readonly total: number;
  private readonly started = Date.now();
  private lastReport = Date.now();

  constructor(
    tables: TableToCopy[],
    private readonly log: Logger,
    private readonly everyMs = 3000,
  ) {
    // pg_relation_size counts pages on disk; COPY text is usually close to it, so it makes a fair ETA.
    this.total = tables.reduce((s, t) => s + t.bytes, 0);
  }

  addBytes(n: number): void {
    this.bytes += n;
    const now = Date.now();
    if (now - this.lastReport < this.everyMs) return;
    this.lastReport = now;
    const secs = (now - this.started) / 1000;
    const rate = this.bytes / secs;
    const eta = rate > 0 ? Math.max(0, (this.total - this.bytes) / rate) : 0;
    const pct = this.total > 0 ? Math.min(100, (100 * this.bytes) / this.total) : 0;
    this.log.progress(`copy ${pct.toFixed(0)}% ${mb(this.bytes)}/${mb(this.total)} MB, ${mb(rate)} MB/s, ETA ${eta.toFixed(0)} s`);
  }

  tableDone(name: string, rows: number, bytes: number, seconds: number): void {
    const rate = seconds > 0 ? bytes / seconds : 0;
    this.log.progress(`${name}: ${rows} rows, ${mb(bytes)} MB in ${seconds.toFixed(1)} s (${mb(rate)} MB/s)`);
  }

  finish(): void {
    const secs = (Date.now() - this.started) / 1000;
    this.log.progress(`copied ${mb(this.bytes)} MB in ${secs.toFixed(1)} s`);
  }
}

const mb = (b: number) => (b / 1e6).toFixed(1);
