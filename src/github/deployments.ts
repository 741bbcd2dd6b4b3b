import { redact } from '../postgres/redact.js';
import { explainGitHubError, type GitHubClient, type RepoRef } from './octokit.js';

export type DeploymentState = 'queued' | 'in_progress' | 'success' | 'failure' | 'error' | 'inactive';

/**
 * A GitHub deployment records where the application's database is: the cutover creates one for
 * e.g. `production-database` and moves it to success when RDS takes the writes, so the repository's
 * Deployments page shows which server is live and since when. Rollback does the same back.
 */
export async function createDeployment(
  gh: GitHubClient,
  opts: RepoRef & {
    ref: string;
    environment: string;
    description: string;
    payload?: Record<string, string | number | boolean>;
    production?: boolean;
  },
): Promise<{ id: number }> {
  try {
    const res = await gh.rest.repos.createDeployment({
      owner: opts.owner,
      repo: opts.repo,
      ref: opts.ref,
      environment: opts.environment,
      description: short(opts.description),
      // A database switch is not a code merge, and it must not wait for commit statuses.
      auto_merge: false,
      required_contexts: [],
      payload: opts.payload ?? {},
      production_environment: opts.production ?? opts.environment.startsWith('production'),
      transient_environment: false,
    });
    // 202 means GitHub merged something instead of creating a deployment; with auto_merge off it should not happen.
    if (res.status !== 201 || !('id' in res.data))
      throw Object.assign(new Error('GitHub did not create the deployment'), { status: res.status });
    return { id: res.data.id };
  } catch (err) {
    throw explainGitHubError(err, {
      what: `creating a deployment to ${opts.environment}`,
      permission: "the 'deployments: write' permission",
    });
  }
}

/** Move a deployment to a new state, with a one-line description (GitHub keeps 140 characters) and a link to the run. */
export async function setDeploymentStatus(
  gh: GitHubClient,
  opts: RepoRef & { deploymentId: number; state: DeploymentState; description: string; logUrl?: string; environmentUrl?: string },
): Promise<{ id: number; state: string }> {
  try {
    const { data } = await gh.rest.repos.createDeploymentStatus({
      owner: opts.owner,
      repo: opts.repo,
      deployment_id: opts.deploymentId,
      state: opts.state,
      description: short(opts.description),
      log_url: opts.logUrl,
      environment_url: opts.environmentUrl,
      // A new successful deployment marks the previous one inactive: one live database at a time.
      auto_inactive: true,
    });
    return { id: data.id, state: data.state };
  } catch (err) {
    throw explainGitHubError(err, {
      what: `setting deployment ${opts.deploymentId} to ${opts.state}`,
      permission: "the 'deployments: write' permission",
    });
  }
}

/** The run's URL as the runner describes it, for log_url. */
export function runUrl(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const { GITHUB_SERVER_URL, GITHUB_REPOSITORY, GITHUB_RUN_ID } = env;
  return GITHUB_SERVER_URL && GITHUB_REPOSITORY && GITHUB_RUN_ID
    ? `${GITHUB_SERVER_URL}/${GITHUB_REPOSITORY}/actions/runs/${GITHUB_RUN_ID}`
    : undefined;
}

function short(text: string): string {
  const one = redact(text).replace(/\s+/g, ' ').trim();
  return one.length <= 140 ? one : `${one.slice(0, 139)}…`;
}
