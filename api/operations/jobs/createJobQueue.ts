/**
 * Picks the job-queue adapter: BullMQ on Redis when a Redis URL is configured, otherwise the
 * runner over the database tables. Both keep the same contract (tests/conformance/jobQueue.suite.ts).
 */
import type { Logger } from 'pino';
import type { Database } from '../../db/client';
import { createBullmqJobQueue } from './bullmqQueue';
import { createDatabaseJobQueue } from './databaseQueue';
import type { CrashableJobQueue } from './ports';

export interface JobQueueSettings {
  /** REDIS_URL: when set, the queue lives in Redis. */
  redisUrl?: string;
  /** Redis key prefix (redis only). */
  prefix?: string;
  /** This replica's name in the database queue's locks (database only). */
  replicaId?: string;
  /** Polling interval of the database queue (database only). */
  pollMs?: number;
  /** Lease of a claimed job (database) or lock of a running job (redis), in ms. 30,000 unless set. */
  leaseMs?: number;
  /** How often the redis adapter looks for jobs of a replica that died (redis only). */
  stalledIntervalMs?: number;
  logger?: Logger;
}

export function createJobQueue(db: Database, settings: JobQueueSettings = {}): CrashableJobQueue {
  if (settings.redisUrl) {
    return createBullmqJobQueue({
      url: settings.redisUrl,
      prefix: settings.prefix,
      lockDurationMs: settings.leaseMs,
      stalledIntervalMs: settings.stalledIntervalMs,
      logger: settings.logger,
    });
  }
  return createDatabaseJobQueue(db, { replicaId: settings.replicaId, pollMs: settings.pollMs, leaseMs: settings.leaseMs, logger: settings.logger });
}
