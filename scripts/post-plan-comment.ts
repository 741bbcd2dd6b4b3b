/**
 * Post (or update in place) ONE pull-request comment identified by a hidden marker:
 *   tsx scripts/post-plan-comment.ts --marker infra-plan/01-single-vpc-rds --body-file plan.md
 * Repository and pull request come from the Actions environment (GITHUB_REPOSITORY, and
 * pull_request.number in GITHUB_EVENT_PATH) unless --repo / --pr are given. Token: GITHUB_TOKEN.
 */
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { PgshiftError, usageError } from '../src/errors.js';
import { apiBaseUrl, githubClient, parseRepo } from '../src/github/octokit.js';
import { upsertPullRequestComment } from '../src/github/pr-comment.js';
import { redact } from '../src/postgres/redact.js';

const program = new Command()
  .name('post-plan-comment')
  .description('Create or update one pull-request comment identified by a hidden marker. Token: GITHUB_TOKEN.')
  .requiredOption('--marker <name>', 'identifies the comment, e.g. infra-plan/01-single-vpc-rds')
  .requiredOption('--body-file <path>', 'Markdown file with the comment text')
  .option('--repo <owner/name>', 'repository (default: GITHUB_REPOSITORY)')
  .option('--pr <number>', 'pull request number (default: pull_request.number from GITHUB_EVENT_PATH)')
  .showHelpAfterError();

function pullNumber(given: string | undefined): number {
  if (given !== undefined) {
    if (!/^[1-9]\d*$/.test(given)) throw usageError(`--pr '${given}' is not a pull request number`, 'pass --pr 42');
    return Number(given);
  }
  const path = process.env.GITHUB_EVENT_PATH;
  if (!path) throw usageError('no pull request given', 'pass --pr, or run in a pull_request workflow (GITHUB_EVENT_PATH)');
  let event: { pull_request?: { number?: number } };
  try {
    event = JSON.parse(readFileSync(path, 'utf8')) as typeof event;
  } catch {
    throw usageError(`cannot read the event file ${path}`, 'pass --pr');
  }
  const n = event.pull_request?.number;
  if (!n) throw usageError('the triggering event is not a pull request', 'run this in a pull_request workflow, or pass --pr');
  return n;
}

async function main(): Promise<number> {
  program.parse();
  const o = program.opts<{ marker: string; bodyFile: string; repo?: string; pr?: string }>();
  const repo = parseRepo(o.repo ?? process.env.GITHUB_REPOSITORY);
  const pr = pullNumber(o.pr);
  let body: string;
  try {
    body = readFileSync(o.bodyFile, 'utf8');
  } catch {
    throw usageError(`cannot read --body-file ${o.bodyFile}`, 'write the comment text to that file first');
  }
  const gh = githubClient({ token: process.env.GITHUB_TOKEN, baseUrl: apiBaseUrl() });
  const res = await upsertPullRequestComment(gh, { ...repo, pullNumber: pr, marker: o.marker, body });
  process.stdout.write(`${res.action} comment ${res.commentId} on ${repo.owner}/${repo.repo}#${pr}: ${res.url}\n`);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    const line = err instanceof PgshiftError ? err.oneLine() : String((err as Error)?.message ?? err);
    process.stderr.write(`post-plan-comment: ${redact(line)}\n`);
    process.exit(err instanceof PgshiftError ? err.exitCode : 2);
  },
);
