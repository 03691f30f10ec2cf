/**
 * Runs erasure jobs through the shared job queue (kind `erasure.run`): any replica may take a job,
 * a failing one is retried with growing waits and then given up (`failed`, its finished steps
 * kept, so a new request or `run` resumes it), and a replica that stops mid-job hands it back.
 * The job's durable progress is its ErasureJob row; the queue carries only its id. At start-up,
 * jobs left unfinished (by a replica that died before the queue knew of them) are submitted again.
 */
import { fail, isKluisError } from '../errors';
import type { JobQueue } from '../operations/jobs/ports';
import type { ErasureEngine } from './erasure';

export const ERASURE_JOB_KIND = 'erasure.run';

export interface ErasureRunner {
  /** Queues the job (a job already queued or running is not queued twice). */
  submit(jobId: string): void;
  /** Submits every unfinished job left alone for a minute; call once at start-up. Returns their ids. */
  resumeUnfinished(): Promise<string[]>;
  /** Resolves when no erasure job is queued, retrying or running any more (tests, shutdown). */
  settled(timeoutMs?: number): Promise<void>;
}

export function createErasureRunner(deps: {
  eraser: Pick<ErasureEngine, 'run' | 'unfinished' | 'abandon'>;
  queue: JobQueue;
  onError?: (error: unknown, jobId: string, attempt: number) => void;
  /** Runs in all; 5 unless set. */
  attempts?: number;
  /** First retry wait, doubling after; 2,000 ms unless set. */
  backoffMs?: number;
  /** Jobs saved more recently than this may still run elsewhere; start-up leaves them alone. 60 s unless set. */
  resumeIdleMs?: number;
  /** The queue kind; `erasure.run` unless set (tests use their own). */
  kind?: string;
}): ErasureRunner {
  const kind = deps.kind ?? ERASURE_JOB_KIND;
  const attempts = deps.attempts ?? 5;
  deps.queue.define<{ jobId: string }>({
    kind,
    attempts,
    backoffMs: deps.backoffMs ?? 2_000,
    async handle({ jobId }, { attempt }) {
      try {
        await deps.eraser.run(jobId);
      } catch (error) {
        deps.onError?.(error, jobId, attempt);
        throw error;
      }
    },
    async onGiveUp({ jobId }, error) {
      await deps.eraser.abandon(jobId, `${attempts} attempts failed (${isKluisError(error) ? error.id : 'unexpected error'})`);
    },
  });
  const pending = new Set<Promise<unknown>>();
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

  return {
    submit(jobId) {
      const queued = deps.queue.enqueue(kind, { jobId }, { key: jobId }).catch((error: unknown) => deps.onError?.(error, jobId, 0));
      pending.add(queued);
      void queued.finally(() => pending.delete(queued));
    },
    async resumeUnfinished() {
      const ids = await deps.eraser.unfinished(deps.resumeIdleMs ?? 60_000);
      for (const id of ids) this.submit(id);
      return ids;
    },
    async settled(timeoutMs = 120_000) {
      const deadline = Date.now() + timeoutMs;
      while (pending.size) await Promise.all([...pending]);
      // drain() returns while a job waits out a retry; the depth still counts it as queued.
      for (;;) {
        await deps.queue.drain([kind], Math.max(1, deadline - Date.now()));
        const left = (await deps.queue.depth()).filter((d) => d.kind === kind && d.status !== 'failed').reduce((n, d) => n + d.count, 0);
        if (left === 0) return;
        if (Date.now() > deadline) fail('job_drain_timeout', `erasure jobs still queued after ${timeoutMs} ms`);
        await sleep(50);
      }
    },
  };
}
