import { writeFileSync } from 'node:fs';
import { Command } from 'commander';
import { rehearsalMarkdown } from '../../rehearse/report.js';
import { reportHtml } from '../../rehearse/report-html.js';
import { runRehearsal, type RehearsalResult } from '../../rehearse/rehearse.js';
import { stderrLogger } from '../../log/logger.js';
import { action } from '../context.js';
import { describeSnapshotCheck } from '../../engine/cutover/snapshot-check.js';
import { usageError } from '../../errors.js';
import { formatBytes } from '../../rehearse/fixture/generate.js';
import { flag, flagText, flagValue } from '../flags.js';

/** --gb: a positive number of gigabytes (decimal, as pg_database_size is reported), e.g. 0.25 or 3. */
function gigabytes(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0 || n > 1000)
    throw usageError(`--gb must be a number of gigabytes above 0, such as 0.25 or 3, got '${value}'`);
  return Math.round(n * 1e9);
}

interface RehearseFlags {
  report: string;
  json?: boolean;
}

export function rehearseCommand(): Command {
  return new Command('rehearse')
    .description(
      'play the whole migration locally: PostgreSQL 15 source, 17 target, PgBouncer, live traffic, cutover, rollback, cutover again, cleanup',
    )
    .addOption(flag('rows'))
    .addOption(flag('gb'))
    .addOption(flag('rate'))
    .addOption(flag('stage-seconds'))
    .addOption(flag('report'))
    .addOption(flag('json'))
    .action(
      action(async (flags: RehearseFlags) => {
        const gb = flagText(flags, 'gb');
        const result = await runRehearsal({
          rows: flagValue(flags, 'rows'),
          targetBytes: gb === undefined ? undefined : gigabytes(gb),
          rate: flagValue(flags, 'rate'),
          stageSeconds: flagValue(flags, 'stage-seconds'),
          log: stderrLogger(),
        });
        const markdown = rehearsalMarkdown(result);
        writeFileSync(flags.report, markdown);
        writeFileSync(htmlPath(flags.report), reportHtml(markdown, 'pgshift rehearsal'));
        if (flags.json) {
          const { series: _series, ...doc } = result;
          process.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
        } else process.stdout.write(`${summary(result)}\nreport: ${flags.report} (and ${htmlPath(flags.report)})\n`);
        return result.ok ? 0 : 1;
      }),
    );
}

/** rehearsal-report.md → rehearsal-report.html, beside it. */
export const htmlPath = (markdownPath: string) => `${markdownPath.replace(/\.md$/i, '')}.html`;

function summary(r: RehearsalResult): string {
  return [
    `rehearsal ${r.ok ? 'PASSED' : 'FAILED'} (database ${formatBytes(r.databaseBytes)})`,
    `full-load ${r.fullLoad.rows} rows in ${r.fullLoad.seconds.toFixed(1)} s; CDC lag p50 ${r.cdc.lagP50Ms} ms, p99 ${r.cdc.lagP99Ms} ms; verify ${r.verify.ok ? 'equal' : 'DIFFERS'}`,
    `write freeze: cutover ${r.cutover.writeFreezeMs} ms, rollback ${r.rollback.writeFreezeMs} ms, cutover again ${r.cutoverAgain.writeFreezeMs} ms`,
    ...(
      [
        ['cutover', r.cutover],
        ['rollback', r.rollback],
        ['cutover again', r.cutoverAgain],
      ] as const
    ).map(([label, s]) => `switch-point check after the ${label}: ${describeSnapshotCheck(s.snapshotCheck)}`),
    `writes: ${r.writes.acknowledged} acknowledged, ${r.writes.failed} failed, ${r.writes.lost} lost, ${r.writes.sequenceCollisions} sequence collisions`,
    `cleanup: ${r.cleanup.leftovers} leftovers`,
  ].join('\n');
}
