/** Plain-text renderings of `status` and `recover` for a terminal at 3 a.m.: the verdict first, then the facts. */
import type { RecoverResult } from '../engine/recover/recover.js';
import type { MigrationStatus } from '../engine/status/status.js';
import { table } from './render.js';

const size = (b: number | null) =>
  b === null ? '?' : b >= 1024 ** 3 ? `${(b / 1024 ** 3).toFixed(2)} GiB` : `${(b / 1024 ** 2).toFixed(1)} MiB`;

export function renderStatus(st: MigrationStatus): string {
  const out: string[] = [];
  out.push(`migration ${st.name}: ${st.verdict.toUpperCase()} — primary: ${st.primary} (${st.primaryBecause})`);
  const servers = Object.values(st.servers).map((s) => [
    s.side,
    s.where,
    s.reachable ? 'yes' : `NO: ${s.error ?? ''}`,
    s.reachable ? `${s.loginRoles - s.readOnlyRoles.length} of ${s.loginRoles}` : '?',
    s.freeze
      ? [s.freeze.roles.length ? `${s.freeze.roles.join(', ')}` : '', s.freeze.databaseLevel ? 'database' : '']
          .filter(Boolean)
          .join(', ') || '–'
      : '?',
    s.freeze?.switchoverInFlight ?? '–',
  ]);
  out.push(table(['server', 'where', 'reachable', 'writable login roles', 'frozen by pgshift', 'switchover in flight'], servers));
  out.push(
    table(
      ['replication', 'subscription', 'state', 'slot', 'lag', 'apply errors'],
      st.links.map((l) => [
        l.direction,
        l.subscriptionExists ? l.subscription : '–',
        !l.subscriptionExists ? 'none' : !l.enabled ? 'DISABLED' : l.streaming ? 'streaming' : 'STOPPED',
        l.slotExists ? `${l.slot}${l.slotActive ? ' (active)' : ' (inactive)'}` : '–',
        size(l.lagBytes),
        l.applyErrors ?? '–',
      ]),
    ),
  );
  if (st.slots.length)
    out.push(
      table(
        ['slot', 'server', 'active', 'retained WAL', 'level'],
        st.slots.map((s) => [s.name, s.side, s.active ? 'yes' : 'no', size(s.retainedBytes), s.level]),
      ),
    );
  if (st.application) {
    const a = st.application;
    const where = a.position ? `${a.position.host ?? '(socket)'}:${a.position.port ?? 5432}/${a.position.database ?? ''}` : '';
    out.push(
      `application: ${a.switch} -> ${a.pointsAt}${where ? ` (${where})` : ''}${a.paused === null ? '' : a.paused ? ', PAUSED' : ', not paused'}`,
    );
  }
  for (const f of st.findings) out.push(`${f.level.toUpperCase()}: ${f.message}`);
  out.push(`next: ${st.next}`);
  return out.join('\n\n');
}

export function renderRecover(r: RecoverResult): string {
  const out = [`found: the ${r.primary} is primary (${r.found.primaryBecause})`];
  for (const f of r.found.findings) out.push(`  ${f.level.toUpperCase()}: ${f.message}`);
  if (r.actions.length === 0) out.push('nothing to do: the primary is writable and the application is not held');
  else {
    out.push(`${r.dryRun ? 'would do' : 'did'} (${r.decision}):`);
    for (const a of r.actions) out.push(`  ${r.dryRun ? '-' : a.done ? 'done' : 'FAILED'} ${a.action}${a.error ? `: ${a.error}` : ''}`);
  }
  if (r.postCheck)
    out.push(
      r.postCheck.ok
        ? `post-check: a write through the application path landed on the ${r.primary}`
        : `post-check FAILED: ${r.postCheck.error}`,
    );
  if (r.after) out.push(`now: ${r.after.verdict.toUpperCase()}, primary ${r.after.primary}; next: ${r.after.next}`);
  return out.join('\n');
}
