/**
 * scripts/setup-source-host.sh prepares the production source host: it must parse, pass shellcheck,
 * and in --dry-run show exactly the steps a person would check before running it for real.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const SCRIPT = 'scripts/setup-source-host.sh';
const TOKEN = 'AABBCCDDregistrationTOKEN42';

function hasCommand(cmd: string): boolean {
  return spawnSync('bash', ['-c', `command -v ${cmd}`]).status === 0;
}

function run(args: string[], env: Record<string, string> = {}) {
  const res = spawnSync('bash', [SCRIPT, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 30_000 });
  return { code: res.status, out: res.stdout, err: res.stderr };
}

/** The step headings, in order. */
const steps = (out: string) =>
  out
    .split('\n')
    .filter((l) => l.startsWith('== '))
    .map((l) => l.slice(3));

describe('setup-source-host.sh', () => {
  // scripts/system-deps.sh installs shellcheck before the tests run.
  it('is bash -n clean and shellcheck clean', () => {
    expect(spawnSync('bash', ['-n', SCRIPT]).status).toBe(0);
    expect(hasCommand('shellcheck')).toBe(true);
    const sc = spawnSync('shellcheck', [SCRIPT], { encoding: 'utf8' });
    expect(sc.stdout + sc.stderr).toBe('');
    expect(sc.status).toBe(0);
  });

  it('--dry-run lists the steps: non-root user, client tools, runner with the pgshift-source label, systemd service — and changes nothing', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pgshift-runner-'));
    const runnerDir = join(dir, 'runner');
    const res = run(
      [
        '--repo',
        'tasteam/backend',
        '--pg-major',
        '16',
        '--runner-user',
        'pgshift-test-runner',
        '--runner-dir',
        runnerDir,
        '--runner-name',
        'src-1',
        '--dry-run',
      ],
      {
        RUNNER_REGISTRATION_TOKEN: TOKEN,
      },
    );
    expect(res.err).toBe('');
    expect(res.code).toBe(0);
    expect(res.out).toMatch(/^Dry run: nothing is changed\./);
    expect(steps(res.out)).toEqual([
      'service user pgshift-test-runner (non-root, no login shell)',
      'docker group for pgshift-test-runner',
      'source PostgreSQL major version',
      'PostgreSQL 16 client tools',
      'prerequisites (curl, jq, tar)',
      `GitHub Actions runner latest in ${runnerDir}`,
      'register runner src-1 with label pgshift-source',
      'systemd service running as pgshift-test-runner',
    ]);
    expect(res.out).toContain(
      'would run: useradd --system --user-group --create-home --home-dir /home/pgshift-test-runner --shell /usr/sbin/nologin pgshift-test-runner',
    );
    expect(res.out).toContain('ok: not requested (no --docker-exec)');
    expect(res.out).not.toContain('usermod');
    expect(res.out).toMatch(/postgresql-client-16|postgresql16/);
    expect(res.out).toContain(
      `would run: runuser -u pgshift-test-runner -- ${runnerDir}/config.sh --unattended --url https://github.com/tasteam/backend --name src-1 --labels pgshift-source --work _work --replace`,
    );
    expect(res.out).toContain('would check: sha256 of /tmp/pgshift-actions-runner.tar.gz = <digest from the release>');
    expect(res.out).toContain(`would run (in ${runnerDir}): ./svc.sh install pgshift-test-runner`);
    expect(res.out).not.toContain(TOKEN);
    // Nothing happened: no user, no directory.
    expect(spawnSync('id', ['-u', 'pgshift-test-runner']).status).not.toBe(0);
    expect(existsSync(runnerDir)).toBe(false);
  });

  it('--docker-exec adds the docker group, and --container reads the major from the running server', () => {
    const bin = mkdtempSync(join(tmpdir(), 'pgshift-fake-docker-'));
    // Stands in for `docker exec <container> postgres --version` on the source host.
    writeFileSync(
      join(bin, 'docker'),
      '#!/bin/sh\n[ "$1 $2 $3 $4" = "exec tasteam-postgres postgres --version" ] || exit 1\necho "postgres (PostgreSQL) 16.4 (Debian 16.4-1.pgdg120+2)"\n',
    );
    chmodSync(join(bin, 'docker'), 0o755);
    const res = run(
      [
        '--repo',
        'tasteam/backend',
        '--container',
        'tasteam-postgres',
        '--docker-exec',
        '--runner-user',
        'pgshift-test-runner',
        '--token-ssm-parameter',
        '/pgshift/runner-token',
        '--dry-run',
      ],
      {
        PATH: `${bin}:${process.env.PATH}`,
      },
    );
    expect(res.err).toBe('');
    expect(res.code).toBe(0);
    expect(res.out).toContain('ok: container tasteam-postgres runs PostgreSQL 16');
    expect(steps(res.out)).toContain('PostgreSQL 16 client tools');
    expect(res.out).toContain('would run: usermod -aG docker pgshift-test-runner');
    expect(res.out).toContain('would run: aws ssm get-parameter --name /pgshift/runner-token --with-decryption');
  });

  it('on a host already set up, every step reports done and no token is needed', () => {
    const runnerDir = mkdtempSync(join(tmpdir(), 'pgshift-runner-done-'));
    mkdirSync(join(runnerDir, 'bin'));
    writeFileSync(join(runnerDir, 'config.sh'), '#!/bin/sh\n');
    chmodSync(join(runnerDir, 'config.sh'), 0o755);
    writeFileSync(join(runnerDir, '.runner'), '{}');
    writeFileSync(join(runnerDir, '.service'), 'actions.runner.tasteam-backend.src-1.service');
    // `nobody` exists on every Linux host and is not root.
    const res = run(['--repo', 'tasteam/backend', '--pg-major', '16', '--runner-user', 'nobody', '--runner-dir', runnerDir, '--dry-run']);
    expect(res.code).toBe(0);
    expect(res.out).toContain('ok: user nobody exists');
    expect(res.out).toContain(`ok: runner already unpacked in ${runnerDir}`);
    expect(res.out).toContain('ok: already registered');
    expect(res.out).toContain('ok: service installed (actions.runner.tasteam-backend.src-1.service)');
    expect(res.out).not.toContain('useradd');
    expect(res.out).not.toContain('config.sh --unattended');
    expect(res.out).not.toContain('svc.sh install');
  });

  it('refuses a token on the command line, root as the runner user, and a missing token', () => {
    const withToken = run(['--repo', 'tasteam/backend', '--pg-major', '15', '--token', TOKEN, '--dry-run']);
    expect(withToken.code).toBe(2);
    expect(withToken.err).toContain('the registration token is never an argument');
    expect(withToken.out + withToken.err).not.toContain(TOKEN);
    const asRoot = run(['--repo', 'tasteam/backend', '--pg-major', '15', '--runner-user', 'root', '--dry-run'], {
      RUNNER_REGISTRATION_TOKEN: TOKEN,
    });
    expect(asRoot.code).toBe(2);
    expect(asRoot.err).toContain('the runner must not run as root');
    const noToken = run(['--repo', 'tasteam/backend', '--pg-major', '15', '--runner-dir', '/nonexistent/pgshift', '--dry-run'], {
      RUNNER_REGISTRATION_TOKEN: '',
    });
    expect(noToken.code).toBe(2);
    expect(noToken.err).toContain('no registration token');
    const noMajor = run(['--repo', 'tasteam/backend', '--dry-run'], { RUNNER_REGISTRATION_TOKEN: TOKEN });
    expect(noMajor.err).toContain('the source PostgreSQL major is unknown');
  });

  it('prints its usage with --help', () => {
    const help = execFileSync('bash', [SCRIPT, '--help'], { encoding: 'utf8' });
    expect(help).toContain('--token-ssm-parameter NAME');
    expect(help).toContain('--docker-exec');
  });
});
