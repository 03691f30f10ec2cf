import type { AuditEventInput } from '../audit/ports';
import { isKluisError } from '../errors';
import type { Principal } from '../tenancy/principal';
import type { ChatProvider, ChatRequest, ChatResult } from './ports';
import { priceTable } from './pricing';
import { createUsageMeter, isMonth, monthDays, secondsUntilNextMonth, utcDay, utcMonth, type UsageCall } from './usage';
import type { UsageBudgetSetting, UsageIncrement, UsageRow, UsageStore } from './usagePorts';

/** The port's contract in memory (the MySQL adapter is tested against a real MariaDB). */
function memoryStore(): UsageStore & { increments: UsageIncrement[] } {
  const rows = new Map<string, UsageRow & { workspaceId: string }>();
  const budgets = new Map<string, UsageBudgetSetting>();
  const increments: UsageIncrement[] = [];
  return {
    increments,
    async add(i) {
      increments.push(i);
      const key = [i.workspaceId, i.userId, i.day, i.provider, i.model].join('|');
      const r = rows.get(key) ?? { workspaceId: i.workspaceId, userId: i.userId, day: i.day, provider: i.provider, model: i.model, calls: 0, failedCalls: 0, refusedCalls: 0, inputTokens: 0, outputTokens: 0, latencyMsTotal: 0, costMicros: 0, unpricedCalls: 0 };
      rows.set(key, { ...r, calls: r.calls + i.calls, failedCalls: r.failedCalls + i.failedCalls, refusedCalls: r.refusedCalls + i.refusedCalls, inputTokens: r.inputTokens + i.inputTokens, outputTokens: r.outputTokens + i.outputTokens, latencyMsTotal: r.latencyMsTotal + i.latencyMs, costMicros: r.costMicros + i.costMicros, unpricedCalls: r.unpricedCalls + i.unpricedCalls });
    },
    async rows(workspaceId, fromDay, toDay) {
      return [...rows.values()].filter((r) => r.workspaceId === workspaceId && r.day >= fromDay && r.day < toDay).map(({ workspaceId: _w, ...r }) => r);
    },
    async spentMicros(workspaceId, fromDay, toDay) {
      return (await this.rows(workspaceId, fromDay, toDay)).reduce((n, r) => n + r.costMicros, 0);
    },
    async budget(workspaceId) {
      return budgets.get(workspaceId) ?? { monthlyLimitCents: null };
    },
    async setBudget(workspaceId, monthlyLimitCents, updatedByUserId) {
      budgets.set(workspaceId, { monthlyLimitCents, updatedByUserId });
    },
  };
}

const admin: Principal = { workspaceId: 'w1', tenantId: 't1', userId: 'u-admin', roles: ['admin'], authMethod: 'entra-token' };
const user: Principal = { workspaceId: 'w1', tenantId: 't1', userId: 'u1', roles: ['user'], authMethod: 'entra-token' };
const request: ChatRequest = { messages: [{ role: 'user', content: 'q' }], question: 'q', passages: [], language: 'en' };

function setup(at = '2026-11-22T10:00:00.000Z') {
  const store = memoryStore();
  const audit: AuditEventInput[] = [];
  let now = new Date(at);
  const recordErrors: unknown[] = [];
  const meter = createUsageMeter({ store, audit: { record: async (e) => void audit.push(e) }, prices: priceTable(), currency: 'USD', now: () => now, onRecordError: (e) => recordErrors.push(e) });
  return { store, audit, meter, recordErrors, setNow: (iso: string) => (now = new Date(iso)) };
}

/** A provider of these tests that only completes; its stream is derived from `complete`. */
function completing(provider: Omit<ChatProvider, 'stream'>): ChatProvider {
  return {
    ...provider,
    async *stream(request, signal) {
      const result = await provider.complete(request, signal);
      yield { type: 'text', text: result.text };
      yield { type: 'done', result };
    },
  };
}

/** A paid provider that answers with usage, counting what it was sent. */
function paidProvider(usage = { inputTokens: 1_000_000, outputTokens: 100_000 }) {
  const sent: ChatRequest[] = [];
  const provider: ChatProvider = completing({
    name: 'openai',
    async complete(r) {
      sent.push(r);
      return { text: 'answer', provider: 'openai', model: 'gpt-4o-mini-2024-07-18', usedPassages: [], usage };
    },
  });
  return { provider, sent };
}

describe('UTC calendar', () => {
  it('puts a call on its UTC day and month, whatever the local time zone', () => {
    expect(utcDay(new Date('2026-11-30T23:59:59.999Z'))).toBe('2026-11-30');
    expect(utcDay(new Date('2026-12-01T00:00:00.000Z'))).toBe('2026-12-01');
    // 00:30 in Amsterdam on 1 December is still November in UTC.
    expect(utcMonth(new Date('2026-12-01T00:30:00+01:00'))).toBe('2026-11');
  });

  it('gives each month its first day and the next month\'s first day, across years and leap days', () => {
    expect(monthDays('2026-11')).toEqual({ fromDay: '2026-11-01', toDay: '2026-12-01' });
    expect(monthDays('2026-12')).toEqual({ fromDay: '2026-12-01', toDay: '2027-01-01' });
    expect(monthDays('2028-02')).toEqual({ fromDay: '2028-02-01', toDay: '2028-03-01' });
  });

  it.each(['2026-13', '2026-00', '2026-1', '26-11', '2026-11-01', ' 2026-11', '2026-11\n', '1999-12', '9999-12', "2026-11' OR '1'='1", ''])('refuses %j as a month', (month) => {
    expect(isMonth(month)).toBe(false);
    expect(() => monthDays(month)).toThrow(expect.objectContaining({ id: 'request_malformed' }));
  });

  it('counts the seconds until the next UTC month', () => {
    expect(secondsUntilNextMonth(new Date('2026-11-30T23:59:00.000Z'))).toBe(60);
    expect(secondsUntilNextMonth(new Date('2026-12-31T23:59:59.500Z'))).toBe(1);
    expect(secondsUntilNextMonth(new Date('2026-02-01T00:00:00.000Z'))).toBe(28 * 86400);
  });
});

describe('metered provider', () => {
  it('records tokens, model, cost and latency of a paid call under the asking user', async () => {
    const { store, meter } = setup();
    const { provider } = paidProvider({ inputTokens: 1000, outputTokens: 200 });
    const result = await meter.forPrincipal(user).wrap(provider).complete(request);
    expect(result.text).toBe('answer');
    expect(store.increments).toHaveLength(1);
    expect(store.increments[0]).toMatchObject({ workspaceId: 'w1', userId: 'u1', day: '2026-11-22', provider: 'openai', model: 'gpt-4o-mini-2024-07-18', calls: 1, failedCalls: 0, refusedCalls: 0, inputTokens: 1000, outputTokens: 200, costMicros: 1000 * 15 + 200 * 60, unpricedCalls: 0 });
    expect(store.increments[0]!.latencyMs).toBeGreaterThanOrEqual(0);
  });

  it('records a failed call with its outcome and passes the error on unchanged', async () => {
    const { store, meter } = setup();
    const failure = Object.assign(new Error('boom'), { id: 'provider_unavailable' });
    const provider: ChatProvider = completing({ name: 'openai', complete: async () => Promise.reject(failure) });
    await expect(meter.forPrincipal(user).wrap(provider).complete(request)).rejects.toBe(failure);
    expect(store.increments).toEqual([expect.objectContaining({ provider: 'openai', model: 'unknown', calls: 1, failedCalls: 1, costMicros: 0, unpricedCalls: 0 })]);
  });

  it('refuses the call after the budget is reached, sends nothing to the provider and says so clearly', async () => {
    const { store, meter } = setup();
    await meter.setBudget(admin, { monthlyLimitCents: 20 });
    const { provider, sent } = paidProvider(); // 1M in x 15 + 100k out x 60 = 21 cents per call
    const wrapped = meter.forPrincipal(user).wrap(provider);
    await wrapped.complete(request);
    expect(sent).toHaveLength(1);
    const refusal = await wrapped.complete(request).catch((e: unknown) => e);
    expect(isKluisError(refusal, 'budget_exhausted')).toBe(true);
    expect((refusal as { retryAfterSeconds: number }).retryAfterSeconds).toBe(8 * 86400 + 14 * 3600);
    expect((refusal as { publicMessage: string }).publicMessage).toMatch(/budget/);
    expect(sent).toHaveLength(1);
    expect(store.increments.at(-1)).toMatchObject({ userId: 'u1', provider: 'openai', calls: 0, refusedCalls: 1, costMicros: 0 });
  });

  it('stops every paid call with a budget of 0 but never the free extractive provider', async () => {
    const { store, meter } = setup();
    await meter.setBudget(admin, { monthlyLimitCents: 0 });
    const { provider, sent } = paidProvider();
    await expect(meter.forPrincipal(user).wrap(provider).complete(request)).rejects.toMatchObject({ id: 'budget_exhausted' });
    expect(sent).toHaveLength(0);
    const extractive: ChatProvider = completing({ name: 'extractive', complete: async () => ({ text: 'quote', provider: 'extractive', model: 'extractive-v1', usedPassages: [1] }) });
    await expect(meter.forPrincipal(user).wrap(extractive).complete(request)).resolves.toMatchObject({ text: 'quote' });
    expect(store.increments.at(-1)).toMatchObject({ provider: 'extractive', model: 'extractive-v1', calls: 1, costMicros: 0, unpricedCalls: 0 });
  });

  it('starts a new month with the budget free again', async () => {
    const { meter, setNow } = setup('2026-11-30T23:59:00.000Z');
    await meter.setBudget(admin, { monthlyLimitCents: 10 });
    const { provider, sent } = paidProvider();
    const wrapped = meter.forPrincipal(user).wrap(provider);
    await wrapped.complete(request);
    await expect(wrapped.complete(request)).rejects.toMatchObject({ id: 'budget_exhausted' });
    setNow('2026-12-01T00:00:00.000Z');
    await wrapped.complete(request);
    expect(sent).toHaveLength(2);
  });

  it('lets other workspaces spend while one has reached its budget', async () => {
    const { meter } = setup();
    await meter.setBudget(admin, { monthlyLimitCents: 0 });
    const other: Principal = { ...user, workspaceId: 'w2' };
    const { provider, sent } = paidProvider();
    await meter.forPrincipal(other).wrap(provider).complete(request);
    expect(sent).toHaveLength(1);
  });

  it('flags a model without a price and counts it as free', async () => {
    const { store, meter } = setup();
    const provider: ChatProvider = completing({ name: 'openai', complete: async () => ({ text: 'a', provider: 'openai', model: 'my-finetune', usedPassages: [], usage: { inputTokens: 10, outputTokens: 10 } }) });
    await meter.forPrincipal(user).wrap(provider).complete(request);
    expect(store.increments[0]).toMatchObject({ model: 'my-finetune', costMicros: 0, unpricedCalls: 1 });
    const report = await meter.report(admin, '2026-11');
    expect(report.byModel[0]).toMatchObject({ model: 'my-finetune', unpricedCalls: 1, costCents: 0 });
  });

  it('keeps the answer when the usage cannot be recorded, and reports the lost record', async () => {
    const { store, meter, recordErrors } = setup();
    store.add = async () => Promise.reject(new Error('database down'));
    const { provider } = paidProvider();
    await expect(meter.forPrincipal(user).wrap(provider).complete(request)).resolves.toMatchObject({ text: 'answer' });
    expect(recordErrors).toHaveLength(1);
  });

  it('refuses a paid call when the budget cannot be checked (fails closed)', async () => {
    const { store, meter } = setup();
    store.budget = async () => Promise.reject(Object.assign(new Error('database down')));
    const { provider, sent } = paidProvider();
    await expect(meter.forPrincipal(user).wrap(provider).complete(request)).rejects.toThrow('database down');
    expect(sent).toHaveLength(0);
  });

  describe('streaming', () => {
    type Delta = { type: 'text'; text: string } | { type: 'done'; result: ChatResult };
    const streamingProvider = (deltas: Delta[], failAfter?: number) => {
      let started = 0;
      const provider = {
        name: 'openai',
        complete: async (): Promise<ChatResult> => Promise.reject(new Error('not used')),
        async *stream(_request: ChatRequest, _signal?: AbortSignal): AsyncIterable<Delta> {
          started++;
          for (const [i, d] of deltas.entries()) {
            if (failAfter === i) throw Object.assign(new Error('cut off'), { id: 'provider_unavailable' });
            yield d;
          }
        },
      };
      return { provider, started: () => started };
    };
    const done: Delta = { type: 'done', result: { text: 'Hello world', provider: 'openai', model: 'gpt-4o', usedPassages: [], usage: { inputTokens: 100, outputTokens: 10 } } };

    it('passes the deltas through and records the final usage once', async () => {
      const { store, meter } = setup();
      const { provider } = streamingProvider([{ type: 'text', text: 'Hello' }, { type: 'text', text: ' world' }, done]);
      const seen: Delta[] = [];
      for await (const d of meter.forPrincipal(user).wrap(provider).stream(request)) seen.push(d);
      expect(seen.map((d) => d.type)).toEqual(['text', 'text', 'done']);
      expect(store.increments).toEqual([expect.objectContaining({ model: 'gpt-4o', inputTokens: 100, outputTokens: 10, costMicros: 100 * 250 + 10 * 1000, calls: 1, failedCalls: 0 })]);
    });

    it('records a stream cut off by the provider, and one the reader abandons, as failures', async () => {
      const { store, meter } = setup();
      const cut = streamingProvider([{ type: 'text', text: 'Hel' }, done], 1);
      await expect((async () => { for await (const _ of meter.forPrincipal(user).wrap(cut.provider).stream(request)) void _; })()).rejects.toThrow('cut off');
      const abandoned = streamingProvider([{ type: 'text', text: 'Hel' }, done]);
      for await (const _ of meter.forPrincipal(user).wrap(abandoned.provider).stream(request)) break;
      expect(store.increments.map((i) => i.failedCalls)).toEqual([1, 1]);
    });

    it('refuses a stream when the budget is reached, before the provider is called', async () => {
      const { meter } = setup();
      await meter.setBudget(admin, { monthlyLimitCents: 0 });
      const { provider, started } = streamingProvider([done]);
      const iterate = async () => { for await (const _ of meter.forPrincipal(user).wrap(provider).stream(request)) void _; };
      await expect(iterate()).rejects.toMatchObject({ id: 'budget_exhausted' });
      expect(started()).toBe(0);
    });
  });
});

describe('usage report and budget', () => {
  it('sums per model and per user per day, with the month\'s spend against the budget', async () => {
    const { meter, setNow } = setup('2026-11-01T00:00:00.000Z');
    const calls: Array<[string, Omit<UsageCall, 'workspaceId'>]> = [
      ['2026-10-31T23:59:59.999Z', { userId: 'u1', provider: 'openai', model: 'gpt-4o-mini', inputTokens: 999, outputTokens: 999, latencyMs: 1, outcome: 'success' }],
      ['2026-11-01T00:00:00.000Z', { userId: 'u1', provider: 'openai', model: 'gpt-4o-mini', inputTokens: 1000, outputTokens: 100, latencyMs: 100, outcome: 'success' }],
      ['2026-11-01T12:00:00.000Z', { userId: 'u1', provider: 'openai', model: 'gpt-4o-mini', inputTokens: 3000, outputTokens: 300, latencyMs: 300, outcome: 'success' }],
      ['2026-11-01T13:00:00.000Z', { userId: 'u2', provider: 'anthropic', model: 'claude-sonnet-4', inputTokens: 2000, outputTokens: 500, latencyMs: 500, outcome: 'success' }],
      ['2026-11-30T23:59:59.999Z', { userId: 'u2', provider: 'openai', model: 'gpt-4o-mini', inputTokens: 0, outputTokens: 0, latencyMs: 50, outcome: 'failure' }],
      ['2026-12-01T00:00:00.000Z', { userId: 'u2', provider: 'openai', model: 'gpt-4o-mini', inputTokens: 5, outputTokens: 5, latencyMs: 5, outcome: 'success' }],
    ];
    for (const [at, call] of calls) {
      setNow(at);
      await meter.record({ workspaceId: 'w1', ...call });
    }
    await meter.record({ workspaceId: 'w2', userId: 'x', provider: 'openai', model: 'gpt-4o-mini', inputTokens: 10 ** 6, outputTokens: 0, latencyMs: 1, outcome: 'success' });
    await meter.setBudget(admin, { monthlyLimitCents: 1 });
    const report = await meter.report(admin, '2026-11');
    const miniCost = (4000 * 15 + 400 * 60) / 1e6;
    const sonnetCost = (2000 * 300 + 500 * 1500) / 1e6;
    expect(report.byModel).toEqual([
      { provider: 'anthropic', model: 'claude-sonnet-4', calls: 1, failedCalls: 0, refusedCalls: 0, inputTokens: 2000, outputTokens: 500, averageLatencyMs: 500, costCents: sonnetCost, unpricedCalls: 0 },
      { provider: 'openai', model: 'gpt-4o-mini', calls: 3, failedCalls: 1, refusedCalls: 0, inputTokens: 4000, outputTokens: 400, averageLatencyMs: 150, costCents: miniCost, unpricedCalls: 0 },
    ]);
    expect(report.byUserDay.map((r) => [r.day, r.userId, r.calls, r.inputTokens])).toEqual([
      ['2026-11-01', 'u1', 2, 4000],
      ['2026-11-01', 'u2', 1, 2000],
      ['2026-11-30', 'u2', 1, 0],
    ]);
    expect(report.totals).toMatchObject({ calls: 4, failedCalls: 1, inputTokens: 6000, outputTokens: 900 });
    expect(report.totals.costCents).toBeCloseTo(miniCost + sonnetCost, 12);
    expect(report.budget).toEqual({ monthlyLimitCents: 1, spentCents: report.totals.costCents, exhausted: true });
    expect(report.currency).toBe('USD');
  });

  it('lets only admins read usage or change the budget, and audits the change', async () => {
    const { meter, audit } = setup();
    for (const role of ['manager', 'user', 'viewer'] as const) {
      const p = { ...user, roles: [role] };
      await expect(meter.report(p, '2026-11')).rejects.toMatchObject({ id: 'forbidden' });
      // Refused before the input is looked at: a malformed month or body is still a 403.
      await expect(meter.report(p, 'garbage')).rejects.toMatchObject({ id: 'forbidden' });
      await expect(meter.setBudget(p, { monthlyLimitCents: 'x' })).rejects.toMatchObject({ id: 'forbidden' });
    }
    await meter.setBudget(admin, { monthlyLimitCents: 5000 });
    await meter.setBudget(admin, { monthlyLimitCents: null });
    expect(audit.filter((e) => e.kind === 'usage.budget.changed').map((e) => e.detail)).toEqual([
      { from: null, to: 5000, currency: 'USD' },
      { from: 5000, to: null, currency: 'USD' },
    ]);
  });

  it.each([
    ['a negative amount', { monthlyLimitCents: -1 }],
    ['a fraction of a cent', { monthlyLimitCents: 10.5 }],
    ['an amount as text', { monthlyLimitCents: '1000' }],
    ['an amount beyond the limit', { monthlyLimitCents: 1_000_000_001 }],
    ['a missing amount', {}],
    ['an unknown field (mass assignment)', { monthlyLimitCents: 1, workspaceId: 'w2' }],
    ['not an object', [1]],
  ])('refuses %s as a budget', async (_what, body) => {
    const { meter, store } = setup();
    await expect(meter.setBudget(admin, body)).rejects.toMatchObject({ id: 'request_malformed' });
    expect(await store.budget('w1')).toEqual({ monthlyLimitCents: null });
  });
});
