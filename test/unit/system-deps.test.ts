/**
 * scripts/system-deps.sh runs before `npm test` and `npm run rehearse`, also on the source EC2 where
 * production's PgBouncer runs next to the runner (docs/design.md rule 14). It may stop only the
 * service it has just installed, and never kill a process by name.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const SCRIPT = 'scripts/system-deps.sh';

/** A directory of stand-in commands that record how they were called, one line per call, in `calls`. */
function stubCommands(): { dir: string; calls: () => string[] } {
  const dir = mkdtempSync(join(tmpdir(), 'pgshift-system-deps-'));
  const log = join(dir, 'calls.log');
  writeFileSync(log, '');
  const stub = (name: string, body = 'exit 0') =>
    writeFileSync(join(dir, name), `#!/bin/bash\necho "${name} $*" >> ${JSON.stringify(log)}\n${body}\n`, { mode: 0o755 });
  // Root, with a postgres user: the script goes on to apt-get.
  stub('id', 'if [ "$1" = "-u" ]; then echo 0; fi; exit 0');
  for (const name of ['apt-get', 'systemctl', 'pkill', 'killall', 'kill', 'service']) stub(name);
  chmodSync(dir, 0o755);
  return { dir, calls: () => readFileSync(log, 'utf8').split('\n').filter(Boolean) };
}

describe('scripts/system-deps.sh', () => {
  it('is bash -n clean and shellcheck clean', () => {
    expect(spawnSync('bash', ['-n', SCRIPT]).status).toBe(0);
    const sc = spawnSync('shellcheck', [SCRIPT], { encoding: 'utf8' });
    expect(sc.stdout + sc.stderr).toBe('');
  });

  it('kills no process by name anywhere in the script', () => {
    const code = readFileSync(SCRIPT, 'utf8')
      .split('\n')
      .filter((l) => !l.trim().startsWith('#'));
    expect(code.filter((l) => /\b(pkill|killall|kill)\b/.test(l))).toEqual([]);
  });

  it('installs what is missing and leaves an already installed PgBouncer (production’s) running', () => {
    // /usr/sbin/pgbouncer is on this machine, so PgBouncer counts as installed before the script runs;
    // with only the stand-ins on PATH the PostgreSQL client tools and shellcheck count as missing.
    const { dir, calls } = stubCommands();
    const res = spawnSync('/bin/bash', [SCRIPT], { encoding: 'utf8', env: { PATH: dir }, timeout: 30_000 });
    expect(res.status, res.stderr).toBe(0);
    const install = calls().find((c) => c.startsWith('apt-get install'));
    expect(install).toMatch(/postgresql-client-15/);
    expect(install).not.toMatch(/pgbouncer/);
    expect(calls().filter((c) => !c.startsWith('apt-get') && !c.startsWith('id '))).toEqual([]);
  });
});
