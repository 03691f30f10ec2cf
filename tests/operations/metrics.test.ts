/**
 * Operations over real HTTP: GET /metrics after a chat turn and a failed sign-in (the named series
 * exist and moved), who may scrape, request ids in the logs, and no content or ids where they do not belong.
 */
import { randomUUID } from 'node:crypto';
import { createLogger } from '../../api/logger';
import { startFakeConnector } from '../fakes/botConnector';
import { startFakeEntraIssuer, type FakeEntraIssuer } from '../fakes/entraIssuer';
import { openTestDatabase } from '../support/database';
import { startTestKluis } from '../support/kluis';

const tenant = randomUUID();
const db = openTestDatabase();
let issuer: FakeEntraIssuer;
let kluis: Awaited<ReturnType<typeof startTestKluis>>;
const logLines: string[] = [];
const QUESTION = 'Who approves a business trip outside Europe?';

const token = (tid: string, oid: string) => issuer.bearerFor(tid, oid, ['Kluis.User']);

async function scrape(headers: Record<string, string> = {}, base = kluis.url) {
  const response = await fetch(`${base}/metrics`, { headers });
  return { status: response.status, type: response.headers.get('content-type') ?? '', text: await response.text() };
}

/** The value of one series (labels in any order), or undefined when it is absent. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const have = Object.fromEntries([...(match[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(match[3]);
  }
  return undefined;
}

async function chat(bearer: string, headers: Record<string, string> = {}) {
  const response = await fetch(`${kluis.url}/api/chat`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${bearer}`, ...headers },
    body: JSON.stringify({ message: QUESTION, channel: 'tab', conversationId: randomUUID() }),
  });
  await response.text();
  return response;
}

beforeAll(async () => {
  issuer = await startFakeEntraIssuer();
  kluis = await startTestKluis(
    {
      LOCAL_TENANT_ID: randomUUID(),
      ONBOARD_TENANTS: `${tenant}=Contoso Metrics`,
      ...issuer.kluisSettings(),
      KNOWLEDGE_DIR: 'demo/knowledge',
      KNOWLEDGE_TENANT_ID: tenant,
    },
    { logger: createLogger('info', { write: (line: string) => void logLines.push(line) }) },
  );
}, 60000);

afterAll(async () => {
  await kluis?.stop();
  await issuer?.close();
  await db.workspace.deleteMany({ where: { tenantId: tenant } });
  await db.$disconnect();
});

describe('GET /metrics', () => {
  it('shows the turn, the provider call, the HTTP latency, a failed sign-in and the queue depth after they happen', async () => {
    const before = await scrape();
    expect(before.status).toBe(200);
    expect(before.type).toMatch(/^text\/plain/);
    const turnsBefore = sample(before.text, 'kluis_turns_total', { channel: 'tab', outcome: 'answered' }) ?? 0;
    const callsBefore = sample(before.text, 'kluis_provider_calls_total', { provider: 'extractive', outcome: 'success' }) ?? 0;

    const oid = randomUUID();
    expect((await chat(await token(tenant, oid))).status).toBe(200);
    const login = await fetch(`${kluis.url}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: `${randomUUID()}@example.com`, password: 'not the password at all 1' }) });
    expect(login.status).toBe(401);
    const { workspaceId } = (await (await fetch(`${kluis.url}/api/me`, { headers: { authorization: `Bearer ${await token(tenant, oid)}` } })).json()) as { workspaceId: string };
    await db.job.create({ data: { id: randomUUID(), workspaceId, kind: 'metrics.probe', status: 'queued' } });
    // A background job: the user's export is built through the job queue.
    const exported = await fetch(`${kluis.url}/api/me/export`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${await token(tenant, oid)}` }, body: '{}' });
    expect(exported.status).toBe(202);
    await kluis.modules.exports.settled();

    const after = await scrape();
    expect(sample(after.text, 'kluis_turns_total', { channel: 'tab', outcome: 'answered' })).toBe(turnsBefore + 1);
    expect(sample(after.text, 'kluis_turn_duration_seconds_count', { channel: 'tab' })).toBeGreaterThanOrEqual(1);
    expect(sample(after.text, 'kluis_provider_calls_total', { provider: 'extractive', outcome: 'success' })).toBe(callsBefore + 1);
    expect(sample(after.text, 'kluis_http_request_duration_seconds_count', { method: 'post', route: '/api/chat', status_class: '2xx' })).toBeGreaterThanOrEqual(1);
    expect(sample(after.text, 'kluis_login_failures_total', { reason: 'unknown-account' })).toBeGreaterThanOrEqual(1);
    expect(sample(after.text, 'kluis_queue_depth', { queue: 'job', kind: 'metrics.probe', status: 'queued' })).toBeGreaterThanOrEqual(1);
    expect(sample(after.text, 'kluis_knowledge_files_total', { result: 'indexed' })).toBeGreaterThan(0);
    expect(sample(after.text, 'kluis_alerts_total', { kind: 'login_failures' })).toBe(0);
    expect(sample(after.text, 'kluis_jobs_total', { kind: 'export.build', outcome: 'succeeded' })).toBe(1);
    expect(sample(after.text, 'kluis_job_duration_seconds_count', { kind: 'export.build' })).toBe(1);
    expect(sample(after.text, 'kluis_authorization_refusals_total')).toBeDefined();
    // Never a tenant, workspace or user id, a tenant name or the question as a label.
    for (const secret of [tenant, workspaceId, oid, 'Contoso', QUESTION]) expect(after.text).not.toContain(secret);
    await db.job.deleteMany({ where: { workspaceId, kind: 'metrics.probe' } });
  });

  it('refuses a request that came through a proxy when no METRICS_TOKEN is set', async () => {
    const r = await scrape({ 'x-forwarded-for': '203.0.113.9' });
    expect(r.status).toBe(403);
    expect(r.text).not.toContain('kluis_');
    expect((await scrape({ forwarded: 'for=203.0.113.9' })).status).toBe(403);
  });

  it('answers only the bearer token when METRICS_TOKEN is set, even on loopback', async () => {
    const secured = await startTestKluis({ LOCAL_TENANT_ID: randomUUID(), METRICS_TOKEN: 'metrics-token-0123456789abcdef' });
    try {
      expect((await scrape({}, secured.url)).status).toBe(401);
      expect((await scrape({ authorization: 'Bearer metrics-token-0123456789abcdeX' }, secured.url)).status).toBe(401);
      expect((await scrape({ authorization: 'Basic bWV0cmljczp4' }, secured.url)).status).toBe(401);
      const ok = await scrape({ authorization: 'Bearer metrics-token-0123456789abcdef', 'x-forwarded-for': '203.0.113.9' }, secured.url);
      expect(ok.status).toBe(200);
      expect(ok.text).toContain('kluis_turns_total');
      // A second instance in the same process has its own registry: its counters start afresh.
      expect(sample(ok.text, 'kluis_turns_total', { channel: 'tab', outcome: 'answered' })).toBeUndefined();
    } finally {
      await secured.stop();
    }
  });
});

describe('request ids in the logs', () => {
  const parsed = () => logLines.map((l) => JSON.parse(l) as Record<string, unknown>);
  const finished = () => parsed().filter((l) => l.msg === 'request finished');

  it('counts a Teams turn and logs its request with the tenant and workspace, never the message', async () => {
    const connector = await startFakeConnector();
    try {
      const turns = async () => sample((await scrape()).text, 'kluis_turns_total', { channel: 'teams', outcome: 'answered' }) ?? 0;
      const before = await turns();
      const oid = randomUUID();
      const activity = {
        type: 'message',
        id: randomUUID(),
        channelId: 'msteams',
        serviceUrl: connector.serviceUrl,
        text: QUESTION,
        from: { id: `29:${randomUUID()}`, name: 'Alex Wilber', aadObjectId: oid },
        recipient: { id: 'bot-id', name: 'Kluis' },
        conversation: { id: `a:${oid}`, conversationType: 'personal', tenantId: tenant },
        channelData: { tenant: { id: tenant } },
      };
      const r = await fetch(`${kluis.url}/api/messages`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-request-id': 'teams-turn-1' }, body: JSON.stringify(activity) });
      expect(r.status).toBe(200);
      await connector.waitForMessages(1);
      expect(await turns()).toBe(before + 1);
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(finished().find((l) => l.requestId === 'teams-turn-1')).toMatchObject({ route: '/api/messages', status: 200, tenantId: tenant, workspaceId: expect.any(String), turnId: expect.stringMatching(/^[0-9a-f-]{36}$/) });
      expect(logLines.join('\n')).not.toContain(QUESTION);
    } finally {
      await connector.close();
    }
  });

  it('echoes a plain incoming X-Request-Id and logs it with the tenant and workspace, never the content', async () => {
    const oid = randomUUID();
    const bearer = await token(tenant, oid);
    const r = await chat(bearer, { 'x-request-id': 'lb-7f3a.42:x_y' });
    expect(r.headers.get('x-request-id')).toBe('lb-7f3a.42:x_y');
    await new Promise((resolve) => setTimeout(resolve, 50));
    const line = finished().find((l) => l.requestId === 'lb-7f3a.42:x_y');
    expect(line).toMatchObject({ method: 'POST', route: '/api/chat', status: 200, tenantId: tenant, workspaceId: expect.any(String) });
    const all = logLines.join('\n');
    expect(all).not.toContain(QUESTION);
    expect(all).not.toContain(bearer);
    expect(all).not.toContain('travel-policy');
  });

  it('replaces an oversized or hostile X-Request-Id with a generated one', async () => {
    for (const hostile of ['x'.repeat(65), 'a b', 'id";drop', '<script>']) {
      const r = await fetch(`${kluis.url}/healthz?q=secret-query`, { headers: { 'x-request-id': hostile } });
      const id = r.headers.get('x-request-id')!;
      expect(id).toMatch(/^[0-9a-f-]{36}$/);
      expect(id).not.toBe(hostile);
    }
    const r = await fetch(`${kluis.url}/no/such/path?token=abc123`);
    expect(r.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const all = logLines.join('\n');
    expect(all).not.toContain('secret-query');
    expect(all).not.toContain('abc123');
    expect(all).not.toContain('<script>');
  });
});
