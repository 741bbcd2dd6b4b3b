/**
 * npm run github:setup -- --repo owner/name --reviewers alice,org/team [--dry-run]
 *
 * Creates or updates the GitHub environments pgshift's workflows run in (with the approval gates)
 * and lists the secrets each one still needs. The token comes from GITHUB_TOKEN only: an argument
 * would sit in the shell history and the process list.
 */
import { Command, Option } from 'commander';
import { PgshiftError } from '../src/errors.js';
import { formatSetupResult, setupEnvironments, type SwitchMethod } from '../src/github/environments.js';
import { apiBaseUrl, githubClient, parseRepo } from '../src/github/octokit.js';
import { redact } from '../src/postgres/redact.js';

const program = new Command()
  .name('github:setup')
  .description('Create the GitHub environments (approval gates) pgshift needs and list missing secrets. Token: GITHUB_TOKEN.')
  .option('--repo <owner/name>', 'repository (default: GITHUB_REPOSITORY)', process.env.GITHUB_REPOSITORY)
  .requiredOption('--reviewers <list>', 'who approves cutover, rollback and infra: logins and org/team slugs, comma-separated (at most 6)')
  .option('--environments <list>', 'database environments', 'experiment,production')
  .addOption(
    new Option('--switch <method>', 'how cutover switches the application (decides which switch settings are needed)')
      .choices(['pgbouncer', 'env-file', 'command', 'none'])
      .default('pgbouncer'),
  )
  .option('--allow-self-review', 'let the person who starts a cutover approve it (one-person teams only)', false)
  .option('--dry-run', 'read only: show what would be created or updated', false)
  .option('--json', 'print the result as JSON', false)
  .showHelpAfterError();

async function main(): Promise<number> {
  program.parse();
  const o = program.opts<{
    repo?: string;
    reviewers: string;
    environments: string;
    switch: SwitchMethod;
    allowSelfReview: boolean;
    dryRun: boolean;
    json: boolean;
  }>();
  const repo = parseRepo(o.repo);
  const gh = githubClient({ token: process.env.GITHUB_TOKEN, baseUrl: apiBaseUrl() });
  const result = await setupEnvironments(gh, {
    ...repo,
    reviewers: o.reviewers,
    environments: o.environments
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
    switchMethod: o.switch,
    allowSelfReview: o.allowSelfReview,
    dryRun: o.dryRun,
  });
  process.stdout.write(`${o.json ? JSON.stringify(result, null, 2) : formatSetupResult(result)}\n`);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    const line = err instanceof PgshiftError ? err.oneLine() : redact(String((err as Error)?.message ?? err));
    process.stderr.write(`github:setup: ${redact(line)}\n`);
    process.exit(err instanceof PgshiftError ? err.exitCode : 2);
  },
);
