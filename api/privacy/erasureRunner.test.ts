/** The background runner of erasure jobs: retries, giving up, no double start, and a stop that does not wait out a retry. */
import { fail } from '../errors';
import { createErasureRunner } from './erasureRunner';
import type { ErasureJobView } from './ports';

function engine(outcomes: Array<'ok' | 'fail'>) {
  const calls: string[] = [];
  const abandoned: Array<[string, string]> = [];
  let i = 0;
  return {
    calls,
    abandoned,
    eraser: {
      async run(jobId: string) {
        calls.push(jobId);
        await new Promise((resolve) => setTimeout(resolve, 5));
        if ((outcomes[i++] ?? 'ok') === 'fail') fail('store_unavailable', 'index down');
        return { jobId } as ErasureJobView;
      },
      unfinished: async (idleMs?: number) => (idleMs === 60_000 ? ['left-1', 'left-2'] : []),
      abandon: async (jobId: string, reason: string) => void abandoned.push([jobId, reason]),
    },
  };
}

it('retries a failing job after each delay, then gives it up with the reason', async () => {
  const e = engine(['fail', 'fail', 'fail']);
  const errors: number[] = [];
  const runner = createErasureRunner({ eraser: e.eraser, retryDelaysMs: [1, 1], onError: (_e, _id, attempt) => errors.push(attempt) });
  runner.submit('job');
  await runner.settled();
  expect(e.calls).toEqual(['job', 'job', 'job']);
  expect(errors).toEqual([1, 2, 3]);
  expect(e.abandoned).toEqual([['job', '3 attempts failed (store_unavailable)']]);
});

it('stops retrying once a run succeeds, and never starts one job twice at once', async () => {
  const e = engine(['fail', 'ok']);
  const runner = createErasureRunner({ eraser: e.eraser, retryDelaysMs: [1, 1, 1] });
  runner.submit('job');
  runner.submit('job');
  await runner.settled();
  expect(e.calls).toEqual(['job', 'job']);
  expect(e.abandoned).toEqual([]);
});

it('resumes the jobs left alone for a minute at start-up', async () => {
  const e = engine([]);
  const runner = createErasureRunner({ eraser: e.eraser });
  expect(await runner.resumeUnfinished()).toEqual(['left-1', 'left-2']);
  await runner.settled();
  expect(e.calls.sort()).toEqual(['left-1', 'left-2']);
});

it('ends a retry wait at once on stop and starts nothing afterwards', async () => {
  const e = engine(['fail']);
  const runner = createErasureRunner({ eraser: e.eraser, retryDelaysMs: [3_600_000] });
  runner.submit('job');
  await new Promise((resolve) => setTimeout(resolve, 30));
  runner.stop();
  await runner.settled();
  runner.submit('other');
  await runner.settled();
  expect(e.calls).toEqual(['job']);
});
