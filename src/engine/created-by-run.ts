/**
 * What one run of a phase created, so that its abort path undoes exactly that and says exactly
 * that (docs/design.md rule 13). An object that was there before the run — left by an earlier,
 * killed attempt, or made by somebody else under the same name — is never on this list, so an
 * abort can never drop it.
 *
 * The failure path and a signal handler may both ask for the undo: it runs once, and every
 * caller waits for that one run.
 */
import type { Logger } from '../log/logger.js';

export interface Creation {
  /** What it is, as the log names it: "publication pgshift on the source". */
  what: string;
  /** Undo it. Must be safe when the object is already gone. */
  undo(): Promise<void>;
  /** What a person runs when the undo fails, e.g. "SELECT pg_drop_replication_slot('pgshift');". */
  byHand: string;
}

export interface UndoReport {
  undone: string[];
  failed: { what: string; error: string; byHand: string }[];
}

export class CreatedByRun {
  private readonly items: Creation[] = [];
  private undoing?: Promise<UndoReport>;

  constructor(private readonly phase: string) {}

  /** Call right after the object exists, never before. */
  record(creation: Creation): void {
    if (this.undoing) throw new Error(`${this.phase}: ${creation.what} was created after the undo began`);
    this.items.push(creation);
  }

  /** What this run has created so far, oldest first. */
  get created(): string[] {
    return this.items.map((c) => c.what);
  }

  /**
   * Undo everything in reverse order of creation, and log exactly what was undone, what could
   * not be and how to do that by hand. A second call returns the first call's promise.
   */
  undo(log: Logger, why: string): Promise<UndoReport> {
    this.undoing ??= this.undoAll(log, why);
    return this.undoing;
  }

  private async undoAll(log: Logger, why: string): Promise<UndoReport> {
    const report: UndoReport = { undone: [], failed: [] };
    for (const item of [...this.items].reverse()) {
      try {
        await item.undo();
        report.undone.push(item.what);
      } catch (err) {
        report.failed.push({ what: item.what, error: (err as Error).message, byHand: item.byHand });
      }
    }
    if (this.items.length === 0) log.warn(`${this.phase} ${why}: this run had created nothing, so nothing was dropped`);
    else if (report.undone.length > 0) log.warn(`${this.phase} ${why}: dropped what this run created: ${report.undone.join(', ')}`);
    for (const f of report.failed) {
      log.warn(`${this.phase} ${why} and could NOT drop the ${f.what} it created (${f.error}): run ${f.byHand}`);
    }
    return report;
  }
}
