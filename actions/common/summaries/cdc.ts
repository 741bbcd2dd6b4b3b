/**
 * What the cdc step shows: the verdict in words, the lag chart (bytes by LSN, ms by heartbeat), the
 * subscription's state, tables not ready and findings (critical in red); for stop, what was dropped
 * and, in red, what is left on the source with the SQL to drop it; for engine dms, the task.
 */
import type { DmsCdcStatus, DmsCdcStopResult } from '../../../src/engine/cdc/dms.js';
import type { CdcStatus, StartCdcResult, StopCdcResult } from '../../../src/engine/cdc/index.js';
import type { MigrationNames } from '../../../src/engine/names.js';
import { relationKey } from '../../../src/postgres/sql.js';
import { bytes, code, count, duration, heading, lagChart, table, type LagPoint } from '../render.js';

export type CdcCommand = 'start' | 'status' | 'stop';

/** The lag samples the step took, and whether the last one was caught up. */
export interface Watched {
  samples: CdcStatus[];
  caughtUp: boolean;
}

export const point = (s: CdcStatus): LagPoint => ({ at: s.at, lagBytes: s.lagBytes, lagMs: s.lagMs ?? s.lagMsAtLeast });

export function renderWatch(command: CdcCommand, started: StartCdcResult | undefined, w: Watched, verdict: string, maxLag: number): string {
  const last = w.samples[w.samples.length - 1]!;
  const icon = verdict === 'failing' ? '❌' : verdict === 'streaming' ? '✅' : '⏳';
  const lagMs = last.lagMs !== null ? duration(last.lagMs) : last.lagMsAtLeast !== null ? `more than ${duration(last.lagMsAtLeast)}` : '–';
  const parts = [
    `${icon} **${verdict}** — lag ${count(last.lagBytes)} bytes (by LSN; caught up means ≤ ${count(maxLag)}), ${lagMs} for a commit to reach the target; ` +
      `the slot keeps ${bytes(last.retained.bytes)} of WAL on the source (warn at ${bytes(last.retained.warnBytes)}, stop at ${bytes(last.retained.maxBytes)}).`,
  ];
  if (started) {
    parts.push(
      table(
        ['cdc start', 'value'],
        [
          ['subscription', code(started.subscription)],
          ['publication / slot', `${code(started.publication)} / ${code(started.slotName)}`],
          ['streaming from LSN', started.startLsn ? code(started.startLsn) : '–'],
          ['options', started.options.map((o) => `${o.option}=${o.value}`).join(', ') || '–'],
          ['options skipped', started.skippedOptions.map((o) => `${o.option} (${o.reason})`).join(', ') || '–'],
          ['helper indexes for REPLICA IDENTITY FULL', started.helperIndexes.map((i) => relationKey(i)).join(', ') || '–'],
          ['took', duration(started.seconds * 1000)],
        ],
      ),
    );
  }
  parts.push(heading(3, 'Replication lag'), lagChart(w.samples.map(point)));
  const sub = last.subscription;
  parts.push(
    table(
      ['state', 'value'],
      [
        [
          'subscription',
          sub
            ? `${code(sub.name)} ${sub.enabled ? 'enabled' : 'DISABLED'}, worker ${sub.workerRunning ? 'running' : 'NOT running'}`
            : 'none',
        ],
        ['apply / sync errors', sub ? `${sub.applyErrorCount ?? '–'} / ${sub.syncErrorCount ?? '–'}` : '–'],
        ['source LSN / applied LSN', `${code(last.sourceLsn)} / ${last.appliedLsn ? code(last.appliedLsn) : '–'}`],
        [
          'slot',
          last.slot
            ? `${code(last.slot.slotName)} ${last.slot.active ? 'active' : 'inactive'}, wal_status ${last.retained.walStatus ?? '–'}`
            : 'none',
        ],
        ['REPLICA IDENTITY FULL without an index on the target', last.fullIdentityWithoutIndex.map(relationKey).join(', ') || '–'],
      ],
    ),
  );
  const notReady = last.tables.filter((t) => t.state !== 'ready');
  if (notReady.length)
    parts.push(
      table(
        ['table not ready', 'sync state'],
        notReady.map((t) => [relationKey(t), t.state]),
      ),
    );
  if (last.findings.length) parts.push(last.findings.map((f) => `- ${f.level === 'critical' ? '❌' : '⚠️'} ${f.message}`).join('\n'));
  return parts.join('\n\n');
}

export function renderStop(r: StopCdcResult, names: MigrationNames): string {
  const lines = [
    r.nothingToDo ? '✅ **stopped** — nothing was left to drop (stop had already run).' : '✅ **stopped**',
    table(
      ['object', 'result'],
      [
        [`subscription ${names.subscription} (target)`, r.droppedSubscription ? 'dropped' : 'not present'],
        ['slots (source)', r.droppedSlots.join(', ') || 'none dropped'],
        [`publication ${names.publication} (source)`, r.droppedPublication ? 'dropped' : 'not present'],
        ['source reachable', r.sourceReachable ? 'yes' : `NO — ${r.sourceError ?? ''}`],
      ],
    ),
  ];
  if (r.leftovers.length) {
    lines[0] = '⚠️ **stopped, with leftovers on the source** — run this on the source as soon as it is reachable:';
    lines.push(
      table(
        ['left on the source', 'drop it with'],
        r.leftovers.map((l) => [`${l.kind} ${l.name}`, code(l.sql)]),
      ),
    );
  }
  return lines.join('\n\n');
}

export function renderDmsStop(r: DmsCdcStopResult): string {
  return `${heading(3, 'Stopped')}\n\n${r.removed.length ? r.removed.map((x) => `- ${x}`).join('\n') : 'Nothing to stop.'}`;
}

export function renderDmsStatus(s: DmsCdcStatus): string {
  const rows = s.tables.map((t) => [relationKey(t), t.state, count(t.inserts), count(t.updates), count(t.deletes)]);
  const summary = [
    `${s.ok ? '✅' : '❌'} DMS task ${code(s.task?.identifier ?? '(none)')}: **${s.task?.status ?? 'missing'}**`,
    `lag ${s.lagBytes === null ? '?' : bytes(s.lagBytes)} by LSN; the slot retains ${s.slot ? bytes(s.slot.retainedBytes) : '?'}; CloudWatch CDCLatencySource ${s.latency?.sourceSeconds ?? '?'} s, CDCLatencyTarget ${s.latency?.targetSeconds ?? '?'} s`,
    rows.length ? table(['table', 'state', 'inserts', 'updates', 'deletes'], rows) : '',
  ].join('\n\n');
  return summary;
}
