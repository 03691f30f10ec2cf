/**
 * The JobQueue conformance suite: the contract every job-queue adapter keeps (api/operations/jobs/ports.ts).
 * Several queue instances opened on the same backend stand for several Kluis replicas: a job runs
 * once however many replicas poll, a schedule fires once per period, a replica that dies or shuts
 * down loses no job. Each adapter's test file calls `jobQueueConformance` once with a factory;
 * a new adapter is done when it passes this suite unchanged.
 *
 * `open` must return a new instance on the SAME backend every time (same database, same Redis and
 * key prefix), with short timings: a poll of about 50 ms and a lease (or lock) of about 1 s, so the
 * crash case need not wait long. Every case uses its own random kinds, so cases never see each
 * other's jobs even though they share the backend.
 */
import { randomUUID } from 'node:crypto';
import { isKluisError, KluisError } from '../../api/errors';
import type { CrashableJobQueue, JobContext, JobPayload } from '../../api/operations/jobs/ports';

export interface JobQueueHarness {
  open(): CrashableJobQueue;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

async function waitFor(what: string, condition: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** A promise the test opens by hand. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { opened, open };
}

async function rejection(work: () => unknown): Promise<unknown> {
  try {
    await work();
  } catch (error) {
    return error;
  }
  return undefined;
}

const newKind = (label: string) => `conf-${randomUUID().slice(0, 8)}.${label}`;

export function jobQueueConformance(name: string, harness: JobQueueHarness): void {
  describe(`JobQueue conformance: ${name}`, () => {
    let opened: CrashableJobQueue[] = [];
    let gates: Array<() => void> = [];

    const open = () => {
      const queue = harness.open();
      opened.push(queue);
      return queue;
    };
    const newGate = () => {
      const g = gate();
      gates.push(g.open);
      return g;
    };

    afterEach(async () => {
      await Promise.all(opened.map((queue) => queue.stop(0)));
      for (const release of gates) release();
      opened = [];
      gates = [];
    });

    it('runs a job once, with its payload, as attempt 1', async () => {
      const kind = newKind('once');
      const queue = open();
      const runs: Array<[JobPayload, number]> = [];
      queue.define({ kind, handle: async (payload, context) => void runs.push([payload, context.attempt]) });
      await queue.start();
      const payload = { workspaceId: randomUUID(), count: 3, full: true, note: null };
      const { id, added } = await queue.enqueue(kind, payload);
      expect(added).toBe(true);
      expect(id).toMatch(/^[0-9a-f-]{36}$/);
      await queue.drain([kind]);
      await sleep(200);
      expect(runs).toEqual([[payload, 1]]);
      expect(queue.backend).toBe(name);
    });

    it('runs each of 20 jobs exactly once when two replicas take work from the same backend', async () => {
      const kind = newKind('shared');
      const runs: Array<{ n: number; replica: string }> = [];
      const replicas = ['a', 'b'].map((replica) => {
        const queue = open();
        queue.define({
          kind,
          concurrency: 2,
          handle: async (payload) => {
            runs.push({ n: Number(payload.n), replica });
            await sleep(40);
          },
        });
        return queue;
      });
      await Promise.all(replicas.map((queue) => queue.start()));
      for (let n = 0; n < 20; n += 1) await replicas[n % 2]!.enqueue(kind, { n });
      await replicas[0]!.drain([kind]);
      await sleep(300);
      expect(runs.map((r) => r.n).sort((x, y) => x - y)).toEqual(Array.from({ length: 20 }, (_, n) => n));
      // The work was shared: both replicas ran some of it.
      expect(new Set(runs.map((r) => r.replica))).toEqual(new Set(['a', 'b']));
    });

    it("keeps a job that runs longer than its lease on its replica (the lease is extended while it runs)", async () => {
      const kind = newKind('long');
      const runs: string[] = [];
      const replicas = ['a', 'b'].map((replica) => {
        const queue = open();
        queue.define({
          kind,
          handle: async () => {
            runs.push(replica);
            // Well past the harness's lease of about 1 s: without a heartbeat the other replica would take it.
            await sleep(2_500);
          },
        });
        return queue;
      });
      await replicas[0]!.start();
      await replicas[0]!.enqueue(kind, { documentId: randomUUID() });
      await waitFor('the job to start', () => runs.length === 1);
      await replicas[1]!.start();
      await replicas[1]!.drain([kind]);
      await sleep(300);
      expect(runs).toEqual(['a']);
    });

    it('runs at most `concurrency` jobs of a kind at once on one replica', async () => {
      const kind = newKind('parallel');
      const queue = open();
      let inFlight = 0;
      let most = 0;
      queue.define({
        kind,
        concurrency: 3,
        handle: async () => {
          inFlight += 1;
          most = Math.max(most, inFlight);
          await sleep(100);
          inFlight -= 1;
        },
      });
      for (let n = 0; n < 9; n += 1) await queue.enqueue(kind, { n });
      await queue.start();
      await queue.drain([kind]);
      expect(most).toBe(3);
    });

    it('retries a failing job with growing waits, then calls onGiveUp once and frees its key', async () => {
      const kind = newKind('failing');
      const queue = open();
      const attempts: Array<{ attempt: number; at: number }> = [];
      const givenUp: Array<{ payload: JobPayload; error: unknown }> = [];
      queue.define({
        kind,
        attempts: 3,
        backoffMs: 150,
        handle: async (_payload, context) => {
          attempts.push({ attempt: context.attempt, at: Date.now() });
          throw new KluisError('graph_unavailable', `attempt ${context.attempt} failed`);
        },
        onGiveUp: async (payload, error) => void givenUp.push({ payload, error }),
      });
      await queue.start();
      const payload = { sourceId: randomUUID() };
      await queue.enqueue(kind, payload, { key: 'only-one' });
      await waitFor('the job to be given up', () => givenUp.length === 1);
      await sleep(600);
      expect(attempts.map((a) => a.attempt)).toEqual([1, 2, 3]);
      // Backoff 150 ms * 2^(n-1): at least 150 ms before the 2nd attempt, 300 ms before the 3rd.
      const [first, second, third] = attempts.map((a) => a.at) as [number, number, number];
      expect(second - first).toBeGreaterThanOrEqual(140);
      expect(third - second).toBeGreaterThanOrEqual(290);
      expect(givenUp).toHaveLength(1);
      const [gaveUp] = givenUp as [{ payload: JobPayload; error: unknown }];
      expect(gaveUp.payload).toEqual(payload);
      expect(isKluisError(gaveUp.error, 'graph_unavailable')).toBe(true);
      expect((gaveUp.error as Error).message).toBe('attempt 3 failed');
      expect(await queue.depth()).toContainEqual({ kind, status: 'failed', count: 1 });
      // A given-up job no longer holds its dedupe key.
      expect((await queue.enqueue(kind, payload, { key: 'only-one' })).added).toBe(true);
    });

    it('adds nothing for a dedupe key while its job is queued or running, and frees the key when it finished', async () => {
      const kind = newKind('dedupe');
      const other = newKind('other');
      const queue = open();
      const release = newGate();
      const runs: string[] = [];
      queue.define({
        kind,
        handle: async (payload) => {
          runs.push(String(payload.label));
          if (payload.label === 'first') await release.opened;
        },
      });
      queue.define({ kind: other, handle: async () => undefined });

      const first = await queue.enqueue(kind, { label: 'first' }, { key: 'ws-1' });
      const again = await queue.enqueue(kind, { label: 'again' }, { key: 'ws-1' });
      expect(first.added).toBe(true);
      expect(again).toEqual({ id: first.id, added: false });
      expect((await queue.enqueue(kind, { label: 'another key' }, { key: 'ws-2' })).added).toBe(true);
      // Keys belong to their kind.
      expect((await queue.enqueue(other, { label: 'other kind' }, { key: 'ws-1' })).added).toBe(true);

      await queue.start();
      await waitFor('the first job to start', () => runs.includes('first'));
      expect(await queue.enqueue(kind, { label: 'while running' }, { key: 'ws-1' })).toEqual({ id: first.id, added: false });
      release.open();
      await queue.drain([kind, other]);
      const later = await queue.enqueue(kind, { label: 'after' }, { key: 'ws-1' });
      expect(later.added).toBe(true);
      expect(later.id).not.toBe(first.id);
      await queue.drain([kind]);
      expect(runs.sort()).toEqual(['after', 'another key', 'first']);
    });

    it('fires a schedule once per period across two replicas', async () => {
      const kind = newKind('tick');
      const schedule = `sched-${randomUUID().slice(0, 8)}`;
      const everyMs = 300;
      const fired: Array<{ period: number | undefined; replica: string }> = [];
      const replicas = ['a', 'b'].map((replica) => {
        const queue = open();
        queue.define({ kind, handle: async (_payload, context: JobContext) => void fired.push({ period: context.scheduledFor?.getTime(), replica }) });
        return queue;
      });
      for (const queue of replicas) await queue.every(schedule, everyMs, kind, { scope: 'all' });
      await Promise.all(replicas.map((queue) => queue.start()));
      await waitFor('five periods to fire', () => fired.length >= 5);
      await Promise.all(replicas.map((queue) => queue.stop(1_000)));

      const periods = fired.map((f) => f.period);
      expect(periods.every((p) => typeof p === 'number')).toBe(true);
      // No period ran twice, though both replicas tick it.
      expect(new Set(periods).size).toBe(fired.length);
      const sorted = [...(periods as number[])].sort((x, y) => x - y);
      for (let i = 1; i < sorted.length; i += 1) expect(sorted[i]! - sorted[i - 1]!).toBeGreaterThanOrEqual(everyMs);
    });

    it('replaces the period when a schedule is registered again with another one', async () => {
      const kind = newKind('replan');
      const schedule = `sched-${randomUUID().slice(0, 8)}`;
      const queue = open();
      const periods: number[] = [];
      queue.define({ kind, handle: async (_payload, context) => void periods.push(context.scheduledFor!.getTime()) });
      await queue.every(schedule, 3_600_000, kind);
      await queue.every(schedule, 200, kind);
      await queue.start();
      await waitFor('three periods of the new schedule', () => periods.length >= 3);
      await queue.stop(1_000);
      for (let i = 1; i < periods.length; i += 1) expect(periods[i]! - periods[i - 1]!).toBeGreaterThanOrEqual(200);
    });

    it('runs the job of a replica that died on another replica once its lease lapses', async () => {
      const kind = newKind('crash');
      const dying = open();
      const neverEnds = newGate();
      const runs: string[] = [];
      dying.define({
        kind,
        handle: async () => {
          runs.push('dying');
          await neverEnds.opened;
        },
      });
      await dying.start();
      const payload = { exportId: randomUUID() };
      await dying.enqueue(kind, payload);
      await waitFor('the dying replica to start the job', () => runs.length === 1);
      await dying.abandon();

      const survivor = open();
      const survived: JobPayload[] = [];
      survivor.define({
        kind,
        handle: async (p) => {
          runs.push('survivor');
          survived.push(p);
        },
      });
      await survivor.start();
      await waitFor('the survivor to run the job', () => survived.length === 1);
      // The dead replica's handler returning late changes nothing.
      neverEnds.open();
      await survivor.drain([kind]);
      await sleep(300);
      expect(runs).toEqual(['dying', 'survivor']);
      expect(survived).toEqual([payload]);
    });

    it('counts each replica that died running a job as an attempt, and gives the job up with onGiveUp once when the last one dies', async () => {
      const kind = newKind('deadly');
      const neverEnds = newGate();
      const runs: Array<{ replica: string; attempt: number }> = [];
      const givenUp: Array<{ replica: string; payload: JobPayload; error: unknown }> = [];
      const replica = (label: string) => {
        const queue = open();
        queue.define({
          kind,
          attempts: 3,
          backoffMs: 10,
          handle: async (_payload, context) => {
            // Whatever this job does takes its replica down before it finishes.
            runs.push({ replica: label, attempt: context.attempt });
            await neverEnds.opened;
          },
          onGiveUp: async (p, error) => void givenUp.push({ replica: label, payload: p, error }),
        });
        return queue;
      };
      const payload = { syncId: randomUUID() };
      for (const label of ['first', 'second', 'third']) {
        const dying = replica(label);
        await dying.start();
        if (label === 'first') await dying.enqueue(kind, payload, { key: 'deadly-1' });
        await waitFor(`the ${label} replica to start the job`, () => runs.length === ['first', 'second', 'third'].indexOf(label) + 1);
        await dying.abandon();
      }

      // Two replicas outlive the job: one of them gives it up, neither runs it again.
      const survivors = ['survivor-a', 'survivor-b'].map(replica);
      await Promise.all(survivors.map((queue) => queue.start()));
      await waitFor('the job to be given up', () => givenUp.length === 1);
      neverEnds.open();
      await survivors[0]!.drain([kind]);
      await sleep(1_500);
      expect(runs).toEqual([
        { replica: 'first', attempt: 1 },
        { replica: 'second', attempt: 2 },
        { replica: 'third', attempt: 3 },
      ]);
      expect(givenUp).toHaveLength(1);
      const [gaveUp] = givenUp as [{ replica: string; payload: JobPayload; error: unknown }];
      expect(['survivor-a', 'survivor-b']).toContain(gaveUp.replica);
      expect(gaveUp.payload).toEqual(payload);
      expect(isKluisError(gaveUp.error, 'internal')).toBe(true);
      expect((await survivors[0]!.depth()).filter((d) => d.kind === kind)).toEqual([{ kind, status: 'failed', count: 1 }]);
      // The given-up job no longer holds its dedupe key.
      expect((await survivors[0]!.enqueue(kind, payload, { key: 'deadly-1' })).added).toBe(true);
    });

    it('hands a running job back on a graceful stop past its grace, and another replica finishes it as the same attempt', async () => {
      const kind = newKind('handback');
      const leaving = open();
      let abortedWhileRunning = false;
      const started: string[] = [];
      leaving.define({
        kind,
        handle: async (_payload, context) => {
          started.push('leaving');
          await new Promise<void>((resolve) => context.signal.addEventListener('abort', () => resolve()));
          abortedWhileRunning = true;
          throw new KluisError('internal', 'stopped by shutdown');
        },
      });
      await leaving.start();
      const payload = { erasureId: randomUUID() };
      await leaving.enqueue(kind, payload);
      await waitFor('the leaving replica to start the job', () => started.length === 1);

      const staying = open();
      const finished: Array<{ payload: JobPayload; attempt: number }> = [];
      staying.define({ kind, handle: async (p, context) => void finished.push({ payload: p, attempt: context.attempt }) });
      await staying.start();
      await leaving.stop(200);
      expect(abortedWhileRunning).toBe(true);
      await waitFor('the staying replica to finish the job', () => finished.length === 1);
      expect(finished).toEqual([{ payload, attempt: 1 }]);
      await staying.drain([kind]);
      expect((await staying.depth()).filter((d) => d.kind === kind)).toEqual([]);
    });

    it('lets a running job finish when it ends within the grace period, and takes no new job after stop', async () => {
      const kind = newKind('graceful');
      const queue = open();
      const runs: string[] = [];
      let started = false;
      queue.define({
        kind,
        handle: async (payload, context) => {
          started = true;
          await sleep(150);
          runs.push(`${String(payload.label)}${context.signal.aborted ? ' aborted' : ''}`);
        },
      });
      await queue.start();
      await queue.enqueue(kind, { label: 'running' });
      await waitFor('the job to start', () => started);
      await queue.stop(5_000);
      expect(runs).toEqual(['running']);

      // After stop nothing is taken on this replica; a new replica runs what was left.
      const later = open();
      later.define({ kind, handle: async (payload) => void runs.push(String(payload.label)) });
      await later.enqueue(kind, { label: 'after stop' });
      await sleep(200);
      expect(runs).toEqual(['running']);
      await later.start();
      await later.drain([kind]);
      expect(runs).toEqual(['running', 'after stop']);
    });

    it('drains due work, ignores jobs delayed into the future, and gives up on a deadline with job_drain_timeout', async () => {
      const kind = newKind('drain');
      const stuck = newKind('stuck');
      const queue = open();
      const done: number[] = [];
      const hold = newGate();
      queue.define({
        kind,
        concurrency: 2,
        handle: async (payload) => {
          await sleep(30);
          done.push(Number(payload.n));
        },
      });
      queue.define({ kind: stuck, handle: async () => hold.opened });
      await queue.start();
      for (let n = 0; n < 5; n += 1) await queue.enqueue(kind, { n });
      await queue.enqueue(kind, { n: 99 }, { delayMs: 60_000 });
      await queue.drain([kind]);
      expect(done.sort((x, y) => x - y)).toEqual([0, 1, 2, 3, 4]);
      expect((await queue.depth()).filter((d) => d.kind === kind)).toEqual([{ kind, status: 'queued', count: 1 }]);

      await queue.enqueue(stuck, {});
      const error = await rejection(() => queue.drain([stuck], 300));
      expect(isKluisError(error, 'job_drain_timeout')).toBe(true);
      hold.open();
      await queue.drain([stuck]);
    });

    it('reports depth by kind and status: queued (including delayed) and running', async () => {
      const base = newKind('depth');
      const [a, b] = [`${base}-a`, `${base}-b`];
      const queue = open();
      const hold = newGate();
      queue.define({ kind: a, handle: async () => hold.opened });
      queue.define({ kind: b, handle: async () => undefined });
      for (let n = 0; n < 3; n += 1) await queue.enqueue(a, { n });
      await queue.enqueue(b, {}, { delayMs: 60_000 });
      const mine = async () => (await queue.depth()).filter((d) => d.kind === a || d.kind === b).sort((x, y) => `${x.kind}${x.status}`.localeCompare(`${y.kind}${y.status}`));
      expect(await mine()).toEqual([
        { kind: a, status: 'queued', count: 3 },
        { kind: b, status: 'queued', count: 1 },
      ]);
      await queue.start();
      let seen = await mine();
      for (let i = 0; i < 250 && !seen.some((d) => d.status === 'running'); i += 1) {
        await sleep(20);
        seen = await mine();
      }
      expect(seen).toEqual([
        { kind: a, status: 'queued', count: 2 },
        { kind: a, status: 'running', count: 1 },
        { kind: b, status: 'queued', count: 1 },
      ]);
      hold.open();
      await queue.drain([a]);
      expect(await mine()).toEqual([{ kind: b, status: 'queued', count: 1 }]);
    });

    describe('refuses malformed input with a catalogued error, and stores nothing', () => {
      const kind = newKind('strict');
      let queue: CrashableJobQueue;
      beforeEach(() => {
        queue = open();
        queue.define({ kind, handle: async () => undefined });
      });

      it.each([
        ['a kind with a space and capitals', 'Bad Kind'],
        ['a kind with a slash', 'erasure/run'],
        ['a kind with a quote (SQL)', "x' OR '1'='1"],
        ['an empty kind', ''],
        ['a kind over 64 characters', `a${'b'.repeat(64)}`],
      ])('refuses to define %s (job_kind_invalid)', async (_what, bad) => {
        const error = await rejection(() => queue.define({ kind: bad, handle: async () => undefined }));
        expect(isKluisError(error, 'job_kind_invalid')).toBe(true);
      });

      it('refuses to enqueue a kind with bad characters or a kind never defined (job_kind_invalid)', async () => {
        expect(isKluisError(await rejection(() => queue.enqueue('Bad Kind!', {})), 'job_kind_invalid')).toBe(true);
        expect(isKluisError(await rejection(() => queue.enqueue(newKind('never-defined'), {})), 'job_kind_invalid')).toBe(true);
      });

      const hugeText = 'x'.repeat(8 * 1024);
      it.each<[string, unknown]>([
        ['an array', ['a', 'b']],
        ['a string', 'workspace-1'],
        ['null', null],
        ['a nested object', { workspace: { id: 'w1' } }],
        ['a list inside', { ids: ['a', 'b'] }],
        ['a date', { at: new Date() }],
        ['a class instance', new URL('https://example.org/')],
        ['a number that is not finite', { n: Number.NaN }],
        ['more than 8 KB of JSON', { text: hugeText }],
      ])('refuses a payload that is %s (job_payload_invalid)', async (_what, bad) => {
        const error = await rejection(() => queue.enqueue(kind, bad as JobPayload));
        expect(isKluisError(error, 'job_payload_invalid')).toBe(true);
        expect((await queue.depth()).filter((d) => d.kind === kind)).toEqual([]);
      });

      it('refuses a definition with attempts, backoff or concurrency it cannot use (job_options_invalid)', async () => {
        for (const bad of [{ attempts: 0 }, { attempts: 1.5 }, { backoffMs: -1 }, { concurrency: 0 }]) {
          const error = await rejection(() => queue.define({ kind: newKind('bad-options'), handle: async () => undefined, ...bad }));
          expect(isKluisError(error, 'job_options_invalid')).toBe(true);
        }
      });

      it('refuses a bad dedupe key, delay or schedule period (job_options_invalid)', async () => {
        for (const options of [{ key: '' }, { key: 'k'.repeat(111) }, { key: 'has space' }, { delayMs: -1 }, { delayMs: 1.5 }]) {
          expect(isKluisError(await rejection(() => queue.enqueue(kind, {}, options)), 'job_options_invalid')).toBe(true);
        }
        expect(isKluisError(await rejection(() => queue.every('nightly', 0, kind)), 'job_options_invalid')).toBe(true);
        expect(isKluisError(await rejection(() => queue.every('bad name!', 1_000, kind)), 'job_options_invalid')).toBe(true);
        expect((await queue.depth()).filter((d) => d.kind === kind)).toEqual([]);
      });
    });
  });
}
