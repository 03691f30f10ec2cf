/** The database job queue against the private MariaDB of the test run, through the shared conformance suite. */
import { randomUUID } from 'node:crypto';
import { createDatabase, type Database } from '../../api/db/client';
import { KluisError } from '../../api/errors';
import { createDatabaseJobQueue } from '../../api/operations/jobs/databaseQueue';
import { jobQueueConformance } from '../conformance/jobQueue.suite';
import { testDatabaseUrl } from '../support/database';

// Each replica gets its own connection pool, as separate processes would.
const clients: Database[] = [];
const newClient = () => {
  const db = createDatabase(testDatabaseUrl(), 4);
  clients.push(db);
  return db;
};

// Each test's pools are closed after it (after the suite has stopped its queues): the suite opens
// over a hundred replicas, and pools kept to the end would take more connections than the server
// allows while other test files share it.
afterEach(async () => {
  await Promise.all(clients.splice(0).map((db) => db.$disconnect()));
});

jobQueueConformance('database', {
  open() {
    return createDatabaseJobQueue(newClient(), { pollMs: 50, leaseMs: 1_000 });
  },
});

describe('database job queue rows', () => {
  interface Row {
    status: string;
    attempts: number;
    dedupeKey: string | null;
    lockedBy: string | null;
    lockedUntil: Date | null;
    lastError: string | null;
  }
  const rowsOf = (db: Database, kind: string) =>
    db.$queryRawUnsafe<Row[]>('SELECT status, attempts, dedupeKey, lockedBy, lockedUntil, lastError FROM `QueueJob` WHERE kind = ?', kind);

  it('keeps only the error id and message of a given-up job, frees its key and releases its lock', async () => {
    const db = newClient();
    const queue = createDatabaseJobQueue(db, { pollMs: 50, replicaId: 'replica-under-test' });
    const kind = `rows-${randomUUID().slice(0, 8)}.fail`;
    queue.define({
      kind,
      attempts: 2,
      backoffMs: 10,
      handle: async () => {
        throw new KluisError('graph_unavailable', `throttled ${'x'.repeat(2_000)}`);
      },
    });
    await queue.enqueue(kind, { sourceId: 's1' }, { key: 'source-s1' });
    const [queued] = await rowsOf(db, kind);
    expect(queued).toMatchObject({ status: 'queued', attempts: 0, dedupeKey: `${kind}:source-s1`, lockedBy: null });
    await queue.start();
    // drain() does not wait through a retry's backoff (the job is not due then), so wait for the row.
    for (let i = 0; i < 250 && (await rowsOf(db, kind))[0]?.status !== 'failed'; i += 1) await new Promise((resolve) => setTimeout(resolve, 20));
    await queue.stop(0);
    const [failed] = await rowsOf(db, kind);
    expect(failed).toMatchObject({ status: 'failed', attempts: 2, dedupeKey: null, lockedBy: null, lockedUntil: null });
    expect(failed!.lastError).toMatch(/^graph_unavailable: throttled x+$/);
    expect(failed!.lastError!.length).toBe(1_000);
    expect(failed!.lastError).not.toContain('    at ');
  });

  it('deletes succeeded and given-up rows older than keepFinishedMs, and keeps unfinished ones', async () => {
    const db = newClient();
    const kind = `rows-${randomUUID().slice(0, 8)}.old`;
    const first = createDatabaseJobQueue(db, { pollMs: 50 });
    first.define({ kind, handle: async () => undefined });
    await first.start();
    await first.enqueue(kind, { n: 1 });
    await first.drain([kind]);
    await first.enqueue(kind, { n: 2 }, { delayMs: 60_000 });
    await first.stop(0);
    expect((await rowsOf(db, kind)).map((r) => r.status).sort()).toEqual(['queued', 'succeeded']);

    // A replica that keeps finished rows for 1 ms clears them on its first round.
    const second = createDatabaseJobQueue(db, { pollMs: 50, keepFinishedMs: 1 });
    second.define({ kind, handle: async () => undefined });
    await new Promise((resolve) => setTimeout(resolve, 20));
    await second.start();
    for (let i = 0; i < 100 && (await rowsOf(db, kind)).length > 1; i += 1) await new Promise((resolve) => setTimeout(resolve, 20));
    await second.stop(0);
    expect((await rowsOf(db, kind)).map((r) => r.status)).toEqual(['queued']);
  });
});
