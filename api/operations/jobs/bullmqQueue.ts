/**
 * The Redis adapter of the job queue, on BullMQ.
 *
 * One BullMQ queue and one worker per kind rather than one queue of named jobs: a worker's
 * concurrency is per queue, so a kind's `concurrency` holds exactly and a slow kind (a knowledge
 * sync) never takes the slots of a quick one (an erasure step). Depth, drain and the Redis keys
 * are per kind for the same reason.
 *
 * Deduplication uses BullMQ's deduplication id rather than the key as job id: the job id stays a
 * fresh UUID, so `added` is simply whether BullMQ kept our id, and given-up jobs can be kept for a
 * week (for `depth`) while their key is free again at once. Schedules are BullMQ Job Schedulers:
 * the next run of a scheduler is one delayed job with an id made of the scheduler and its due
 * time, so however many replicas upsert the scheduler, each period exists once.
 *
 * A graceful stop pauses the workers, waits for running jobs up to the grace period, then aborts
 * the rest and moves them back to waiting (not a failed attempt). A replica that dies leaves its
 * jobs locked; BullMQ's stalled-job check on another replica moves them back once the lock lapses
 * (lockDurationMs, checked every stalledIntervalMs).
 *
 * Attempts are counted as on the database adapter: every run that ended, by failing or by its
 * replica dying, is one (BullMQ's attemptsMade plus its stalled counter). The give-up is ours,
 * not BullMQ's: the run after the last attempt calls onGiveUp instead of the handler and fails the
 * job for good, on the one replica that holds the job's lock.
 */
import { randomUUID } from 'node:crypto';
import { Queue, UnrecoverableError, WaitingError, Worker, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { fail, KluisError } from '../../errors';
import type { CrashableJobQueue, EnqueueOptions, JobDefinition, JobPayload } from './ports';
import {
  assertDefinition,
  assertDelay,
  assertEnqueueOptions,
  assertKey,
  assertKind,
  assertPayload,
  DEFAULT_ATTEMPTS,
  DEFAULT_BACKOFF_MS,
  DEFAULT_CONCURRENCY,
  DEFAULT_DRAIN_TIMEOUT_MS,
  DEFAULT_GRACE_MS,
  describeError,
} from './validation';

export interface BullmqJobQueueOptions {
  /** redis:// or rediss:// URL. */
  url: string;
  /** Prefix of every Redis key of the queue. `kluis` unless set; tests pass a random one. */
  prefix?: string;
  /** How long a running job's lock holds without renewal (renewed every half of it). 30,000 ms unless set. */
  lockDurationMs?: number;
  /** How often a worker looks for jobs whose lock lapsed (their replica died). 30,000 ms unless set. */
  stalledIntervalMs?: number;
  /** How long given-up jobs are kept (they count as `failed` in depth). 7 days unless set. */
  keepFailedMs?: number;
  logger?: Logger;
}

interface ActiveJob {
  job: Job<JobPayload>;
  token: string;
  controller: AbortController;
  handedBack: boolean;
  done: Promise<void>;
}

const SEVEN_DAYS_MS = 7 * 24 * 60 * 60 * 1000;
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());

/** A scheduler's job has the id `repeat:<scheduler>:<due time in ms>`: the due time names the period. */
function periodOf(job: Job<JobPayload>): Date | undefined {
  if (!job.repeatJobKey || !job.id) return undefined;
  const millis = /:(\d+)$/.exec(job.id)?.[1];
  return millis ? new Date(Number(millis)) : undefined;
}

export function createBullmqJobQueue(options: BullmqJobQueueOptions): CrashableJobQueue {
  const prefix = options.prefix ?? 'kluis';
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(prefix)) fail('config_invalid', 'the job queue prefix must be 1 to 64 characters of [A-Za-z0-9._-]');
  const lockDuration = options.lockDurationMs ?? 30_000;
  const stalledInterval = options.stalledIntervalMs ?? 30_000;
  const keepFailedSeconds = Math.ceil((options.keepFailedMs ?? SEVEN_DAYS_MS) / 1000);
  const logger = options.logger;
  assertDelay('lockDurationMs', lockDuration, 100);
  assertDelay('stalledIntervalMs', stalledInterval, 100);

  // One connection for the queues; each worker duplicates it for its blocking reads.
  const connection = new Redis(options.url, { maxRetriesPerRequest: null, lazyConnect: true });
  connection.on('error', (error) => logger?.error({ error: describeError(error) }, 'job queue: Redis connection error'));

  const definitions = new Map<string, JobDefinition<JobPayload>>();
  const queues = new Map<string, Queue<JobPayload>>();
  const workers = new Map<string, Worker<JobPayload>>();
  const active = new Map<string, ActiveJob>();
  let state: 'idle' | 'started' | 'stopping' | 'stopped' = 'idle';
  let abandoned = false;
  let stopping: Promise<void> | undefined;

  function definitionOf(kind: string): JobDefinition<JobPayload> {
    assertKind(kind);
    const definition = definitions.get(kind);
    if (!definition) fail('job_kind_invalid', `job kind ${kind} is not defined on this replica: call define() first`);
    return definition;
  }

  function queueOf(kind: string): Queue<JobPayload> {
    definitionOf(kind);
    return queues.get(kind)!;
  }

  function jobOptions(definition: JobDefinition<JobPayload>) {
    return {
      attempts: definition.attempts ?? DEFAULT_ATTEMPTS,
      backoff: { type: 'exponential' as const, delay: definition.backoffMs ?? DEFAULT_BACKOFF_MS },
      removeOnComplete: true,
      removeOnFail: { age: keepFailedSeconds },
    };
  }

  async function handBack(entry: ActiveJob): Promise<void> {
    entry.handedBack = true;
    entry.controller.abort();
    try {
      await entry.job.moveToWait(entry.token);
    } catch (error) {
      // The job finished or lost its lock in the meantime: nothing to hand back.
      logger?.warn({ kind: entry.job.name, jobId: entry.job.id, error: describeError(error) }, 'job queue: could not hand a job back');
    }
  }

  async function giveUp(definition: JobDefinition<JobPayload>, job: Job<JobPayload>, error: unknown): Promise<never> {
    if (definition.onGiveUp) {
      try {
        await definition.onGiveUp(job.data, error);
      } catch (giveUpError) {
        logger?.error({ kind: definition.kind, jobId: job.id, error: describeError(giveUpError) }, 'job queue: onGiveUp failed');
      }
    }
    // Unrecoverable: BullMQ fails the job now, whatever its own count of attempts says.
    throw new UnrecoverableError(describeError(error));
  }

  function processorFor(definition: JobDefinition<JobPayload>) {
    return async (job: Job<JobPayload>, token?: string): Promise<void> => {
      const maxAttempts = job.opts.attempts ?? DEFAULT_ATTEMPTS;
      // Runs that failed plus runs whose replica died (BullMQ counts those apart, as stalls).
      const attempt = job.attemptsMade + job.stalledCounter + 1;
      if (attempt > maxAttempts) {
        // The last attempt's replica died holding the job: nothing is left to try.
        return giveUp(definition, job, new KluisError('internal', `job ${definition.kind}: the replica running its last attempt stopped without finishing it`));
      }
      const controller = new AbortController();
      const entry: ActiveJob = { job, token: token ?? '', controller, handedBack: false, done: Promise.resolve() };
      const scheduledFor = periodOf(job);
      const work = Promise.resolve().then(() => definition.handle(job.data, { attempt, signal: controller.signal, ...(scheduledFor ? { scheduledFor } : {}) }));
      entry.done = work.then(
        () => undefined,
        () => undefined,
      );
      active.set(job.id!, entry);
      let failure: { error: unknown } | undefined;
      try {
        await work;
      } catch (error) {
        failure = { error };
      } finally {
        active.delete(job.id!);
      }
      // Handed back (or this replica was abandoned): the job is no longer ours to finish or fail.
      if (entry.handedBack || abandoned) throw new WaitingError();
      if (!failure) return;
      logger?.warn({ kind: definition.kind, jobId: job.id, attempt, error: describeError(failure.error) }, 'job queue: attempt failed');
      if (attempt >= maxAttempts) return giveUp(definition, job, failure.error);
      throw failure.error instanceof Error ? failure.error : new KluisError('internal', describeError(failure.error), { cause: failure.error });
    };
  }

  function startWorker(definition: JobDefinition<JobPayload>): void {
    const worker = new Worker<JobPayload>(definition.kind, processorFor(definition), {
      connection,
      prefix,
      concurrency: definition.concurrency ?? DEFAULT_CONCURRENCY,
      lockDuration,
      stalledInterval,
      // A replica dying mid-job is an attempt (see processorFor), and the run after the last one
      // gives the job up. BullMQ's own limit is one stall beyond: it only ends a job whose give-up
      // itself keeps dying, without calling onGiveUp a second time.
      maxStalledCount: definition.attempts ?? DEFAULT_ATTEMPTS,
    });
    worker.on('error', (error) => logger?.error({ kind: definition.kind, error: describeError(error) }, 'job queue: worker error'));
    workers.set(definition.kind, worker);
  }

  async function closeAll(force: boolean): Promise<void> {
    await Promise.allSettled([...workers.values()].map((worker) => worker.close(force)));
    await Promise.allSettled([...queues.values()].map((queue) => queue.close()));
    if (connection.status !== 'end') connection.disconnect();
  }

  /** Due jobs of `kind`: waiting, running, or delayed with a due time that has passed. */
  async function unfinished(kind: string): Promise<number> {
    const queue = queueOf(kind);
    const counts = await queue.getJobCounts('wait', 'prioritized', 'active', 'waiting-children');
    const total = Object.values(counts).reduce((n, c) => n + c, 0);
    if (total > 0) return total;
    // BullMQ scores a delayed job by its due time * 0x1000 (plus a counter in the low bits).
    const due = await connection.zcount(queue.keys.delayed ?? queue.toKey('delayed'), '-inf', (Date.now() + 1) * 0x1000 - 1);
    return due;
  }

  return {
    backend: 'redis',

    define<P extends JobPayload>(definition: JobDefinition<P>): void {
      const general = definition as unknown as JobDefinition<JobPayload>;
      assertDefinition(general);
      if (definitions.has(general.kind)) fail('job_kind_invalid', `job kind ${general.kind} is defined twice`);
      definitions.set(general.kind, general);
      queues.set(general.kind, new Queue<JobPayload>(general.kind, { connection, prefix }));
      if (state === 'started') startWorker(general);
    },

    async enqueue(kind: string, payload: JobPayload, enqueueOptions?: EnqueueOptions) {
      const definition = definitionOf(kind);
      assertPayload(kind, payload);
      assertEnqueueOptions(enqueueOptions);
      const id = randomUUID();
      const job = await queueOf(kind).add(kind, payload, {
        ...jobOptions(definition),
        jobId: id,
        ...(enqueueOptions?.delayMs ? { delay: enqueueOptions.delayMs } : {}),
        ...(enqueueOptions?.key !== undefined ? { deduplication: { id: enqueueOptions.key } } : {}),
      });
      return { id: job.id ?? id, added: job.id === id };
    },

    async every(name, everyMs, kind, payload = {}, everyOptions) {
      assertKey('schedule name', name);
      assertDelay('everyMs', everyMs, 1);
      const definition = definitionOf(kind);
      assertPayload(kind, payload);
      const firstDelayMs = everyOptions?.firstDelayMs ?? everyMs;
      assertDelay('firstDelayMs', firstDelayMs);
      const queue = queueOf(kind);
      // Every replica calls this at start-up: a scheduler with the same period and payload is kept
      // as it is, so its next period is neither moved nor fired twice.
      const existing = await queue.getJobScheduler(name);
      if (existing && existing.every === everyMs && JSON.stringify(existing.template?.data ?? {}) === JSON.stringify(payload)) return;
      await queue.upsertJobScheduler(name, { every: everyMs, startDate: Date.now() + firstDelayMs }, { name: kind, data: payload, opts: jobOptions(definition) });
    },

    async start() {
      if (state !== 'idle') return;
      state = 'started';
      for (const definition of definitions.values()) startWorker(definition);
      await Promise.all([...workers.values()].map((worker) => worker.waitUntilReady()));
    },

    stop(graceMs = DEFAULT_GRACE_MS) {
      stopping ??= (async () => {
        if (state !== 'started') {
          state = 'stopped';
          await closeAll(true);
          return;
        }
        state = 'stopping';
        // Take no new jobs; the ones running go on.
        await Promise.allSettled([...workers.values()].map((worker) => worker.pause(true)));
        const settled = Promise.allSettled([...active.values()].map((entry) => entry.done));
        const finished = await Promise.race([settled.then(() => true), sleep(graceMs).then(() => false)]);
        if (!finished) {
          const left = [...active.values()];
          await Promise.all(left.map(handBack));
          logger?.info({ jobs: left.length }, 'job queue: handed running jobs back at shutdown');
        }
        await closeAll(!finished);
        state = 'stopped';
      })();
      return stopping;
    },

    async abandon() {
      abandoned = true;
      state = 'stopped';
      stopping ??= Promise.resolve();
      for (const entry of active.values()) entry.controller.abort();
      await closeAll(true);
    },

    async drain(kinds, timeoutMs = DEFAULT_DRAIN_TIMEOUT_MS) {
      const asked = kinds ?? [...definitions.keys()];
      for (const kind of asked) definitionOf(kind);
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const left = (await Promise.all(asked.map(unfinished))).reduce((n, c) => n + c, 0);
        if (left === 0) return;
        if (Date.now() >= deadline) fail('job_drain_timeout', `${left} job(s) of ${asked.join(', ')} still queued or running after ${timeoutMs} ms`);
        await sleep(50);
      }
    },

    async depth() {
      const result: Array<{ kind: string; status: 'queued' | 'running' | 'failed'; count: number }> = [];
      for (const [kind, queue] of queues) {
        const counts = await queue.getJobCounts('wait', 'prioritized', 'delayed', 'waiting-children', 'active', 'failed');
        const queued = (counts.wait ?? 0) + (counts.prioritized ?? 0) + (counts.delayed ?? 0) + (counts['waiting-children'] ?? 0);
        if (queued > 0) result.push({ kind, status: 'queued', count: queued });
        const running = counts.active ?? 0;
        const failed = counts.failed ?? 0;
        if (running > 0) result.push({ kind, status: 'running', count: running });
        if (failed > 0) result.push({ kind, status: 'failed', count: failed });
      }
      return result.sort((a, b) => a.kind.localeCompare(b.kind) || a.status.localeCompare(b.status));
    },
  };
}
