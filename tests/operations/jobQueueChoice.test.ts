/** createJobQueue: Redis when a Redis URL is configured, the database otherwise; each one really works. */
import { randomUUID } from 'node:crypto';
import type { Database } from '../../api/db/client';
import { createJobQueue } from '../../api/operations/jobs/createJobQueue';
import type { JobPayload } from '../../api/operations/jobs/ports';
import { openTestDatabase, testRedisUrl } from '../support/database';

let db: Database;

beforeAll(() => {
  db = openTestDatabase();
});

afterAll(async () => {
  await db.$disconnect();
});

async function runOneJob(settings: Parameters<typeof createJobQueue>[1]) {
  const queue = createJobQueue(db, settings);
  const kind = `choice-${randomUUID().slice(0, 8)}.run`;
  const seen: JobPayload[] = [];
  queue.define({ kind, handle: async (payload) => void seen.push(payload) });
  await queue.start();
  try {
    await queue.enqueue(kind, { id: 'x' });
    await queue.drain([kind], 10_000);
  } finally {
    await queue.stop(0);
  }
  return { backend: queue.backend, seen };
}

it('uses BullMQ on Redis when a Redis URL is given', async () => {
  expect(await runOneJob({ redisUrl: testRedisUrl(), prefix: `test-${randomUUID().slice(0, 8)}` })).toEqual({ backend: 'redis', seen: [{ id: 'x' }] });
});

it('uses the database tables when no Redis URL is given', async () => {
  expect(await runOneJob({ pollMs: 50 })).toEqual({ backend: 'database', seen: [{ id: 'x' }] });
});
