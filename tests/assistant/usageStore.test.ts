/**
 * The usage store on the real MariaDB: per-day rows that many processes add to at once, and the
 * month sums the budget and the admin report read.
 */
import { randomUUID } from 'node:crypto';
import { createPrismaUsageStore } from '../../api/assistant/prismaUsageStore';
import type { UsageIncrement } from '../../api/assistant/usagePorts';
import { createDatabase } from '../../api/db/client';
import { openTestDatabase, testDatabaseUrl } from '../support/database';

const db = openTestDatabase();
const store = createPrismaUsageStore(db);
const a = { workspaceId: randomUUID(), users: [randomUUID(), randomUUID()] };
const b = { workspaceId: randomUUID(), users: [randomUUID()] };
const replicaDatabases: Array<ReturnType<typeof createDatabase>> = [];

const increment = (over: Partial<UsageIncrement> = {}): UsageIncrement => ({
  workspaceId: a.workspaceId,
  userId: a.users[0]!,
  day: '2026-11-22',
  provider: 'openai',
  model: 'gpt-4o-mini',
  calls: 1,
  failedCalls: 0,
  refusedCalls: 0,
  inputTokens: 1000,
  outputTokens: 100,
  latencyMs: 250,
  costMicros: 1000 * 15 + 100 * 60,
  unpricedCalls: 0,
  ...over,
});

beforeAll(async () => {
  for (const w of [a, b]) {
    await db.workspace.create({ data: { id: w.workspaceId, name: 'w', tenantId: randomUUID() } });
    for (const id of w.users) await db.user.create({ data: { id, workspaceId: w.workspaceId, entraObjectId: randomUUID() } });
  }
});

afterAll(async () => {
  await db.workspace.deleteMany({ where: { id: { in: [a.workspaceId, b.workspaceId] } } });
  await Promise.all([db, ...replicaDatabases].map((d) => d.$disconnect()));
});

describe('Prisma usage store', () => {
  it('adds 200 concurrent calls from four processes to one row without losing or doubling any', async () => {
    // Four clients with their own connection pools stand in for four replicas.
    replicaDatabases.push(...Array.from({ length: 4 }, () => createDatabase(testDatabaseUrl(), 5)));
    const replicas = replicaDatabases.map((d) => createPrismaUsageStore(d));
    const day = '2026-10-05';
    await Promise.all(Array.from({ length: 200 }, (_, i) => replicas[i % 4]!.add(increment({ day, inputTokens: i, outputTokens: 1, latencyMs: 2, costMicros: 7, failedCalls: i % 10 === 0 ? 1 : 0 }))));
    const rows = await db.usageDaily.findMany({ where: { workspaceId: a.workspaceId, day: new Date(`${day}T00:00:00Z`) } });
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ calls: 200, failedCalls: 20, inputTokens: BigInt((199 * 200) / 2), outputTokens: 200n, latencyMsTotal: 400n, costMicros: 1400n });
  });

  it('keeps one row per user, day, provider and model, each with its own sums', async () => {
    const day = '2026-09-10';
    await Promise.all([
      store.add(increment({ day })),
      store.add(increment({ day })),
      store.add(increment({ day, userId: a.users[1]! })),
      store.add(increment({ day, model: 'gpt-4o', costMicros: 1 })),
      store.add(increment({ day, provider: 'azure-openai' })),
      store.add(increment({ day: '2026-09-11' })),
    ]);
    const rows = await store.rows(a.workspaceId, '2026-09-01', '2026-10-01');
    expect(rows.map((r) => [r.day, r.userId === a.users[0] ? 'u0' : 'u1', r.provider, r.model, r.calls])).toEqual(
      expect.arrayContaining([
        ['2026-09-10', 'u0', 'openai', 'gpt-4o-mini', 2],
        ['2026-09-10', 'u1', 'openai', 'gpt-4o-mini', 1],
        ['2026-09-10', 'u0', 'openai', 'gpt-4o', 1],
        ['2026-09-10', 'u0', 'azure-openai', 'gpt-4o-mini', 1],
        ['2026-09-11', 'u0', 'openai', 'gpt-4o-mini', 1],
      ]),
    );
    expect(rows).toHaveLength(5);
  });

  it('sums a month from its first to its last day, and nothing of the months beside it', async () => {
    await store.add(increment({ day: '2026-07-31', costMicros: 1 }));
    await store.add(increment({ day: '2026-08-01', costMicros: 10 }));
    await store.add(increment({ day: '2026-08-31', costMicros: 100 }));
    await store.add(increment({ day: '2026-09-01', costMicros: 1000 }));
    expect(await store.spentMicros(a.workspaceId, '2026-08-01', '2026-09-01')).toBe(110);
    expect((await store.rows(a.workspaceId, '2026-08-01', '2026-09-01')).map((r) => r.day)).toEqual(['2026-08-01', '2026-08-31']);
  });

  it('never reads another workspace\'s usage (cross-tenant)', async () => {
    await store.add(increment({ workspaceId: b.workspaceId, userId: b.users[0]!, day: '2026-06-15', costMicros: 5_000_000 }));
    await store.add(increment({ day: '2026-06-15', costMicros: 3 }));
    expect(await store.spentMicros(a.workspaceId, '2026-06-01', '2026-07-01')).toBe(3);
    expect((await store.rows(b.workspaceId, '2026-06-01', '2026-07-01')).map((r) => r.userId)).toEqual([b.users[0]]);
  });

  it('refuses usage of workspace A booked on a user of workspace B (foreign key)', async () => {
    await expect(store.add(increment({ userId: b.users[0]!, day: '2026-05-01' }))).rejects.toThrow();
    expect(await store.rows(a.workspaceId, '2026-05-01', '2026-06-01')).toEqual([]);
  });

  it('holds sums beyond the 32-bit range (a big month of tokens in micros)', async () => {
    await store.add(increment({ day: '2026-04-01', inputTokens: 3_000_000_000, costMicros: 45_000_000_000 }));
    await store.add(increment({ day: '2026-04-02', inputTokens: 3_000_000_000, costMicros: 45_000_000_000 }));
    expect(await store.spentMicros(a.workspaceId, '2026-04-01', '2026-05-01')).toBe(90_000_000_000);
    expect((await store.rows(a.workspaceId, '2026-04-01', '2026-05-01')).map((r) => r.inputTokens)).toEqual([3_000_000_000, 3_000_000_000]);
  });

  it('stores, replaces and removes a budget per workspace', async () => {
    expect(await store.budget(a.workspaceId)).toEqual({ monthlyLimitCents: null });
    await Promise.all([store.setBudget(a.workspaceId, 500, a.users[0]!), store.setBudget(a.workspaceId, 500, a.users[1]!)]);
    expect((await store.budget(a.workspaceId)).monthlyLimitCents).toBe(500);
    await store.setBudget(a.workspaceId, null, a.users[0]!);
    expect(await store.budget(a.workspaceId)).toMatchObject({ monthlyLimitCents: null, updatedByUserId: a.users[0] });
    expect(await store.budget(b.workspaceId)).toEqual({ monthlyLimitCents: null });
  });

  it('goes with its workspace when the workspace is deleted', async () => {
    const w = randomUUID();
    const u = randomUUID();
    await db.workspace.create({ data: { id: w, name: 'gone', tenantId: randomUUID() } });
    await db.user.create({ data: { id: u, workspaceId: w, entraObjectId: randomUUID() } });
    await store.add(increment({ workspaceId: w, userId: u }));
    await store.setBudget(w, 1, u);
    await db.workspace.deleteMany({ where: { id: w } });
    expect(await db.usageDaily.count({ where: { workspaceId: w } })).toBe(0);
    expect(await db.usageBudget.count({ where: { workspaceId: w } })).toBe(0);
  });
});
