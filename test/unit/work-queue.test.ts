/**
 * WorkQueue: the copy pool's scheduler, driven by fake workers and timed async tasks.
 */
import { describe, expect, it } from 'vitest';
import type { SnapshotWorker } from '../../src/engine/full-load/snapshot-workers.js';
import { WorkQueue } from '../../src/engine/full-load/work-queue.js';

interface Task {
  id: string;
  /** Tasks on the same table conflict (they would wait on each other's lock). */
  table: string;
  ms: number;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const fakeWorkers = (n: number): SnapshotWorker[] => Array.from({ length: n }, (_, id) => ({ id }) as unknown as SnapshotWorker);
const sameTable = (a: Task, b: Task) => a.table === b.table;

/** Runs tasks, recording starts, ends and the set of tasks running at each moment. */
function recorder() {
  const events: string[] = [];
  const running = new Set<Task>();
  const runs = new Map<string, number>();
  let maxConcurrent = 0;
  const overlaps: string[][] = [];
  return {
    events,
    runs,
    overlaps,
    get maxConcurrent() {
      return maxConcurrent;
    },
    async run(worker: SnapshotWorker, task: Task, body?: () => Promise<void>) {
      running.add(task);
      maxConcurrent = Math.max(maxConcurrent, running.size);
      if (running.size > 1) overlaps.push([...running].map((t) => t.id).sort());
      runs.set(task.id, (runs.get(task.id) ?? 0) + 1);
      events.push(
        `start ${task.id} w${worker.id} [${[...running]
          .map((t) => t.id)
          .sort()
          .join(',')}]`,
      );
      try {
        await (body ? body() : sleep(task.ms));
      } finally {
        running.delete(task);
        events.push(`end ${task.id}`);
      }
    },
  };
}

describe('WorkQueue', () => {
  it('runs every task exactly once across the workers', async () => {
    const queue = new WorkQueue<Task>();
    const tasks = Array.from({ length: 25 }, (_, i): Task => ({ id: `t${i}`, table: `t${i}`, ms: 1 + (i % 4) * 3 }));
    for (const t of tasks) queue.push(t);
    const rec = recorder();
    const byWorker = new Map<number, number>();
    await queue.drain(fakeWorkers(3), (w, t) => {
      byWorker.set(w.id, (byWorker.get(w.id) ?? 0) + 1);
      return rec.run(w, t);
    });
    expect(Object.fromEntries(rec.runs)).toEqual(Object.fromEntries(tasks.map((t) => [t.id, 1])));
    // The work was shared, not all done by one worker.
    expect(byWorker.size).toBe(3);
    expect(rec.maxConcurrent).toBe(3);
  });

  it('runs a task queued by a running task, on a worker that was waiting for work', async () => {
    const queue = new WorkQueue<Task>();
    const first: Task = { id: 'first', table: 'a', ms: 60 };
    const later: Task = { id: 'later', table: 'b', ms: 5 };
    queue.push(first);
    const rec = recorder();
    await queue.drain(fakeWorkers(2), (w, t) =>
      rec.run(w, t, async () => {
        if (t === first) {
          await sleep(10);
          queue.push(later);
          await sleep(50);
        } else await sleep(t.ms);
      }),
    );
    expect(Object.fromEntries(rec.runs)).toEqual({ first: 1, later: 1 });
    // The idle worker took it at once rather than after `first` finished.
    expect(rec.events.indexOf('start later w1 [first,later]')).toBeGreaterThan(-1);
    expect(rec.events.indexOf('end later')).toBeLessThan(rec.events.indexOf('end first'));
  });

  it('never runs two conflicting tasks at once, and runs non-conflicting ones side by side', async () => {
    const conflictsSeen: string[] = [];
    const queue = new WorkQueue<Task>(sameTable);
    // In FIFO order the first two would lock each other: a1 and a2 are on the same table.
    const tasks: Task[] = [
      { id: 'a1', table: 'a', ms: 30 },
      { id: 'a2', table: 'a', ms: 10 },
      { id: 'a3', table: 'a', ms: 10 },
      { id: 'b1', table: 'b', ms: 10 },
      { id: 'b2', table: 'b', ms: 10 },
      { id: 'c1', table: 'c', ms: 10 },
    ];
    for (const t of tasks) queue.push(t);
    const running = new Set<Task>();
    const rec = recorder();
    await queue.drain(fakeWorkers(3), async (w, t) => {
      for (const other of running) if (sameTable(t, other)) conflictsSeen.push(`${t.id} started while ${other.id} ran`);
      running.add(t);
      try {
        await rec.run(w, t);
      } finally {
        running.delete(t);
      }
    });
    expect(conflictsSeen).toEqual([]);
    expect(Object.fromEntries(rec.runs)).toEqual(Object.fromEntries(tasks.map((t) => [t.id, 1])));
    expect(rec.maxConcurrent).toBeGreaterThanOrEqual(2);
    // Workers skipped a2 and a3 while a1 ran, and took the other tables' tasks instead of waiting.
    expect(rec.events[0]).toBe('start a1 w0 [a1]');
    expect(rec.events.slice(1, 3)).toEqual(['start b1 w1 [a1,b1]', 'start c1 w2 [a1,b1,c1]']);
    const at = (prefix: string) => rec.events.findIndex((e) => e.startsWith(prefix));
    expect(at('start b2')).toBeLessThan(at('end a1'));
    // The tasks on table a ran one after the other.
    expect(at('start a2')).toBeGreaterThan(at('end a1'));
    expect(at('start a3')).toBeGreaterThan(at('end a2'));
  });

  it('runs an urgent task pushed by a running task before the remaining normal tasks', async () => {
    const queue = new WorkQueue<Task>();
    const normal = Array.from({ length: 6 }, (_, i): Task => ({ id: `n${i + 1}`, table: `n${i + 1}`, ms: 20 }));
    const urgent: Task = { id: 'urgent', table: 'u', ms: 5 };
    for (const t of normal) queue.push(t);
    const starts: string[] = [];
    let pushedAt = -1;
    await queue.drain(fakeWorkers(2), async (_w, t) => {
      starts.push(t.id);
      if (t.id === 'n1') {
        await sleep(5);
        queue.push(urgent, true);
        pushedAt = starts.length;
      }
      await sleep(t.ms);
    });
    expect(pushedAt).toBe(2); // n1 and n2 were running when it was pushed
    expect(starts).toHaveLength(7);
    expect(starts[pushedAt]).toBe('urgent');
    expect(starts.filter((id) => id !== 'urgent')).toEqual(normal.map((t) => t.id));
  });

  it('rejects drain() with the first failure and starts no task after it', async () => {
    const queue = new WorkQueue<Task>();
    const tasks = Array.from({ length: 10 }, (_, i): Task => ({ id: `t${i + 1}`, table: `t${i + 1}`, ms: 10 }));
    for (const t of tasks) queue.push(t);
    const first = new Error('t3 failed');
    const second = new Error('t4 failed');
    const events: string[] = [];
    const drained = queue.drain(fakeWorkers(2), async (_w, t) => {
      events.push(`start ${t.id}`);
      if (t.id === 't3') {
        await sleep(5);
        events.push('fail t3');
        throw first;
      }
      if (t.id === 't4') {
        await sleep(25);
        events.push('fail t4');
        throw second;
      }
      await sleep(t.ms);
      events.push(`end ${t.id}`);
    });
    await expect(drained).rejects.toBe(first);
    // Nothing is still running or starts later either.
    await sleep(50);
    expect(events).toEqual(['start t1', 'start t2', 'end t1', 'start t3', 'end t2', 'start t4', 'fail t3', 'fail t4']);
    expect(events.slice(events.indexOf('fail t3')).filter((e) => e.startsWith('start'))).toEqual([]);
  });
});
