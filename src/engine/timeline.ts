import type { Logger } from '../log/logger.js';

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

  constructor(private readonly log: Logger) {}

  async run<T>(step: string, fn: () => Promise<T>, describe?: (result: T) => string | undefined): Promise<T> {
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
