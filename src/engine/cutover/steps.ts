/**
 * The switchover's steps as its timeline names them. Adapters draw the timeline from these
 * names (the frozen ones in red), so a step renamed here is renamed everywhere.
 */
export const STEP = {
  preChecks: 'pre-checks',
  freezeWrites: 'freeze writes',
  waitForZeroLag: 'wait for zero lag',
  exportSnapshots: 'export snapshots',
  syncSequences: 'sync sequences',
  turnReplicationAround: 'turn replication around',
  switchApplication: 'switch the application',
  moveDdlFreeze: 'move the DDL freeze to the new primary',
  returnLinkAfterResume: 'stop the running link, then start the return link',
  postCheck: 'post-check through the application path',
  checkSwitchPoint: 'check the switch-point snapshots',
} as const;

/** The steps during which application writes are blocked: from the freeze to the switch. */
export const FROZEN_STEPS: readonly string[] = [
  STEP.freezeWrites,
  STEP.waitForZeroLag,
  STEP.exportSnapshots,
  STEP.syncSequences,
  STEP.turnReplicationAround,
  STEP.switchApplication,
];

export const isFrozenStep = (step: string): boolean => FROZEN_STEPS.includes(step);
