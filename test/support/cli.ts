/** The real CLI as a child process, for tests that signal or kill it mid-run. */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..', '..');

export interface CliProcess {
  child: ChildProcess;
  /** The CLI's own pid (it leads its process group: `-pid` reaches the hooks it spawned too). */
  pid: number;
  stdout(): string;
  stderr(): string;
  /** stderr lines so far. */
  lines: string[];
  /** Resolves once a stderr line matches (or rejects when the process ends first). */
  lineMatching(pattern: RegExp): Promise<string>;
  /** Exit code (or 128 + signal number when killed), as soon as the process has exited. */
  exited: Promise<number>;
  /** Once its output is closed too: the code, or the signal that ended it, and everything it printed. */
  result: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>;
}

/** Start `pgshift <args>` in its own process group, so a kill reaches the hooks it spawned too. */
export function startCli(args: string[], env: Record<string, string>): CliProcess {
  const child = spawn(process.execPath, [join(root, 'bin', 'pgshift.mjs'), ...args], {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let out = '';
  let err = '';
  let partial = '';
  let ended = '';
  const lines: string[] = [];
  const waiters: { pattern: RegExp; resolve: (line: string) => void; reject: (err: Error) => void }[] = [];
  const settle = (line: string) => {
    lines.push(line);
    for (const w of [...waiters]) {
      if (!w.pattern.test(line)) continue;
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve(line);
    }
  };
  child.stdout?.on('data', (d) => (out += d));
  child.stderr?.on('data', (d) => {
    err += d;
    partial += d;
    const parts = partial.split('\n');
    partial = parts.pop() ?? '';
    for (const line of parts) settle(line);
  });
  const exited = new Promise<number>((resolve) =>
    child.on('exit', (code, signal) => resolve(code ?? 128 + (signal === 'SIGKILL' ? 9 : signal === 'SIGTERM' ? 15 : 1))),
  );
  const result = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((resolve) =>
    child.on('close', (code, signal) => {
      if (partial) settle(partial);
      ended = `the CLI ended (code ${code}, signal ${signal})`;
      for (const w of waiters.splice(0)) w.reject(new Error(`${ended} before a line matched ${w.pattern}:\n${err}`));
      resolve({ code, signal, stdout: out, stderr: err });
    }),
  );
  return {
    child,
    pid: child.pid!,
    stdout: () => out,
    stderr: () => err,
    lines,
    lineMatching: (pattern) => {
      const seen = lines.find((l) => pattern.test(l));
      if (seen !== undefined) return Promise.resolve(seen);
      if (ended) return Promise.reject(new Error(`${ended} before a line matched ${pattern}:\n${err}`));
      return new Promise((resolve, reject) => waiters.push({ pattern, resolve, reject }));
    },
    exited,
    result,
  };
}

/** Run to completion. */
export async function runCli(args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  const p = startCli(args, env);
  const code = await p.exited;
  await p.result;
  return { code, stdout: p.stdout(), stderr: p.stderr() };
}

/** Poll `probe` until it returns true (every 10 ms), or fail after `timeoutMs` with `what`. */
export async function waitUntil(what: string, probe: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const started = Date.now();
  for (;;) {
    if (await probe()) return;
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** The processes below `pid` (children, their children, …) with their command names, read from ps. */
export function descendants(pid: number): { pid: number; comm: string }[] {
  const rows = execFileSync('ps', ['-e', '-o', 'pid=,ppid=,comm='], { encoding: 'utf8' })
    .split('\n')
    .map((l) => /^\s*(\d+)\s+(\d+)\s+(.*)$/.exec(l))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ pid: Number(m[1]), ppid: Number(m[2]), comm: m[3]!.trim() }));
  const found: { pid: number; comm: string }[] = [];
  const walk = (parent: number) => {
    for (const r of rows.filter((r) => r.ppid === parent)) {
      found.push({ pid: r.pid, comm: r.comm });
      walk(r.pid);
    }
  };
  walk(pid);
  return found;
}

/** Whether a process seen earlier still runs (same pid and same command name, so a reused pid does not count). */
export function stillRunning(p: { pid: number; comm: string }): boolean {
  try {
    return readFileSync(`/proc/${p.pid}/comm`, 'utf8').trim() === p.comm;
  } catch {
    return false;
  }
}
