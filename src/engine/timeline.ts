import type { Logger } from '../log/logger.js';
import { throwIfCancelled } from '../cancel.js';

/** One step of a phase as it happened: what ran, when, for how long, and whether it failed. */
export interface StepRecord {
  step: string;
  startedAt: string;
  ms: number;
  ok: boolean;
  detail?: string;
}

/**
 * Records each named step of a phase with its timing, so results carry their own timeline
 * (the cutover report and the job summary's Gantt chart are drawn from it).
 */
export class Timeline {
  readonly steps: StepRecord[] = [];
  private readonly t0 = Date.now();
  private cancellable = true;

  /** With a signal, a step does not start once the signal has fired: the phase's abort path runs instead. */
  constructor(
    private readonly log: Logger,
    private readonly signal?: AbortSignal,
  ) {}

  /** From here on every step runs even after a signal (e.g. once the application was switched, finishing is the safe way). */
  pastPointOfNoReturn(): void {
    this.cancellable = false;
  }

  async run<T>(step: string, fn: () => Promise<T>, describe?: (result: T) => string | undefined): Promise<T> {
    if (this.cancellable) throwIfCancelled(this.signal);
    const started = Date.now();
    this.log.info(`▶ ${step}`);
    try {
      const result = await fn();
      const detail = describe?.(result);
      this.steps.push({ step, startedAt: new Date(started).toISOString(), ms: Date.now() - started, ok: true, detail });
      return result;
    } catch (err) {
      this.steps.push({
        step,
        startedAt: new Date(started).toISOString(),
        ms: Date.now() - started,
        ok: false,
        detail: (err as Error).message,
      });
      throw err;
    }
  }

  elapsedSeconds(): number {
    return (Date.now() - this.t0) / 1000;
  }
}
