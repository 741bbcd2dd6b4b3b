/**
 * `cdc status --watch` for an engine that has no subscription to read (AWS DMS, `--engine dms`). Each tick
 * takes what the engine reports through the engine interface (running or not, per-table state) and — the
 * authority — the slot's lag by LSN and the WAL it retains (docs/design.md rules 3 and 7). CloudWatch's
 * one-minute latency is left to `cdc status` without --watch: it cannot change between two-second ticks.
 *
 * A tick that fails (the source restarting, the DMS API throttling) becomes a 'critical' sample and the
 * next tick reconnects; a first connection that fails throws (wrong URL or password), as the native watch.
 */
import { connectBoth } from '../../postgres/connect.js';
import type { ConnInfo } from '../../postgres/conninfo.js';
import { currentWalLsn, lsnDiff } from '../../postgres/lsn.js';
import { readSlot } from '../../postgres/slot.js';
import type { MigrationNames } from '../names.js';
import { linkBetween, type ReplicationEngine } from '../replication/engine.js';
import type { Verdict } from './status.js';
import { runWatchLoop } from './watch-loop.js';

const GiB = 1024 ** 3;

export interface LinkWatchOptions {
  source: ConnInfo;
  target: ConnInfo;
  /** The migration's names: cdc watches the forward link (source -> target). */
  names: MigrationNames;
  engine: ReplicationEngine;
  /** Retained WAL that warns (default 2 GiB) and that is critical (default 10 GiB), as the native status. */
  warnRetainedBytes?: number;
  maxRetainedBytes?: number;
}

export interface LinkSample {
  at: string;
  /** What the engine says; null when this tick could not be taken (see error). */
  running: boolean | null;
  detail: string | null;
  /** Tables per state, e.g. { "Table completed": 12 }; null when the engine reports no table states. */
  tables: Record<string, number> | null;
  /** What the engine confirmed on the slot (it confirms what it has applied). */
  confirmedLsn: string | null;
  /** Source WAL position minus that. */
  lagBytes: number | null;
  retainedBytes: number | null;
  walStatus: string | null;
  verdict: Verdict;
  error?: string;
}

type Session = Awaited<ReturnType<typeof connectBoth>>;

/** One tick: the engine's view of the link, then the slot's position against the source's WAL. */
export async function sampleLink(opts: LinkWatchOptions, s: Session): Promise<LinkSample> {
  const link = linkBetween('forward', opts.names, { client: s.source, info: opts.source }, { client: s.target, info: opts.target });
  const status = await opts.engine.status(link);
  const slot = await readSlot(s.source, opts.names.slot);
  const head = await currentWalLsn(s.source);
  const lagBytes = slot?.confirmedFlushLsn ? Math.max(0, lsnDiff(head, slot.confirmedFlushLsn)) : null;
  const tables = status.tables ? countBy(status.tables.map((t) => t.state)) : null;
  const retained = slot?.retainedBytes ?? null;
  const critical = !status.running || !slot || slot.walStatus === 'lost' || (retained ?? 0) >= (opts.maxRetainedBytes ?? 10 * GiB);
  const warn = (retained ?? 0) >= (opts.warnRetainedBytes ?? 2 * GiB) || slot?.walStatus === 'unreserved';
  return {
    at: new Date().toISOString(),
    running: status.running,
    detail: slot ? status.detail : `${status.detail}; slot ${opts.names.slot} is missing`,
    tables,
    confirmedLsn: slot?.confirmedFlushLsn ?? null,
    lagBytes,
    retainedBytes: retained,
    walStatus: slot?.walStatus ?? null,
    verdict: critical ? 'critical' : warn ? 'warn' : 'ok',
  };
}

function countBy(values: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of values) out[v] = (out[v] ?? 0) + 1;
  return out;
}

/** A sample every `intervalMs` until `signal` aborts; returns the series (watch-loop.ts: a failed tick is critical). */
export function watchLink(
  opts: LinkWatchOptions,
  intervalMs: number,
  onSample: (s: LinkSample) => void,
  signal: AbortSignal,
): Promise<LinkSample[]> {
  return runWatchLoop<LinkSample>({
    open: async () => {
      const session = await connectBoth(opts.source, opts.target, { applicationName: 'pgshift-cdc-watch' });
      return { sample: () => sampleLink(opts, session), close: session.close };
    },
    failed: (at, error) => ({
      at,
      running: null,
      detail: null,
      tables: null,
      confirmedLsn: null,
      lagBytes: null,
      retainedBytes: null,
      walStatus: null,
      verdict: 'critical',
      error,
    }),
    intervalMs,
    onSample,
    signal,
  });
}
