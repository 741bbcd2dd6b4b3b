/**
 * `--engine dms` from a terminal: missing DMS settings and impossible combinations are refused with one
 * line and exit 2, before anything connects or is created.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const PASSWORD = 'sekret-not-shown';
const env = {
  PGSHIFT_SOURCE_URL: `postgres://app:${PASSWORD}@127.0.0.1:1/src`,
  PGSHIFT_TARGET_URL: `postgres://app:${PASSWORD}@127.0.0.1:1/tgt`,
  AWS_REGION: 'ap-northeast-2',
};

async function pgshift(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('PGSHIFT_')));
  try {
    const { stdout, stderr } = await run(process.execPath, ['bin/pgshift.mjs', ...args], { env: { ...clean, ...env }, timeout: 60_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('pgshift --engine dms', () => {
  it('cdc start without the DMS instance names the missing option and its variable', async () => {
    const r = await pgshift(['cdc', 'start', '--engine', 'dms', '--dms-user', 'dms_user']);
    expect(r.code).toBe(2);
    // (Node 20 only: the AWS SDK adds a warning about its Node support; the runners use Node 24.)
    expect(r.stderr.split('\n').filter((l) => l.startsWith('pgshift:'))).toEqual([
      'pgshift: --engine dms needs --dms-instance-arn — pass --dms-instance-arn or set PGSHIFT_DMS_INSTANCE_ARN (an output of infra stack 03-dms)',
    ]);
    expect(r.stderr + r.stdout).not.toContain(PASSWORD);
  });

  it('cutover with --engine dms needs the DMS user the freeze must spare', async () => {
    const r = await pgshift([
      'cutover',
      '--engine',
      'dms',
      '--dms-instance-arn',
      'arn:aws:dms:ap-northeast-2:123456789012:rep:X',
      '--dms-source-endpoint-arn',
      'arn:s',
      '--dms-target-endpoint-arn',
      'arn:t',
      '--switch',
      'none',
    ]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^pgshift: --engine dms needs --dms-user/m);
  });

  it('cutover --reverse-engine dms without the reverse endpoints is refused before anything runs (else replication back fails after the switch)', async () => {
    const r = await pgshift([
      'cutover',
      '--engine',
      'dms',
      '--reverse-engine',
      'dms',
      '--dms-instance-arn',
      'arn:aws:dms:ap-northeast-2:123456789012:rep:X',
      '--dms-source-endpoint-arn',
      'arn:s',
      '--dms-target-endpoint-arn',
      'arn:t',
      '--dms-user',
      'dms_user',
      '--switch',
      'none',
    ]);
    expect(r.code).toBe(2);
    expect(r.stderr.split('\n').filter((l) => l.startsWith('pgshift:'))).toEqual([
      'pgshift: --reverse-engine dms needs --dms-reverse-source-endpoint-arn — pass --dms-reverse-source-endpoint-arn or set PGSHIFT_DMS_REVERSE_SOURCE_ENDPOINT_ARN (an output of infra stack 03-dms)',
    ]);
  });

  it('full-load --engine dms refuses dump-restore (it makes no slot for DMS to continue from)', async () => {
    const r = await pgshift(['full-load', '--engine', 'dms', '--load-strategy', 'dump-restore']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^pgshift: --engine dms needs --load-strategy snapshot-copy/m);
  });

  it('an unknown engine is refused by name', async () => {
    const r = await pgshift(['cdc', 'status', '--engine', 'pglogical']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/--engine.*pglogical.*native, dms/s);
  });
});
