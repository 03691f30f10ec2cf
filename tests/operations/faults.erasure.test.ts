/**
 * An erasure while a store stops in the middle of its step: the blob store (s3rver speaking the S3
 * protocol, really stopped) during the blobs step, and the database (a private MariaDB server,
 * really stopped and started again on the same port) during the rows step, half way through its
 * deletes. The real engine, runner and Prisma, LanceDB and MinIO adapters.
 *
 * What must hold (api/privacy/erasure.ts): the job stays unfinished (`running`) with the steps it
 * finished marked done; when the store is back, the runner resumes it from the first unfinished
 * step to `done`, with an empty residue scan, and nothing of the workspace is left in any store.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createPrismaAuditLog } from '../../api/audit/prismaAuditLog';
import { createDatabase, type Database } from '../../api/db/client';
import { isKluisError } from '../../api/errors';
import { createMinioStore } from '../../api/files/minioStore';
import type { BlobStore } from '../../api/files/ports';
import { openLanceDbIndex } from '../../api/knowledge/lancedbIndex';
import type { SearchIndex } from '../../api/knowledge/ports';
import { createEraser, type EraserDeps } from '../../api/privacy/erasure';
import { createBullmqJobQueue } from '../../api/operations/jobs/bullmqQueue';
import type { JobQueue } from '../../api/operations/jobs/ports';
import { createErasureRunner } from '../../api/privacy/erasureRunner';
import { testRedisUrl } from '../support/database';
import { createPrismaErasureJobStore } from '../../api/privacy/prismaErasureJobs';
import { createPrismaErasureRows } from '../../api/privacy/prismaErasureRows';
import { InMemoryDataKeys, RecordingTokenCache, seedWorkspace, snapshot } from '../privacy/erasureWorld';
import { startStoppableMariadb, startStoppableS3, type StoppableMariadb, type StoppableS3 } from '../support/faults';

jest.setTimeout(180_000);

let mariadb: StoppableMariadb;
let s3: StoppableS3;
let db: Database;
let indexDir: string;
let index: SearchIndex;
let blobs: BlobStore;
const keys = new InMemoryDataKeys();
const tokens = new RecordingTokenCache();

beforeAll(async () => {
  [mariadb, s3] = await Promise.all([startStoppableMariadb(), startStoppableS3()]);
  db = createDatabase(mariadb.url, 2);
  indexDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kluis-faults-index-'));
  index = await openLanceDbIndex(indexDir);
  blobs = createMinioStore({ endPoint: s3.endPoint, port: s3.port, useSSL: false, pathStyle: true, accessKey: s3.accessKey, secretKey: s3.secretKey, bucketPrefix: 'kluis-', encryptionKey: randomBytes(32) });
}, 180_000);

// A failed expectation must not leave a store down for the next test.
afterEach(async () => {
  await Promise.all([mariadb.start(), s3.start()]);
});

afterAll(async () => {
  await index?.close();
  await db?.$disconnect();
  await Promise.all([mariadb?.close(), s3?.close()]);
  fs.rmSync(indexDir, { recursive: true, force: true });
});

function eraser(overrides: Partial<EraserDeps> = {}) {
  return createEraser({ jobs: createPrismaErasureJobStore(db), rows: createPrismaErasureRows(db), index, blobs, dataKeys: keys, graphTokens: tokens, audit: createPrismaAuditLog(db), ...overrides });
}

/**
 * The runner's queue lives in Redis here, apart from the database the test stops, so the drill is
 * about the erasure's own stores. Many quick retries: the job is never given up while a store restarts.
 */
async function withRunnerQueue<T>(drive: (queue: JobQueue) => Promise<T>): Promise<T> {
  const queue = createBullmqJobQueue({ url: testRedisUrl(), prefix: `faults-${randomBytes(4).toString('hex')}`, lockDurationMs: 2_000, stalledIntervalMs: 1_000 });
  try {
    return await drive(queue);
  } finally {
    await queue.stop(1_000);
  }
}
const RETRIES = { attempts: 12, backoffMs: 100 };

const stepsOf = async (jobId: string) => (await createPrismaErasureJobStore(db).find(jobId))!;

/** The runner resumes unfinished jobs; on its first failed attempt the store comes back. */
async function resumeWithRunner(engine: ReturnType<typeof eraser>, restart: () => Promise<void>) {
  const errors: string[] = [];
  let restarted: Promise<void> | undefined;
  return withRunnerQueue(async (queue) => {
    const runner = createErasureRunner({
      eraser: engine,
      queue,
      ...RETRIES,
      resumeIdleMs: 0,
      onError: (error) => {
        errors.push(isKluisError(error) ? error.id : String(error));
        restarted ??= restart();
      },
    });
    await queue.start();
    const resumed = await runner.resumeUnfinished();
    await runner.settled();
    await restarted;
    return { resumed, errors };
  });
}

describe('the blob store stops during the blobs step', () => {
  it('leaves the job unfinished with rows and index done, and the runner finishes it once the store is back', async () => {
    const w = await seedWorkspace(db, index, blobs, keys);
    // The seeded workspace has files and pictures in the blob store.
    expect(await blobs.count(w.workspaceId)).toBeGreaterThan(0);
    const engine = eraser({
      blobs: {
        get: (...a) => blobs.get(...a),
        delete: (...a) => blobs.delete(...a),
        count: (...a) => blobs.count(...a),
        async deleteWorkspace(workspaceId) {
          await s3.stop();
          return blobs.deleteWorkspace(workspaceId);
        },
      },
    });
    const job = await engine.request({ kind: 'workspace', workspaceId: w.workspaceId }, { reason: 'termination' });
    const failure = await engine.run(job.jobId).then(() => undefined, (e: unknown) => e);
    expect(isKluisError(failure, 'store_unavailable')).toBe(true);

    const interrupted = await stepsOf(job.jobId);
    expect(interrupted.status).toBe('running');
    expect(interrupted.steps.map((s) => [s.name, s.done])).toEqual([
      ['rows', true],
      ['index', true],
      ['blobs', false],
      ['graphTokens', false],
      ['usage', false],
      ['dataKey', false],
    ]);
    expect((await db.erasureJob.findUnique({ where: { id: job.jobId }, select: { lastError: true } }))?.lastError).toBe('blobs: store_unavailable');
    // The finished steps did their work; the blobs are still in the stopped store.
    expect(await db.user.count({ where: { workspaceId: w.workspaceId } })).toBe(0);
    expect(await index.countChunks(w.workspaceId)).toBe(0);

    // The blob store is still down when the runner starts; it comes back after the first failure.
    const { resumed, errors } = await resumeWithRunner(eraser(), () => s3.start());
    expect(resumed).toEqual([job.jobId]);
    expect(errors).toEqual(['store_unavailable']);

    const finished = await eraser().status(w.workspaceId, job.jobId);
    expect(finished?.status).toBe('done');
    expect(finished?.residue).toEqual([]);
    expect(finished?.steps.every((s) => s.done)).toBe(true);
    // The rows and index steps were not run twice: their counts are those of the first attempt.
    expect(finished?.steps.find((s) => s.name === 'rows')?.removed).toBe(interrupted.steps[0]!.removed);
    expect(Object.values(await snapshot(db, index, blobs, w.workspaceId)).every((n) => n === 0)).toBe(true);
    expect(await keys.exists(w.workspaceId)).toBe(false);
  });
});

describe('the database stops during the rows step', () => {
  it('leaves the job unfinished with the rows half deleted, and the runner finishes it after the restart', async () => {
    const w = await seedWorkspace(db, index, blobs, keys);
    const seededBlobs = await blobs.count(w.workspaceId);
    expect(seededBlobs).toBeGreaterThan(0);
    let deletes = 0;
    // The server stops after the rows step's fifth delete, half way through the workspace's tables.
    const stopping = db.$extends({
      query: {
        $allModels: {
          async deleteMany({ args, query }) {
            if (++deletes === 6) await mariadb.stop();
            return query(args);
          },
        },
      },
    }) as unknown as Database;
    const engine = eraser({ rows: createPrismaErasureRows(stopping) });
    const job = await engine.request({ kind: 'workspace', workspaceId: w.workspaceId }, { reason: 'termination' });

    // The runner drives the job from the start. After its first attempt fails, the next one waits
    // until the server is back and the interrupted state has been read.
    let interrupted: Awaited<ReturnType<typeof stepsOf>> | undefined;
    let half: Record<string, number> = {};
    let back: Promise<void> | undefined;
    const errors: string[] = [];
    await withRunnerQueue(async (queue) => {
      const runner = createErasureRunner({
        eraser: {
          run: async (jobId) => {
            await back;
            return engine.run(jobId);
          },
          unfinished: (idleMs) => engine.unfinished(idleMs),
          abandon: (jobId, reason) => engine.abandon(jobId, reason),
        },
        queue,
        ...RETRIES,
        onError: (error) => {
          errors.push(isKluisError(error) ? error.id : String(error));
          back ??= (async () => {
            await mariadb.start();
            interrupted = await stepsOf(job.jobId);
            half = await snapshot(db, index, blobs, w.workspaceId);
          })();
        },
      });
      await queue.start();
      runner.submit(job.jobId);
      await runner.settled();
    });
    await back;

    expect(errors).toEqual(['store_unavailable']);
    expect(interrupted?.status).toBe('running');
    expect(interrupted?.steps.every((s) => !s.done)).toBe(true);
    // Half deleted: some of the workspace's tables are empty, others not yet; nothing else touched.
    expect(Object.entries(half).filter(([, n]) => n === 0).length).toBeGreaterThan(0);
    expect(half.user).toBeGreaterThan(0);
    expect(half.chunks).toBeGreaterThan(0);
    // The rows step never reaches the blob store.
    expect(half.blobs).toBe(seededBlobs);

    const finished = await eraser().status(w.workspaceId, job.jobId);
    expect(finished?.status).toBe('done');
    expect(finished?.residue).toEqual([]);
    expect(Object.values(await snapshot(db, index, blobs, w.workspaceId)).every((n) => n === 0)).toBe(true);
  });
});
