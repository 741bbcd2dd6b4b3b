/**
 * The repository's Deployments page as the record of which server is the application's
 * database: cutover and rollback open a deployment to `deployment-environment` (e.g.
 * production-database) and move it to success or failure. GitHub being unreachable must never
 * turn a finished database switch into a failed step, so every problem here is a warning.
 */
import { createDeployment, runUrl, setDeploymentStatus, type DeploymentState } from '../../src/github/deployments.js';
import { apiBaseUrl, githubClient, parseRepo } from '../../src/github/octokit.js';
import { redact } from '../../src/postgres/redact.js';
import { inputText } from './inputs.js';
import type { Annotation } from './summary.js';

export interface DeploymentTracker {
  finish(state: DeploymentState, description: string): Promise<void>;
}

export async function startDeployment(
  kind: 'cutover' | 'rollback',
  describeTarget: string,
  annotations: Annotation[],
): Promise<DeploymentTracker | undefined> {
  const environment = inputText('deployment-environment');
  const token = inputText('github-token');
  if (!environment || !token) return undefined;
  const warn = (err: unknown) =>
    annotations.push({
      level: 'warning',
      title: 'GitHub deployment not recorded',
      message: redact((err as { oneLine?: () => string }).oneLine?.() ?? String((err as Error)?.message ?? err)),
    });
  try {
    const gh = githubClient({ token, baseUrl: apiBaseUrl() });
    const repo = parseRepo(process.env.GITHUB_REPOSITORY);
    const logUrl = runUrl();
    const { id } = await createDeployment(gh, {
      ...repo,
      ref: process.env.GITHUB_SHA || 'HEAD',
      environment,
      description: `pgshift ${kind} to ${describeTarget}`,
      payload: { kind },
    });
    await setDeploymentStatus(gh, { ...repo, deploymentId: id, state: 'in_progress', description: `pgshift ${kind} running`, logUrl });
    return {
      finish: async (state, description) => {
        try {
          await setDeploymentStatus(gh, { ...repo, deploymentId: id, state, description, logUrl });
        } catch (err) {
          warn(err);
        }
      },
    };
  } catch (err) {
    warn(err);
    return undefined;
  }
}
