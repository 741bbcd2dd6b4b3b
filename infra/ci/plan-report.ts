// Turns one stack's saved plan into the Markdown a reviewer reads in the pull request: a headline with the
// counts, every resource that would be destroyed or replaced named up front (a replaced aws_db_instance is
// a lost database), and the full `terraform show` text folded below.
//   npx tsx infra/ci/plan-report.ts --stack 01-single-vpc-rds --plan-json plan.json --plan-text plan.txt --out plan.md [--stacks N]
// Stacks with two providers (02-cross-account-*) get a table of every change with the account it lands in.
import { readFileSync, writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

interface ResourceChange {
  address: string;
  change: { actions: string[] };
}

interface ProviderConfig {
  alias?: string;
  expressions?: { allowed_account_ids?: { constant_value?: string[] | null } };
}

export interface PlanJson {
  resource_changes?: ResourceChange[];
  output_changes?: Record<string, { actions: string[] }>;
  /** What `terraform show -json` says about the configuration: each resource's provider, each provider's account pin. */
  configuration?: {
    provider_config?: Record<string, ProviderConfig>;
    root_module?: { resources?: Array<{ address: string; provider_config_key?: string }> };
  };
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

/**
 * The account each resource lands in, by address: its provider (`aws.source`, `aws.target`) and that
 * provider's `allowed_account_ids`. Only for stacks that use more than one provider; otherwise empty.
 */
export function resourceAccounts(plan: PlanJson): Map<string, string> {
  const providers = plan.configuration?.provider_config ?? {};
  const resources = plan.configuration?.root_module?.resources ?? [];
  const keys = new Set(resources.map((r) => r.provider_config_key ?? 'aws'));
  const accounts = new Map<string, string>();
  if (keys.size < 2) return accounts;
  for (const r of resources) {
    const key = r.provider_config_key ?? 'aws';
    const pinned = providers[key]?.expressions?.allowed_account_ids?.constant_value ?? [];
    accounts.set(r.address, pinned.length > 0 ? `${pinned.join(', ')} (\`${key}\`)` : `\`${key}\``);
  }
  return accounts;
}

/** GitHub refuses comments over 65,536 characters; each stack gets a share so that all of them fit. */
export const COMMENT_BUDGET = 60_000;
/** A stack's share when three stacks are planned (the default of `renderPlanReport`). */
export const TEXT_BUDGET = 18_000;

/** The plan text's share of the comment for one of `stacks` stacks, after the headline and the account table. */
export function textBudget(stacks: number, used = 0): number {
  return Math.max(2_000, Math.floor(COMMENT_BUDGET / Math.max(1, stacks)) - 2_000 - used);
}

export function renderPlanReport(input: { stack: string; plan: PlanJson; text: string; commit?: string; stacks?: number }): string {
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
  // Cross-account stacks: which account each change lands in, so the reviewer sees what B gets.
  const accounts = resourceAccounts(input.plan);
  if (accounts.size > 0) {
    lines.push('| account | resource | action |', '|---|---|---|');
    for (const rc of input.plan.resource_changes ?? []) {
      if (rc.change.actions.join(',') === 'no-op') continue;
      const account = accounts.get(rc.address.replace(/\[[^\]]*\]$/, '')) ?? '?';
      lines.push(`| ${account} | \`${rc.address}\` | ${rc.change.actions.join(', ')} |`);
    }
    lines.push('');
  }
  const budget = input.stacks === undefined ? TEXT_BUDGET : textBudget(input.stacks, lines.join('\n').length);
  let text = input.text.trimEnd();
  if (text.length > budget) {
    text = `${text.slice(0, budget)}\n… (cut at ${budget} characters; the whole plan is in the run's artifact plan-${input.stack})`;
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
      // How many stacks share the pull-request comment (the plan job's matrix size).
      stacks: { type: 'string' },
    },
  });
  const { stack, out } = values;
  if (!stack || !values['plan-json'] || !values['plan-text'] || !out) {
    process.stderr.write('usage: plan-report --stack NAME --plan-json FILE --plan-text FILE --out FILE [--commit SHA]\n');
    process.exit(2);
  }
  const plan = JSON.parse(readFileSync(values['plan-json'], 'utf8')) as PlanJson;
  const text = readFileSync(values['plan-text'], 'utf8');
  const stacks = values.stacks === undefined ? undefined : Number(values.stacks);
  if (stacks !== undefined && !(Number.isInteger(stacks) && stacks > 0)) {
    process.stderr.write(`plan-report: --stacks must be a positive integer, not ${values.stacks}\n`);
    process.exit(2);
  }
  writeFileSync(out, renderPlanReport({ stack, plan, text, commit: values.commit, stacks }));
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) main();
