/**
 * The loop under every `cdc status --watch`, whatever the engine (status.ts for native, link-watch.ts for
 * DMS): a sample every interval on sessions kept open between samples, until the signal aborts or the
 * caller says stop. A first connection that fails throws (a wrong URL or password is not worth watching);
 * a failure later — the source restarting, a cut network, a throttled API — becomes the failed sample the
 * caller builds, critical, and the next tick reconnects, as replication itself does.
 */
import { PgshiftError } from '../../errors.js';
import { redact } from '../../postgres/redact.js';

export interface WatchSession<Sample> {
  sample(): Promise<Sample>;
  close(): Promise<void>;
}

export interface WatchLoop<Sample> {
  open(): Promise<WatchSession<Sample>>;
  /** The sample a failed tick records, from the error's one line (password-free). */
  failed(at: string, error: string): Sample;
  intervalMs: number;
  onSample(sample: Sample): void;
  signal: AbortSignal;
  /** Stop once this says so (after `onSample` saw the sample); default: only the signal stops the watch. */
  until?: (sample: Sample, series: readonly Sample[]) => boolean;
  /** true (default): a failed tick becomes a sample and the watch reconnects. false: the failure is thrown. */
  reconnect?: boolean;
}

/** Run the watch; returns every sample taken. */
export async function runWatchLoop<Sample>(w: WatchLoop<Sample>): Promise<Sample[]> {
  let session: WatchSession<Sample> | undefined = await w.open();
  const series: Sample[] = [];
  try {
    while (!w.signal.aborted) {
      const began = Date.now();
      let sample: Sample;
      try {
        session ??= await w.open();
        sample = await session.sample();
      } catch (err) {
        if (w.reconnect === false) throw err;
        await session?.close();
        session = undefined;
        sample = w.failed(new Date().toISOString(), oneLine(err));
      }
      series.push(sample);
      w.onSample(sample);
      if (w.until?.(sample, series)) break;
      await sleepUnlessAborted(Math.max(0, w.intervalMs - (Date.now() - began)), w.signal);
    }
    return series;
  } finally {
    await session?.close();
  }
}

function oneLine(err: unknown): string {
  return err instanceof PgshiftError ? err.oneLine() : redact((err as Error)?.message ?? String(err));
}

function sleepUnlessAborted(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done);
  });
}
