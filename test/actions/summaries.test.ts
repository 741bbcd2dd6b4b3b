/**
 * The job summaries, as the person reading the run sees them (actions/common/summaries/*): the
 * headline says what happened, a failure or a difference is red (❌, and `crit`/`active` bars in the
 * Gantt chart), tables name every table with its numbers, and nothing secret survives — a connection
 * URL with its password that slipped into an error message is reduced to host:port/db by the same
 * phaseSummary the actions write with.
 */
import { describe, expect, it } from 'vitest';
import { phaseSummary } from '../../actions/common/summary.js';
import { renderCleanup } from '../../actions/common/summaries/cleanup.js';
import { cutoverAnnotations, cutoverFailure, cutoverVerdict, renderCutover } from '../../actions/common/summaries/cutover.js';
import { renderFullLoad } from '../../actions/common/summaries/full-load.js';
import { allChecks, renderPreflight } from '../../actions/common/summaries/preflight.js';
import { renderRecover } from '../../actions/common/summaries/recover.js';
import { lostRows, renderRollback, rollbackFailure, rollbackVerdict } from '../../actions/common/summaries/rollback.js';
import { renderStatusMarkdown } from '../../actions/common/summaries/status.js';
import { renderAborted } from '../../actions/common/summaries/switchover.js';
import { renderVerify } from '../../actions/common/summaries/verify.js';
import { renderDmsStatus, renderStop, renderWatch } from '../../actions/common/summaries/cdc.js';
import { STEP } from '../../src/engine/cutover/steps.js';
import { SwitchoverAborted } from '../../src/engine/cutover/switchover.js';
import { migrationNames } from '../../src/engine/names.js';
import * as f from './summaries-fixtures.js';

const SECRET_URL = 'postgres://app:Sup3rS3cret@10.0.1.5:6432/tasteam';

/** Lines of the Gantt chart whose bar is red (crit: writes frozen; active: failed). */
const redBars = (md: string) => md.split('\n').filter((l) => /:(crit|active),/.test(l));

describe('cutover summary', () => {
  it('an equal switch: green headline with the freeze against its goal, the facts table, the frozen steps red in the timeline', () => {
    const md = phaseSummary('cutover', 'cutover', renderCutover(f.cutoverResult(), 'PgBouncer entry tasteam → target', null));
    expect(md).toMatch(/^## pgshift cutover$/m);
    expect(md).toMatch(
      /^✅ \*\*switched to `rds:5432\/tasteam`\*\* \(from `source:5432\/tasteam`\) — ✅ writes frozen for \*\*640 ms\*\* \(goal ≤ 2\.0 s\)\./m,
    );
    expect(md).toContain(
      '| switch-point check (after resuming, in snapshots taken inside the freeze) | ✅ 12 tables equal (fast, 310 ms) |',
    );
    expect(md).toContain('| post-check write through the application path | ✅ landed on the new primary (15 ms) |');
    expect(md).toMatch(/^### cutover timeline \(red: writes frozen\)$/m);
    expect(redBars(md).map((l) => l.trim().split(' :')[0])).toEqual([STEP.freezeWrites, STEP.waitForZeroLag, STEP.switchApplication]);
    expect(md).not.toContain('❌');
    expect(cutoverVerdict(f.cutoverResult())).toBe('switched');
  });

  it('a difference at the switch point: red headline, a red section naming each table with both counts, a failure line naming them', () => {
    const r = f.cutoverResult({ mismatch: true });
    const md = phaseSummary('cutover', 'cutover', renderCutover(r, 'none', null));
    expect(md).toMatch(/^❌ \*\*switched to/m);
    expect(md).toMatch(/^### ❌ The two sides differed at the switch point$/m);
    expect(md).toContain('| `public.orders` | 1,000 | 999 | – |');
    expect(md).toContain('| `public.order_lines` | 4,000 | missing | – |');
    expect(md).toContain('❌ **2 of 12 tables differ** (fast, 310 ms)');
    expect(cutoverVerdict(r)).toBe('switched-mismatch');
    expect(cutoverFailure(r)).toMatch(/^the two sides differed at the switch point: .*public\.orders/);
    expect(cutoverAnnotations(r)[0]).toMatchObject({ level: 'error', title: 'the two sides differed at the switch point' });
  });

  it('on-mismatch rollback shows the rollback that followed, and the verdict says so', () => {
    const r = f.cutoverResult({ mismatch: true, rolledBack: true });
    const md = renderCutover(r, 'none', null);
    expect(md).toMatch(/^### Rolled back at once \(on-mismatch: rollback\)$/m);
    expect(md).toMatch(/^✅ \*\*rolled back to `source:5432\/tasteam`\*\*/m);
    expect(cutoverVerdict(r)).toBe('rolled-back-after-mismatch');
  });

  it('a failed post-check is red and its error carries no password, even when the error quoted the URL', () => {
    const r = f.cutoverResult({ postCheckError: `connection to ${SECRET_URL} refused` });
    const md = phaseSummary('cutover', 'cutover', renderCutover(r, 'none', null));
    expect(md).toMatch(/^⚠️ \*\*switched to/m);
    expect(md).toContain('| post-check write through the application path | ❌ connection to 10.0.1.5:6432/tasteam refused |');
    expect(md).not.toContain('Sup3rS3cret');
    expect(md).not.toContain('app:');
    expect(cutoverVerdict(r)).toBe('switched-post-check-failed');
  });

  it('pre-cutover backups are listed with their ids', () => {
    const md = renderCutover(f.cutoverResult(), 'none', f.backups());
    expect(md).toMatch(/^### Pre-cutover backups$/m);
    expect(md).toContain('| RDS snapshot | `pgshift-pre-cutover-1` | available |');
    expect(md).toContain('| source AMI | `ami-0123` | available |');
  });

  it('an abort before the switch is red, gives the reason and the timeline up to it with the failed step red', () => {
    const err = new SwitchoverAborted(
      `cutover aborted: the target had not applied the source's position within 30 s (${SECRET_URL})`,
      'writes resumed on the source',
      f.steps([STEP.preChecks, true], [STEP.freezeWrites, true], [STEP.waitForZeroLag, false]),
      30_120,
    );
    const md = phaseSummary('cutover', 'cutover', renderAborted('cutover', err));
    expect(md).toMatch(
      /^❌ \*\*cutover aborted before the switch\*\* — the old primary still serves and writes flow again \(frozen for 30\.1 s\)\.$/m,
    );
    expect(md).toMatch(/^Reason: cutover aborted: the target had not applied/m);
    expect(md).toMatch(/^### cutover timeline up to the abort$/m);
    expect(redBars(md).some((l) => l.includes(STEP.waitForZeroLag) && l.includes(':active,'))).toBe(true);
    expect(md).not.toContain('Sup3rS3cret');
  });
});

describe('rollback summary', () => {
  it('without reverse replication: a warning headline with the rows lost, a table per table with sample keys', () => {
    const r = f.dataLossRollback();
    const md = renderRollback(r, 'none');
    expect(md).toMatch(/^⚠️ \*\*rolled back without reverse replication\*\* \(accept-data-loss\) — 3 row\(s\) written on the target/m);
    expect(md).toContain('| public.orders | 2 | 1001, 1002 |');
    expect(md).toContain('| public.members | 1 | 77 |');
    expect(lostRows(r)).toBe(3);
    expect(rollbackVerdict(r)).toBe('rolled-back');
    expect(rollbackFailure(r)).toBeUndefined();
  });

  it('lossless: the switchover summary; a failed check fails the step', () => {
    const r = { mode: 'lossless' as const, ...f.cutoverResult({ kind: 'rollback', mismatch: true }) };
    expect(renderRollback(r, 'none')).toMatch(/^❌ \*\*rolled back to/m);
    expect(rollbackFailure(r)).toMatch(/^rollback switched, but the switch-point check failed/);
  });
});

describe('verify summary', () => {
  it('a difference: red headline, differing tables first, and the differing keys listed', () => {
    const md = renderVerify(f.verifyReport({ differs: true }));
    expect(md).toMatch(/^❌ \*\*differs\*\* — 1 of 2 tables differ, 0 schema differences \(full, 2\.5 s\)\.$/m);
    const rows = md.split('\n').filter((l) => l.startsWith('| ❌') || l.startsWith('| ✅'));
    expect(rows[0]).toMatch(/^\| ❌ did-not-converge \| public\.orders \| 1,000 \| 999 \| 1 \/ 4 \| id \|/);
    expect(rows[1]).toMatch(/^\| ✅ equal \| public\.members \|/);
    expect(md).toMatch(/^### Differing keys$/m);
    expect(md).toContain('| missing on target | id=250 |');
  });

  it('equal: green, no key section', () => {
    const md = renderVerify(f.verifyReport({ differs: false }));
    expect(md).toMatch(/^✅ \*\*equal\*\* — 2 tables compared \(full\) in 2\.5 s\.$/m);
    expect(md).not.toContain('❌');
    expect(md).not.toContain('Differing keys');
  });
});

describe('preflight summary', () => {
  it('a FAIL: red no-go, failures first, the fix in a collapsible block', () => {
    const report = f.preflightReport();
    const rows = allChecks(report, []);
    const md = phaseSummary('preflight', 'preflight', renderPreflight(report, rows, 'fail'));
    expect(md).toMatch(/^❌ \*\*FAIL\*\* — 1 passed, 0 warnings, 1 failed/m);
    expect(md).toMatch(/^\*\*No-go:\*\* fix every FAIL/m);
    const checkRows = md.split('\n').filter((l) => /^\| (❌|✅|⚠️)/.test(l));
    expect(checkRows[0]).toContain('wal_level');
    expect(md).toContain('<summary>FAIL wal_level — how to fix</summary>');
    expect(md).toContain('ALTER SYSTEM SET wal_level = logical;');
  });
});

describe('full-load summary', () => {
  it('totals in the headline, where CDC continues from, tables by size', () => {
    const md = renderFullLoad(f.fullLoadResult());
    expect(md).toMatch(/^✅ \*\*Loaded 2 tables, 1,100 rows, 1\.00 MiB in/m);
    expect(md).toContain('CDC continues from slot `pgshift_slot` at LSN `0/3000060`');
    const tableRows = md.split('\n').filter((l) => l.startsWith('| public.'));
    expect(tableRows.map((l) => l.split(' | ')[0])).toEqual(['| public.orders', '| public.members']);
  });
});

describe('cdc summary', () => {
  it('a stopped subscription: red verdict and finding, the lag chart, the subscription DISABLED', () => {
    const { watched, last } = f.cdcWatched();
    const md = renderWatch('status', undefined, watched, 'failing', 1024 ** 2);
    expect(md).toMatch(/^❌ \*\*failing\*\* — lag 5,000 bytes \(by LSN; caught up means ≤ 1,048,576\)/m);
    expect(md).toMatch(/^### Replication lag$/m);
    expect(md).toContain('xychart-beta');
    expect(md).toContain(`| subscription | \`${last.subscription!.name}\` DISABLED, worker NOT running |`);
    expect(md).toMatch(/^- ❌ the subscription is disabled/m);
  });

  it('stop with leftovers: a warning and the SQL to drop each', () => {
    const md = renderStop(f.stopResult(), migrationNames('pgshift'));
    expect(md).toMatch(/^⚠️ \*\*stopped, with leftovers on the source\*\*/m);
    expect(md).toContain("| slot pgshift_slot | `SELECT pg_drop_replication_slot('pgshift_slot')` |");
  });

  it('engine dms: the task state, red when it failed', () => {
    const md = renderDmsStatus(f.dmsStatus());
    expect(md).toMatch(/^❌ DMS task `pgshift-forward`: \*\*failed\*\*$/m);
    expect(md).toContain('| public.orders | Table error | 10 | 2 | 0 |');
  });
});

describe('cleanup, status and recover summaries', () => {
  it('cleanup leftovers are red and listed', () => {
    const md = renderCleanup(f.cleanupResult());
    expect(md).toMatch(/^❌ \*\*leftovers\*\* — 1 replication object\(s\)/m);
    expect(md).toMatch(/^### Still present$/m);
    expect(md).toContain('| source | slot | `pgshift_slot` |');
  });

  it('status: a disabled link is red, the verdict and next command are in the headline', () => {
    const md = renderStatusMarkdown(f.migrationStatus());
    expect(md).toMatch(/^❌ \*\*critical\*\* — primary: `source`/m);
    expect(md).toContain('| source -&gt; target | `pgshift_sub` | ❌ disabled |');
  });

  it('recover: what it did, each action, and what it found', () => {
    const md = renderRecover(f.recoverResult(), false);
    expect(md).toMatch(/^✅ \*\*undid the switch\*\* — the `source` is primary/m);
    expect(md).toContain('| thaw the source | ✅ done |');
    expect(md).toMatch(/^### What recover found$/m);
  });
});
