/**
 * The monthly budget end to end below HTTP: the real OpenAI adapter against the local fake API
 * (which reports token usage as OpenAI does), metered through the real MariaDB store. Once the
 * month's estimated spend reaches the budget, the next paid call is refused before a single byte
 * is sent to the provider; the free extractive provider keeps answering.
 */
import { randomUUID } from 'node:crypto';
import { createPrismaUsageStore } from '../../api/assistant/prismaUsageStore';
import type { ChatRequest } from '../../api/assistant/ports';
import { priceTable } from '../../api/assistant/pricing';
import { createExtractiveProvider } from '../../api/assistant/providers/extractiveProvider';
import { createOpenAiProvider } from '../../api/assistant/providers/openaiProvider';
import { BUDGET_EXHAUSTED_TEXT, createUsageMeter, utcDay } from '../../api/assistant/usage';
import { createPrismaAuditLog } from '../../api/audit/prismaAuditLog';
import type { Principal } from '../../api/tenancy/principal';
import { startFakeOpenAi, type FakeOpenAi } from '../fakes/openaiServer';
import { openTestDatabase } from '../support/database';
import { kluisRejection } from '../support/errors';

const db = openTestDatabase();
const workspaceId = randomUUID();
const adminId = randomUUID();
const userId = randomUUID();
const admin: Principal = { workspaceId, tenantId: randomUUID(), userId: adminId, roles: ['admin'], authMethod: 'entra-token' };
const user: Principal = { ...admin, userId, roles: ['user'] };
const request: ChatRequest = {
  messages: [{ role: 'system', content: 'Answer from the passages.' }, { role: 'user', content: 'How many leave days? [1] 25 days.' }],
  question: 'How many leave days?',
  passages: [{ number: 1, documentId: 'd1', title: 'Handbook', sourceRef: 'handbook.md', text: '25 days of leave.', score: 1 }],
  language: 'en',
};
let fake: FakeOpenAi;
let logged: unknown[];

function meterWithRealStore() {
  logged = [];
  return createUsageMeter({ store: createPrismaUsageStore(db), audit: createPrismaAuditLog(db), prices: priceTable(), currency: 'USD', onRecordError: (e) => logged.push(e) });
}

beforeAll(async () => {
  fake = await startFakeOpenAi();
  await db.workspace.create({ data: { id: workspaceId, name: 'w', tenantId: admin.tenantId } });
  for (const id of [adminId, userId]) await db.user.create({ data: { id, workspaceId, entraObjectId: randomUUID() } });
});

afterAll(async () => {
  await fake?.close();
  await db.workspace.deleteMany({ where: { id: workspaceId } });
  await db.$disconnect();
});

describe('monthly budget', () => {
  it('refuses the paid call after the budget is reached, and nothing reaches the provider', async () => {
    const meter = meterWithRealStore();
    const openai = createOpenAiProvider({ apiKey: fake.apiKey, baseUrl: fake.baseUrl, model: 'gpt-4o-mini', timeoutMs: 5000, maxRetries: 0 });
    // 15 cents per million input tokens, 60 per million output: 400k in + 50k out = 6 + 3 = 9 cents.
    const usage = { prompt_tokens: 400_000, completion_tokens: 50_000 };
    await meter.setBudget(admin, { monthlyLimitCents: 18 });

    const wrapped = meter.forPrincipal(user).wrap(openai);
    fake.enqueue({ kind: 'completion', content: 'You get 25 days [1].', usage }, { kind: 'completion', content: 'Still 25 days [1].', usage });
    await wrapped.complete(request);
    expect((await meter.report(admin, utcDay(new Date()).slice(0, 7))).budget).toEqual({ monthlyLimitCents: 18, spentCents: 9, exhausted: false });
    await meter.forPrincipal(user).wrap(openai).complete(request);
    expect(fake.requests).toHaveLength(2);

    const refusal = await kluisRejection(meter.forPrincipal(user).wrap(openai).complete(request));
    expect(refusal.id).toBe('budget_exhausted');
    expect(refusal.status).toBe(429);
    expect(refusal.retryAfterSeconds).toBeGreaterThan(0);
    expect(fake.requests).toHaveLength(2);
    expect(BUDGET_EXHAUSTED_TEXT.nl).toMatch(/budget/);

    const report = await meter.report(admin, utcDay(new Date()).slice(0, 7));
    expect(report.budget).toEqual({ monthlyLimitCents: 18, spentCents: 18, exhausted: true });
    // The refused call never named a model: it is counted under the provider as model "unknown".
    expect(report.byModel).toEqual([
      expect.objectContaining({ provider: 'openai', model: 'gpt-4o-mini', calls: 2, refusedCalls: 0, inputTokens: 800_000, outputTokens: 100_000, costCents: 18 }),
      expect.objectContaining({ provider: 'openai', model: 'unknown', calls: 0, refusedCalls: 1, costCents: 0 }),
    ]);
    expect(report.totals.refusedCalls).toBe(1);
    expect(report.byUserDay).toEqual([expect.objectContaining({ userId, calls: 2, refusedCalls: 1 })]);

    // The extractive provider is free: it is never stopped, and its calls are counted.
    const extractive = meter.forPrincipal(user).wrap(createExtractiveProvider());
    await expect(extractive.complete(request)).resolves.toMatchObject({ provider: 'extractive' });

    // Raising the budget lets paid calls through again at once, in this month.
    await meter.setBudget(admin, { monthlyLimitCents: 100 });
    fake.enqueue({ kind: 'completion', content: 'Yes, 25 days [1].', usage });
    await meter.forPrincipal(user).wrap(openai).complete(request);
    expect(fake.requests).toHaveLength(3);
    expect(logged).toEqual([]);

    const audited = await db.auditEvent.findMany({ where: { workspaceId, kind: 'usage.budget.changed' }, orderBy: { createdAt: 'asc' } });
    expect(audited.map((e) => e.detail)).toEqual([
      { from: null, to: 18, currency: 'USD' },
      { from: 18, to: 100, currency: 'USD' },
    ]);
  });

  it('records a failed paid call with its outcome (the provider answered 500)', async () => {
    const meter = meterWithRealStore();
    const before = fake.requests.length;
    const openai = createOpenAiProvider({ apiKey: fake.apiKey, baseUrl: fake.baseUrl, model: 'gpt-4o-mini', timeoutMs: 5000, maxRetries: 0 });
    fake.enqueue({ kind: 'server-error' });
    const error = await kluisRejection(meter.forPrincipal(admin).wrap(openai).complete(request));
    expect(error.id).toBe('provider_unavailable');
    expect(fake.requests.length).toBe(before + 1);
    const report = await meter.report(admin, utcDay(new Date()).slice(0, 7));
    expect(report.byUserDay.find((r) => r.userId === adminId)).toMatchObject({ calls: 1, failedCalls: 1, inputTokens: 0, costCents: 0 });
  });
});
