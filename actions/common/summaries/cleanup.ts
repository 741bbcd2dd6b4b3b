/** What the cleanup step shows: what was dropped on each side and, in red, anything still present. */
import type { CleanupResult } from '../../../src/engine/cleanup/cleanup.js';
import { code, heading, stepsSection, table } from '../render.js';

export function renderCleanup(r: CleanupResult): string {
  const headline = r.leftovers.length
    ? `❌ **leftovers** — ${r.leftovers.length} replication object(s) of this migration are still present.`
    : '✅ **clean** — nothing pgshift made is left on either side.';
  const dropped = r.dropped.length
    ? table(
        ['side', 'dropped', 'name'],
        r.dropped.map((o) => [o.side, o.kind, code(o.name)]),
      )
    : 'Nothing needed dropping.';
  const parts = [headline, heading(3, 'Dropped'), dropped];
  if (r.leftovers.length)
    parts.push(
      heading(3, 'Still present'),
      table(
        ['side', 'kind', 'name'],
        r.leftovers.map((o) => [o.side, o.kind, code(o.name)]),
      ),
    );
  parts.push(stepsSection('cleanup steps', r.steps));
  return parts.join('\n\n');
}
