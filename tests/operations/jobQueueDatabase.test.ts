/** The database job queue against the private MariaDB of the test run, through the shared conformance suite. */
import { createDatabase, type Database } from '../../api/db/client';
import { createDatabaseJobQueue } from '../../api/operations/jobs/databaseQueue';
import { jobQueueConformance } from '../conformance/jobQueue.suite';
import { testDatabaseUrl } from '../support/database';

// Each replica gets its own connection pool, as separate processes would.
const clients: Database[] = [];

afterAll(async () => {
  await Promise.all(clients.map((db) => db.$disconnect()));
});

jobQueueConformance('database', {
  open() {
    const db = createDatabase(testDatabaseUrl(), 4);
    clients.push(db);
    return createDatabaseJobQueue(db, { pollMs: 50, leaseMs: 1_000 });
  },
});
