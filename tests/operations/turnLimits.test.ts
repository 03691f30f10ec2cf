/**
 * Turn limits counted in a store every replica shares: the database table and Redis, each with two
 * independent clients standing in for two replicas. Limits are counted, not timed: each window is
 * long enough (60 s) that the test never crosses one.
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { createTurnLimiter } from '../../api/assistant/turnLimiter';
import { createDatabase } from '../../api/db/client';
import { isKluisError } from '../../api/errors';
import { createWindowCounter, type SharedCounterStore } from '../../api/operations/sharedCounters';
import { testDatabaseUrl, testRedisUrl } from '../support/database';
import { startPrivateRedis } from '../support/privateRedis';

const dbA = createDatabase(testDatabaseUrl(), 2);
const dbB = createDatabase(testDatabaseUrl(), 2);
const redisA = new Redis(testRedisUrl(), { maxRetriesPerRequest: 1 });
const redisB = new Redis(testRedisUrl(), { maxRetriesPerRequest: 1 });

afterAll(async () => {
  await Promise.all([dbA.$disconnect(), dbB.$disconnect(), redisA.quit(), redisB.quit()]);
});

const stores: Array<[string, () => [SharedCounterStore, SharedCounterStore]]> = [
  ['database', () => [{ kind: 'database', db: dbA }, { kind: 'database', db: dbB }]],
  ['redis', () => [{ kind: 'redis', client: redisA }, { kind: 'redis', client: redisB }]],
];

describe.each(stores)('shared turn counters on %s', (_name, makeStores) => {
  it('counts hits from two replicas against one limit and says how long to wait', async () => {
    const [a, b] = makeStores();
    const name = `t-${randomUUID().slice(0, 8)}`;
    const onA = createWindowCounter(a, { name, limit: 5, windowSeconds: 60 });
    const onB = createWindowCounter(b, { name, limit: 5, windowSeconds: 60 });
    const results = [];
    for (let i = 0; i < 5; i++) results.push(await (i % 2 ? onB : onA).hit('user-1'));
    expect(results).toEqual([undefined, undefined, undefined, undefined, undefined]);
    const over = await onB.hit('user-1');
    expect(over).toBeGreaterThanOrEqual(1);
    expect(over).toBeLessThanOrEqual(60);
    // Another key has its own budget.
    expect(await onA.hit('user-2')).toBeUndefined();
  });

  it('counts every one of many simultaneous hits from both replicas', async () => {
    const [a, b] = makeStores();
    const name = `p-${randomUUID().slice(0, 8)}`;
    const onA = createWindowCounter(a, { name, limit: 20, windowSeconds: 60 });
    const onB = createWindowCounter(b, { name, limit: 20, windowSeconds: 60 });
    const outcomes = await Promise.all(Array.from({ length: 30 }, (_, i) => (i % 2 ? onA : onB).hit('shared')));
    expect(outcomes.filter((o) => o === undefined)).toHaveLength(20);
    expect(outcomes.filter((o) => o !== undefined)).toHaveLength(10);
  });
});

describe('turn limiter', () => {
  it('refuses with turn_rate_limited and a wait once the user or the workspace is over its limit', async () => {
    const store: SharedCounterStore = { kind: 'database', db: dbA };
    const suffix = randomUUID().slice(0, 8);
    const limiter = createTurnLimiter({
      perUser: createWindowCounter(store, { name: `u-${suffix}`, limit: 2, windowSeconds: 60 }),
      perWorkspace: createWindowCounter(store, { name: `w-${suffix}`, limit: 3, windowSeconds: 60 }),
    });
    const alice = { workspaceId: 'w1', userId: 'alice' };
    const bob = { workspaceId: 'w1', userId: 'bob' };
    await limiter.admit(alice);
    await limiter.admit(alice);
    const refusal = await limiter.admit(alice).catch((e: unknown) => e);
    expect(isKluisError(refusal, 'turn_rate_limited')).toBe(true);
    expect((refusal as { retryAfterSeconds?: number }).retryAfterSeconds).toBeGreaterThanOrEqual(1);
    // Alice's refused third turn still counted for the workspace (3 of 3): Bob is refused by the workspace limit.
    const bobRefused = await limiter.admit(bob).catch((e: unknown) => e);
    expect(isKluisError(bobRefused, 'turn_rate_limited')).toBe(true);
    // Another workspace is not affected.
    await expect(limiter.admit({ workspaceId: 'w2', userId: 'carol' })).resolves.toBeUndefined();
  });
});

describe('a Redis outage', () => {
  it('falls back to a per-replica count instead of refusing every turn, and counts in Redis again once it is back', async () => {
    const first = await startPrivateRedis();
    let redis = first;
    const client = new Redis(first.url, { maxRetriesPerRequest: 1, enableOfflineQueue: false, retryStrategy: () => 100 });
    client.on('error', () => undefined);
    const ready = () => new Promise<void>((resolve) => (client.status === 'ready' ? resolve() : client.once('ready', () => resolve())));
    try {
      await ready();
      const counter = createWindowCounter({ kind: 'redis', client }, { name: 'outage', limit: 3, windowSeconds: 60 });
      expect(await counter.hit('k')).toBeUndefined();
      expect(await client.get('kluis:outage:k')).toBe('1');
      await first.stop();
      // Redis is gone: the insurance counter of this replica decides, with the same limit.
      const during = [await counter.hit('k'), await counter.hit('k'), await counter.hit('k'), await counter.hit('k')];
      expect(during.slice(0, 3)).toEqual([undefined, undefined, undefined]);
      expect(during[3]).toBeGreaterThanOrEqual(1);
      // Redis returns (empty: it keeps nothing on disk): counting goes back to it.
      redis = await startPrivateRedis({ port: first.port });
      await ready();
      expect(await counter.hit('k')).toBeUndefined();
      expect(await client.get('kluis:outage:k')).toBe('1');
    } finally {
      client.disconnect();
      await redis.stop();
    }
  });
});
