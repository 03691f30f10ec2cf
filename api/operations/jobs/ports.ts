/**
 * The job-queue port: background work (knowledge syncs, the retention sweeper, erasures, exports)
 * runs through it, so N stateless Kluis replicas share the work. Two adapters keep one contract
 * (tests/conformance/jobQueue.suite.ts):
 *   - redis: BullMQ on Redis, when REDIS_URL is set;
 *   - database: a runner in each process over the `QueueJob` / `QueueSchedule` tables otherwise.
 * Either way a job runs once at a time, is retried with exponential backoff, and a scheduled job
 * fires once per period across all replicas. Payloads carry ids only (never content, never
 * tokens); a job's durable progress lives in its own MySQL rows (ErasureJob, Job), so handlers
 * must be idempotent: a handed-back or retried job starts its handler again.
 */

export type JobPayload = Record<string, string | number | boolean | null>;

export interface JobContext {
  /** 1 on the first run, 2 on the first retry, ... */
  attempt: number;
  /** Aborted when the replica shuts down past its grace period: stop soon, the job is handed back. */
  signal: AbortSignal;
}

export interface JobDefinition<P extends JobPayload = JobPayload> {
  /** `area.action`, e.g. `erasure.run`; at most 64 characters of [a-z0-9._-]. */
  kind: string;
  handle(payload: P, context: JobContext): Promise<void>;
  /** Runs in all, including the first. 5 unless set. */
  attempts?: number;
  /** Wait before retry n is backoffMs * 2^(n-1). 1,000 ms unless set. */
  backoffMs?: number;
  /** Jobs of this kind one replica runs at once. 1 unless set. */
  concurrency?: number;
  /** Called once when the last attempt failed (e.g. to mark the domain's own job record failed). */
  onGiveUp?(payload: P, error: unknown): Promise<void>;
}

export interface EnqueueOptions {
  /**
   * Deduplication: while a job with this key is queued or running, enqueueing the same key adds
   * nothing (`added: false`). Free again once that job finished or was given up.
   */
  key?: string;
  delayMs?: number;
}

export interface JobQueue {
  readonly backend: 'database' | 'redis';
  /** Register a handler before `start`; every replica defines the same kinds. */
  define<P extends JobPayload>(definition: JobDefinition<P>): void;
  enqueue(kind: string, payload: JobPayload, options?: EnqueueOptions): Promise<{ id: string; added: boolean }>;
  /**
   * Fire `kind` every `everyMs` (first after `firstDelayMs`, everyMs unless set); across all
   * replicas each period fires once. Calling again with the same name replaces the period.
   */
  every(name: string, everyMs: number, kind: string, payload?: JobPayload, options?: { firstDelayMs?: number }): Promise<void>;
  /** Start taking jobs and firing schedules on this replica. */
  start(): Promise<void>;
  /**
   * Graceful shutdown: take no new jobs, wait up to `graceMs` (10 s unless set) for running ones,
   * then abort and hand back the rest so another replica (or the next start) runs them; close
   * connections. Safe to call twice.
   */
  stop(graceMs?: number): Promise<void>;
  /** Resolves once no job of these kinds (all kinds unless given) is queued and due, or running. */
  drain(kinds?: string[], timeoutMs?: number): Promise<void>;
  /** Jobs waiting, delayed, running and failed, by kind (for /metrics). */
  depth(): Promise<Array<{ kind: string; status: 'queued' | 'running' | 'failed'; count: number }>>;
}
