/**
 * What a benchmark must undo however it ends: its servers (stopped, data directories removed)
 * and its temporary files. Undo steps run in reverse order once, from the normal `finally` or
 * from SIGINT / SIGTERM (then the process exits 130 / 143), so an interrupted run leaves no
 * server running and nothing in TMPDIR.
 */
import { rmSync } from 'node:fs';

type Undo = () => Promise<unknown> | unknown;

export class Teardown {
  private readonly steps: { what: string; undo: Undo }[] = [];
  private running: Promise<void> | undefined;
  /** Set when a signal started the teardown: the run's own errors after that are its consequence. */
  interrupted = false;

  constructor(private readonly label: string) {}

  add(what: string, undo: Undo): void {
    this.steps.push({ what, undo });
  }

  /** A directory removed at the end (dumps, work directories). */
  addDir(path: string): string {
    this.add(`remove ${path}`, () => rmSync(path, { recursive: true, force: true }));
    return path;
  }

  /** Run every undo step once, newest first; a failing step does not stop the others. */
  run(): Promise<void> {
    this.running ??= (async () => {
      for (const step of this.steps.reverse()) {
        try {
          await step.undo();
        } catch (err) {
          console.error(`${this.label}: could not ${step.what}: ${err instanceof Error ? err.message : String(err)}`);
        }
      }
    })();
    return this.running;
  }

  /** On SIGINT / SIGTERM: tear down, then exit with 128 + the signal number. */
  onSignals(): void {
    for (const [signal, code] of [
      ['SIGINT', 130],
      ['SIGTERM', 143],
    ] as const) {
      process.once(signal, () => {
        this.interrupted = true;
        console.error(`\n${this.label}: ${signal}, removing its servers and temporary files ...`);
        void this.run().finally(() => process.exit(code));
      });
    }
  }
}
