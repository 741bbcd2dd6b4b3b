// The source host's first-boot script as the stack renders it: valid bash, settings quoted, shell
// expansions escaped for Terraform and restored exactly, and the runner token read at boot, never embedded.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { escapeForTerraform, renderUserData, shellQuote } from '../../infra/constructs/source-host-user-data.js';

const settings = {
  region: 'ap-northeast-2',
  repository: 'tasteam/pgshift',
  runnerLabel: 'pgshift-source',
  tokenParameter: '/pgshift/github-runner-registration-token',
  runnerVersion: '',
  pgClientMajor: '17',
  dockerExec: false,
};

const bashSyntaxErrors = (script: string): string => {
  const dir = mkdtempSync(join(tmpdir(), 'pgshift-userdata-'));
  const file = join(dir, 'user-data.sh');
  writeFileSync(file, script);
  try {
    execFileSync('bash', ['-n', file], { encoding: 'utf8', stdio: 'pipe' });
    return '';
  } catch (err) {
    return String((err as { stderr?: string }).stderr);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
};

describe('source host user-data', () => {
  const script = renderUserData(settings);

  it('is valid bash', () => {
    expect(bashSyntaxErrors(script)).toBe('');
  });

  it('sets every setting once, replacing the marker line', () => {
    for (const line of [
      "REGION='ap-northeast-2'",
      "REPOSITORY='tasteam/pgshift'",
      "RUNNER_LABEL='pgshift-source'",
      "TOKEN_PARAMETER='/pgshift/github-runner-registration-token'",
      "RUNNER_VERSION=''",
      "PG_CLIENT_MAJOR='17'",
      'DOCKER_EXEC=0',
    ]) {
      expect(script.split('\n').filter((l) => l === line)).toHaveLength(1);
    }
    expect(script).not.toContain('#@pgshift-settings');
  });

  it('reads the token from SSM with decryption and hands it to the runner through the environment, not argv', () => {
    expect(script).toMatch(
      /ACTIONS_RUNNER_INPUT_TOKEN=\$\(retry aws ssm get-parameter --region "\$REGION" --name "\$TOKEN_PARAMETER" \\\n\s+--with-decryption/,
    );
    expect(script).not.toMatch(/--token/);
    expect(script).not.toMatch(/set -x|echo "?\$ACTIONS_RUNNER_INPUT_TOKEN/);
    expect(script).toContain('unset ACTIONS_RUNNER_INPUT_TOKEN');
  });

  it('runs the runner as a non-root service user, installs the PostgreSQL 17 client, uses IMDSv2', () => {
    expect(script).toContain('useradd --system --create-home --shell /bin/bash "$RUNNER_USER"');
    expect(script).toContain('sudo --preserve-env=ACTIONS_RUNNER_INPUT_TOKEN -u "$RUNNER_USER" ./config.sh --unattended');
    expect(script).toContain('./svc.sh install "$RUNNER_USER"');
    expect(script).toContain('apt-get install -y -qq "postgresql-client-${PG_CLIENT_MAJOR}"');
    expect(script).toContain('dnf install -y -q jq unzip tar "postgresql${PG_CLIENT_MAJOR}"');
    expect(script).toContain('-X PUT http://169.254.169.254/latest/api/token');
    expect(script).toContain('sha256sum -c -');
  });

  it('adds the runner user to the docker group only when asked (docker group = root on the host)', () => {
    expect(script).toContain('if [ "$DOCKER_EXEC" = 1 ] && getent group docker >/dev/null; then usermod -aG docker "$RUNNER_USER"; fi');
    expect(renderUserData({ ...settings, dockerExec: true }).split('\n')).toContain('DOCKER_EXEC=1');
  });

  it('quotes hostile values so they stay data', () => {
    const hostile = renderUserData({ ...settings, runnerLabel: "it's $(reboot) `x` ${y}" });
    expect(bashSyntaxErrors(hostile)).toBe('');
    expect(execFileSync('bash', ['-c', `printf %s ${shellQuote("it's $(reboot) `x` ${y}")}`], { encoding: 'utf8' })).toBe(
      "it's $(reboot) `x` ${y}",
    );
  });

  it('escapes ${ and %{ for Terraform so the instance receives the script unchanged', () => {
    const escaped = escapeForTerraform(script);
    expect(escaped.match(/(?<!\$)\$\{/g)).toBeNull();
    expect(escaped.replace(/\$\$\{/g, '${').replace(/%%\{/g, '%{')).toBe(script);
    expect(escapeForTerraform('a ${b} %{c} $d $${e}')).toBe('a $${b} %%{c} $d $$${e}');
  });
});
