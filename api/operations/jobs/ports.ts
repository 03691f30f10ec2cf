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
  /** 1 on the first run, 2 on the first retry, ... A run whose replica died counts as an attempt. */
  attempt: number;
  /** Aborted when the replica shuts down past its grace period: stop soon, the job is handed back. */
  signal: AbortSignal;
  /**
   * For a job fired by `every`: the due time of the period it fired for, the same on every replica,
   * so a handler can tell periods apart (and tests can check each period fired once).
   */
  scheduledFor?: Date;
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
  /**
   * Called once, on one replica, when the last attempt failed or its replica died (e.g. to mark the
   * domain's own job record failed).
   */
  onGiveUp?(payload: P, error: unknown): Promise<void>;
}

export interface EnqueueOptions {
  /**
   * Deduplication: while a job of the same kind with this key is queued or running (also while it
   * waits for a retry), enqueueing the same key adds nothing (`added: false`, the id of the job
   * already there). Free again once that job succeeded or was given up. At most 110 characters of
   * [A-Za-z0-9._:@/-].
   */
  key?: string;
  delayMs?: number;
}

export interface JobQueue {
  readonly backend: 'database' | 'redis';
  /**
   * Register a handler before `start` and before enqueueing its kind (an undefined kind is refused
   * with `job_kind_invalid`); every replica defines the same kinds.
   */
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
   * the connections the queue opened itself (not a database client it was given). Safe to call twice.
   */
  stop(graceMs?: number): Promise<void>;
  /**
   * Resolves once no job of these kinds (all kinds this replica defines unless given) is queued and
   * due, or running; rejects with `job_drain_timeout` after timeoutMs (60 s unless set).
   */
  drain(kinds?: string[], timeoutMs?: number): Promise<void>;
  /**
   * Jobs waiting, delayed, running and failed, by kind (for /metrics). `failed` counts jobs given
   * up on that are still kept (7 days), so a rise shows; `queued` includes delayed and retrying.
   */
  depth(): Promise<Array<{ kind: string; status: 'queued' | 'running' | 'failed'; count: number }>>;
}

/** What each adapter adds for fault drills and the conformance suite. */
export interface CrashableJobQueue extends JobQueue {
  /**
   * Stop at once as a killed process would: no hand-back, no heartbeat, no further writes. Its
   * running jobs are taken up elsewhere only after their lease lapses (database) or the stall check
   * finds them (redis).
   */
  abandon(): Promise<void>;
}
