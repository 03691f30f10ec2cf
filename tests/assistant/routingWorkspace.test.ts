/**
 * Routing per workspace over real HTTP and a real database: two workspaces in one Kluis, each
 * with its own saved policy, answered by different providers (their SDKs against local
 * wire-format servers). GET/PUT /api/workspace/routing: managers read, admins change, only their
 * own workspace; bad bodies are refused with nothing saved.
 */
import { randomUUID } from 'node:crypto';
import { startFakeAnthropic, type FakeAnthropic } from '../fakes/anthropicServer';
import { startFakeEntraIssuer, type FakeEntraIssuer } from '../fakes/entraIssuer';
import { startFakeOpenAi, type FakeOpenAi } from '../fakes/openaiServer';
import { openTestDatabase } from '../support/database';
import { startTestKluis } from '../support/kluis';

const tenantA = randomUUID();
const tenantB = randomUUID();
const db = openTestDatabase();
let issuer: FakeEntraIssuer;
let openai: FakeOpenAi;
let perplexity: FakeOpenAi;
let anthropic: FakeAnthropic;
let kluis: Awaited<ReturnType<typeof startTestKluis>>;
const people = { adminA: randomUUID(), managerA: randomUUID(), userA: randomUUID(), viewerA: randomUUID(), adminB: randomUUID(), userB: randomUUID() };
const workspace: { a: string; b: string } = { a: '', b: '' };

const token = (tid: string, oid: string, role: string) => issuer.bearerFor(tid, oid, [role]);
const adminA = () => token(tenantA, people.adminA, 'Kluis.Admin');
const adminB = () => token(tenantB, people.adminB, 'Kluis.Admin');

async function call(method: string, path: string, bearer: string | undefined, payload?: unknown, headers: Record<string, string> = {}) {
  const body = payload === undefined ? undefined : typeof payload === 'string' ? payload : JSON.stringify(payload);
  const response = await fetch(`${kluis.url}${path}`, {
    method,
    headers: { ...(bearer ? { authorization: `Bearer ${bearer}` } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    body,
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined };
}

/** Asks through the Outlook add-in's door: a summary of a shared e-mail needs no documents, only the provider. */
async function summarise(bearer: string, mailBody = 'The team meets on Tuesday at ten to plan the move.', extra: { grounding?: 'web' } = {}): Promise<string> {
  const response = await fetch(`${kluis.url}/api/chat`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${bearer}` },
    body: JSON.stringify({ message: 'Summarise this e-mail', channel: 'outlook', task: 'summarise', conversationId: randomUUID(), mail: { subject: 'Planning', body: mailBody }, ...extra }),
  });
  const text = await response.text();
  expect(response.status).toBe(200);
  const done = text.split('\n\n').find((block) => block.startsWith('event: done'));
  if (!done) throw new Error(`no answer: ${text.slice(0, 500)}`);
  return (JSON.parse(done.split('\n').find((l) => l.startsWith('data: '))!.slice(6)) as { provider: string }).provider;
}

const storedRow = (workspaceId: string) => db.workspaceRoutingPolicy.findUnique({ where: { workspaceId } });
const routingChanges = (workspaceId: string) => db.auditEvent.count({ where: { workspaceId, kind: 'assistant.routing_changed' } });

const policyA = {
  defaultProvider: 'openai',
  allowed: ['openai', 'anthropic', 'perplexity'],
  rules: [
    { when: 'long-context', minChars: 6000, provider: 'perplexity' },
    { when: 'web', provider: 'perplexity' },
  ],
  models: { openai: 'gpt-workspace-a' },
};
const policyB = { defaultProvider: 'anthropic', allowed: ['anthropic', 'perplexity', 'openai'], rules: [], models: { anthropic: 'claude-workspace-b' } };

beforeAll(async () => {
  issuer = await startFakeEntraIssuer();
  [openai, perplexity, anthropic] = await Promise.all([startFakeOpenAi(), startFakeOpenAi({ flavour: 'perplexity' }), startFakeAnthropic()]);
  openai.setDefault(() => 'OpenAI: a planning meeting on Tuesday.');
  perplexity.setDefault(() => 'Perplexity: a planning meeting on Tuesday.');
  anthropic.setDefault(() => 'Claude: a planning meeting on Tuesday.');
  kluis = await startTestKluis({
    LOCAL_TENANT_ID: randomUUID(),
    ONBOARD_TENANTS: `${tenantA}=Contoso,${tenantB}=Fabrikam`,
    ...issuer.kluisSettings(),
    OPENAI_API_KEY: openai.apiKey,
    OPENAI_BASE_URL: openai.baseUrl,
    OPENAI_MODEL: 'gpt-env',
    OPENAI_MAX_RETRIES: '0',
    ANTHROPIC_API_KEY: anthropic.apiKey,
    ANTHROPIC_BASE_URL: anthropic.baseUrl,
    ANTHROPIC_MODEL: 'claude-env',
    ANTHROPIC_MAX_RETRIES: '0',
    PERPLEXITY_API_KEY: perplexity.apiKey,
    PERPLEXITY_BASE_URL: perplexity.baseUrl,
    PERPLEXITY_MAX_RETRIES: '0',
    // No Gemini key: Gemini is never offered, and a policy naming it cannot be saved.
  });
  workspace.a = (await call('GET', '/api/me', await adminA())).body.workspaceId;
  workspace.b = (await call('GET', '/api/me', await adminB())).body.workspaceId;
}, 60000);

afterAll(async () => {
  await kluis?.stop();
  await Promise.all([issuer?.close(), openai?.close(), perplexity?.close(), anthropic?.close()]);
  await db.workspace.deleteMany({ where: { tenantId: { in: [tenantA, tenantB] } } });
  await db.$disconnect();
});

describe('routing per workspace', () => {
  it('shows the environment policy while a workspace has saved none, with the providers that have a key', async () => {
    const r = await call('GET', '/api/workspace/routing', await adminA());
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ source: 'environment', policy: { defaultProvider: 'openai' }, unavailable: [] });
    expect(r.body.available).toEqual(['extractive', 'openai', 'anthropic', 'perplexity']);
    expect(r.body.updatedAt).toBeUndefined();
  });

  it('answers workspace A from its provider and workspace B from another, in the same process, from the next question on', async () => {
    // B asks once before saving: its router (the environment's) is cached, and the save must replace it.
    expect(await summarise(await token(tenantB, people.userB, 'Kluis.User'))).toBe('openai');
    const savedA = await call('PUT', '/api/workspace/routing', await adminA(), policyA);
    const savedB = await call('PUT', '/api/workspace/routing', await adminB(), policyB);
    expect([savedA.status, savedB.status]).toEqual([200, 200]);
    expect(savedB.body).toMatchObject({ source: 'workspace', policy: policyB, unavailable: [] });

    openai.requests.length = 0;
    anthropic.requests.length = 0;
    const a = await summarise(await token(tenantA, people.userA, 'Kluis.User'));
    const b = await summarise(await token(tenantB, people.userB, 'Kluis.User'));

    expect([a, b]).toEqual(['openai', 'anthropic']);
    expect(openai.requests.map((r) => r.body.model)).toEqual(['gpt-workspace-a']);
    expect((anthropic.requests[0]!.json as { model: string }).model).toBe('claude-workspace-b');
    expect((await call('GET', '/api/workspace/routing', await adminB())).body).toMatchObject({ source: 'workspace', policy: policyB });
  });

  it('fires workspace A’s long-context rule for a long prompt only', async () => {
    perplexity.requests.length = 0;
    const long = await summarise(await token(tenantA, people.userA, 'Kluis.User'), 'The move to the new office is planned in detail. '.repeat(150));
    const short = await summarise(await token(tenantA, people.userA, 'Kluis.User'));
    expect([long, short]).toEqual(['perplexity', 'openai']);
    expect(perplexity.requests).toHaveLength(1);
  });

  it('fires workspace A’s web rule for a question the caller marks as web-grounded only', async () => {
    perplexity.requests.length = 0;
    const web = await summarise(await token(tenantA, people.userA, 'Kluis.User'), undefined, { grounding: 'web' });
    const plain = await summarise(await token(tenantA, people.userA, 'Kluis.User'));
    expect([web, plain]).toEqual(['perplexity', 'openai']);
    expect(perplexity.requests).toHaveLength(1);
  });

  it('falls back in each workspace’s own allowed order when its provider is unavailable', async () => {
    openai.enqueue({ kind: 'server-error' });
    // A: openai fails -> anthropic (second in A's list), not perplexity.
    expect(await summarise(await token(tenantA, people.userA, 'Kluis.User'))).toBe('anthropic');
    anthropic.enqueue({ kind: 'rate-limit', retryAfterSeconds: 30 });
    // B: anthropic fails -> perplexity (second in B's list), not openai.
    openai.requests.length = 0;
    expect(await summarise(await token(tenantB, people.userB, 'Kluis.User'))).toBe('perplexity');
    expect(openai.requests).toHaveLength(0);
  });

  it('audits a change with the old and new provider names only', async () => {
    const events = await db.auditEvent.findMany({ where: { workspaceId: workspace.a, kind: 'assistant.routing_changed' } });
    expect(events).toHaveLength(1);
    expect(events[0]!.detail).toEqual({ oldDefaultProvider: 'openai', newDefaultProvider: 'openai', oldProviders: 'openai,anthropic,perplexity', newProviders: 'openai,anthropic,perplexity' });
    expect(JSON.stringify(events[0]!.detail)).not.toContain('gpt-workspace-a');
  });
});

describe('who may read and change it', () => {
  it('lets a manager read but not change the policy; users and viewers neither', async () => {
    const before = await storedRow(workspace.a);
    const manager = await token(tenantA, people.managerA, 'Kluis.Manager');
    expect((await call('GET', '/api/workspace/routing', manager)).status).toBe(200);
    const put = await call('PUT', '/api/workspace/routing', manager, { defaultProvider: 'extractive', allowed: ['extractive'] });
    expect([put.status, put.body.error.id]).toEqual([403, 'forbidden']);
    for (const role of ['Kluis.User', 'Kluis.Viewer']) {
      const bearer = await token(tenantA, people.userA, role);
      expect((await call('GET', '/api/workspace/routing', bearer)).status).toBe(403);
      expect((await call('PUT', '/api/workspace/routing', bearer, { defaultProvider: 'extractive', allowed: ['extractive'] })).status).toBe(403);
    }
    expect((await call('GET', '/api/workspace/routing', undefined)).status).toBe(401);
    expect((await call('PUT', '/api/workspace/routing', undefined, policyB)).status).toBe(401);
    expect(await storedRow(workspace.a)).toEqual(before);
  });

  it('keeps an admin of A out of B’s policy (cross-tenant): no id to aim at, and smuggled ones change nothing', async () => {
    const beforeB = await storedRow(workspace.b);
    const smuggled = await call('PUT', '/api/workspace/routing', await adminA(), { ...policyA, workspaceId: workspace.b });
    expect([smuggled.status, smuggled.body.error.id]).toEqual([400, 'request_malformed']);
    // An id in the query or a header is not read: the write lands in A, the caller's own workspace.
    const aimed = await call('PUT', `/api/workspace/routing?workspaceId=${workspace.b}`, await adminA(), { ...policyA, defaultProvider: 'anthropic' }, { 'x-workspace-id': workspace.b });
    expect(aimed.status).toBe(200);
    expect(await storedRow(workspace.b)).toEqual(beforeB);
    expect((await call('GET', `/api/workspace/routing?workspaceId=${workspace.b}`, await adminA())).body.policy.defaultProvider).toBe('anthropic');
    expect((await call('GET', '/api/workspace/routing', await adminB())).body.policy).toEqual(policyB);
    expect((await storedRow(workspace.a))!.policy).toMatchObject({ defaultProvider: 'anthropic' });
    const restored = await call('PUT', '/api/workspace/routing', await adminA(), policyA);
    expect(restored.status).toBe(200);
  });
});

describe('bad bodies are refused and nothing is saved', () => {
  const bad: Array<[string, unknown]> = [
    ['not JSON', '{"defaultProvider": "openai",'],
    ['an array', [policyA]],
    ['an unknown provider', { ...policyA, allowed: ['openai', 'skynet'] }],
    ['a default outside allowed', { ...policyA, defaultProvider: 'anthropic', allowed: ['openai'], rules: [] }],
    ['a rule kind outside the list', { ...policyA, rules: [{ when: 'always', provider: 'openai' }] }],
    ['an image rule naming a chat provider', { ...policyA, rules: [{ when: 'image', provider: 'openai' }] }],
    ['eleven rules', { ...policyA, rules: Array.from({ length: 11 }, () => ({ when: 'web', provider: 'openai' })) }],
    ['a hostile model name', { ...policyA, models: { openai: "gpt'; DROP TABLE WorkspaceRoutingPolicy; --" } }],
    ['a model name of 101 characters', { ...policyA, models: { openai: 'g'.repeat(101) } }],
    ['a prototype key', JSON.parse('{"defaultProvider":"openai","allowed":["openai"],"models":{"__proto__":{"polluted":"yes"}}}')],
    ['an api key field', { ...policyA, apiKey: 'sk-sneaky' }],
    ['maxAttempts 99', { ...policyA, maxAttempts: 99 }],
    ['a threshold that is not a number', { ...policyA, rules: [{ when: 'long-context', minChars: '6000', provider: 'perplexity' }] }],
  ];

  it.each(bad)('refuses %s with 400 request_malformed', async (_why, body) => {
    const before = await storedRow(workspace.a);
    const changes = await routingChanges(workspace.a);
    const r = await call('PUT', '/api/workspace/routing', await adminA(), body);
    expect([r.status, r.body.error.id]).toEqual([400, 'request_malformed']);
    expect(await storedRow(workspace.a)).toEqual(before);
    expect(await routingChanges(workspace.a)).toBe(changes);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('refuses a body over the API limit with 413', async () => {
    const before = await storedRow(workspace.a);
    const r = await call('PUT', '/api/workspace/routing', await adminA(), { ...policyA, models: { openai: 'g'.repeat(70 * 1024) } });
    expect([r.status, r.body.error.id]).toEqual([413, 'request_too_large']);
    expect(await storedRow(workspace.a)).toEqual(before);
  });

  it('refuses a body that is not JSON by its content type', async () => {
    const r = await call('PUT', '/api/workspace/routing', await adminA(), JSON.stringify(policyA), { 'content-type': 'text/plain' });
    expect(r.status).toBe(415);
  });

  it('refuses a policy naming a provider without a key, and says which', async () => {
    const before = await storedRow(workspace.a);
    const r = await call('PUT', '/api/workspace/routing', await adminA(), { defaultProvider: 'openai', allowed: ['openai', 'gemini', 'stability'], rules: [{ when: 'image', provider: 'stability' }], models: { 'azure-openai': 'kluis-gpt' } });
    expect(r.status).toBe(422);
    expect(r.body.error).toMatchObject({ id: 'routing_provider_unavailable', providers: ['azure-openai', 'gemini', 'stability'] });
    expect(await storedRow(workspace.a)).toEqual(before);
  });
});
