// Turns one stack's saved plan into the Markdown a reviewer reads in the pull request: a headline with the
// counts, every resource that would be destroyed or replaced named up front (a replaced aws_db_instance is
// a lost database), and the full `terraform show` text folded below.
//   npx tsx infra/ci/plan-report.ts --stack 01-single-vpc-rds --plan-json plan.json --plan-text plan.txt --out plan.md
import { readFileSync, writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

interface ResourceChange {
  address: string;
  change: { actions: string[] };
}

export interface PlanJson {
  resource_changes?: ResourceChange[];
  output_changes?: Record<string, { actions: string[] }>;
}

export interface PlanSummary {
  add: number;
  change: number;
  destroy: number;
  /** Addresses whose change deletes something: plain destroys and replacements. */
  destructive: Array<{ address: string; how: 'destroy' | 'replace' }>;
}

export function summarizePlan(plan: PlanJson): PlanSummary {
  const summary: PlanSummary = { add: 0, change: 0, destroy: 0, destructive: [] };
  for (const rc of plan.resource_changes ?? []) {
    const actions = rc.change.actions;
    if (actions.includes('create')) summary.add += 1;
    if (actions.includes('update')) summary.change += 1;
    if (actions.includes('delete')) {
      summary.destroy += 1;
      summary.destructive.push({ address: rc.address, how: actions.includes('create') ? 'replace' : 'destroy' });
    }
  }
  return summary;
}

/** GitHub refuses comments over 65,536 characters; each stack gets a share so that all of them fit. */
export const TEXT_BUDGET = 18_000;

export function renderPlanReport(input: { stack: string; plan: PlanJson; text: string; commit?: string }): string {
  const s = summarizePlan(input.plan);
  const noChanges = s.add + s.change + s.destroy === 0;
  const headline = noChanges
    ? `### \`${input.stack}\`: no changes`
    : `### \`${input.stack}\`: ${s.add} to add, ${s.change} to change, ${s.destroy} to destroy`;
  const lines = [headline, ''];
  if (input.commit) lines.push(`Planned from \`${input.commit.slice(0, 12)}\`.`, '');
  if (s.destructive.length > 0) {
    lines.push('> [!CAUTION]', '> This plan deletes resources. Check each one before approving:');
    for (const d of s.destructive) lines.push(`> - \`${d.address}\` (${d.how})`);
    lines.push('');
  }
  let text = input.text.trimEnd();
  if (text.length > TEXT_BUDGET) {
    text = `${text.slice(0, TEXT_BUDGET)}\n… (cut at ${TEXT_BUDGET} characters; the whole plan is in the run's artifact plan-${input.stack})`;
  }
  // A fence longer than any backtick run in the text, so the plan cannot close it early.
  const fence = '`'.repeat(Math.max(3, ...[...text.matchAll(/`+/g)].map((m) => m[0].length + 1)));
  lines.push('<details><summary>terraform plan</summary>', '', `${fence}text`, text, fence, '', '</details>', '');
  return lines.join('\n');
}

function main(): void {
  const { values } = parseArgs({
    options: {
      stack: { type: 'string' },
      'plan-json': { type: 'string' },
      'plan-text': { type: 'string' },
      out: { type: 'string' },
      commit: { type: 'string' },
    },
  });
  const { stack, out } = values;
  if (!stack || !values['plan-json'] || !values['plan-text'] || !out) {
    process.stderr.write('usage: plan-report --stack NAME --plan-json FILE --plan-text FILE --out FILE [--commit SHA]\n');
    process.exit(2);
  }
  const plan = JSON.parse(readFileSync(values['plan-json'], 'utf8')) as PlanJson;
  const text = readFileSync(values['plan-text'], 'utf8');
  writeFileSync(out, renderPlanReport({ stack, plan, text, commit: values.commit }));
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) main();
