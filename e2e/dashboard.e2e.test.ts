// The Grafana dashboard shipped in the chart, proven against real data: a real Prometheus (Debian's)
// scrapes a sidecar that served real traffic with every kind of decision (curl through the proxy and
// its base-URL routes), the operator reconciling against the real API server, and the webhook
// answering real AdmissionReviews. Every query of every panel, with Grafana's variables
// substituted, must be valid PromQL and return at least one series with a number: a panel whose
// query returns nothing fails this file.
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoreV1Api, CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApprovalRequestObject } from '../api/approval-names.js';
import { loadKubeConfig } from '../lib/kube.js';
import { createLogger } from '../lib/logger.js';
import { startOperator, type Operator } from '../operator/main.js';
import { dashboardProblems, loadDashboard, panelQueries, substitute, type Variable } from './dashboard-json.js';
import { admissionReview, startPrometheus, startWebhook, type Prometheus, type PromSample, type WebhookProcess } from './dashboard-world.js';
import { curl, type CurlResult } from './harness/curl.js';
import { installCrd, kubeconfig, kubectl, kubectlOk } from './harness/kubectl.js';
import { freePort } from './harness/ports.js';
import { spawnSidecar, type SidecarProcess } from './harness/sidecar-process.js';
import { createWorld, type World } from './harness/world.js';

const DASHBOARD = loadDashboard();
const QUERIES = panelQueries(DASHBOARD);
/** The webhook is checked only once the build has it. */

const ID = randomBytes(3).toString('hex');
/** The standalone sidecar's admin token (its in-memory approvals are decided with it). */
const ADMIN_TOKEN = randomBytes(16).toString('hex');
/** The agents' namespace (sidecar target label, policy, uninjected pod); unique per run, deleted after. */
const NS = `chaperone-e2e-dash-${ID}`;
/** Chaperone's own namespace (shared: the operator's Lease lives there; never deleted here). */
const OWN_NS = 'chaperone-system';

const POLICY = `apiVersion: chaperone.dev/v1alpha1
kind: GovernancePolicy
metadata: {name: dashboard, namespace: ${NS}, generation: 1}
spec:
  mode: enforce
  intercept: {hosts: [mcp.tools.example.com]}
  egress:
    defaultAction: allow
    rules:
      - {match: "*.internal.example.com", action: deny, reason: "internal APIs are off limits"}
      - {match: "plain.example.test/logged/*", action: log}
  tools:
    agents:
      - {name: researcher, permitted: [web_search, send_email], forbidden: [shell_exec]}
  rateLimits:
    requestsPerMinute: 1000
    agents: [{name: intern, requestsPerMinute: 1}]
  dlp: {mode: redact, sensitivity: medium}
  approvals: {tools: [send_email], timeoutSeconds: 600}
  budget:
    maxCostPerAgentPerDayUSD: 5
    pricing: [{model: "expensive-model*", inputPerMTokUSD: 1000000, outputPerMTokUSD: 1000000}]
  circuitBreaker: {failureThreshold: 2, windowSeconds: 60, recoverySeconds: 600}
`;

/** Metrics the issue asks the dashboard to show (docs/design.md §5, the operator and the webhook contract). */
const REQUIRED_METRICS = [
  'chaperone_requests_total', 'chaperone_policy_violations_total', 'chaperone_dlp_findings_total', 'chaperone_tokens_total',
  'chaperone_cost_usd_total', 'chaperone_request_duration_seconds_bucket', 'chaperone_proxy_overhead_seconds_bucket',
  'chaperone_approvals_pending', 'chaperone_circuit_open', 'chaperone_config_reloads_total', 'chaperone_webhook_admissions_total',
  'chaperone_webhook_admission_duration_seconds_bucket', 'chaperone_reconcile_total', 'chaperone_uninjected_pods',
  'chaperone_approval_decision_seconds_bucket',
];

/** Polls until `ok(value)` (expect.poll cannot run in hooks). */
async function waitFor<T>(what: string, get: () => Promise<T> | T, ok: (v: T) => boolean, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  let error: unknown;
  for (;;) {
    try {
      last = await get();
      error = undefined;
      if (ok(last)) return last;
    } catch (err) {
      error = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last: ${error ? String(error) : JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe('the Grafana dashboard JSON', () => {
  it('is a well-formed Grafana dashboard: unique ids, gridPos, type, title, description, ${datasource}, targets with refId and expr', () => {
    expect(dashboardProblems(DASHBOARD)).toEqual([]);
    expect(QUERIES.length).toBeGreaterThan(20);
  });

  it('shows every metric the issue asks for, with rate()/increase() over $__rate_interval and quantiles over sum by (le)', () => {
    const all = QUERIES.map((q) => q.expr).join('\n');
    for (const metric of REQUIRED_METRICS) expect(all, metric).toContain(metric);
    for (const q of QUERIES) {
      // Counters are only ever shown as rates or increases.
      for (const m of q.expr.matchAll(/(chaperone_\w+_total|_bucket)\b[^[]*?\[([^\]]+)\]/g)) expect(['$__rate_interval', '$__range'], q.expr).toContain(m[2]);
      if (q.expr.includes('histogram_quantile')) expect(q.expr, q.panelTitle).toMatch(/histogram_quantile\(0\.\d+, sum by \(le\) \(rate\(\w+_bucket/);
      if (/_total\b/.test(q.expr)) expect(q.expr, q.panelTitle).toMatch(/\b(rate|increase)\(/);
    }
  });
});

describe('every panel query against a real Prometheus', () => {
  let world: World;
  let sidecar: SidecarProcess;
  let operator: Operator | undefined;
  let webhook: WebhookProcess | undefined;
  let prom: Prometheus;
  let dir: string;
  let policyFile: string;

  const json = ['-H', 'content-type: application/json'];
  const chat = (agent: string, body: object, path = '/openai/v1/chat/completions'): Promise<CurlResult> =>
    curl([...json, '-H', `x-chaperone-agent: ${agent}`, '-d', JSON.stringify(body), `${sidecar.proxyUrl}${path}`]);
  const msg = (content: string, model = 'gpt-4o-mini') => ({ model, messages: [{ role: 'user', content }] });
  const viaProxy = (): string[] => ['-x', sidecar.proxyUrl, '--cacert', world.caCertFile];
  const sendEmail = (id: number): Promise<CurlResult> =>
    curl([...viaProxy(), ...json, '-H', 'x-chaperone-agent: researcher',
      '-d', JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'send_email', arguments: { to: 'the CEO', subject: `round ${id}` } } }),
      'https://mcp.tools.example.com/mcp']);
  const decision = (r: CurlResult): string => `${r.status} ${r.headers['x-chaperone-decision'] ?? '-'}`;

  /** One round of traffic with every decision; run twice, scrapes apart, so every rate() is above zero. */
  async function traffic(round: number): Promise<void> {
    // allow: base-URL routes (OpenAI, Anthropic) and HTTPS_PROXY with TLS interception
    expect(decision(await chat('researcher', msg(`hello ${round}`)))).toBe('200 allow');
    expect(decision(await chat('writer', { model: 'claude-haiku-4-5', max_tokens: 32, messages: [{ role: 'user', content: 'a haiku' }] }, '/anthropic/v1/messages'))).toBe('200 allow');
    expect(decision(await curl([...viaProxy(), ...json, '-H', 'x-chaperone-agent: researcher', '-d', JSON.stringify(msg('via proxy')), 'https://api.openai.com/v1/chat/completions']))).toBe('200 allow');
    // audit: an egress `log` rule
    expect(decision(await curl(['-x', sidecar.proxyUrl, '-H', 'x-chaperone-agent: researcher', `http://plain.example.test/logged/${round}`]))).toMatch(/ audit$/);
    // redact: DLP (a card number and an email)
    expect(decision(await chat('writer', msg('Charge 4111 1111 1111 1111 and mail jane@example.com')))).toBe('200 redact');
    // deny: egress to an internal host (CONNECT refused)
    expect((await curl([...viaProxy(), 'https://billing.internal.example.com/'])).status).toBe(403);
    // rate_limited: intern may make one call a minute
    await chat('intern', msg('first'));
    expect(decision(await chat('intern', msg('second')))).toBe('429 rate_limited');
    // budget: one very expensive call, then the agent is over its daily cap
    if (round === 1) expect(decision(await chat('spender', msg('a rather expensive question', 'expensive-model-1')))).toBe('200 allow');
    const over = await chat('spender', msg('again'));
    expect([decision(over), over.headers['x-chaperone-rule']]).toEqual(['403 deny', 'budget']);
    // circuit_open: two upstream 5xx open the breaker (it stays open for 10 minutes)
    if (round === 1) for (const c of ['a', 'b']) expect((await chat('flaky', msg(c), '/openai/status/503/v1/chat/completions')).status).toBe(503);
    expect(decision(await chat('flaky', msg('refused')))).toBe('503 circuit_open');
    // error: malformed JSON; and an upstream that refuses connections
    expect(decision(await curl([...json, '-d', '{"model":', `${sidecar.proxyUrl}/openai/v1/chat/completions`]))).toBe('400 error');
    expect((await curl(['-x', sidecar.proxyUrl, ...json, '-H', `x-chaperone-agent: offline-${round}`, '-d', JSON.stringify(msg('x')), 'http://dead.example.test/v1/chat/completions'])).status).toBeGreaterThanOrEqual(500);
    // hold: an MCP tools/call to send_email (answered the MCP way: 200, a result with isError); the first round's is approved on the standalone
    // sidecar's admin port (with its admin token) and sent again, the second's stays held
    const held = await sendEmail(round * 10);
    expect(decision(held)).toBe('200 hold');
    if (round === 1) {
      const id = held.headers['x-chaperone-approval'];
      expect(id).toBeTruthy();
      expect((await fetch(`${sidecar.adminUrl}/approvals/${id}/approve`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).status).toBe(200);
      expect(decision(await sendEmail(round * 10))).toBe('200 allow');
    }
  }

  /** Admission reviews of each result the webhook reports. */
  async function admissions(round: number): Promise<void> {
    if (!webhook) return;
    const pod = (name: string, annotations: Record<string, string>) => ({
      apiVersion: 'v1', kind: 'Pod',
      metadata: { name: `${name}-${round}`, namespace: NS, annotations },
      spec: { containers: [{ name: 'app', image: 'registry.invalid/agent:1' }] },
    });
    const injected = await webhook.review('/inject', admissionReview(NS, pod('agent', { 'chaperone.dev/inject': 'true' })));
    expect(injected.status, injected.body).toBe(200);
    expect(injected.body).toContain('"patch"');
    expect((await webhook.review('/inject', admissionReview(NS, pod('opted-out', { 'chaperone.dev/inject': 'false' })))).status).toBe(200);
    await webhook.review('/inject', '{"not": "an admission review"');
  }

  /**
   * ApprovalRequests as a sidecar makes them (with the token the operator minted into the namespace)
   * and a person decides them: round 1 approves one and leaves one pending, round 2 denies one.
   */
  async function approvalRequests(round: number): Promise<void> {
    const admin = loadKubeConfig();
    const secret = await waitFor(
      'the sidecar token Secret',
      () => admin.makeApiClient(CoreV1Api).readNamespacedSecret({ name: 'chaperone-sidecar-token', namespace: NS }).catch(() => undefined),
      (s) => !!s?.data?.token,
    );
    const unb64 = (k: string): string => Buffer.from(secret!.data![k]!, 'base64').toString('utf8');
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'e2e', server: admin.getCurrentCluster()!.server, caData: Buffer.from(unb64('ca.crt')).toString('base64') }],
      users: [{ name: 'sidecar', token: unb64('token') }],
      contexts: [{ name: 'e2e', cluster: 'e2e', user: 'sidecar' }],
      currentContext: 'e2e',
    });
    const sidecarApi = kc.makeApiClient(CustomObjectsApi);
    const group = { group: 'chaperone.dev', version: 'v1alpha1', plural: 'approvalrequests', namespace: NS };
    const create = async (tool: string): Promise<string> => {
      const digest = randomBytes(32).toString('hex');
      const body: ApprovalRequestObject = {
        apiVersion: 'chaperone.dev/v1alpha1', kind: 'ApprovalRequest',
        metadata: { generateName: `${tool.replace(/_/g, '-')}-${digest.slice(0, 8)}-` },
        spec: {
          agent: 'researcher', tool, digest, argumentsDigest: randomBytes(32).toString('hex'), argumentsPreview: '{"to":"the CEO"}', argumentsTruncated: false,
          policy: `${NS}/dashboard`, policyGeneration: 1, requestId: `dash-${round}-${tool}`, heldAt: 'request', provider: 'mcp',
          expiresAt: new Date(Date.now() + 30 * 60_000).toISOString().replace(/\.\d{3}Z$/, 'Z'), timeoutAction: 'reject',
        },
      };
      return ((await sidecarApi.createNamespacedCustomObject({ ...group, body })) as ApprovalRequestObject).metadata.name!;
    };
    const phase = async (name: string): Promise<string | undefined> => (await kubectl(['get', 'ar', name, '-n', NS, '-o', 'jsonpath={.status.phase}'])).stdout;
    const me = (await kubectlOk(['auth', 'whoami', '-o', 'jsonpath={.status.userInfo.username}'])).trim();
    const decided = await create(round === 1 ? 'send_email' : 'delete_repo');
    await waitFor(`${decided} pending`, () => phase(decided), (p) => p === 'Pending');
    await kubectlOk(['patch', 'ar', decided, '-n', NS, '--type=merge', '-p', JSON.stringify({ spec: { decision: { action: round === 1 ? 'Approve' : 'Deny', by: me } } })]);
    await waitFor(`${decided} decided`, () => phase(decided), (p) => p === (round === 1 ? 'Approved' : 'Denied'));
    if (round === 1) {
      const pending = await create('wire_money');
      await waitFor(`${pending} pending`, () => phase(pending), (p) => p === 'Pending');
    }
  }

  /** Changes the operator reconciles (and a pod it reports as uninjected). */
  async function clusterChanges(round: number): Promise<void> {
    const gp = (mode: string) => ({ apiVersion: 'chaperone.dev/v1alpha1', kind: 'GovernancePolicy', metadata: { name: 'dashboard', namespace: NS }, spec: { mode, dlp: {} } });
    await kubectlOk(['apply', '-f', '-'], JSON.stringify(gp(round === 1 ? 'enforce' : 'audit')));
    await approvalRequests(round);
    if (round === 1) {
      const pod = {
        apiVersion: 'v1', kind: 'Pod',
        metadata: { name: 'agent-uninjected', namespace: NS, annotations: { 'chaperone.dev/inject': 'true' } },
        spec: { containers: [{ name: 'app', image: 'registry.invalid/agent:1' }] },
      };
      // The namespace's default ServiceAccount may not exist yet (ServiceAccount admission).
      await waitFor('the uninjected pod to be created', async () => (await kubectl(['create', '-f', '-'], JSON.stringify(pod))).code, (c) => c === 0);
    }
  }

  const value = async (expr: string): Promise<number | undefined> => {
    const s = await prom.series(expr);
    return s.length ? Number(s[0]!.value[1]) : undefined;
  };

  beforeAll(async () => {
    process.env.KUBECONFIG ??= kubeconfig();
    dir = await mkdtemp(join(tmpdir(), 'chaperone-dashboard-'));
    await installCrd();
    await kubectl(['create', 'namespace', OWN_NS]);
    await kubectlOk(['create', 'namespace', NS]);

    world = await createWorld();
    policyFile = join(dir, 'policies', 'dashboard.yaml');
    await mkdir(join(dir, 'policies'));
    await writeFile(policyFile, POLICY);
    await writeFile(join(dir, 'admin-token'), `${ADMIN_TOKEN}\n`);
    sidecar = await spawnSidecar(['--policy', policyFile, '--ca-dir', world.caDir, ...world.upstreamFlags, '--resolve', `dead.example.test=127.0.0.1:${await freePort()}`, '--admin-token-file', join(dir, 'admin-token')]);

    operator = await startOperator({
      kubeconfig: loadKubeConfig(),
      namespace: OWN_NS,
      leaderElection: true,
      healthAddr: '127.0.0.1:0',
      identity: `e2e-dashboard-${ID}`,
      log: createLogger('operator', 'warn'),
      leaseDurationMs: 3_000,
      renewDeadlineMs: 2_000,
      retryPeriodMs: 200,
    });
    // The Lease is shared with other runs on this control plane: wait our turn (only the leader reconciles).
    await waitFor(`leadership of ${OWN_NS}/chaperone-operator (another run holding it?)`, () => operator!.isLeader(), (v) => v, 60_000);

    webhook = await startWebhook({ dir, namespace: OWN_NS, kubeconfig: kubeconfig(), webhookConfig: `chaperone-webhook-dash-${ID}` });

    // Target labels as the chart's PodMonitor / ServiceMonitor give them in a cluster.
    prom = await startPrometheus([
      { job: 'chaperone-sidecar', address: new URL(sidecar.adminUrl).host, labels: { namespace: NS, pod: 'agent-0', container: 'chaperone-proxy' } },
      { job: 'chaperone-operator', address: `127.0.0.1:${operator.healthAddress.port}`, labels: { namespace: OWN_NS, pod: 'chaperone-operator-0' } },
      ...(webhook ? [{ job: 'chaperone-webhook', address: webhook.address, caFile: webhook.caFile, labels: { namespace: OWN_NS, pod: 'chaperone-webhook-0' } }] : []),
    ]);
    const jobs = webhook ? 3 : 2;
    await waitFor('every target up', () => prom.series('up'), (s) => s.length === jobs && s.every((x) => x.value[1] === '1'));

    // Two rounds of everything, a few scrapes apart, so that every rate() and quantile has data.
    await Promise.all([traffic(1), admissions(1), clusterChanges(1)]);
    // A policy edit the sidecar rejects (it keeps the previous configuration), then the original back.
    await writeFile(policyFile, `${POLICY}  rateLimits: {requestsPerMinute: "many"}\n`);
    await sidecar.waitForLine((l) => l.msg === 'configuration rejected; keeping the previous one', 15_000);
    await writeFile(policyFile, POLICY);
    await new Promise((r) => setTimeout(r, 3_000));
    await Promise.all([traffic(2), admissions(2), clusterChanges(2)]);

    // Prometheus has scraped the second round.
    await waitFor('the second round scraped', () => value('sum(chaperone_requests_total{decision="hold"})'), (v) => v === 2);
    await waitFor('the uninjected pod scraped', () => value(`sum(chaperone_uninjected_pods{exported_namespace="${NS}"})`), (v) => v === 1);
    await waitFor('the approval decisions scraped', () => value('sum(chaperone_approval_decision_seconds_count{decision=~"approved|denied"})'), (v) => v === 2);
    await waitFor('the rejected reload scraped', () => value('sum(chaperone_config_reloads_total{result="error"})'), (v) => v === 1);
    await waitFor('reconciles scraped', () => value('sum(rate(chaperone_reconcile_total{result="success"}[5m]))'), (v) => (v ?? 0) > 0);
    if (webhook) await waitFor('the admissions scraped', () => value('sum(chaperone_webhook_admissions_total)'), (v) => v === 6);
    await new Promise((r) => setTimeout(r, 1_500));
  }, 175_000);

  afterAll(async () => {
    await prom?.stop();
    await webhook?.stop();
    await sidecar?.stop();
    await world?.close();
    await operator?.stop();
    await kubectl(['delete', 'namespace', NS, '--wait=false']);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  for (const q of QUERIES) {
    it(`panel ${q.panelId} "${q.panelTitle}" query ${q.refId} returns data`, async () => {
      const expr = substitute(q.expr, DASHBOARD);
      const answer = await prom.query(expr);
      expect(answer.error ?? '', expr).toBe('');
      expect(answer.status).toBe('success');
      const result = answer.data!.resultType === 'scalar' ? [{ metric: {}, value: answer.data!.result as [number, string] }] : (answer.data!.result as PromSample[]);
      expect(result.length, `no series for ${expr}`).toBeGreaterThan(0);
      const numbers = result.map((s) => Number(s.value[1]));
      expect(numbers.some((n) => Number.isFinite(n)), `only NaN/Inf for ${expr}: ${JSON.stringify(result)}`).toBe(true);
    });
  }

  it('has template variables whose label_values() find values, the agents namespace among them', async () => {
    const vars = (DASHBOARD.templating?.list ?? []).filter((v: Variable) => v.type === 'query');
    expect(vars.map((v) => v.name).sort()).toEqual(['agent', 'namespace', 'provider']);
    for (const v of vars) {
      const text = (v.query as { query: string }).query;
      const m = /^label_values\((.+), *(\w+)\)$/.exec(text)!;
      const selector = substitute(m[1]!, DASHBOARD);
      const res = (await (await fetch(`${prom.url}/api/v1/label/${m[2]}/values?${new URLSearchParams({ 'match[]': selector })}`)).json()) as { status: string; data: string[] };
      expect(res.status).toBe('success');
      expect(res.data.length, text).toBeGreaterThan(0);
      if (v.name === 'namespace') expect(res.data).toContain(NS);
      if (v.name === 'agent') expect(res.data).toEqual(expect.arrayContaining(['researcher', 'writer', 'intern', 'spender', 'flaky']));
      if (v.name === 'provider') expect(res.data).toEqual(expect.arrayContaining(['openai', 'anthropic', 'mcp']));
    }
  });

  /** The series of the (first) query of the panel with this title, variables at "All". */
  const panel = async (title: string, refId = 'A'): Promise<PromSample[]> => {
    const q = QUERIES.find((x) => x.panelTitle === title && x.refId === refId);
    if (!q) throw new Error(`no panel "${title}" ${refId}`);
    return prom.series(substitute(q.expr, DASHBOARD));
  };
  const positive = (series: PromSample[], label: string): string[] =>
    series.filter((s) => Number(s.value[1]) > 0).map((s) => s.metric[label] ?? '').sort();

  it('shows each decision, rule and DLP detector the traffic produced, at a rate above zero', async () => {
    expect(positive(await panel('Calls by decision'), 'decision')).toEqual(['allow', 'audit', 'circuit_open', 'deny', 'error', 'hold', 'rate_limited', 'redact']);
    const rules = new Set((await panel('Policy violations by policy and rule')).filter((s) => Number(s.value[1]) > 0).map((s) => `${s.metric.rule}/${s.metric.action}`));
    for (const r of ['egress/deny', 'egress/audit', 'dlp/redact', 'rate_limit/rate_limited', 'approval/hold', 'budget/deny', 'circuit/circuit_open']) expect([...rules], r).toContain(r);
    expect(positive(await panel('DLP findings by detector'), 'detector')).toEqual(expect.arrayContaining(['credit_card', 'email']));
    expect(positive(await panel('Tokens by model and type'), 'type')).toEqual(expect.arrayContaining(['input', 'output']));
    expect(positive(await panel('Cost by model and agent (USD per hour)'), 'agent')).toEqual(expect.arrayContaining(['researcher', 'writer']));
    expect(positive(await panel('Upstream errors by kind'), 'kind')).toContain('connect');
    for (const title of ['Request duration percentiles', 'Sidecar overhead percentiles']) {
      for (const refId of ['A', 'B', 'C']) expect(Number((await panel(title, refId))[0]?.value[1]), `${title} ${refId}`).toBeGreaterThan(0);
    }
  });

  it('shows the held call, the open circuit and the rejected reload', async () => {
    // The ApprovalRequest left pending (the operator counts them; the sidecar no longer does).
    // (Per namespace: another suite's namespace may still be going away with a request of its own.)
    const byNamespace = await panel('Pending approvals by namespace');
    expect(byNamespace.find((s) => s.metric.approval_namespace === NS)?.value[1]).toBe('1');
    const total = Number((await panel('Approvals pending'))[0]?.value[1]);
    expect(total).toBe(byNamespace.reduce((sum, s) => sum + Number(s.value[1]), 0));
    expect((await panel('Open circuits by upstream')).map((s) => [s.metric.upstream, s.value[1]])).toContainEqual(['api.openai.com', '1']);
    expect(positive(await panel('Configuration reloads by result'), 'result')).toContain('error');
  });

  it('shows the operator: reconciles, their latency, and the uninjected pod in its own namespace (not the operator\'s)', async () => {
    expect(positive(await panel('Reconciles by result'), 'result')).toContain('success');
    expect((await panel('Reconcile errors')).map((s) => s.metric.controller).sort()).toEqual(['approval', 'namespace']);
    expect(Number((await panel('Reconcile latency', 'B'))[0]?.value[1])).toBeGreaterThan(0);
    expect((await panel('Uninjected pods by namespace')).map((s) => [s.metric.pod_namespace, s.value[1]])).toContainEqual([NS, '1']);
  });

  it('shows the approvals: the pending one in its namespace, and the time to decision', async () => {
    expect((await panel('Pending approvals by namespace')).map((s) => [s.metric.approval_namespace, s.value[1]])).toContainEqual([NS, '1']);
    for (const refId of ['A', 'B']) expect(Number((await panel('Time to decision (p50/p95)', refId))[0]?.value[1]), refId).toBeGreaterThan(0);
    expect(positive(await panel('Reconciles by result'), 'controller')).toContain('approval');
  });

  it('shows the webhook: admissions by result, latency and certificate expiry', async () => {
    expect(positive(await panel('Webhook admissions by result'), 'result')).toEqual(expect.arrayContaining(['injected', 'skipped']));
    expect(Number((await panel('Webhook admission latency', 'B'))[0]?.value[1])).toBeGreaterThan(0);
    const left = Number((await panel('Webhook certificate expires in'))[0]?.value[1]);
    expect(left).toBeGreaterThan(3_600);
    expect(left).toBeLessThanOrEqual(86_400);
  });
});
