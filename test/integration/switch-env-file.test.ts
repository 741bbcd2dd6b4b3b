/**
 * The env-file and command switches: the file the application reads is rewritten atomically,
 * the restart command and the hook run for real (/bin/sh), and no password reaches an error.
 */
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PgshiftError } from '../../src/errors.js';
import { parseConnInfo } from '../../src/postgres/conninfo.js';
import { runSwitchHook } from '../../src/switch/command.js';
import { pointEnvFileAt, readEnvValue } from '../../src/switch/env-file.js';
import { makeSwitch } from '../../src/switch/switch.js';

const OLD_PASSWORD = 'old-s3cret-pw';
const NEW_PASSWORD = 'n3w:p@ss/word';
const target = parseConnInfo(
  `postgres://app:${encodeURIComponent(NEW_PASSWORD)}@tasteam.abc123.ap-northeast-2.rds.amazonaws.com:5432/tasteam?sslmode=require`,
  'target',
);
const NEW_URL = `postgres://app:${encodeURIComponent(NEW_PASSWORD)}@tasteam.abc123.ap-northeast-2.rds.amazonaws.com:5432/tasteam?sslmode=require`;

const ENV = [
  '# Tasteam backend',
  'SPRING_PROFILES_ACTIVE=prod',
  `export DATABASE_URL="postgres://app:${OLD_PASSWORD}@10.0.1.20:5432/tasteam" # written by hand`,
  '# DATABASE_URL=postgres://commented:out@old/host',
  'REDIS_URL=redis://10.0.1.20:6379',
  'EMPTY=',
  '',
].join('\n');

let dir: string;
let envPath: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'pgshift-envfile-'));
  envPath = join(dir, '.env');
  writeFileSync(envPath, ENV);
  chmodSync(envPath, 0o600);
});

afterEach(() => rmSync(dir, { recursive: true, force: true }));

const failure = async (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (e: unknown) => e,
  );
const expectClean = (err: unknown, pattern: RegExp) => {
  expect(err).toBeInstanceOf(PgshiftError);
  const line = (err as PgshiftError).oneLine();
  expect(line).toMatch(pattern);
  expect(line).not.toContain('\n');
  for (const secret of [NEW_PASSWORD, encodeURIComponent(NEW_PASSWORD), OLD_PASSWORD]) expect(line).not.toContain(secret);
  return err as PgshiftError;
};

describe('env-file switch', () => {
  it('rewrites DATABASE_URL atomically, keeping every other line, its quoting, its comment, mode and owner', async () => {
    const before = statSync(envPath);
    await pointEnvFileAt({ path: envPath }, target);
    const after = statSync(envPath);
    expect(readFileSync(envPath, 'utf8')).toBe(
      ENV.replace(
        `export DATABASE_URL="postgres://app:${OLD_PASSWORD}@10.0.1.20:5432/tasteam" # written by hand`,
        `export DATABASE_URL="${NEW_URL}" # written by hand`,
      ),
    );
    expect(after.ino).not.toBe(before.ino);
    expect([after.mode & 0o777, after.uid, after.gid]).toEqual([0o600, before.uid, before.gid]);
    expect(readEnvValue(envPath)).toBe(NEW_URL);
    expect(readdirTmp()).toEqual([]);
  });

  it('uses a configurable key and runs the restart command after the rewrite, with host/port/database but no URL', async () => {
    writeFileSync(envPath, 'DB_URL=postgres://app:x@old:5432/tasteam\nOTHER=1\n');
    const marker = join(dir, 'restarted');
    const sw = makeSwitch({
      kind: 'env-file',
      path: envPath,
      key: 'DB_URL',
      // The command sees the new file (it runs after the rewrite) and the new host in its environment.
      restartCommand: `grep -c rds.amazonaws.com ${envPath} > ${marker}; echo "$PGSHIFT_NEW_HOST:$PGSHIFT_NEW_PORT/$PGSHIFT_NEW_DATABASE url=\${PGSHIFT_NEW_URL:-unset}" >> ${marker}`,
    });
    expect(await sw.current!()).toEqual({ host: 'old', port: 5432, database: 'tasteam' });
    await sw.pointAt(target);
    expect(readFileSync(envPath, 'utf8')).toBe(`DB_URL=${NEW_URL}\nOTHER=1\n`);
    expect(readFileSync(marker, 'utf8')).toBe('1\ntasteam.abc123.ap-northeast-2.rds.amazonaws.com:5432/tasteam url=unset\n');
    expect(await sw.current!()).toEqual({ host: 'tasteam.abc123.ap-northeast-2.rds.amazonaws.com', port: 5432, database: 'tasteam' });
  });

  it('a failing restart command is an error naming its exit code, with its output redacted', async () => {
    const err = expectClean(
      await failure(
        pointEnvFileAt(
          { path: envPath, restartCommand: `echo "docker: cannot restart, env is $(grep ^export ${envPath})" >&2; exit 3` },
          target,
        ),
      ),
      /the restart command exited with code 3: docker: cannot restart, env is export DATABASE_URL=.*tasteam\.abc123.* — run the restart command by hand/,
    );
    expect(err.exitCode).toBe(2);
    // The file was rewritten before the command ran: the operator fixes the restart, not the file.
    expect(readEnvValue(envPath)).toBe(NEW_URL);
  });

  it('a restart command that hangs is killed at its timeout', async () => {
    const t0 = Date.now();
    expectClean(
      await failure(pointEnvFileAt({ path: envPath, restartCommand: 'sleep 30', restartTimeoutMs: 300 }, target)),
      /the restart command did not finish within 300 ms and was killed/,
    );
    expect(Date.now() - t0).toBeLessThan(5_000);
  });

  it('missing file and missing key are usage errors; the file is left untouched', async () => {
    expectClean(
      await failure(pointEnvFileAt({ path: join(dir, 'nope.env') }, target)),
      /cannot read the env file .*nope\.env \(ENOENT\) — pass --env-file/,
    );
    writeFileSync(envPath, '# DATABASE_URL=commented\nOTHER=1\n');
    const err = expectClean(await failure(pointEnvFileAt({ path: envPath }, target)), /has no DATABASE_URL= line/);
    expect(err.exitCode).toBe(2);
    expect(readFileSync(envPath, 'utf8')).toBe('# DATABASE_URL=commented\nOTHER=1\n');
  });
});

describe('command switch', () => {
  it('hands the hook the new host, port and database, and the URL only in its environment', async () => {
    const out = join(dir, 'hook.out');
    const command = `printf '%s\\n' "$PGSHIFT_NEW_HOST" "$PGSHIFT_NEW_PORT" "$PGSHIFT_NEW_DATABASE" "$PGSHIFT_NEW_URL" > ${out}`;
    expect(command).not.toContain(NEW_PASSWORD);
    await makeSwitch({ kind: 'command', command }).pointAt(target);
    const [host, port, database, url] = readFileSync(out, 'utf8').trim().split('\n');
    expect([host, port, database]).toEqual(['tasteam.abc123.ap-northeast-2.rds.amazonaws.com', '5432', 'tasteam']);
    expect(parseConnInfo(url!, 'target')).toEqual(target);
  });

  it('a failing hook is an error whose echoed URL is redacted', async () => {
    const err = expectClean(
      await failure(runSwitchHook('echo "could not apply $PGSHIFT_NEW_URL"; exit 7', target)),
      /the switch hook exited with code 7: could not apply tasteam\.abc123\.ap-northeast-2\.rds\.amazonaws\.com:5432\/tasteam/,
    );
    expect(err.exitCode).toBe(2);
  });

  it('the none switch changes nothing and says so', async () => {
    const warnings: string[] = [];
    await makeSwitch({ kind: 'none', logger: { info: () => undefined, progress: () => undefined, warn: (m) => warnings.push(m) } }).pointAt(
      target,
    );
    expect(warnings).toEqual([
      'no switch configured: point the application at tasteam.abc123.ap-northeast-2.rds.amazonaws.com:5432/tasteam yourself',
    ]);
    expect(existsSync(join(dir, 'hook.out'))).toBe(false);
  });
});

/** Leftover temp files from the atomic write, if any. */
function readdirTmp(): string[] {
  return readdirSync(dir).filter((f) => f.endsWith('.tmp'));
}
