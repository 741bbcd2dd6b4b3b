/**
 * Run a command as a child process and measure what a benchmark wants to know about it:
 * wall time, the peak of the whole process tree's resident memory (pg_restore -j, pgcopydb and
 * pgshift all fork helpers, so one process's peak understates them), and the largest single
 * process's own peak as the kernel accounts it.
 *
 * Tree RSS: every `sampleMs` the tree under the child is found from /proc/<pid>/stat (ppid)
 * and the VmRSS of its processes summed; the largest sum seen is the peak. Sampling can miss a
 * spike shorter than the interval. The single-process peak comes from GNU time's %M
 * (ru_maxrss from wait4: the largest peak of the child or any descendant it reaped), which
 * misses nothing but does not add processes up.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface MeasuredRun {
  argv: string[];
  exitCode: number | null;
  ms: number;
  /** Largest sum of VmRSS over the process tree, sampled (bytes). */
  peakTreeRss: number;
  /** Largest peak RSS of one process in the tree, from ru_maxrss (bytes); 0 when GNU time is missing. */
  maxProcessRss: number;
  /** Most processes alive in the tree at one sample. */
  maxProcesses: number;
  /** User + system CPU seconds of the process and every descendant it reaped (GNU time %U + %S); 0 without GNU time. */
  cpuSeconds: number;
  stdout: string;
  stderr: string;
}

export interface MeasureOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  sampleMs?: number;
  /** Keep only the last this many characters of stderr (tools can be chatty). */
  stderrLimit?: number;
}

const PAGE = 4096;
const GNU_TIME = '/usr/bin/time';

interface ProcEntry {
  ppid: number;
  rssBytes: number;
}

/** pid -> (ppid, rss) for every process we can read. The comm field may hold spaces and parentheses. */
function readProcTable(): Map<number, ProcEntry> {
  const table = new Map<number, ProcEntry>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // After "pid (comm) ": state ppid pgrp ... ; rss is field 24 overall, index 21 here.
      table.set(Number(name), { ppid: Number(fields[1]), rssBytes: Number(fields[21]) * PAGE });
    } catch {
      // The process ended between readdir and read.
    }
  }
  return table;
}

/** Sum of RSS over `root` and all its descendants (root excluded when it is only the GNU time wrapper). */
export function treeRss(root: number, includeRoot: boolean): { bytes: number; processes: number } {
  const table = readProcTable();
  const children = new Map<number, number[]>();
  for (const [pid, e] of table) children.set(e.ppid, [...(children.get(e.ppid) ?? []), pid]);
  let bytes = 0;
  let processes = 0;
  const stack = [root];
  while (stack.length) {
    const pid = stack.pop()!;
    const e = table.get(pid);
    if (e && (pid !== root || includeRoot)) {
      bytes += e.rssBytes;
      processes++;
    }
    stack.push(...(children.get(pid) ?? []));
  }
  return { bytes, processes };
}

function hasGnuTime(): boolean {
  try {
    readFileSync(GNU_TIME);
    return true;
  } catch {
    return false;
  }
}

export async function measureProcess(argv: string[], opts: MeasureOptions = {}): Promise<MeasuredRun> {
  const gnuTime = hasGnuTime();
  const dir = mkdtempSync(join(tmpdir(), 'bench-measure-'));
  const timeFile = join(dir, 'maxrss');
  const full = gnuTime ? [GNU_TIME, '-f', '%M %U %S', '-o', timeFile, ...argv] : argv;
  const stderrLimit = opts.stderrLimit ?? 20_000;
  const started = performance.now();
  const child = spawn(full[0]!, full.slice(1), { env: opts.env ?? process.env, cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
    if (stderr.length > stderrLimit * 2) stderr = stderr.slice(-stderrLimit);
  });
  let peakTreeRss = 0;
  let maxProcesses = 0;
  const sample = () => {
    if (child.pid === undefined) return;
    const t = treeRss(child.pid, !gnuTime);
    peakTreeRss = Math.max(peakTreeRss, t.bytes);
    maxProcesses = Math.max(maxProcesses, t.processes);
  };
  const timer = setInterval(sample, opts.sampleMs ?? 100);
  try {
    const exitCode = await new Promise<number | null>((resolve, reject) => {
      child.on('error', reject);
      child.on('close', (code) => resolve(code));
    });
    const ms = performance.now() - started;
    let maxProcessRss = 0;
    let cpuSeconds = 0;
    if (gnuTime) {
      try {
        // GNU time puts "Command exited with non-zero status N" first when it did.
        const [kb, user, sys] = (readFileSync(timeFile, 'utf8').trim().split('\n').pop() ?? '').split(' ').map(Number);
        maxProcessRss = Number.isFinite(kb) ? kb! * 1024 : 0;
        cpuSeconds = Number.isFinite(user! + sys!) ? user! + sys! : 0;
      } catch {
        // No figures: leave them at 0.
      }
    }
    return { argv, exitCode, ms, peakTreeRss, maxProcessRss, maxProcesses, cpuSeconds, stdout, stderr: stderr.slice(-stderrLimit) };
  } finally {
    clearInterval(timer);
    rmSync(dir, { recursive: true, force: true });
  }
}

const CLOCK_TICKS = 100;

/**
 * CPU seconds a server has used so far: every live process under the postmaster plus what the
 * postmaster has collected from the children it reaped (cutime/cstime), so backends that came
 * and went between two readings are counted. The difference of two readings is the server's
 * work in between — a figure that other load on the machine does not inflate the way it
 * inflates wall time.
 */
export function serverCpuSeconds(postmasterPid: number): number {
  const ticks = (pid: number, withChildren: boolean): number => {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const f = stat
        .slice(stat.lastIndexOf(')') + 2)
        .split(' ')
        .map(Number);
      // utime stime cutime cstime are fields 14-17 overall, 11-14 here.
      return f[11]! + f[12]! + (withChildren ? f[13]! + f[14]! : 0);
    } catch {
      return 0;
    }
  };
  const table = readProcTable();
  let total = ticks(postmasterPid, true);
  for (const [pid, e] of table) if (e.ppid === postmasterPid) total += ticks(pid, false);
  return total / CLOCK_TICKS;
}
