/**
 * `pgshift cdc start-return`: start the return link from the slot a switchover made inside its freeze, when
 * the switchover itself could not start it. With an AWS DMS link the running link is stopped and the return
 * link started only after writes resume (switchover.ts, returnLinkAfterResume); if that fails, the switch
 * stands, the slot keeps every write on the new primary, and this command starts the link once the cause is
 * fixed (runbooks/dms.md §8). Until it runs, a rollback is not lossless.
 *
 * Runbook order:
 *   1. read both links through their engines, and both slots
 *   2. a link that runs already: nothing to start (a second run, or the switchover did start it)
 *   3. the return link is the one whose slot is there: exactly one, or the command cannot tell and refuses
 *   4. start it from that slot: it carries everything written on the new primary since the switch
 * It changes nothing but step 4; every refusal says what it found.
 */
import { checkFailed } from '../../errors.js';
import type { Logger } from '../../log/logger.js';
import { withClients } from '../../postgres/connect.js';
import { describe, type ConnInfo } from '../../postgres/conninfo.js';
import { readSlot } from '../../postgres/slot.js';
import type { MigrationNames } from '../names.js';
import { type Link, linkBetween, type ReplicationEngine } from '../replication/engine.js';

export interface ReturnLinkOptions {
  source: ConnInfo;
  target: ConnInfo;
  /** How each server reaches the other, when not as this run does (a native subscription connects from there). */
  sourceFromTarget?: ConnInfo;
  targetFromSource?: ConnInfo;
  names: MigrationNames;
  /** source -> target, and target -> source: the same engines the switchover used. */
  engine: ReplicationEngine;
  reverseEngine: ReplicationEngine;
  log: Logger;
}

export interface ReturnLinkResult {
  /** The link started, or null when one already ran. */
  started: Link['direction'] | null;
  detail: string;
}

export async function startReturnLink(opts: ReturnLinkOptions): Promise<ReturnLinkResult> {
  return withClients(opts.source, opts.target, async (source, target) => {
    const ends = [
      { client: source, info: opts.source, seenByOther: opts.sourceFromTarget },
      { client: target, info: opts.target, seenByOther: opts.targetFromSource },
    ] as const;
    const links = {
      forward: { link: linkBetween('forward', opts.names, ...ends), engine: opts.engine },
      reverse: { link: linkBetween('reverse', opts.names, ...ends), engine: opts.reverseEngine },
    };
    // 1–2. Both directions at once would loop every change between the servers: one that runs ends it here.
    const found = [];
    for (const { link, engine } of Object.values(links)) {
      const status = await engine.status(link);
      if (status.running) {
        const detail = `replication ${describeLink(link)} runs already (${status.detail}): nothing to start`;
        opts.log.info(detail);
        return { started: null, detail };
      }
      found.push({ link, engine, status, slot: await readSlot(link.publisher, link.names.slot) });
    }
    // 3. The return link's slot, made inside the switchover's freeze on the new primary. (The old link's slot
    // went with it when the switchover stopped it; a stopped DMS task may stay, and is not the return link.)
    const withSlot = found.filter((f) => f.slot);
    if (withSlot.length === 0)
      throw checkFailed(
        `neither ${opts.names.slot} on the ${describe(opts.source)} nor ${opts.names.reverseSlot} on the ${describe(opts.target)} exists: no switchover left a slot to start from`,
        "see 'pgshift status'; a lost slot means the return link cannot be lossless: cleanup, then full-load and cdc start the other way",
      );
    if (withSlot.length === 2)
      // The switchover drops the old direction's slot once its task has stopped; a runner that died before
      // that leaves both, and starting either could run both directions at once.
      throw checkFailed(
        `both ${opts.names.slot} on the ${describe(opts.source)} and ${opts.names.reverseSlot} on the ${describe(opts.target)} exist and no link runs: the old direction was not stopped to the end`,
        "stop the old direction (after a cutover: 'pgshift cdc stop' with its --engine, which waits for the DMS task to stop and drops its slot), then run again",
      );
    const { link, engine, status } = withSlot[0]!;
    if (status.exists)
      throw checkFailed(
        `replication ${describeLink(link)} exists but does not run (${status.detail})`,
        "see 'pgshift cdc status' for why it stopped; start-return starts only a link that is missing",
      );
    // 4. From the slot: everything since the switch is in it.
    await engine.start(link);
    const detail = `started replication ${describeLink(link)} (${engine.name}) from slot ${link.names.slot}`;
    opts.log.info(detail);
    return { started: link.direction, detail };
  });
}

const describeLink = (l: Link) => `${describe(l.publisherInfo)} -> ${describe(l.subscriberInfo)}`;
