/** The migration's status as Markdown (status and recover summaries): verdict, servers, links with lag, slots with retained WAL. */
import type { MigrationStatus } from '../../../src/engine/status/status.js';
import { bytes, code, table } from '../render.js';

const ICON = { ok: '✅', warn: '⚠️', critical: '❌' } as const;

export function renderStatusMarkdown(st: MigrationStatus): string {
  const head = `${ICON[st.verdict]} **${st.verdict}** — primary: ${code(st.primary)} (${st.primaryBecause}). Next: ${code(st.next)}`;
  const findings = st.findings.map((f) => `- ${ICON[f.level]} ${f.message}`).join('\n');
  const servers = table(
    ['server', 'reachable', 'writable login roles', 'frozen by pgshift', 'switchover in flight'],
    Object.values(st.servers).map((s) => [
      `${s.side} ${code(s.where)}`,
      s.reachable ? 'yes' : `❌ ${s.error ?? ''}`,
      s.reachable ? `${s.loginRoles - s.readOnlyRoles.length} of ${s.loginRoles}` : '?',
      s.freeze ? [...s.freeze.roles, ...(s.freeze.databaseLevel ? ['(database)'] : [])].join(', ') || '–' : '?',
      s.freeze?.switchoverInFlight ?? '–',
    ]),
  );
  const links = table(
    ['replication', 'subscription', 'state', 'lag', 'apply errors'],
    st.links.map((l) => [
      l.direction,
      l.subscriptionExists ? code(l.subscription) : '–',
      !l.subscriptionExists ? 'none' : !l.enabled ? '❌ disabled' : l.streaming ? '✅ streaming' : '❌ stopped',
      l.lagBytes === null ? '–' : bytes(l.lagBytes),
      String(l.applyErrors ?? '–'),
    ]),
  );
  const slots = st.slots.length
    ? table(
        ['slot', 'server', 'active', 'retained WAL', ''],
        st.slots.map((s) => [code(s.name), s.side, s.active ? 'yes' : 'no', bytes(s.retainedBytes), ICON[s.level]]),
      )
    : 'No replication slot in this database on either side.';
  const app = st.application
    ? `Application: ${st.application.switch} → **${st.application.pointsAt}**${st.application.paused === null ? '' : st.application.paused ? ' — ❌ **paused**' : ' — not paused'}`
    : '';
  return [head, findings, servers, links, slots, app].filter(Boolean).join('\n\n');
}
