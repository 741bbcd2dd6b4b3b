/**
 * Action adapter for `verify`: inputs → runVerify (re-checking a mismatch after the target has
 * applied past the source's position while CDC runs) → per-table verdicts, differing keys,
 * sequences and schema drift in the job summary; the step fails when anything differs.
 */
import { migrationNames } from '../../../src/engine/names.js';
import { runVerify } from '../../../src/engine/verify/verify.js';
import { withClient } from '../../../src/postgres/connect.js';
import { catchUpWaiter } from '../../../src/postgres/lsn.js';
import { readSlot } from '../../../src/postgres/slot.js';
import { relationKey } from '../../../src/postgres/sql.js';
import { connectionsFromInputs } from '../../common/connections.js';
import { input } from '../../common/inputs.js';
import { actionsLogger, group } from '../../common/logger.js';
import { runPhaseAction, type PhaseOutcome } from '../../common/run.js';
import type { Annotation } from '../../common/summary.js';
import { BAD, describeDifference, renderVerify } from '../../common/summaries/verify.js';

async function run(): Promise<PhaseOutcome> {
  const { source, target } = await connectionsFromInputs();
  const names = migrationNames(input('name')!);
  const mode = input('mode')!;
  const tables = input('tables') ?? [];
  // While CDC streams, a mismatch is re-checked once the target has applied past the source's position.
  const slot = await withClient(source, (c) => readSlot(c, names.slot));
  const report = await group(`verify ${mode}`, () =>
    runVerify({
      source,
      target,
      mode,
      tables: tables.length ? tables : undefined,
      strict: input('strict'),
      waitForCatchUp: slot?.active ? catchUpWaiter(source, names.slot) : undefined,
      log: actionsLogger(),
    }),
  );
  const differing = report.tables.filter((t) => BAD.has(t.verdict));
  const annotations: Annotation[] = differing.map((t) => ({
    level: 'error',
    title: `verify: ${relationKey(t.table)} ${t.verdict}`,
    message: describeDifference(t),
  }));
  if (report.schemaDrift.length)
    annotations.push({
      level: 'error',
      title: 'verify: schema drift',
      message: `${report.schemaDrift.length} schema difference(s) between source and target (DDL is not replicated)`,
    });
  return {
    report,
    outputs: { verdict: report.ok ? 'equal' : 'differs', 'differing-tables': differing.map((t) => relationKey(t.table)).join(',') },
    summary: renderVerify(report),
    annotations,
    failure: report.ok
      ? undefined
      : `verify ${mode}: ${differing.length} table(s) differ${report.schemaDrift.length ? `, ${report.schemaDrift.length} schema difference(s)` : ''} — the job summary names the tables and keys; see runbooks/verify.md`,
  };
}

await runPhaseAction({ phase: 'verify', title: 'verify', run });
