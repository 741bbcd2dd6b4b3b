/**
 * The switchover's steps as its timeline names them. Adapters draw the timeline from these
 * names (the frozen ones in red), so a step renamed here is renamed everywhere.
 */
export const STEP = {
  preChecks: 'pre-checks',
  freezeWrites: 'freeze writes',
  freezeDdl: 'freeze DDL on the old primary',
  waitForZeroLag: 'wait for zero lag',
  syncSequences: 'sync sequences',
  finalVerify: 'final verify',
  turnReplicationAround: 'turn replication around',
  switchApplication: 'switch the application',
  moveDdlFreeze: 'move the DDL freeze to the new primary',
  postCheck: 'post-check through the application path',
} as const;

/** The steps during which application writes are blocked: from the freeze to the switch. */
export const FROZEN_STEPS: readonly string[] = [
  STEP.freezeWrites,
  STEP.freezeDdl,
  STEP.waitForZeroLag,
  STEP.syncSequences,
  STEP.finalVerify,
  STEP.turnReplicationAround,
  STEP.switchApplication,
];

export const isFrozenStep = (step: string): boolean => FROZEN_STEPS.includes(step);
