/**
 * The CLI as a real process (`node bin/pgshift.mjs …`), for tests that watch its output as it runs
 * and signal it: the pid is the CLI itself, so kill -KILL hits the process doing the work.
 */
import { spawn } from 'node:child_process';

export interface CliProcess {
  pid: number;
  /** stderr lines so far. */
  lines: string[];
  /** Resolves once a stderr line matches (or rejects when the process ends first). */
  lineMatching(pattern: RegExp): Promise<string>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>;
}

export function startCli(args: string[], env: Record<string, string>): CliProcess {
  const child = spawn(process.execPath, ['bin/pgshift.mjs', ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  let stdout = '';
  let stderr = '';
  let partial = '';
  let ended = '';
  const waiters: { pattern: RegExp; resolve: (line: string) => void; reject: (err: Error) => void }[] = [];
  const settle = (line: string) => {
    for (const w of [...waiters]) {
      if (!w.pattern.test(line)) continue;
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve(line);
    }
  };
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
    partial += d.toString();
    const parts = partial.split('\n');
    partial = parts.pop() ?? '';
    for (const line of parts) {
      lines.push(line);
      settle(line);
    }
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((resolve) => {
    child.on('close', (code, signal) => {
      if (partial) {
        lines.push(partial);
        settle(partial);
      }
      ended = `the CLI ended (code ${code}, signal ${signal})`;
      for (const w of waiters.splice(0)) w.reject(new Error(`${ended} before a line matched ${w.pattern}:\n${stderr}`));
      resolve({ code, signal, stdout, stderr });
    });
  });
  return {
    pid: child.pid!,
    lines,
    exited,
    lineMatching: (pattern) => {
      const seen = lines.find((l) => pattern.test(l));
      if (seen !== undefined) return Promise.resolve(seen);
      if (ended) return Promise.reject(new Error(`${ended} before a line matched ${pattern}:\n${stderr}`));
      return new Promise((resolve, reject) => waiters.push({ pattern, resolve, reject }));
    },
  };
}

/** Run the CLI to its end. */
export async function runCli(args: string[], env: Record<string, string>) {
  return startCli(args, env).exited;
}
