/** The BullMQ job queue against the private Redis of the test run, through the shared conformance suite. */
import { randomUUID } from 'node:crypto';
import { createBullmqJobQueue } from '../../api/operations/jobs/bullmqQueue';
import { jobQueueConformance } from '../conformance/jobQueue.suite';
import { testRedisUrl } from '../support/database';

// A prefix of its own, so this file never sees another run's (or another file's) keys.
const prefix = `test-${randomUUID().slice(0, 8)}`;

jobQueueConformance('redis', {
  open() {
    return createBullmqJobQueue({ url: testRedisUrl(), prefix, lockDurationMs: 1_000, stalledIntervalMs: 500 });
  },
});
