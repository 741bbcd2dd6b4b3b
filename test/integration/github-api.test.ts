/**
 * The GitHub adapter against a local HTTP server that answers like api.github.com (GITHUB_API_URL):
 * the exact requests setup makes, that a rerun changes nothing it should not, which secrets are
 * reported missing, that the plan comment is updated in place, and that the token is never printed.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { PgshiftError } from '../../src/errors.js';
import { createDeployment, setDeploymentStatus } from '../../src/github/deployments.js';
import { formatSetupResult, setupEnvironments } from '../../src/github/environments.js';
import { githubClient, type GitHubClient } from '../../src/github/octokit.js';
import { MAX_COMMENT_CHARS, upsertPullRequestComment } from '../../src/github/pr-comment.js';

const TOKEN = 'ghs_pgshiftTestToken0123456789abcdefXYZ';
const OWNER = 'tasteam';
const REPO = 'backend';

interface Recorded {
  method: string;
  path: string;
  body: unknown;
  authorization?: string;
}

interface Comment {
  id: number;
  body: string;
  html_url: string;
  user: { login: string };
}

/** In-memory GitHub: just the endpoints pgshift uses, with GitHub's shapes, status codes and Link pagination. */
class FakeGitHub {
  requests: Recorded[] = [];
  users = new Map([
    ['alice', 101],
    ['bob', 102],
  ]);
  teams = new Map([['tasteam/dba', 7]]);
  environments = new Map<string, Record<string, unknown>>();
  envSecrets = new Map<string, string[]>();
  envVariables = new Map<string, string[]>();
  repoSecrets: string[] = [];
  repoVariables: string[] = [];
  defaultBranchProtected = true;
  comments = new Map<number, Comment[]>();
  deployments: { id: number; body: Record<string, unknown>; statuses: Record<string, unknown>[] }[] = [];
  /** Comments per page, whatever per_page says, so that pagination is exercised. */
  commentsPerPage = 2;
  private nextId = 1000;
  private server?: Server;
  baseUrl = '';

  async start(): Promise<void> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.baseUrl = `http://127.0.0.1:${(this.server!.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.server?.close(() => resolve()));
  }

  reset(): void {
    this.requests = [];
    this.environments.clear();
    this.envSecrets.clear();
    this.envVariables.clear();
    this.repoSecrets = [];
    this.repoVariables = [];
    this.defaultBranchProtected = true;
    this.comments.clear();
    this.deployments = [];
  }

  writes(): Recorded[] {
    return this.requests.filter((r) => r.method !== 'GET');
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    const url = new URL(req.url ?? '/', this.baseUrl);
    const body = raw ? JSON.parse(raw) : undefined;
    this.requests.push({ method: req.method ?? '', path: url.pathname + url.search, body, authorization: req.headers.authorization });
    const send = (status: number, data: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
      res.end(JSON.stringify(data));
    };
    const notFound = () => send(404, { message: 'Not Found', documentation_url: 'https://docs.github.com/rest' });
    if (req.headers.authorization !== `token ${TOKEN}` && req.headers.authorization !== `Bearer ${TOKEN}`) {
      return send(401, { message: 'Bad credentials', documentation_url: 'https://docs.github.com/rest' });
    }
    const p = decodeURIComponent(url.pathname);
    const repoPrefix = `/repos/${OWNER}/${REPO}`;
    let m: RegExpExecArray | null;

    if ((m = /^\/users\/([^/]+)$/.exec(p)) && req.method === 'GET') {
      const id = this.users.get(m[1]);
      return id ? send(200, { login: m[1], id, type: 'User' }) : notFound();
    }
    if ((m = /^\/orgs\/([^/]+)\/teams\/([^/]+)$/.exec(p)) && req.method === 'GET') {
      const id = this.teams.get(`${m[1]}/${m[2]}`);
      return id ? send(200, { id, slug: m[2], name: m[2] }) : notFound();
    }
    if (!p.startsWith(repoPrefix)) return notFound();
    const rest = p.slice(repoPrefix.length);

    if (rest === '' && req.method === 'GET') return send(200, { full_name: `${OWNER}/${REPO}`, default_branch: 'main' });
    if (rest === '/branches/main') return send(200, { name: 'main', protected: this.defaultBranchProtected });
    if ((m = /^\/environments\/([^/]+)$/.exec(rest))) {
      const name = m[1];
      if (req.method === 'GET') {
        const env = this.environments.get(name);
        return env ? send(200, { name, ...env }) : notFound();
      }
      if (req.method === 'PUT') {
        this.environments.set(name, body);
        return send(200, { name, ...body });
      }
    }
    if ((m = /^\/environments\/([^/]+)\/(secrets|variables)$/.exec(rest)) && req.method === 'GET') {
      if (!this.environments.has(m[1])) return notFound();
      const names = (m[2] === 'secrets' ? this.envSecrets : this.envVariables).get(m[1]) ?? [];
      return send(200, {
        total_count: names.length,
        [m[2]]: names.map((name) => ({ name, created_at: '2026-11-26T00:00:00Z', updated_at: '2026-11-26T00:00:00Z' })),
      });
    }
    if ((m = /^\/actions\/(secrets|variables)$/.exec(rest)) && req.method === 'GET') {
      const names = m[1] === 'secrets' ? this.repoSecrets : this.repoVariables;
      return send(200, { total_count: names.length, [m[1]]: names.map((name) => ({ name })) });
    }
    if ((m = /^\/issues\/(\d+)\/comments$/.exec(rest))) {
      const issue = Number(m[1]);
      const list = this.comments.get(issue) ?? [];
      if (req.method === 'GET') {
        const page = Number(url.searchParams.get('page') ?? '1');
        const slice = list.slice((page - 1) * this.commentsPerPage, page * this.commentsPerPage);
        const headers: Record<string, string> = {};
        if (page * this.commentsPerPage < list.length) {
          const next = new URL(url);
          next.searchParams.set('page', String(page + 1));
          headers.link = `<${next.toString()}>; rel="next"`;
        }
        return send(200, slice, headers);
      }
      if (req.method === 'POST') {
        const c: Comment = { id: this.nextId++, body: body.body, html_url: '', user: { login: 'github-actions[bot]' } };
        c.html_url = `https://github.com/${OWNER}/${REPO}/pull/${issue}#issuecomment-${c.id}`;
        this.comments.set(issue, [...list, c]);
        return send(201, c);
      }
    }
    if ((m = /^\/issues\/comments\/(\d+)$/.exec(rest)) && req.method === 'PATCH') {
      for (const list of this.comments.values()) {
        const c = list.find((x) => x.id === Number(m![1]));
        if (c) {
          c.body = body.body;
          return send(200, c);
        }
      }
      return notFound();
    }
    if (rest === '/deployments' && req.method === 'POST') {
      const d = { id: this.nextId++, body, statuses: [] };
      this.deployments.push(d);
      return send(201, { id: d.id, ref: body.ref, environment: body.environment });
    }
    if ((m = /^\/deployments\/(\d+)\/statuses$/.exec(rest)) && req.method === 'POST') {
      const d = this.deployments.find((x) => x.id === Number(m![1]));
      if (!d) return notFound();
      d.statuses.push(body);
      return send(201, { id: this.nextId++, state: body.state });
    }
    return notFound();
  }
}

const github = new FakeGitHub();
let gh: GitHubClient;

beforeAll(async () => {
  await github.start();
  gh = githubClient({ token: TOKEN, baseUrl: github.baseUrl });
});
afterAll(() => github.stop());
beforeEach(() => github.reset());

const ALL_ENVIRONMENTS = [
  'experiment',
  'experiment-cutover',
  'experiment-rollback',
  'production',
  'production-cutover',
  'production-rollback',
  'infra-plan',
  'infra',
  'infra-destroy',
];
const GATE = {
  wait_timer: 0,
  prevent_self_review: true,
  reviewers: [
    { type: 'User', id: 101 },
    { type: 'Team', id: 7 },
  ],
  deployment_branch_policy: { protected_branches: true, custom_branch_policies: false },
};
const UNGATED = {
  wait_timer: 0,
  prevent_self_review: false,
  reviewers: null,
  deployment_branch_policy: { protected_branches: true, custom_branch_policies: false },
};

describe('github:setup environments', () => {
  const setup = (extra: { dryRun?: boolean; reviewers?: string } = {}) =>
    setupEnvironments(gh, { owner: OWNER, repo: REPO, reviewers: 'alice,tasteam/dba', ...extra });

  it('resolves reviewers to ids and PUTs every environment with its protection rules', async () => {
    const result = await setup();
    expect(
      github.requests.filter((r) => r.path === '/users/alice' || r.path === '/orgs/tasteam/teams/dba').map((r) => `${r.method} ${r.path}`),
    ).toEqual(['GET /users/alice', 'GET /orgs/tasteam/teams/dba']);
    const puts = github.writes();
    expect(puts.map((r) => `${r.method} ${r.path}`)).toEqual(ALL_ENVIRONMENTS.map((e) => `PUT /repos/${OWNER}/${REPO}/environments/${e}`));
    const bodyOf = (env: string) => puts.find((r) => r.path.endsWith(`/environments/${env}`))!.body;
    for (const gated of [
      'experiment-cutover',
      'experiment-rollback',
      'production-cutover',
      'production-rollback',
      'infra',
      'infra-destroy',
    ])
      expect(bodyOf(gated)).toEqual(GATE);
    for (const db of ['experiment', 'production']) expect(bodyOf(db)).toEqual(UNGATED);
    // The pull-request plan job runs on the PR's branch: any branch, and only a read-only role behind it.
    expect(bodyOf('infra-plan')).toEqual({ ...UNGATED, deployment_branch_policy: null });
    expect(result.environments.map((e) => e.action)).toEqual(Array(9).fill('created'));
    expect(github.requests.every((r) => r.authorization === `token ${TOKEN}`)).toBe(true);
  });

  it('a second run updates the same environments in place and creates nothing new', async () => {
    await setup();
    const firstBodies = github.writes().map((r) => JSON.stringify(r.body));
    github.requests = [];
    const again = await setup();
    expect(again.environments.map((e) => e.action)).toEqual(Array(9).fill('updated'));
    expect([...github.environments.keys()].sort()).toEqual([...ALL_ENVIRONMENTS].sort());
    const writes = github.writes();
    expect(writes.every((r) => r.method === 'PUT')).toBe(true);
    expect(writes.map((r) => JSON.stringify(r.body))).toEqual(firstBodies);
  });

  it('lists what each environment lacks, where the workflows read it: secrets as secrets, the rest as variables', async () => {
    github.repoSecrets = ['PGSHIFT_SOURCE_URL']; // repository level: every job sees it
    github.repoVariables = ['PGSHIFT_AWS_ROLE_ARN', 'PGSHIFT_AWS_REGION', 'PGSHIFT_INFRA_PLAN_ROLE_ARN', 'PGSHIFT_INFRA_APPLY_ROLE_ARN'];
    await setup();
    github.envVariables.set('experiment', ['PGSHIFT_RDS_INSTANCE_ID', 'PGSHIFT_TARGET_DATABASE']);
    github.envSecrets.set('experiment-cutover', ['PGSHIFT_TARGET_URL', 'PGSHIFT_PGBOUNCER_ADMIN_URL']);
    github.envVariables.set('experiment-cutover', ['PGSHIFT_PGBOUNCER_INI', 'PGSHIFT_PGBOUNCER_DB']);
    // A URL with a password stored as a *variable* is not what `secrets.PGSHIFT_TARGET_URL` reads (and it shows in logs).
    github.envVariables.set('experiment-rollback', ['PGSHIFT_TARGET_URL']);
    github.envSecrets.set('production', ['PGSHIFT_TARGET_URL']);
    // An identifier stored as a secret is not what `vars.PGSHIFT_RDS_INSTANCE_ID` reads.
    github.envSecrets.set('production-cutover', ['PGSHIFT_RDS_INSTANCE_ID']);
    const result = await setup();
    const missing = result.missing.map((m) => `${m.environment}: ${m.purpose}`);
    expect(missing).toEqual([
      'experiment-rollback: target connection',
      'experiment-rollback: the switch (PgBouncer)',
      'production-cutover: target connection',
      'production-cutover: the switch (PgBouncer)',
      'production-rollback: target connection',
      'production-rollback: the switch (PgBouncer)',
    ]);
    const text = formatSetupResult(result);
    // Only what is still missing of each alternative: role and region are set at repository level.
    expect(text).toContain(
      'production-cutover: target connection — secret PGSHIFT_TARGET_URL  or  variable PGSHIFT_RDS_INSTANCE_ID + variable PGSHIFT_TARGET_DATABASE',
    );
    expect(text).toContain(
      'experiment-rollback: the switch (PgBouncer) — secret PGSHIFT_PGBOUNCER_ADMIN_URL + variable PGSHIFT_PGBOUNCER_INI + variable PGSHIFT_PGBOUNCER_DB',
    );
    expect(text).toContain('gh secret set PGSHIFT_TARGET_URL --env experiment-rollback --repo tasteam/backend');
  });

  it('asks for the switch settings of the chosen method only', async () => {
    const envFile = await setupEnvironments(gh, {
      owner: OWNER,
      repo: REPO,
      reviewers: 'alice',
      switchMethod: 'env-file',
      environments: ['experiment'],
    });
    expect(envFile.missing.filter((m) => m.environment === 'experiment-cutover').map((m) => m.anyOf)).toContainEqual([
      [{ name: 'PGSHIFT_ENV_FILE', kind: 'variable' }],
    ]);
    const none = await setupEnvironments(gh, {
      owner: OWNER,
      repo: REPO,
      reviewers: 'alice',
      switchMethod: 'none',
      environments: ['experiment'],
    });
    expect(none.missing.filter((m) => m.purpose.startsWith('the switch'))).toEqual([]);
    expect(none.environments.map((e) => e.name)).toEqual([
      'experiment',
      'experiment-cutover',
      'experiment-rollback',
      'infra-plan',
      'infra',
      'infra-destroy',
    ]);
  });

  it('with nothing set, every environment reports its needs, the infra ones their roles', async () => {
    github.repoVariables = ['PGSHIFT_AWS_REGION'];
    const result = await setup();
    const infra = result.missing.filter((m) => m.environment.startsWith('infra'));
    expect(infra).toEqual([
      {
        environment: 'infra-plan',
        purpose: 'the read-only role terraform plan assumes',
        anyOf: [[{ name: 'PGSHIFT_INFRA_PLAN_ROLE_ARN', kind: 'variable' }]],
      },
      {
        environment: 'infra',
        purpose: 'the role terraform apply/destroy assumes',
        anyOf: [[{ name: 'PGSHIFT_INFRA_APPLY_ROLE_ARN', kind: 'variable' }]],
      },
      {
        environment: 'infra-destroy',
        purpose: 'the role terraform apply/destroy assumes',
        anyOf: [[{ name: 'PGSHIFT_INFRA_APPLY_ROLE_ARN', kind: 'variable' }]],
      },
    ]);
    expect(result.missing.filter((m) => m.environment === 'production').map((m) => m.purpose)).toEqual([
      'source connection',
      'target connection',
    ]);
  });

  it('a dry run only reads', async () => {
    const result = await setup({ dryRun: true });
    expect(github.writes()).toEqual([]);
    expect(github.environments.size).toBe(0);
    expect(result.environments.map((e) => e.action)).toEqual(Array(9).fill('would create'));
    expect(formatSetupResult(result)).toMatch(/^Dry run — nothing changed\./);
  });

  it('stops before writing anything when a reviewer does not exist', async () => {
    const err = await setup({ reviewers: 'alice,nobody-here' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PgshiftError);
    expect((err as PgshiftError).oneLine()).toBe("GitHub user 'nobody-here' does not exist — check the reviewer login");
    expect(github.writes()).toEqual([]);
  });

  it('warns when the default branch is not protected (protected-branches-only environments would refuse every run)', async () => {
    github.defaultBranchProtected = false;
    const text = formatSetupResult(await setup());
    expect(text).toContain('WARN the default branch main is not protected');
  });
});

describe('pull-request comment with a marker', () => {
  const upsert = (body: string, marker = 'infra-plan/01-single-vpc-rds') =>
    upsertPullRequestComment(gh, { owner: OWNER, repo: REPO, pullNumber: 42, marker, body });
  const seedOthers = (n: number) =>
    github.comments.set(
      42,
      Array.from({ length: n }, (_, i) => ({
        id: i + 1,
        body: i === 1 ? 'see <!-- pgshift:infra-plan/01-single-vpc-rds --> above' : `review ${i}`,
        html_url: '',
        user: { login: 'alice' },
      })),
    );

  it('creates the comment once, then updates it in place; an identical body changes nothing', async () => {
    seedOthers(3); // other people's comments fill page 1; one quotes the marker mid-text and must be left alone
    const first = await upsert('Plan: 12 to add, 0 to change, 0 to destroy.');
    expect(first.action).toBe('created'); // the 4th comment: on page 2
    github.requests = [];
    const second = await upsert('Plan: 13 to add, 0 to change, 0 to destroy.');
    expect(second).toMatchObject({ action: 'updated', commentId: first.commentId });
    // It had to read page 2 to find its own comment.
    expect(github.requests.filter((r) => r.method === 'GET').map((r) => r.path)).toEqual([
      `/repos/${OWNER}/${REPO}/issues/42/comments?per_page=100`,
      `/repos/${OWNER}/${REPO}/issues/42/comments?per_page=100&page=2`,
    ]);
    expect(github.writes().map((r) => `${r.method} ${r.path}`)).toEqual([
      `PATCH /repos/${OWNER}/${REPO}/issues/comments/${first.commentId}`,
    ]);
    const mine = (github.comments.get(42) ?? []).filter((c) => c.body.startsWith('<!-- pgshift:'));
    expect(mine).toHaveLength(1);
    expect(mine[0].body).toBe('<!-- pgshift:infra-plan/01-single-vpc-rds -->\nPlan: 13 to add, 0 to change, 0 to destroy.');
    github.requests = [];
    expect((await upsert('Plan: 13 to add, 0 to change, 0 to destroy.')).action).toBe('unchanged');
    expect(github.writes()).toEqual([]);
  });

  it('keeps one comment per marker and leaves a comment that quotes the marker alone', async () => {
    seedOthers(3);
    await upsert('stack A', 'infra-plan/a');
    await upsert('stack B', 'infra-plan/b');
    await upsert('stack A again', 'infra-plan/a');
    const bodies = (github.comments.get(42) ?? []).map((c) => c.body);
    expect(bodies.filter((b) => b.startsWith('<!-- pgshift:infra-plan/a -->'))).toEqual(['<!-- pgshift:infra-plan/a -->\nstack A again']);
    expect(bodies.filter((b) => b.startsWith('<!-- pgshift:infra-plan/b -->'))).toHaveLength(1);
    expect(bodies[1]).toBe('see <!-- pgshift:infra-plan/01-single-vpc-rds --> above');
  });

  it('cuts a plan longer than GitHub accepts and says where the full text is', async () => {
    const res = await upsert('x'.repeat(100_000));
    const body = github.comments.get(42)!.find((c) => c.id === res.commentId)!.body;
    expect(body.length).toBeLessThanOrEqual(MAX_COMMENT_CHARS);
    expect(body).toMatch(/truncated: \d+ more characters\. The full text is in the workflow run's artifacts\.$/);
  });

  it('redacts connection strings a plan may echo', async () => {
    const res = await upsert('endpoint: postgres://admin:hunter2-secret@db.internal:5432/app');
    const body = github.comments.get(42)!.find((c) => c.id === res.commentId)!.body;
    expect(body).not.toContain('hunter2-secret');
    expect(body).toContain('db.internal:5432/app');
  });
});

describe('deployments', () => {
  it('creates a deployment for the database environment and moves it through its states', async () => {
    const { id } = await createDeployment(gh, {
      owner: OWNER,
      repo: REPO,
      ref: 'main',
      environment: 'production-database',
      description: 'cutover to RDS tasteam-v2',
      payload: { slot: 'pgshift_slot' },
    });
    await setDeploymentStatus(gh, { owner: OWNER, repo: REPO, deploymentId: id, state: 'in_progress', description: 'writes frozen' });
    const done = await setDeploymentStatus(gh, {
      owner: OWNER,
      repo: REPO,
      deploymentId: id,
      state: 'success',
      description: `switched; writes blocked 840 ms ${'.'.repeat(200)}`,
      logUrl: 'https://github.com/tasteam/backend/actions/runs/1',
    });
    expect(done.state).toBe('success');
    const d = github.deployments[0];
    expect(d.body).toEqual({
      ref: 'main',
      environment: 'production-database',
      description: 'cutover to RDS tasteam-v2',
      auto_merge: false,
      required_contexts: [],
      payload: { slot: 'pgshift_slot' },
      production_environment: true,
      transient_environment: false,
    });
    expect(d.statuses.map((s) => s.state)).toEqual(['in_progress', 'success']);
    expect(d.statuses[1]).toMatchObject({ log_url: 'https://github.com/tasteam/backend/actions/runs/1', auto_inactive: true });
    expect((d.statuses[1].description as string).length).toBeLessThanOrEqual(140);
  });
});

describe('the scripts, run as a person or a workflow runs them', () => {
  const run = (script: string, args: string[], env: Record<string, string> = {}) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      // A clean environment: no GITHUB_* of the machine running the tests leaks in.
      const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('GITHUB_')));
      execFile(
        process.execPath,
        ['--import', 'tsx', script, ...args],
        { env: { ...base, GITHUB_API_URL: github.baseUrl, GITHUB_TOKEN: TOKEN, ...env }, timeout: 60_000 },
        (err, stdout, stderr) => resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      );
    });

  it('github:setup prints what it created and the missing secrets, and never the token', async () => {
    const res = await run('scripts/github-setup.ts', ['--repo', `${OWNER}/${REPO}`, '--reviewers', 'alice,tasteam/dba']);
    expect(res.stderr).not.toContain('github:setup:');
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(
      /created\s+production-cutover\s+cutover approval gate; required reviewers alice, tasteam\/dba, no self-review; protected branches only/,
    );
    expect(res.stdout).toContain('Missing (environment: what');
    expect(res.stdout + res.stderr).not.toContain(TOKEN);
    expect(github.environments.size).toBe(9);
    const again = await run('scripts/github-setup.ts', ['--repo', `${OWNER}/${REPO}`, '--reviewers', 'alice,tasteam/dba', '--json']);
    expect(JSON.parse(again.stdout).environments.map((e: { action: string }) => e.action)).toEqual(Array(9).fill('updated'));
  });

  it('github:setup fails in one line, exit 2, without the token, when GitHub rejects it', async () => {
    const wrong = `${TOKEN}-revoked`;
    const res = await run('scripts/github-setup.ts', ['--repo', `${OWNER}/${REPO}`, '--reviewers', 'alice'], { GITHUB_TOKEN: wrong });
    expect(res.code).toBe(2);
    expect(res.stderr.trim()).toBe(
      'github:setup: GitHub rejected the token while looking up user alice — set GITHUB_TOKEN to a valid, unexpired token',
    );
    expect(res.stdout + res.stderr).not.toContain(wrong);
  });

  it('github:setup refuses to run without GITHUB_TOKEN', async () => {
    const res = await run('scripts/github-setup.ts', ['--repo', `${OWNER}/${REPO}`, '--reviewers', 'alice'], { GITHUB_TOKEN: '' });
    expect(res.code).toBe(2);
    expect(res.stderr).toContain('no GitHub token — set GITHUB_TOKEN in the environment (never pass it as an argument)');
    expect(github.requests).toEqual([]);
  });

  it('post-plan-comment takes the repository and pull request from the Actions environment, then updates in place', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pgshift-gh-'));
    const event = join(dir, 'event.json');
    writeFileSync(event, JSON.stringify({ action: 'synchronize', pull_request: { number: 7 } }));
    const bodyFile = join(dir, 'plan.md');
    const env = { GITHUB_REPOSITORY: `${OWNER}/${REPO}`, GITHUB_EVENT_PATH: event };
    writeFileSync(bodyFile, '### terraform plan\nPlan: 1 to add');
    const first = await run('scripts/post-plan-comment.ts', ['--marker', 'infra-plan', '--body-file', bodyFile], env);
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/^created comment \d+ on tasteam\/backend#7: /);
    writeFileSync(bodyFile, '### terraform plan\nPlan: 2 to add');
    const second = await run('scripts/post-plan-comment.ts', ['--marker', 'infra-plan', '--body-file', bodyFile], env);
    expect(second.stdout).toMatch(/^updated comment \d+ on tasteam\/backend#7: /);
    expect(github.comments.get(7)!.map((c) => c.body)).toEqual(['<!-- pgshift:infra-plan -->\n### terraform plan\nPlan: 2 to add']);
    expect(first.stdout + first.stderr + second.stdout + second.stderr).not.toContain(TOKEN);
  });

  it('post-plan-comment outside a pull request says what to pass', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pgshift-gh-'));
    const event = join(dir, 'event.json');
    writeFileSync(event, JSON.stringify({ ref: 'refs/heads/main' }));
    writeFileSync(join(dir, 'b.md'), 'x');
    const res = await run('scripts/post-plan-comment.ts', ['--marker', 'infra-plan', '--body-file', join(dir, 'b.md')], {
      GITHUB_REPOSITORY: `${OWNER}/${REPO}`,
      GITHUB_EVENT_PATH: event,
    });
    expect(res.code).toBe(2);
    expect(res.stderr.trim()).toBe(
      'post-plan-comment: the triggering event is not a pull request — run this in a pull_request workflow, or pass --pr',
    );
  });
});
