/**
 * Job summary and annotations for a phase. The Markdown itself is built from the
 * GitHub-free renderers in src/render; this module only knows where GitHub wants it.
 */
import * as core from '@actions/core';
import { redact } from '../../src/postgres/redact.js';
import { heading, repositoryLink } from '../../src/render/markdown.js';

export type Phase = 'preflight' | 'full-load' | 'cdc' | 'verify' | 'cutover' | 'rollback' | 'cleanup' | 'recover' | 'status';

export interface Annotation {
  level: 'error' | 'warning' | 'notice';
  title?: string;
  message: string;
}

/** The runbook of a phase, linked at the commit being run so the page matches the code. */
export function runbookUrl(phase: Phase, env: NodeJS.ProcessEnv = process.env): string {
  return repositoryLink(`runbooks/${phase}.md`, {
    serverUrl: env.GITHUB_SERVER_URL,
    repository: env.GITHUB_REPOSITORY,
    sha: env.GITHUB_SHA,
  });
}

export function runbookLine(phase: Phase): string {
  const page = runbookOf(phase);
  return `📖 Runbook: [runbooks/${page}.md](${runbookUrl(page)}) — what to check and what to do next.`;
}

/** status has no page of its own: runbooks/recover.md explains what it shows and each alert. */
function runbookOf(phase: Phase): Phase {
  return phase === 'status' ? 'recover' : phase;
}

/**
 * The phase's whole section as the job summary shows it: title, runbook link, the phase's own
 * Markdown. Redacted as a whole: a URL that slipped into a detail string (an error message, a
 * hint) is reduced to host:port/db, and every registered secret to ***.
 */
export function phaseSummary(phase: Phase, title: string, body: string): string {
  return redact([heading(2, `pgshift ${title}`), runbookLine(phase), body].join('\n\n') + '\n');
}

/**
 * Append the phase's section to the job summary. Redacted as a whole: a URL that slipped into
 * a detail string is reduced to host:port/db before it reaches the file.
 */
export async function writeSummary(markdown: string): Promise<void> {
  if (!process.env.GITHUB_STEP_SUMMARY) return; // not in a runner (a local dry run): nothing to write to
  await core.summary.addRaw(redact(markdown), true).write();
}

export function annotate(annotations: Annotation[]): void {
  for (const a of annotations) {
    const props = a.title ? { title: redact(a.title) } : {};
    const message = redact(a.message);
    if (a.level === 'error') core.error(message, props);
    else if (a.level === 'warning') core.warning(message, props);
    else core.notice(message, props);
  }
}
