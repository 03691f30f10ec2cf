/**
 * Two Kluis processes (the production start, api/serve.ts) on loopback sharing one MariaDB, and in
 * the second round one Redis too: a conversation started on one replica continues on the other,
 * a user's turn limit is counted once across both, and each period of a schedule runs on one
 * replica only. The schedule used is the SharePoint scheduler tick (`knowledge.due`, every 2 s
 * here); every run logs `scheduled job ran` with its period, read from both processes' output.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startFakeEntraIssuer, type FakeEntraIssuer } from '../fakes/entraIssuer';
import { openTestDatabase, randomTenantId, testDatabaseUrl, testRedisUrl } from '../support/database';
import { productionBasics, startKluisProcess, type KluisProcess } from '../support/kluisProcess';

const db = openTestDatabase();

afterAll(async () => {
  await db.$disconnect();
});

interface Replica {
  process: KluisProcess;
  lines: string[];
  dir: string;
}

async function chat(replica: Replica, bearer: string, message: string, conversationId: string): Promise<{ status: number; body: string }> {
  const response = await fetch(`${replica.process.url}/api/chat`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${bearer}` },
    body: JSON.stringify({ message, channel: 'tab', conversationId }),
  });
  return { status: response.status, body: await response.text() };
}

/** `scheduled job ran` lines of a kind, from a replica's JSON log. */
function scheduledRuns(replica: Replica, kind: string): string[] {
  return replica.lines
    .filter((l) => l.includes('"scheduled job ran"'))
    .map((l) => JSON.parse(l) as { kind: string; period: string })
    .filter((l) => l.kind === kind)
    .map((l) => l.period);
}

describe.each([['the database', false], ['Redis', true]])('two replicas sharing %s', (_name, withRedis) => {
  const tenant = randomTenantId();
  let issuer: FakeEntraIssuer;
  let a: Replica;
  let b: Replica;
  const started = new Date();
  const bearerFor = (oid: string) => issuer.bearerFor(tenant, oid);

  beforeAll(async () => {
    issuer = await startFakeEntraIssuer();
    const shared = {
      ...productionBasics(),
      // One master key for both: each must open the workspace keys the other made.
      MASTER_KEY: randomBytes(32).toString('hex'),
      DATABASE_URL: testDatabaseUrl(),
      ONBOARD_TENANTS: `${tenant}=Replicas`,
      ...issuer.kluisSettings(),
      // The SharePoint scheduler tick; there are no sources, so each tick only looks.
      KNOWLEDGE_SYNC_INTERVAL_SECONDS: '2',
      TURNS_PER_USER_PER_MINUTE: '4',
      TURNS_PER_WORKSPACE_PER_MINUTE: '0',
      // A Redis database of its own, so no other test's queue keys meet these.
      ...(withRedis ? { REDIS_URL: `${testRedisUrl()}/4` } : {}),
    };
    const start = async (): Promise<Replica> => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kluis-replica-'));
      const lines: string[] = [];
      const process = await startKluisProcess({ ...shared, DATA_DIR: dir }, { readyTimeoutMs: 55_000, onLine: (line) => lines.push(line) });
      return { process, lines, dir };
    };
    a = await start();
    b = await start();
  }, 120_000);

  afterAll(async () => {
    for (const replica of [a, b]) {
      await replica?.process.stop(10_000);
      if (replica) fs.rmSync(replica.dir, { recursive: true, force: true });
    }
    await issuer?.close();
    await db.workspace.deleteMany({ where: { tenantId: tenant } });
  }, 30_000);

  it('continues a conversation on the other replica', async () => {
    const oid = randomUUID();
    const bearer = await bearerFor(oid);
    const conversationId = randomUUID();
    const first = await chat(a, bearer, 'What is the travel policy?', conversationId);
    const second = await chat(b, bearer, 'And who approves it?', conversationId);
    for (const turn of [first, second]) {
      expect(turn.status).toBe(200);
      expect(turn.body).toContain('event: done');
      expect(turn.body).not.toContain('event: error');
    }
    const me = (await (await fetch(`${b.process.url}/api/me`, { headers: { authorization: `Bearer ${bearer}` } })).json()) as { userId: string; workspaceId: string };
    const conversations = await db.conversation.findMany({ where: { workspaceId: me.workspaceId, externalId: `tab:${me.userId}:${conversationId}` }, include: { messages: { orderBy: { createdAt: 'asc' } } } });
    expect(conversations).toHaveLength(1);
    expect(conversations[0]!.messages.map((m) => m.role)).toEqual(['user', 'assistant', 'user', 'assistant']);
    expect(conversations[0]!.messages[2]!.text).toBe('And who approves it?');
  });

  it("counts a user's turns once across both replicas", async () => {
    const bearer = await bearerFor(randomUUID());
    const statuses: number[] = [];
    for (const replica of [a, b, a, b, a, b]) statuses.push((await chat(replica, bearer, 'What is the travel policy?', randomUUID())).status);
    // 4 a minute: two on each replica pass, then both refuse.
    expect(statuses).toEqual([200, 200, 200, 200, 429, 429]);
  });

  it('runs each period of a schedule on one replica only', async () => {
    const deadline = Date.now() + 40_000;
    let periods: string[] = [];
    while (Date.now() < deadline) {
      periods = [...scheduledRuns(a, 'knowledge.due'), ...scheduledRuns(b, 'knowledge.due')];
      if (periods.length >= 4) break;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    expect(periods.length).toBeGreaterThanOrEqual(4);
    // No period ran twice (once on each replica, or twice on one).
    expect(new Set(periods).size).toBe(periods.length);
    if (!withRedis) {
      // The database queue's rows say the same: one job per fired period.
      const rows = await db.queueJob.findMany({ where: { kind: 'knowledge.due', createdAt: { gte: started } }, select: { scheduledFor: true } });
      expect(rows.length).toBeGreaterThanOrEqual(4);
      expect(new Set(rows.map((r) => r.scheduledFor?.toISOString())).size).toBe(rows.length);
    }
    expect(a.process.errorLines()).toEqual([]);
    expect(b.process.errorLines()).toEqual([]);
  }, 60_000);
});
