import { usageError } from '../errors.js';
import { redact } from '../postgres/redact.js';
import { explainGitHubError, type GitHubClient, type RepoRef } from './octokit.js';

/** GitHub refuses comment bodies over 65,536 characters; keep room for the truncation note. */
export const MAX_COMMENT_CHARS = 65_000;

/** The hidden line that identifies pgshift's comment of one kind on a pull request. */
export function markerLine(marker: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._:/-]{0,99}$/.test(marker)) {
    throw usageError(`'${marker}' is not a usable comment marker`, 'use letters, digits and . _ : / - (e.g. infra-plan/01-single-vpc-rds)');
  }
  return `<!-- pgshift:${marker} -->`;
}

/** The full comment body: the marker first, then the text, cut to what GitHub accepts. */
export function commentBody(marker: string, text: string): string {
  const head = `${markerLine(marker)}\n`;
  const room = MAX_COMMENT_CHARS - head.length;
  if (text.length <= room) return head + text;
  const note = `\n\n… truncated: ${text.length - room + 200} more characters. The full text is in the workflow run's artifacts.`;
  return head + text.slice(0, room - 200) + note;
}

export interface UpsertResult {
  action: 'created' | 'updated' | 'unchanged';
  commentId: number;
  url: string;
}

/**
 * Keep ONE comment per marker on a pull request: find it (all pages), update it in place, or
 * create it. A plan posted on every push would otherwise bury the review under stale plans.
 * The text is redacted first: a plan can echo a connection string.
 */
export async function upsertPullRequestComment(
  gh: GitHubClient,
  opts: RepoRef & { pullNumber: number; marker: string; body: string },
): Promise<UpsertResult> {
  const repo: RepoRef = { owner: opts.owner, repo: opts.repo };
  const body = commentBody(opts.marker, redact(opts.body));
  const existing = await findMarkedComment(gh, repo, opts.pullNumber, opts.marker);
  const permission = "the 'pull-requests: write' permission (issues: write for comments)";
  try {
    if (existing) {
      if (existing.body === body) return { action: 'unchanged', commentId: existing.id, url: existing.html_url };
      const { data } = await gh.rest.issues.updateComment({ ...repo, comment_id: existing.id, body });
      return { action: 'updated', commentId: data.id, url: data.html_url };
    }
    const { data } = await gh.rest.issues.createComment({ ...repo, issue_number: opts.pullNumber, body });
    return { action: 'created', commentId: data.id, url: data.html_url };
  } catch (err) {
    throw explainGitHubError(err, { what: `writing the comment on pull request #${opts.pullNumber}`, permission });
  }
}

/** The comment whose body starts with the marker line (a quote of it further down in someone's reply does not count). */
export async function findMarkedComment(
  gh: GitHubClient,
  repo: RepoRef,
  pullNumber: number,
  marker: string,
): Promise<{ id: number; body: string; html_url: string } | undefined> {
  const line = markerLine(marker);
  try {
    const comments = await gh.paginate(gh.rest.issues.listComments, { ...repo, issue_number: pullNumber, per_page: 100 });
    const found = comments.find((c) => (c.body ?? '').startsWith(line));
    return found ? { id: found.id, body: found.body ?? '', html_url: found.html_url } : undefined;
  } catch (err) {
    throw explainGitHubError(err, {
      what: `reading the comments of pull request #${pullNumber}`,
      permission: "the 'pull-requests: read' permission",
    });
  }
}
