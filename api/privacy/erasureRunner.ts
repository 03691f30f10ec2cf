/**
 * Runs erasure jobs in the background of this process, and at start-up finishes the jobs a stopped
 * process left unfinished. A failing job is retried after growing waits, then given up (`failed`,
 * its finished steps kept, so a new request or `run` resumes it). A shared job queue replaces this
 * runner once there is one; callers only see `submit`.
 */
import { isKluisError } from '../errors';
import type { ErasureEngine } from './erasure';

export interface ErasureRunner {
  /** Starts the job in the background (a job already running here is not started twice). */
  submit(jobId: string): void;
  /** Submits every unfinished job left alone for a minute; call once at start-up. Returns their ids. */
  resumeUnfinished(): Promise<string[]>;
  /** Resolves when every submitted job has finished or been given up (tests, shutdown). */
  settled(): Promise<void>;
  stop(): void;
}

export function createErasureRunner(deps: {
  eraser: Pick<ErasureEngine, 'run' | 'unfinished' | 'abandon'>;
  onError?: (error: unknown, jobId: string, attempt: number) => void;
  retryDelaysMs?: number[];
  /** Jobs saved more recently than this may still run elsewhere; start-up leaves them alone. 60 s unless set. */
  resumeIdleMs?: number;
}): ErasureRunner {
  const delays = deps.retryDelaysMs ?? [1_000, 10_000, 60_000];
  const active = new Map<string, Promise<void>>();
  let stopped = false;
  const sleepers = new Set<() => void>();
  // A retry wait ends early on stop, so shutdown never waits a minute for nothing.
  const wait = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(wake, ms);
      function wake() {
        clearTimeout(timer);
        sleepers.delete(wake);
        resolve();
      }
      sleepers.add(wake);
    });

  async function drive(jobId: string): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      if (stopped) return;
      try {
        await deps.eraser.run(jobId);
        return;
      } catch (error) {
        deps.onError?.(error, jobId, attempt + 1);
        if (attempt >= delays.length) {
          await deps.eraser.abandon(jobId, `${attempt + 1} attempts failed (${isKluisError(error) ? error.id : 'unexpected error'})`).catch((e: unknown) => deps.onError?.(e, jobId, attempt + 1));
          return;
        }
        await wait(delays[attempt]!);
      }
    }
  }

  return {
    submit(jobId) {
      if (stopped || active.has(jobId)) return;
      active.set(jobId, drive(jobId).finally(() => active.delete(jobId)));
    },
    async resumeUnfinished() {
      const ids = await deps.eraser.unfinished(deps.resumeIdleMs ?? 60_000);
      for (const id of ids) this.submit(id);
      return ids;
    },
    async settled() {
      while (active.size > 0) await Promise.all([...active.values()]);
    },
    stop() {
      stopped = true;
      for (const wake of [...sleepers]) wake();
    },
  };
}
