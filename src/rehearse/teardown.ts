/**
 * What the rehearsal started, and how to stop it — on a normal end and on SIGINT/SIGTERM.
 *
 * The local servers run under pg_ctl (daemonized) and PgBouncer as a child process: a signal
 * that kills only this process would leave both PostgreSQL servers running with their data in
 * the temp dir (docs/design.md rule 12). Each resource is registered the moment it exists, and
 * the signal handler runs the same stops as a normal end, then exits 130 (SIGINT) or 143
 * (SIGTERM). Only what this run registered is touched (docs/design.md rule 14).
 */
import type { Logger } from '../log/logger.js';

type Stop = () => Promise<unknown> | unknown;

export class Teardown {
  private readonly stops: { what: string; stop: Stop }[] = [];
  private running: Promise<void> | undefined;

  /** Register a stop; stops run in reverse order of registration (the last started stops first). */
  add(what: string, stop: Stop): void {
    this.stops.push({ what, stop });
  }

  /** Run every stop once, each bounded, so one that hangs cannot keep the others from running. */
  run(log?: Logger): Promise<void> {
    this.running ??= (async () => {
      for (const { what, stop } of [...this.stops].reverse()) {
        try {
          await withTimeout(Promise.resolve(stop()), 15_000);
        } catch (err) {
          log?.warn(`could not stop ${what}: ${(err as Error).message}`);
        }
      }
    })();
    return this.running;
  }

  /**
   * While `fn` runs, SIGINT and SIGTERM stop everything registered and end the process with
   * 128 + the signal number. A second signal while stopping is ignored: the stops are bounded.
   */
  async onSignals<T>(log: Logger, fn: () => Promise<T>): Promise<T> {
    const handler = (signal: NodeJS.Signals) => {
      if (this.running) return;
      log.warn(`${signal}: stopping the servers and PgBouncer this rehearsal started, removing its temporary directories`);
      void this.run(log).finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
    };
    process.on('SIGINT', handler);
    process.on('SIGTERM', handler);
    try {
      return await fn();
    } finally {
      await this.run(log);
      process.off('SIGINT', handler);
      process.off('SIGTERM', handler);
    }
  }
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`still running after ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}
