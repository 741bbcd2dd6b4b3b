// Over 350 lines: each environment, its reviewers and the secrets it must hold are declared here
// together, so one read shows the whole gate setup.
import { usageError } from '../errors.js';
import { explainGitHubError, httpStatus, type GitHubClient, type RepoRef } from './octokit.js';

/**
 * The GitHub environments pgshift's workflows run in, and what each one must hold.
 *
 * - `<env>`            database phases (preflight, full-load, cdc, verify, cleanup): no approval.
 * - `<env>-cutover`    the switch to RDS: required reviewers are the approval gate.
 * - `<env>-rollback`   the switch back: the same gate.
 * - `infra-plan`       terraform plan on pull requests: no approval, any branch, read-only role.
 * - `infra`            terraform apply: required reviewers.
 * - `infra-destroy`    terraform destroy: required reviewers.
 *
 * Every environment but infra-plan deploys from protected branches only, so that a workflow
 * edited on a feature branch can neither read these secrets nor run a phase against production.
 */
export type SwitchMethod = 'pgbouncer' | 'env-file' | 'command' | 'none';

/**
 * A setting a workflow reads. The workflows read connection strings as `secrets.X` and the rest
 * as `vars.X`, so each name is checked only where the workflow looks for it: a URL stored as a
 * variable is not found by `secrets.X` (and would show in logs).
 */
export interface Setting {
  name: string;
  kind: 'secret' | 'variable';
}

/** One thing a job needs: satisfied by any one of the alternatives, each a set of settings all present. */
export interface Need {
  purpose: string;
  anyOf: Setting[][];
}

export interface EnvironmentSpec {
  name: string;
  purpose: string;
  /** Required reviewers (the approval gate). */
  gated: boolean;
  /**
   * Which branches may deploy: protected ones only, or any (the pull-request plan job runs on the
   * PR's branch; its environment unlocks nothing but a read-only role, so that is safe).
   */
  branches: 'protected' | 'any';
  needs: Need[];
}

const secret = (name: string): Setting => ({ name, kind: 'secret' });
const variable = (name: string): Setting => ({ name, kind: 'variable' });

// The names .github/workflows/*.yml pass to the actions.
const SOURCE: Need = { purpose: 'source connection', anyOf: [[secret('PGSHIFT_SOURCE_URL')]] };
const TARGET: Need = {
  purpose: 'target connection',
  anyOf: [
    [secret('PGSHIFT_TARGET_URL')],
    // Or looked up from RDS (endpoint + RDS-managed master password) with the OIDC role.
    [
      variable('PGSHIFT_RDS_INSTANCE_ID'),
      variable('PGSHIFT_TARGET_DATABASE'),
      variable('PGSHIFT_AWS_ROLE_ARN'),
      variable('PGSHIFT_AWS_REGION'),
    ],
  ],
};
const SWITCH: Record<SwitchMethod, Need[]> = {
  pgbouncer: [
    {
      purpose: 'the switch (PgBouncer)',
      anyOf: [[secret('PGSHIFT_PGBOUNCER_ADMIN_URL'), variable('PGSHIFT_PGBOUNCER_INI'), variable('PGSHIFT_PGBOUNCER_DB')]],
    },
  ],
  'env-file': [{ purpose: 'the switch (env file)', anyOf: [[variable('PGSHIFT_ENV_FILE')]] }],
  command: [{ purpose: 'the switch (command)', anyOf: [[variable('PGSHIFT_SWITCH_COMMAND')]] }],
  none: [],
};
// The roles infra/stacks/bootstrap.ts creates, each trusted for its environments only.
const INFRA_PLAN_ROLE: Need = {
  purpose: 'the read-only role terraform plan assumes',
  anyOf: [[variable('PGSHIFT_INFRA_PLAN_ROLE_ARN'), variable('PGSHIFT_AWS_REGION')]],
};
const INFRA_APPLY_ROLE: Need = {
  purpose: 'the role terraform apply/destroy assumes',
  anyOf: [[variable('PGSHIFT_INFRA_APPLY_ROLE_ARN'), variable('PGSHIFT_AWS_REGION')]],
};

export const DATABASE_ENVIRONMENTS = ['experiment', 'production'] as const;

/** Every environment pgshift needs, for the given database environments (default experiment and production). */
export function environmentSpecs(opts: { environments?: readonly string[]; switchMethod?: SwitchMethod } = {}): EnvironmentSpec[] {
  const switchNeeds = SWITCH[opts.switchMethod ?? 'pgbouncer'];
  const specs: EnvironmentSpec[] = [];
  for (const env of opts.environments ?? DATABASE_ENVIRONMENTS) {
    if (!/^[A-Za-z0-9_.-]+$/.test(env)) throw usageError(`'${env}' is not a usable environment name`, 'use letters, digits, ., _ and -');
    specs.push(
      { name: env, purpose: 'database phases', gated: false, branches: 'protected', needs: [SOURCE, TARGET] },
      {
        name: `${env}-cutover`,
        purpose: 'cutover approval gate',
        gated: true,
        branches: 'protected',
        needs: [SOURCE, TARGET, ...switchNeeds],
      },
      {
        name: `${env}-rollback`,
        purpose: 'rollback approval gate',
        gated: true,
        branches: 'protected',
        needs: [SOURCE, TARGET, ...switchNeeds],
      },
    );
  }
  specs.push(
    { name: 'infra-plan', purpose: 'terraform plan on pull requests', gated: false, branches: 'any', needs: [INFRA_PLAN_ROLE] },
    { name: 'infra', purpose: 'terraform apply approval gate', gated: true, branches: 'protected', needs: [INFRA_APPLY_ROLE] },
    { name: 'infra-destroy', purpose: 'terraform destroy approval gate', gated: true, branches: 'protected', needs: [INFRA_APPLY_ROLE] },
  );
  return specs;
}

export interface Reviewer {
  type: 'User' | 'Team';
  id: number;
  /** `alice` or `org/team`, as given. */
  label: string;
}

/** GitHub allows at most six required reviewers (users or teams) per environment. */
export const MAX_REVIEWERS = 6;

/** Parse `alice,org/team` into logins and team slugs. */
export function parseReviewers(text: string): { users: string[]; teams: { org: string; slug: string }[] } {
  const items = text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (items.length === 0)
    throw usageError('no reviewers given', 'pass --reviewers alice,my-org/dba-team: they approve cutover, rollback and infra changes');
  if (items.length > MAX_REVIEWERS)
    throw usageError(
      `${items.length} reviewers given; GitHub allows ${MAX_REVIEWERS} per environment`,
      'name a team instead of its members',
    );
  const users: string[] = [];
  const teams: { org: string; slug: string }[] = [];
  for (const item of items) {
    const team = /^([A-Za-z0-9-]+)\/([A-Za-z0-9_.-]+)$/.exec(item);
    if (team) teams.push({ org: team[1], slug: team[2] });
    else if (/^[A-Za-z0-9-]+$/.test(item)) users.push(item);
    else throw usageError(`'${item}' is neither a GitHub login nor org/team`, 'pass --reviewers alice,my-org/dba-team');
  }
  return { users, teams };
}

/** Reviewer ids, as the environments API wants them: GET /users/{login}, GET /orgs/{org}/teams/{slug}. */
export async function resolveReviewers(gh: GitHubClient, text: string): Promise<Reviewer[]> {
  const { users, teams } = parseReviewers(text);
  const out: Reviewer[] = [];
  for (const login of users) {
    try {
      const { data } = await gh.rest.users.getByUsername({ username: login });
      out.push({ type: 'User', id: data.id, label: login });
    } catch (err) {
      if (httpStatus(err) === 404) throw usageError(`GitHub user '${login}' does not exist`, 'check the reviewer login');
      throw explainGitHubError(err, { what: `looking up user ${login}`, permission: 'read access to public user data' });
    }
  }
  for (const { org, slug } of teams) {
    try {
      const { data } = await gh.rest.teams.getByName({ org, team_slug: slug });
      out.push({ type: 'Team', id: data.id, label: `${org}/${slug}` });
    } catch (err) {
      if (httpStatus(err) === 404)
        throw usageError(
          `team ${org}/${slug} does not exist or the token cannot see it`,
          "check the team slug, and give the token the organization 'members: read' permission",
        );
      throw explainGitHubError(err, { what: `looking up team ${org}/${slug}`, permission: "organization 'members: read'" });
    }
  }
  return out;
}

/** The body of PUT /repos/{owner}/{repo}/environments/{name}. */
export interface EnvironmentBody {
  wait_timer: number;
  prevent_self_review: boolean;
  reviewers: { type: 'User' | 'Team'; id: number }[] | null;
  /** null: any branch may deploy. */
  deployment_branch_policy: { protected_branches: boolean; custom_branch_policies: boolean } | null;
}

export function environmentBody(spec: EnvironmentSpec, reviewers: Reviewer[], opts: { allowSelfReview?: boolean } = {}): EnvironmentBody {
  return {
    wait_timer: 0,
    // The person who starts a cutover must not be the one who approves it (four eyes).
    prevent_self_review: spec.gated && !opts.allowSelfReview,
    // null clears reviewers left over from an earlier setup on an ungated environment.
    reviewers: spec.gated ? reviewers.map(({ type, id }) => ({ type, id })) : null,
    deployment_branch_policy: spec.branches === 'protected' ? { protected_branches: true, custom_branch_policies: false } : null,
  };
}

export type EnvironmentAction = 'created' | 'updated' | 'would create' | 'would update';

export interface EnvironmentOutcome {
  name: string;
  purpose: string;
  action: EnvironmentAction;
  reviewers: string[];
  preventSelfReview: boolean;
  branches: 'protected' | 'any';
}

export interface MissingNeed {
  environment: string;
  purpose: string;
  /** Alternatives, each a list of settings that must all be present. */
  anyOf: Setting[][];
}

export interface SetupResult {
  repository: string;
  dryRun: boolean;
  environments: EnvironmentOutcome[];
  missing: MissingNeed[];
  /** Protected-branches-only deployments need the default branch to be protected. */
  defaultBranch?: { name: string; protected: boolean };
}

export interface SetupOptions extends RepoRef {
  reviewers: string;
  environments?: readonly string[];
  switchMethod?: SwitchMethod;
  allowSelfReview?: boolean;
  dryRun?: boolean;
}

/**
 * `npm run github:setup`: resolve the reviewers, create or update every environment with its
 * protection rules (nothing but reads in a dry run), then list the secrets each one still lacks.
 * Running it again updates the same environments in place and creates nothing new.
 */
export async function setupEnvironments(gh: GitHubClient, opts: SetupOptions): Promise<SetupResult> {
  const specs = environmentSpecs({ environments: opts.environments, switchMethod: opts.switchMethod });
  // Only owner and repo travel as request parameters; Octokit would put any other key in the query.
  const repo: RepoRef = { owner: opts.owner, repo: opts.repo };
  const reviewers = await resolveReviewers(gh, opts.reviewers);
  const environments: EnvironmentOutcome[] = [];
  for (const spec of specs) environments.push(await applyEnvironment(gh, repo, spec, reviewers, opts));
  const repoNames = await repositoryNames(gh, repo);
  const missing: MissingNeed[] = [];
  for (const spec of specs) missing.push(...(await missingNeeds(gh, repo, spec, repoNames)));
  const defaultBranch = await defaultBranchProtection(gh, repo);
  return { repository: `${opts.owner}/${opts.repo}`, dryRun: !!opts.dryRun, environments, missing, defaultBranch };
}

async function applyEnvironment(
  gh: GitHubClient,
  repo: RepoRef,
  spec: EnvironmentSpec,
  reviewers: Reviewer[],
  opts: SetupOptions,
): Promise<EnvironmentOutcome> {
  const exists = await environmentExists(gh, repo, spec.name);
  const body = environmentBody(spec, reviewers, opts);
  if (!opts.dryRun) {
    try {
      await gh.rest.repos.createOrUpdateEnvironment({ ...repo, environment_name: spec.name, ...body });
    } catch (err) {
      throw explainGitHubError(err, {
        what: `writing environment ${spec.name}`,
        permission: "the repository 'administration: write' permission (admin role)",
      });
    }
  }
  const action: EnvironmentAction = opts.dryRun ? (exists ? 'would update' : 'would create') : exists ? 'updated' : 'created';
  return {
    name: spec.name,
    purpose: spec.purpose,
    action,
    reviewers: spec.gated ? reviewers.map((r) => r.label) : [],
    preventSelfReview: body.prevent_self_review,
    branches: spec.branches,
  };
}

async function environmentExists(gh: GitHubClient, repo: RepoRef, name: string): Promise<boolean> {
  try {
    await gh.rest.repos.getEnvironment({ ...repo, environment_name: name });
    return true;
  } catch (err) {
    if (httpStatus(err) === 404) return false;
    throw explainGitHubError(err, { what: `reading environment ${name}`, permission: "the repository 'actions: read' permission" });
  }
}

/** Repository-level secrets and variables: every job sees them, so they satisfy any environment's need. */
async function repositoryNames(gh: GitHubClient, repo: RepoRef): Promise<{ secrets: Set<string>; variables: Set<string> }> {
  const what = `listing repository secrets of ${repo.owner}/${repo.repo}`;
  const permission = "the repository 'secrets: read' and 'variables: read' permissions";
  try {
    const secrets = await gh.paginate(gh.rest.actions.listRepoSecrets, { ...repo, per_page: 100 });
    const variables = await gh.paginate(gh.rest.actions.listRepoVariables, { ...repo, per_page: 30 });
    return { secrets: new Set(secrets.map((s) => s.name)), variables: new Set(variables.map((v) => v.name)) };
  } catch (err) {
    throw explainGitHubError(err, { what, permission });
  }
}

async function environmentNames(gh: GitHubClient, repo: RepoRef, env: string): Promise<{ secrets: Set<string>; variables: Set<string> }> {
  try {
    const secrets = await gh.paginate(gh.rest.actions.listEnvironmentSecrets, { ...repo, environment_name: env, per_page: 100 });
    const variables = await gh.paginate(gh.rest.actions.listEnvironmentVariables, { ...repo, environment_name: env, per_page: 30 });
    return { secrets: new Set(secrets.map((s) => s.name)), variables: new Set(variables.map((v) => v.name)) };
  } catch (err) {
    // In a dry run the environment may not exist yet: then it holds nothing.
    if (httpStatus(err) === 404) return { secrets: new Set(), variables: new Set() };
    throw explainGitHubError(err, {
      what: `listing secrets of environment ${env}`,
      permission: "the repository 'secrets: read' and 'variables: read' permissions",
    });
  }
}

async function missingNeeds(
  gh: GitHubClient,
  repo: RepoRef,
  spec: EnvironmentSpec,
  repoNames: { secrets: Set<string>; variables: Set<string> },
): Promise<MissingNeed[]> {
  const envNames = await environmentNames(gh, repo, spec.name);
  const present = (s: Setting) =>
    s.kind === 'secret'
      ? envNames.secrets.has(s.name) || repoNames.secrets.has(s.name)
      : envNames.variables.has(s.name) || repoNames.variables.has(s.name);
  return spec.needs
    .map((need) => ({ need, missing: need.anyOf.map((settings) => settings.filter((x) => !present(x))) }))
    .filter(({ missing }) => missing.every((m) => m.length > 0))
    .map(({ need, missing }) => ({ environment: spec.name, purpose: need.purpose, anyOf: missing }));
}

async function defaultBranchProtection(gh: GitHubClient, repo: RepoRef): Promise<{ name: string; protected: boolean } | undefined> {
  try {
    const { data } = await gh.rest.repos.get({ ...repo });
    const { data: branch } = await gh.rest.repos.getBranch({ ...repo, branch: data.default_branch });
    return { name: data.default_branch, protected: branch.protected };
  } catch (err) {
    throw explainGitHubError(err, {
      what: `reading the default branch of ${repo.owner}/${repo.repo}`,
      permission: "the repository 'metadata: read' permission",
    });
  }
}

/** What `github:setup` prints: one line per environment, then what is missing and how to add it. */
export function formatSetupResult(result: SetupResult): string {
  const lines: string[] = [];
  lines.push(`${result.dryRun ? 'Dry run — nothing changed. ' : ''}GitHub environments of ${result.repository}:`);
  for (const e of result.environments) {
    const gate = e.reviewers.length
      ? `required reviewers ${e.reviewers.join(', ')}${e.preventSelfReview ? ', no self-review' : ''}`
      : 'no approval';
    lines.push(
      `  ${e.action.padEnd(12)} ${e.name.padEnd(22)} ${e.purpose}; ${gate}; ${e.branches === 'protected' ? 'protected branches only' : 'any branch'}`,
    );
  }
  if (result.defaultBranch && !result.defaultBranch.protected) {
    lines.push(
      '',
      `WARN the default branch ${result.defaultBranch.name} is not protected: these environments accept deployments from protected branches only, so no workflow can use them until it is.`,
    );
  }
  if (result.missing.length === 0) {
    lines.push('', 'Every environment has the secrets and variables it needs.');
  } else {
    lines.push('', 'Missing (environment: what — set one of the alternatives):');
    for (const m of result.missing) {
      const alternatives = m.anyOf.map((settings) => settings.map((x) => `${x.kind} ${x.name}`).join(' + ')).join('  or  ');
      lines.push(`  ${m.environment}: ${m.purpose} — ${alternatives}`);
    }
    const first = result.missing[0].anyOf[0][0];
    const example = first.kind === 'secret' ? `gh secret set ${first.name}` : `gh variable set ${first.name} --body <value>`;
    lines.push(
      '',
      `Set one with: ${example} --env ${result.missing[0].environment} --repo ${result.repository} (secrets are read from stdin, never typed on the command line)`,
    );
  }
  return lines.join('\n');
}
