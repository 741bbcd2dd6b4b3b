import { assumeTargetRole, awsClients, type AwsClients } from './clients.js';
import { createSourceImage, imageName, type ImageResult } from './ec2.js';
import { createDbSnapshot, snapshotIdentifier, type SnapshotResult } from './rds.js';
import type { WaitOptions } from './wait.js';

export interface PreCutoverBackups {
  snapshot: SnapshotResult;
  image: ImageResult;
}

/**
 * The plan's pre-cutover checklist: an RDS snapshot of the target and an AMI of the source, taken
 * together (they do not depend on each other) and both waited for before the write freeze starts.
 * A rerun within the same minute (or with the same `at`) reuses the same names and waits for the existing ones.
 */
export async function takePreCutoverBackups(opts: {
  dbInstanceIdentifier: string;
  sourceInstanceId: string;
  region?: string;
  at?: Date;
  wait?: WaitOptions;
  /** Experiment 02: the RDS snapshot is taken in the target's account, as this role; the AMI stays in the runner's. */
  targetRoleArn?: string;
  clients?: Partial<Omit<AwsClients, 'region' | 'targetRole'>>;
}): Promise<PreCutoverBackups> {
  const aws = awsClients({ region: opts.region, targetRoleArn: opts.targetRoleArn, ...opts.clients });
  await assumeTargetRole(aws);
  const at = opts.at ?? new Date();
  const [snapshot, image] = await Promise.all([
    createDbSnapshot(aws.rds, {
      dbInstanceIdentifier: opts.dbInstanceIdentifier,
      snapshotIdentifier: snapshotIdentifier(opts.dbInstanceIdentifier, 'pre-cutover', at),
      region: aws.region,
      wait: opts.wait,
    }),
    createSourceImage(aws.ec2, {
      instanceId: opts.sourceInstanceId,
      name: imageName(opts.sourceInstanceId, 'pre-cutover', at),
      region: aws.region,
      wait: opts.wait,
    }),
  ]);
  return { snapshot, image };
}
