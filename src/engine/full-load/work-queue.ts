/**
 * Work for the pool. Copy chunks are queued up front; a table's index builds are queued when
 * its last chunk lands and go ahead of the remaining copies, so indexes build while other
 * tables still copy. A worker that finds the queue empty waits while others still run,
 * because their completion may queue more work.
 *
 * `conflicts` says when two tasks would block each other on a table lock (two foreign keys on
 * one table, an index build and an ANALYZE...): a worker then takes the next task that does
 * not, instead of sitting in the lock queue while a core stays idle.
 */
export class WorkQueue<T> {
  private readonly urgent: T[] = [];
  private readonly normal: T[] = [];
  private readonly running = new Set<T>();
  private waiters: (() => void)[] = [];
  private failure: unknown;

  constructor(private readonly conflicts: (a: T, b: T) => boolean = () => false) {}

  push(task: T, urgent = false): void {
    (urgent ? this.urgent : this.normal).push(task);
    this.wake();
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const fn of w) fn();
  }

  private takeFrom(list: T[]): T | undefined {
    const running = [...this.running];
    const at = list.findIndex((task) => !running.some((other) => this.conflicts(task, other)));
    return at < 0 ? undefined : list.splice(at, 1)[0];
  }

  private async take(): Promise<T | undefined> {
    for (;;) {
      if (this.failure !== undefined) return undefined;
      const task = this.takeFrom(this.urgent) ?? this.takeFrom(this.normal);
      if (task !== undefined) {
        this.running.add(task);
        return task;
      }
      if (this.running.size === 0) return undefined;
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  /** Run every task on the workers; the first failure stops the others taking new work. */
  async drain<W>(workers: W[], run: (worker: W, task: T) => Promise<void>): Promise<void> {
    await Promise.all(
      workers.map(async (worker) => {
        for (let task = await this.take(); task !== undefined; task = await this.take()) {
          try {
            await run(worker, task);
          } catch (err) {
            this.failure ??= err;
          } finally {
            this.running.delete(task);
            this.wake();
          }
        }
      }),
    );
    if (this.failure !== undefined) throw this.failure;
  }
}
