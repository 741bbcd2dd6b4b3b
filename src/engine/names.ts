import { usageError } from '../errors.js';
import { PGSHIFT_SCHEMA } from '../postgres/schemas.js';

/**
 * The names of everything one migration creates, derived from `--name` so that two
 * migrations (experiment and production, or two databases) can coexist on one server,
 * and so that cleanup finds exactly what pgshift made.
 */
export interface MigrationNames {
  name: string;
  /** Publication on the source (forward direction). */
  publication: string;
  /** Logical slot on the source, created by full-load with an exported snapshot. */
  slot: string;
  /** Subscription on the target. */
  subscription: string;
  /** Reverse direction (target -> source) made by cutover so rollback loses nothing. */
  reversePublication: string;
  reverseSlot: string;
  reverseSubscription: string;
  /** Probe publication/subscription preflight uses to prove the target reaches the source. */
  probePublication: string;
  probeSubscription: string;
  /** Schema on both sides for pgshift's own bookkeeping (heartbeat, cutover state). */
  stateSchema: string;
}

// Slot names allow only lower-case letters, digits and underscores, at most 63 bytes.
const NAME_PATTERN = /^[a-z][a-z0-9_]{0,39}$/;

export function migrationNames(name = 'pgshift'): MigrationNames {
  if (!NAME_PATTERN.test(name)) {
    throw usageError(
      `--name '${name}' is not usable for slot names`,
      'use lower-case letters, digits and _ (at most 40, starting with a letter)',
    );
  }
  return {
    name,
    publication: name,
    slot: name,
    subscription: name,
    reversePublication: `${name}_reverse`,
    reverseSlot: `${name}_reverse`,
    reverseSubscription: `${name}_reverse`,
    probePublication: `${name}_probe`,
    probeSubscription: `${name}_probe`,
    stateSchema: PGSHIFT_SCHEMA,
  };
}

/** The three names of one direction of replication: a publication and a slot on the publisher, a subscription on the subscriber. */
export interface LinkNames {
  publication: string;
  slot: string;
  subscription: string;
}

/** The names of the forward link (source -> target) or the reverse one (target -> source, made by cutover). */
export function linkNames(n: MigrationNames, direction: 'forward' | 'reverse'): LinkNames {
  return direction === 'forward'
    ? { publication: n.publication, slot: n.slot, subscription: n.subscription }
    : { publication: n.reversePublication, slot: n.reverseSlot, subscription: n.reverseSubscription };
}
