/**
 * The database adapter of the job queue: every replica runs a small loop over the `QueueJob` and
 * `QueueSchedule` tables, for deployments without Redis.
 *
 * Claiming is `SELECT ... FOR UPDATE SKIP LOCKED` (MariaDB 10.6+) in a transaction, so two
 * replicas polling at once take different rows and never wait on each other. A claimed row carries
 * a lease (`lockedUntil`) on the database clock, extended by a heartbeat while the handler runs:
 * replicas whose clocks disagree still agree on when a lease lapsed, and a job of a replica that
 * died is claimed again once its lease lapses. Each claim counts an attempt and the attempt number
 * fences the row, so a replica that lost its lease cannot overwrite the outcome of the next run.
 * A schedule period is fired by whichever replica moves `nextRunAt` on first (a compare-and-set on
 * the old value); the others see zero rows changed.
 *
 * The queue does not own the database client: stop() leaves it open for the rest of Kluis.
 */
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Database } from '../../db/client';
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
  retryDelayMs,
} from './validation';

export interface DatabaseJobQueueOptions {
  /** This replica's name in `lockedBy`; host, process id and a random suffix unless set. */
  replicaId?: string;
  /** How often the loop looks for due jobs and schedules when nothing wakes it. 1,000 ms unless set. */
  pollMs?: number;
  /** How long a claim holds without a heartbeat (the heartbeat runs every third of it). 30,000 ms unless set. */
  leaseMs?: number;
  /** How long succeeded and given-up rows are kept before they are deleted. 7 days unless set. */
  keepFinishedMs?: number;
  logger?: Logger;
}

interface ClaimedRow {
  id: string;
  payload: unknown;
  attempts: number | bigint;
  maxAttempts: number | bigint;
  scheduledForMs: number | bigint | string | null;
}

interface RunningJob {
  kind: string;
  attempt: number;
  controller: AbortController;
  handedBack: boolean;
  done: Promise<void>;
}

interface LocalSchedule {
  kind: string;
  payload: JobPayload;
  everyMs: number;
}

const SEVEN_DAYS_MS = 7 * 24 * 60 * 60 * 1000;
const CLEANUP_EVERY_MS = 60_000;

const placeholders = (n: number) => Array.from({ length: n }, () => '?').join(', ');
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());

function parsePayload(value: unknown): JobPayload {
  return (typeof value === 'string' ? JSON.parse(value) : value) as JobPayload;
}

export function createDatabaseJobQueue(db: Database, options: DatabaseJobQueueOptions = {}): CrashableJobQueue {
  const replicaId = options.replicaId ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  const pollMs = options.pollMs ?? 1_000;
  const leaseMs = options.leaseMs ?? 30_000;
  const keepFinishedMs = options.keepFinishedMs ?? SEVEN_DAYS_MS;
  const logger = options.logger;
  if (replicaId.length === 0 || replicaId.length > 128) fail('config_invalid', 'the job queue replicaId must be 1 to 128 characters');
  assertDelay('pollMs', pollMs, 1);
  assertDelay('leaseMs', leaseMs, 100);

  const definitions = new Map<string, JobDefinition<JobPayload>>();
  const schedules = new Map<string, LocalSchedule>();
  const running = new Map<string, RunningJob>();
  let state: 'idle' | 'started' | 'stopping' | 'stopped' = 'idle';
  let abandoned = false;
  let loop: Promise<void> | undefined;
  let stopping: Promise<void> | undefined;
  let heartbeat: NodeJS.Timeout | undefined;
  let lastCleanup = 0;
  let wakeUp: (() => void) | undefined;
  let wakePending = false;

  function wake(): void {
    wakePending = true;
    wakeUp?.();
  }

  function napOrWake(): Promise<void> {
    if (wakePending) {
      wakePending = false;
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, pollMs);
      function done() {
        clearTimeout(timer);
        wakeUp = undefined;
        wakePending = false;
        resolve();
      }
      wakeUp = done;
    });
  }

  function definitionOf(kind: string): JobDefinition<JobPayload> {
    assertKind(kind);
    const definition = definitions.get(kind);
    if (!definition) fail('job_kind_invalid', `job kind ${kind} is not defined on this replica: call define() first`);
    return definition;
  }

  const runningOf = (kind: string) => [...running.values()].filter((job) => job.kind === kind).length;

  async function insertJob(kind: string, payload: JobPayload, key: string | undefined, delayMs: number, scheduledFor?: string): Promise<{ id: string; added: boolean }> {
    const definition = definitionOf(kind);
    const dedupeKey = key === undefined ? null : `${kind}:${key}`;
    // The existing job can finish between a refused insert and the look-up; then the key is free and we try again.
    for (let round = 0; round < 3; round += 1) {
      const id = randomUUID();
      await db.$executeRawUnsafe(
        `INSERT INTO \`QueueJob\` (id, kind, payload, status, dedupeKey, attempts, maxAttempts, runAfter, scheduledFor, createdAt, updatedAt)
         VALUES (?, ?, ?, 'queued', ?, 0, ?, DATE_ADD(NOW(3), INTERVAL ? MICROSECOND), ?, NOW(3), NOW(3))
         ON DUPLICATE KEY UPDATE id = id`,
        id,
        kind,
        JSON.stringify(payload),
        dedupeKey,
        definition.attempts ?? DEFAULT_ATTEMPTS,
        delayMs * 1000,
        scheduledFor ?? null,
      );
      if (dedupeKey === null) return { id, added: true };
      const [holder] = await db.$queryRawUnsafe<Array<{ id: string }>>('SELECT id FROM `QueueJob` WHERE dedupeKey = ?', dedupeKey);
      if (holder) return { id: holder.id, added: holder.id === id };
    }
    return fail('internal', `job ${kind}: the dedupe key was taken and freed three times in a row`);
  }

  async function claim(kind: string, limit: number): Promise<ClaimedRow[]> {
    return db.$transaction(async (tx) => {
      const found = await tx.$queryRawUnsafe<ClaimedRow[]>(
        `SELECT id, payload, attempts, maxAttempts, ROUND(UNIX_TIMESTAMP(scheduledFor) * 1000) AS scheduledForMs
           FROM \`QueueJob\`
          WHERE kind = ? AND ((status = 'queued' AND runAfter <= NOW(3)) OR (status = 'running' AND lockedUntil < NOW(3)))
          ORDER BY runAfter
          LIMIT ${Math.floor(limit)}
          FOR UPDATE SKIP LOCKED`,
        kind,
      );
      if (found.length === 0) return [];
      await tx.$executeRawUnsafe(
        `UPDATE \`QueueJob\` SET status = 'running', lockedBy = ?, lockedUntil = DATE_ADD(NOW(3), INTERVAL ? MICROSECOND), attempts = attempts + 1, updatedAt = NOW(3)
          WHERE id IN (${placeholders(found.length)})`,
        replicaId,
        leaseMs * 1000,
        ...found.map((row) => row.id),
      );
      return found.map((row) => ({ ...row, attempts: Number(row.attempts) + 1 }));
    });
  }

  /** Sets the outcome of a run, only if this replica still holds that run's claim. */
  async function settle(id: string, attempt: number, assignments: string, ...values: unknown[]): Promise<boolean> {
    if (abandoned) return false;
    const changed = await db.$executeRawUnsafe(
      `UPDATE \`QueueJob\` SET ${assignments}, lockedBy = NULL, lockedUntil = NULL, updatedAt = NOW(3)
        WHERE id = ? AND status = 'running' AND lockedBy = ? AND attempts = ?`,
      ...values,
      id,
      replicaId,
      attempt,
    );
    return changed === 1;
  }

  async function giveUp(definition: JobDefinition<JobPayload>, id: string, attempt: number, payload: JobPayload, error: unknown): Promise<void> {
    const won = await settle(id, attempt, "status = 'failed', dedupeKey = NULL, lastError = ?", describeError(error));
    if (!won || !definition.onGiveUp) return;
    try {
      await definition.onGiveUp(payload, error);
    } catch (giveUpError) {
      logger?.error({ kind: definition.kind, jobId: id, error: describeError(giveUpError) }, 'job queue: onGiveUp failed');
    }
  }

  async function run(definition: JobDefinition<JobPayload>, row: ClaimedRow, job: RunningJob): Promise<void> {
    const payload = parsePayload(row.payload);
    const attempt = job.attempt;
    const maxAttempts = Number(row.maxAttempts);
    if (attempt > maxAttempts) {
      // The last attempt's replica died holding the claim: nothing is left to try.
      await giveUp(definition, row.id, attempt, payload, new KluisError('internal', `job ${definition.kind}: the replica running its last attempt stopped without finishing it`));
      return;
    }
    const scheduledFor = row.scheduledForMs === null ? undefined : new Date(Number(row.scheduledForMs));
    let failure: { error: unknown } | undefined;
    try {
      await definition.handle(payload, { attempt, signal: job.controller.signal, ...(scheduledFor ? { scheduledFor } : {}) });
    } catch (error) {
      failure = { error };
    }
    if (job.handedBack || abandoned) return;
    if (!failure) {
      await settle(row.id, attempt, "status = 'succeeded', dedupeKey = NULL, lastError = NULL");
      return;
    }
    logger?.warn({ kind: definition.kind, jobId: row.id, attempt, error: describeError(failure.error) }, 'job queue: attempt failed');
    if (attempt >= maxAttempts) {
      await giveUp(definition, row.id, attempt, payload, failure.error);
      return;
    }
    const waitMs = retryDelayMs(definition.backoffMs ?? DEFAULT_BACKOFF_MS, attempt);
    await settle(row.id, attempt, "status = 'queued', runAfter = DATE_ADD(NOW(3), INTERVAL ? MICROSECOND), lastError = ?", waitMs * 1000, describeError(failure.error));
  }

  function launch(definition: JobDefinition<JobPayload>, row: ClaimedRow): void {
    const job: RunningJob = { kind: definition.kind, attempt: Number(row.attempts), controller: new AbortController(), handedBack: false, done: Promise.resolve() };
    running.set(row.id, job);
    job.done = run(definition, row, job)
      .catch((error: unknown) => logger?.error({ kind: definition.kind, jobId: row.id, error: describeError(error) }, 'job queue: could not record the outcome of a job'))
      .finally(() => {
        running.delete(row.id);
        if (state === 'started') wake();
      });
  }

  async function extendLeases(): Promise<void> {
    const ids = [...running.keys()];
    if (ids.length === 0 || abandoned) return;
    await db.$executeRawUnsafe(
      `UPDATE \`QueueJob\` SET lockedUntil = DATE_ADD(NOW(3), INTERVAL ? MICROSECOND) WHERE id IN (${placeholders(ids.length)}) AND status = 'running' AND lockedBy = ?`,
      leaseMs * 1000,
      ...ids,
      replicaId,
    );
  }

  async function fireSchedules(): Promise<void> {
    for (const [name, schedule] of schedules) {
      if (state !== 'started') return;
      const [row] = await db.$queryRawUnsafe<Array<{ nextRunAt: string; due: number | bigint }>>(
        "SELECT DATE_FORMAT(nextRunAt, '%Y-%m-%d %H:%i:%s.%f') AS nextRunAt, nextRunAt <= NOW(3) AS due FROM `QueueSchedule` WHERE name = ?",
        name,
      );
      if (!row || Number(row.due) !== 1) continue;
      // Compare-and-set on the period's due time: one replica moves it on, the others change nothing.
      // Missed periods (all replicas down) are skipped, not fired in a burst.
      const won = await db.$executeRawUnsafe(
        `UPDATE \`QueueSchedule\`
            SET nextRunAt = DATE_ADD(nextRunAt, INTERVAL (FLOOR(TIMESTAMPDIFF(MICROSECOND, nextRunAt, NOW(3)) / (everyMs * 1000)) + 1) * everyMs * 1000 MICROSECOND),
                updatedAt = NOW(3)
          WHERE name = ? AND nextRunAt = ?`,
        name,
        row.nextRunAt,
      );
      if (won !== 1) continue;
      const { added } = await insertJob(schedule.kind, schedule.payload, `schedule:${name}`, 0, row.nextRunAt);
      if (!added) logger?.info({ schedule: name, kind: schedule.kind }, 'job queue: schedule period skipped, the previous run is still queued or running');
    }
  }

  async function cleanUp(): Promise<void> {
    if (Date.now() - lastCleanup < CLEANUP_EVERY_MS) return;
    lastCleanup = Date.now();
    await db.$executeRawUnsafe(
      "DELETE FROM `QueueJob` WHERE status IN ('succeeded', 'failed') AND updatedAt < DATE_SUB(NOW(3), INTERVAL ? MICROSECOND) LIMIT 1000",
      keepFinishedMs * 1000,
    );
  }

  async function tick(): Promise<void> {
    await fireSchedules();
    for (const definition of definitions.values()) {
      if (state !== 'started') return;
      const free = (definition.concurrency ?? DEFAULT_CONCURRENCY) - runningOf(definition.kind);
      if (free <= 0) continue;
      for (const row of await claim(definition.kind, free)) launch(definition, row);
    }
    await cleanUp();
  }

  async function runLoop(): Promise<void> {
    while (state === 'started') {
      try {
        await tick();
      } catch (error) {
        logger?.error({ error: describeError(error) }, 'job queue: polling the database failed; trying again');
      }
      if (state !== 'started') return;
      await napOrWake();
    }
  }

  function stopTimers(): void {
    if (heartbeat) clearInterval(heartbeat);
    heartbeat = undefined;
    wakeUp?.();
  }

  return {
    backend: 'database',

    define<P extends JobPayload>(definition: JobDefinition<P>): void {
      assertDefinition(definition as unknown as JobDefinition<JobPayload>);
      if (definitions.has(definition.kind)) fail('job_kind_invalid', `job kind ${definition.kind} is defined twice`);
      definitions.set(definition.kind, definition as unknown as JobDefinition<JobPayload>);
      if (state === 'started') wake();
    },

    async enqueue(kind: string, payload: JobPayload, enqueueOptions?: EnqueueOptions) {
      definitionOf(kind);
      assertPayload(kind, payload);
      assertEnqueueOptions(enqueueOptions);
      const result = await insertJob(kind, payload, enqueueOptions?.key, enqueueOptions?.delayMs ?? 0);
      if (result.added && !enqueueOptions?.delayMs && state === 'started') wake();
      return result;
    },

    async every(name, everyMs, kind, payload = {}, everyOptions) {
      assertKey('schedule name', name);
      assertDelay('everyMs', everyMs, 1);
      definitionOf(kind);
      assertPayload(kind, payload);
      const firstDelayMs = everyOptions?.firstDelayMs ?? everyMs;
      assertDelay('firstDelayMs', firstDelayMs);
      // Every replica calls this at start-up: the period already running is kept unless everyMs changed.
      await db.$executeRawUnsafe(
        `INSERT INTO \`QueueSchedule\` (name, kind, payload, everyMs, nextRunAt, createdAt, updatedAt)
         VALUES (?, ?, ?, ?, DATE_ADD(NOW(3), INTERVAL ? MICROSECOND), NOW(3), NOW(3))
         ON DUPLICATE KEY UPDATE
           nextRunAt = IF(everyMs = VALUES(everyMs), nextRunAt, VALUES(nextRunAt)),
           everyMs = VALUES(everyMs), kind = VALUES(kind), payload = VALUES(payload), updatedAt = NOW(3)`,
        name,
        kind,
        JSON.stringify(payload),
        everyMs,
        firstDelayMs * 1000,
      );
      schedules.set(name, { kind, payload, everyMs });
      if (state === 'started') wake();
    },

    async start() {
      if (state !== 'idle') return;
      state = 'started';
      heartbeat = setInterval(() => {
        extendLeases().catch((error: unknown) => logger?.error({ error: describeError(error) }, 'job queue: could not extend the leases of running jobs'));
      }, Math.max(50, Math.floor(leaseMs / 3)));
      heartbeat.unref();
      loop = runLoop();
    },

    stop(graceMs = DEFAULT_GRACE_MS) {
      stopping ??= (async () => {
        if (state === 'idle' || state === 'stopped') {
          state = 'stopped';
          return;
        }
        state = 'stopping';
        wakeUp?.();
        await loop;
        const settled = Promise.allSettled([...running.values()].map((job) => job.done));
        const finished = await Promise.race([settled.then(() => true), sleep(graceMs).then(() => false)]);
        if (!finished && !abandoned) {
          const left = [...running.entries()];
          for (const [, job] of left) {
            job.handedBack = true;
            job.controller.abort();
          }
          // The hand-back is not a failed attempt: the next claim runs the same attempt number again.
          await db.$executeRawUnsafe(
            `UPDATE \`QueueJob\` SET status = 'queued', attempts = attempts - 1, runAfter = NOW(3), lockedBy = NULL, lockedUntil = NULL, updatedAt = NOW(3)
              WHERE id IN (${placeholders(left.length)}) AND status = 'running' AND lockedBy = ?`,
            ...left.map(([id]) => id),
            replicaId,
          );
          logger?.info({ jobs: left.length }, 'job queue: handed running jobs back at shutdown');
        }
        stopTimers();
        state = 'stopped';
      })();
      return stopping;
    },

    async abandon() {
      abandoned = true;
      state = 'stopped';
      stopping ??= Promise.resolve();
      stopTimers();
      for (const job of running.values()) job.controller.abort();
    },

    async drain(kinds, timeoutMs = DEFAULT_DRAIN_TIMEOUT_MS) {
      const asked = kinds ?? [...definitions.keys()];
      for (const kind of asked) definitionOf(kind);
      if (asked.length === 0) return;
      const filter = `kind IN (${placeholders(asked.length)}) AND `;
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const [row] = await db.$queryRawUnsafe<Array<{ n: number | bigint }>>(
          `SELECT COUNT(*) AS n FROM \`QueueJob\` WHERE ${filter}((status = 'queued' AND runAfter <= NOW(3)) OR status = 'running')`,
          ...asked,
        );
        const left = Number(row?.n ?? 0);
        if (left === 0) return;
        if (Date.now() >= deadline) fail('job_drain_timeout', `${left} job(s) of ${asked.join(', ')} still queued or running after ${timeoutMs} ms`);
        await sleep(Math.min(pollMs, 50));
      }
    },

    async depth() {
      const rows = await db.$queryRawUnsafe<Array<{ kind: string; status: 'queued' | 'running' | 'failed'; n: number | bigint }>>(
        "SELECT kind, status, COUNT(*) AS n FROM `QueueJob` WHERE status IN ('queued', 'running', 'failed') GROUP BY kind, status ORDER BY kind, status",
      );
      return rows.map((row) => ({ kind: row.kind, status: row.status, count: Number(row.n) }));
    },
  };
}
