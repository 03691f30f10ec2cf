/** /api/usage and /api/usage/budget over real HTTP: admins only, own workspace only, bad input refused. */
import { randomUUID } from 'node:crypto';
import { utcMonth } from '../../api/assistant/usage';
import { startFakeEntraIssuer, type FakeEntraIssuer } from '../fakes/entraIssuer';
import { openTestDatabase } from '../support/database';
import { startTestKluis } from '../support/kluis';

const tenantA = randomUUID();
const tenantB = randomUUID();
const db = openTestDatabase();
let issuer: FakeEntraIssuer;
let kluis: Awaited<ReturnType<typeof startTestKluis>>;
const people = { adminA: randomUUID(), userA: randomUUID(), managerA: randomUUID(), viewerA: randomUUID(), adminB: randomUUID() };

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

async function principalOf(bearer: string) {
  const me = await call('GET', '/api/me', bearer);
  expect(me.status).toBe(200);
  return me.body as { workspaceId: string; userId: string };
}

beforeAll(async () => {
  issuer = await startFakeEntraIssuer();
  kluis = await startTestKluis({ LOCAL_TENANT_ID: randomUUID(), ONBOARD_TENANTS: `${tenantA}=Contoso,${tenantB}=Fabrikam`, ...issuer.kluisSettings(), USAGE_CURRENCY: 'EUR', USAGE_PRICES: '{"openai/gpt-4o-mini":{"input":14,"output":56}}' });
  // Usage of both workspaces, booked through the meter Kluis itself wired.
  const a = await principalOf(await adminA());
  const u = await principalOf(await token(tenantA, people.userA, 'Kluis.User'));
  const b = await principalOf(await adminB());
  await kluis.modules.usage.record({ workspaceId: a.workspaceId, userId: u.userId, provider: 'openai', model: 'gpt-4o-mini', inputTokens: 1_000_000, outputTokens: 500_000, latencyMs: 800, outcome: 'success' });
  await kluis.modules.usage.record({ workspaceId: a.workspaceId, userId: a.userId, provider: 'openai', model: 'gpt-4o-mini', inputTokens: 0, outputTokens: 0, latencyMs: 30_000, outcome: 'failure' });
  await kluis.modules.usage.record({ workspaceId: b.workspaceId, userId: b.userId, provider: 'anthropic', model: 'claude-sonnet-4', inputTokens: 9_999, outputTokens: 9_999, latencyMs: 1, outcome: 'success' });
}, 60000);

afterAll(async () => {
  await kluis?.stop();
  await issuer?.close();
  await db.workspace.deleteMany({ where: { tenantId: { in: [tenantA, tenantB] } } });
  await db.$disconnect();
});

describe('GET /api/usage', () => {
  it('gives an admin the month of their own workspace only, priced from the settings', async () => {
    const r = await call('GET', `/api/usage?month=${utcMonth(new Date())}`, await adminA());
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ month: utcMonth(new Date()), currency: 'EUR', budget: { monthlyLimitCents: null, exhausted: false } });
    // 1M in x 14 + 0.5M out x 56 = 42 cents (the override, not the default 15/60).
    expect(r.body.totals).toMatchObject({ calls: 2, failedCalls: 1, inputTokens: 1_000_000, outputTokens: 500_000, costCents: 42, averageLatencyMs: 15_400 });
    expect(r.body.byModel.map((m: { provider: string; model: string }) => `${m.provider}/${m.model}`)).toEqual(['openai/gpt-4o-mini']);
    expect(r.body.byUserDay).toHaveLength(2);
    expect(JSON.stringify(r.body)).not.toContain('claude');
    // Without a month: the current one.
    expect((await call('GET', '/api/usage', await adminA())).body.month).toBe(utcMonth(new Date()));
  });

  it('shows an empty month as zeros, not as an error', async () => {
    const r = await call('GET', '/api/usage?month=2019-02', await adminA());
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ month: '2019-02', totals: { calls: 0, costCents: 0, averageLatencyMs: null }, byModel: [], byUserDay: [] });
  });

  it.each(['Kluis.User', 'Kluis.Manager', 'Kluis.Viewer'])('refuses %s with 403, whatever the query', async (role) => {
    const bearer = await token(tenantA, people.userA, role);
    for (const query of ['', '?month=2026-11', '?month=garbage']) {
      const r = await call('GET', `/api/usage${query}`, bearer);
      expect(r.status).toBe(403);
      expect(r.body.error.id).toBe('forbidden');
    }
  });

  it('refuses a caller without credentials with 401', async () => {
    expect((await call('GET', '/api/usage', undefined)).status).toBe(401);
  });

  it.each([
    ['a month 13', '?month=2026-13'],
    ['a day instead of a month', '?month=2026-11-01'],
    ['words', '?month=last'],
    ['an injection attempt', `?month=${encodeURIComponent("2026-11' OR '1'='1")}`],
    ['a repeated parameter (parameter pollution)', '?month=2026-11&month=2026-10'],
    ['an oversized month', `?month=${'9'.repeat(5000)}`],
  ])('refuses %s with 400', async (_what, query) => {
    const r = await call('GET', `/api/usage${query}`, await adminA());
    expect(r.status).toBe(400);
    expect(r.body.error.id).toBe('request_malformed');
  });

  it('does not read bracketed parameters as an object (month[gt]= is not the month)', async () => {
    const r = await call('GET', '/api/usage?month[gt]=2000-01', await adminA());
    expect(r.status).toBe(200);
    expect(r.body.month).toBe(utcMonth(new Date()));
  });

  it('ignores a workspace named in the query (cross-workspace)', async () => {
    const b = await principalOf(await adminB());
    const r = await call('GET', `/api/usage?workspaceId=${b.workspaceId}`, await adminA());
    expect(r.status).toBe(200);
    expect(JSON.stringify(r.body)).not.toContain('claude');
  });
});

describe('PUT /api/usage/budget', () => {
  it('lets an admin set and remove the budget of their own workspace, audited, and shows it in the report', async () => {
    const set = await call('PUT', '/api/usage/budget', await adminA(), { monthlyLimitCents: 40 });
    expect(set).toEqual({ status: 200, body: { monthlyLimitCents: 40, currency: 'EUR' } });
    const report = await call('GET', '/api/usage', await adminA());
    expect(report.body.budget).toEqual({ monthlyLimitCents: 40, spentCents: 42, exhausted: true });
    // Workspace B's budget is untouched (cross-workspace).
    expect((await call('GET', '/api/usage', await adminB())).body.budget.monthlyLimitCents).toBeNull();
    const a = await principalOf(await adminA());
    const events = await db.auditEvent.findMany({ where: { workspaceId: a.workspaceId, kind: 'usage.budget.changed' } });
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ actorUserId: a.userId, detail: { from: null, to: 40, currency: 'EUR' } });
    expect((await call('PUT', '/api/usage/budget', await adminA(), { monthlyLimitCents: null })).body.monthlyLimitCents).toBeNull();
    expect((await call('GET', '/api/usage', await adminA())).body.budget).toMatchObject({ monthlyLimitCents: null, exhausted: false });
  });

  it('cannot set another workspace\'s budget: the workspace is always the caller\'s (mass assignment)', async () => {
    const b = await principalOf(await adminB());
    const r = await call('PUT', '/api/usage/budget', await adminA(), { monthlyLimitCents: 1, workspaceId: b.workspaceId });
    expect(r.status).toBe(400);
    expect((await call('GET', '/api/usage', await adminB())).body.budget.monthlyLimitCents).toBeNull();
  });

  it.each(['Kluis.User', 'Kluis.Manager', 'Kluis.Viewer'])('refuses %s with 403 and changes nothing', async (role) => {
    const r = await call('PUT', '/api/usage/budget', await token(tenantA, people.managerA, role), { monthlyLimitCents: 999_999 });
    expect(r.status).toBe(403);
    expect((await call('GET', '/api/usage', await adminA())).body.budget.monthlyLimitCents).toBeNull();
  });

  it.each([
    ['a negative amount', { monthlyLimitCents: -5 }],
    ['a fraction of a cent', { monthlyLimitCents: 0.5 }],
    ['an amount as text', { monthlyLimitCents: '100' }],
    ['an amount beyond the INT column', { monthlyLimitCents: 2 ** 31 }],
    ['a number too large for JSON precision', '{"monthlyLimitCents": 1e400}'],
    ['a missing amount', {}],
    ['a prototype pollution attempt', '{"__proto__": {"monthlyLimitCents": 1}, "monthlyLimitCents": 1}'],
    ['a JSON array', [40]],
    ['JSON that does not parse', '{"monthlyLimitCents": '],
  ])('refuses %s with 400 and changes nothing', async (_what, body) => {
    const r = await call('PUT', '/api/usage/budget', await adminA(), body);
    expect(r.status).toBe(400);
    expect(r.body.error.id).toBe('request_malformed');
    expect((await call('GET', '/api/usage', await adminA())).body.budget.monthlyLimitCents).toBeNull();
  });

  it('refuses an oversized body with 413 and a non-JSON body with 415', async () => {
    const huge = await call('PUT', '/api/usage/budget', await adminA(), JSON.stringify({ monthlyLimitCents: 1, padding: 'x'.repeat(100 * 1024) }));
    expect(huge.status).toBe(413);
    const form = await call('PUT', '/api/usage/budget', await adminA(), 'monthlyLimitCents=1', { 'content-type': 'application/x-www-form-urlencoded' });
    expect(form.status).toBe(415);
    expect((await call('GET', '/api/usage', await adminA())).body.budget.monthlyLimitCents).toBeNull();
  });
});
