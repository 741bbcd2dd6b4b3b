/** What the recover step shows: what it decided (finish, undo, repair or nothing), each action's result, the post-check, and what it found. */
import type { RecoverResult } from '../../../src/engine/recover/recover.js';
import { code, heading, table } from '../render.js';
import { renderStatusMarkdown } from './status.js';

export function renderRecover(r: RecoverResult, dryRun: boolean): string {
  const headline =
    r.actions.length === 0
      ? `✅ **nothing to do** — the ${code(r.primary)} is primary and writable, and the application is not held.`
      : `${r.ok ? '✅' : '❌'} **${dryRun ? 'would' : r.decision === 'finish' ? 'finished the switch' : r.decision === 'undo' ? 'undid the switch' : 'repaired'}** — the ${code(r.primary)} is primary (${r.found.primaryBecause}).`;
  const done = r.actions.length
    ? table(
        ['action', 'result'],
        r.actions.map((a) => [a.action, dryRun ? 'not done (dry run)' : a.done ? '✅ done' : `❌ ${a.error ?? 'not reached'}`]),
      )
    : '';
  const post = r.postCheck
    ? r.postCheck.ok
      ? `✅ a write through the application path landed on the ${r.primary}.`
      : `❌ the write through the application path failed: ${r.postCheck.error ?? ''}`
    : '';
  return [headline, done, post, heading(3, 'What recover found'), renderStatusMarkdown(r.found)].filter(Boolean).join('\n\n');
}
