import { getOctokit } from '@actions/github';
import { PgshiftError, connectionError, usageError } from '../errors.js';
import { redact, registerSecret } from '../postgres/redact.js';

/**
 * The GitHub REST client: @actions/github's Octokit (REST methods + paginate).
 * This folder is the GitHub adapter used by scripts/ and actions/; the engine never imports it.
 */
export type GitHubClient = ReturnType<typeof getOctokit>;

export const DEFAULT_API_URL = 'https://api.github.com';

/** GITHUB_API_URL is set by the runner (GitHub Enterprise Server too); tests point it at a local server. */
export function apiBaseUrl(env: NodeJS.ProcessEnv = process.env): string {
  return (env.GITHUB_API_URL || DEFAULT_API_URL).replace(/\/+$/, '');
}

/** A client for `baseUrl`. The token is registered for redaction first, so no message can show it. */
export function githubClient(opts: { token: string | undefined; baseUrl?: string }): GitHubClient {
  if (!opts.token) throw usageError('no GitHub token', 'set GITHUB_TOKEN in the environment (never pass it as an argument)');
  registerSecret(opts.token);
  return getOctokit(opts.token, { baseUrl: opts.baseUrl ?? apiBaseUrl() });
}

export interface RepoRef {
  owner: string;
  repo: string;
}

export function parseRepo(text: string | undefined): RepoRef {
  const m = /^([A-Za-z0-9-]+)\/([A-Za-z0-9._-]+)$/.exec(text ?? '');
  if (!m) throw usageError(`'${text ?? ''}' is not a repository`, 'pass --repo owner/name');
  return { owner: m[1], repo: m[2] };
}

/** HTTP status of an Octokit RequestError, if it is one. */
export function httpStatus(err: unknown): number | undefined {
  const s = (err as { status?: unknown })?.status;
  return typeof s === 'number' ? s : undefined;
}

/**
 * One line for a failed GitHub call: what pgshift was doing, the status, and the permission to
 * grant. `permission` names what a fine-grained token or GITHUB_TOKEN needs for this call.
 */
export function explainGitHubError(err: unknown, ctx: { what: string; permission: string }): PgshiftError {
  if (err instanceof PgshiftError) return err;
  const status = httpStatus(err);
  const apiMessage = redact(String((err as { message?: string })?.message ?? err))
    .split('\n')[0]
    .slice(0, 200);
  if (status === 401) return connectionError(`GitHub rejected the token while ${ctx.what}`, 'set GITHUB_TOKEN to a valid, unexpired token');
  if (status === 403) return connectionError(`GitHub refused ${ctx.what} (403: ${apiMessage})`, `give the token ${ctx.permission}`);
  if (status === 404)
    return usageError(`GitHub answered 404 while ${ctx.what}`, `check the name, and that the token can see it (${ctx.permission})`);
  if (status === 422)
    return usageError(
      `GitHub refused ${ctx.what} (422: ${apiMessage})`,
      'environment protection rules on a private repository need GitHub Team or Enterprise; otherwise check the names given',
    );
  if (status === undefined)
    return connectionError(
      `cannot reach the GitHub API while ${ctx.what}: ${apiMessage}`,
      `check GITHUB_API_URL (now ${apiBaseUrl()}) and the network`,
    );
  return connectionError(
    `GitHub answered ${status} while ${ctx.what}: ${apiMessage}`,
    'retry; if it persists, check https://www.githubstatus.com',
  );
}
