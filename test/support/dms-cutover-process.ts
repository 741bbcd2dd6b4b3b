/**
 * A runner that does `cdc start --engine dms` and then `cutover --engine dms`, in a process of its own, so a
 * test can SIGKILL it inside the write freeze (test/integration/dms-recover.test.ts). The DMS API is mocked
 * and the replication instance is the stand-in (dms-stand-in.ts), both inside this process: they die with
 * it, as the runner would, while the servers keep what pgshift wrote on them (that is what recover reads).
 * Where it waits for the kill, by `waitIn`:
 *   freeze       the apply is held inside the freeze only (hold-apply.ts);
 *   turn-around  past the switch, stopping the forward task, which the stand-in never lets finish (a DMS stop
 *                can take minutes), so the return link is not started yet.
 *
 * Input: JSON in PGSHIFT_TEST_DMS_CUTOVER. Output on stdout: "cdc running", then the cutover's step lines.
 */
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { DatabaseMigrationServiceClient } from '@aws-sdk/client-database-migration-service';
import { mockClient } from 'aws-sdk-client-mock';
import { dmsClients } from '../../src/aws/dms.js';
import { startDmsCdc } from '../../src/engine/cdc/dms.js';
import { runCutover } from '../../src/engine/cutover/cutover.js';
import { runFullLoad } from '../../src/engine/full-load/full-load.js';
import { migrationNames } from '../../src/engine/names.js';
import { DmsEngine } from '../../src/engine/replication/dms.js';
import type { Logger } from '../../src/log/logger.js';
import { parseConnInfo } from '../../src/postgres/conninfo.js';
import { makeSwitch } from '../../src/switch/switch.js';
import { DmsReplicationInstanceStandIn } from './dms-stand-in.js';
import { holdApplyInsideFreeze } from './hold-apply.js';

export interface DmsCutoverProcessInput {
  sourceUrl: string;
  targetUrl: string;
  /** The DMS user's URLs (the stand-in logs in as it, so the freeze spares it). */
  dmsSourceUrl: string;
  dmsTargetUrl: string;
  dmsRole: string;
  name: string;
  stateDir: string;
  bouncer: { adminUrl: string; iniPath: string; entry: string; appUrl: string };
  waitIn: 'freeze' | 'turn-around';
}

const REGION = 'ap-northeast-2';
const input = JSON.parse(process.env.PGSHIFT_TEST_DMS_CUTOVER ?? '{}') as DmsCutoverProcessInput;
const say = (line: string) => process.stdout.write(`${line}\n`);
const log: Logger = { info: say, warn: (l) => say(`WARN ${l}`), progress: () => undefined };

const names = migrationNames(input.name);
const source = parseConnInfo(input.sourceUrl, 'source');
const target = parseConnInfo(input.targetUrl, 'target');
const dmsApi = mockClient(DatabaseMigrationServiceClient);
const standIn = new DmsReplicationInstanceStandIn(dmsApi, 'arn:aws:dms:ap-northeast-2:123456789012:rep:STANDIN', [
  { arn: 'arn:fwd:src', url: input.dmsSourceUrl, slot: names.slot },
  { arn: 'arn:fwd:tgt', url: input.dmsTargetUrl },
]);
const engine = new DmsEngine({
  clients: dmsClients({
    region: REGION,
    dms: new DatabaseMigrationServiceClient({ region: REGION }),
    cloudwatch: new CloudWatchClient({ region: REGION }),
  }),
  replicationInstanceArn: 'arn:aws:dms:ap-northeast-2:123456789012:rep:STANDIN',
  endpoints: { forward: { source: 'arn:fwd:src', target: 'arn:fwd:tgt' } },
  users: [input.dmsRole],
  migrationName: names.name,
  wait: { intervalMs: 25, timeoutMs: 60_000 },
  log,
});

await runFullLoad({ source, target, names, jobs: 2, slotPlugin: 'test_decoding', log });
await startDmsCdc({ source, target, names, engine, log });
if (input.waitIn === 'freeze') await holdApplyInsideFreeze(input.sourceUrl, input.targetUrl);
else standIn.holdStops();
say('cdc running');
await runCutover({
  source,
  target,
  names,
  switch: makeSwitch({ kind: 'pgbouncer', adminUrl: input.bouncer.adminUrl, iniPath: input.bouncer.iniPath, dbEntry: input.bouncer.entry }),
  appPath: parseConnInfo(input.bouncer.appUrl, 'target'),
  stateDir: input.stateDir,
  maxFreezeMs: 120_000,
  log,
  engine,
});
// Not reached: the test kills this process where it waits.
say('cutover ended');
