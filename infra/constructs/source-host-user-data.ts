// Renders the source host's first-boot script (infra/assets/source-host-user-data.sh) with this stack's
// settings. The script is kept as a real .sh file so it can be read, syntax-checked and run by hand on the
// production host; the stack only fills in the values.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export interface UserDataSettings {
  region: string;
  repository: string;
  runnerLabel: string;
  tokenParameter: string;
  runnerVersion: string;
  pgClientMajor: string;
  /** Put the runner user in the docker group (root-equivalent): only for `docker exec` access to the source. */
  dockerExec: boolean;
}

const SCRIPT = fileURLToPath(new URL('../assets/source-host-user-data.sh', import.meta.url));
const MARKER = /^#@pgshift-settings.*$/m;

export function renderUserData(settings: UserDataSettings): string {
  const template = readFileSync(SCRIPT, 'utf8');
  if (!MARKER.test(template)) throw new Error(`${SCRIPT} lost its #@pgshift-settings line`);
  const lines = [
    `REGION=${shellQuote(settings.region)}`,
    `REPOSITORY=${shellQuote(settings.repository)}`,
    `RUNNER_LABEL=${shellQuote(settings.runnerLabel)}`,
    `TOKEN_PARAMETER=${shellQuote(settings.tokenParameter)}`,
    `RUNNER_VERSION=${shellQuote(settings.runnerVersion)}`,
    `PG_CLIENT_MAJOR=${shellQuote(settings.pgClientMajor)}`,
    `DOCKER_EXEC=${settings.dockerExec ? '1' : '0'}`,
  ];
  return template.replace(MARKER, () => lines.join('\n'));
}

/**
 * Terraform reads `${…}` and `%{…}` inside any string as its own template syntax; the script's shell
 * expansions must reach the instance literally, so they are escaped as `$${…}` and `%%{…}`.
 */
export function escapeForTerraform(text: string): string {
  // Function replacers: in a replacement string "$$" would itself mean one "$".
  return text.replace(/\$\{/g, () => '$${').replace(/%\{/g, () => '%%{');
}

export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}
