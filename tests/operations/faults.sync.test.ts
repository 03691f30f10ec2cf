/**
 * Indexing while a store stops half way: the knowledge folder sync and uploads, through the real
 * folder source, indexer, upload service and Prisma adapters, on a private MariaDB server that is
 * really stopped and started again, a LanceDB index with an outage switch (it runs in-process and
 * has no server to stop; see tests/support/faults.ts) and an S3-protocol blob store (s3rver) that
 * is really stopped.
 *
 * What must hold (api/knowledge/indexer.ts): a document's record is saved as pending before its
 * chunks are written and completed only after them, so an interruption leaves at most a pending
 * record, which the next sync takes for changed and indexes again. Chunks are never kept for a
 * document without a record, and after recovery the next sync completes with the right counts.
 *
 * An upload is never tried again by a sync, so what its failed clean-up leaves behind (a document
 * record, sometimes its chunks or blob, never an upload record) is removed by the uploads
 * housekeeping (api/knowledge/uploadLeftovers.ts) once the grace period has passed.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createPrismaAuditLog } from '../../api/audit/prismaAuditLog';
import { createDatabase, type Database } from '../../api/db/client';
import { isKluisError } from '../../api/errors';
import { createMinioStore } from '../../api/files/minioStore';
import type { BlobStore } from '../../api/files/ports';
import { createPrismaUploadStore } from '../../api/files/prismaUploadStore';
import { createFolderSource, type SyncReport } from '../../api/knowledge/folderSource';
import { createIndexer } from '../../api/knowledge/indexer';
import { openLanceDbIndex } from '../../api/knowledge/lancedbIndex';
import type { SearchIndex } from '../../api/knowledge/ports';
import { createPrismaDocumentStore } from '../../api/knowledge/prismaDocumentStore';
import { createPrismaUploadLeftovers } from '../../api/knowledge/prismaUploadLeftovers';
import { createUploadLeftoverReconciler, UPLOAD_LEFTOVER_GRACE_MS } from '../../api/knowledge/uploadLeftovers';
import { blobNameOf, createUploads } from '../../api/knowledge/uploads';
import type { Principal } from '../../api/tenancy/principal';
import { injectIndexFault, startStoppableMariadb, startStoppableS3, type IndexFault, type StoppableMariadb, type StoppableS3 } from '../support/faults';
import { DEMO_KNOWLEDGE } from '../support/kluis';

jest.setTimeout(180_000);

let mariadb: StoppableMariadb;
let s3: StoppableS3;
let db: Database;
let indexDir: string;
let index: SearchIndex;
let fault: IndexFault;
let blobs: BlobStore;

const DEMO_FILES = fs.readdirSync(DEMO_KNOWLEDGE).filter((name) => !name.startsWith('.')).length;

beforeAll(async () => {
  [mariadb, s3] = await Promise.all([startStoppableMariadb(), startStoppableS3()]);
  db = createDatabase(mariadb.url, 2);
  indexDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kluis-faults-index-'));
  index = await openLanceDbIndex(indexDir);
  fault = injectIndexFault(index);
  blobs = createMinioStore({ endPoint: s3.endPoint, port: s3.port, useSSL: false, pathStyle: true, accessKey: s3.accessKey, secretKey: s3.secretKey, bucketPrefix: 'kluis-', encryptionKey: randomBytes(32) });
}, 180_000);

afterEach(() => fault.up());

afterAll(async () => {
  await index?.close();
  await db?.$disconnect();
  await Promise.all([mariadb?.close(), s3?.close()]);
  fs.rmSync(indexDir, { recursive: true, force: true });
});

async function newWorkspace(): Promise<{ workspaceId: string; userId: string }> {
  const workspaceId = randomUUID();
  const userId = randomUUID();
  await db.workspace.create({ data: { id: workspaceId, tenantId: randomUUID(), name: `Faults ${workspaceId.slice(0, 6)}` } });
  await db.user.create({ data: { id: userId, workspaceId, entraObjectId: randomUUID(), displayName: 'Uploader' } });
  return { workspaceId, userId };
}

function folderSource(workspaceId: string, over: Partial<SearchIndex> = {}) {
  const documents = createPrismaDocumentStore(db);
  // A decorator over the index for the indexer only, when a test hooks a moment of the write.
  const writes: SearchIndex = { ...bind(index), ...over };
  return createFolderSource({ dir: DEMO_KNOWLEDGE, workspaceId, indexer: createIndexer({ documents, index: writes }), documents, index, maxFileBytes: 20 * 1024 * 1024 });
}

function bind(target: SearchIndex): SearchIndex {
  return {
    replaceDocument: (...a) => target.replaceDocument(...a),
    deleteDocument: (...a) => target.deleteDocument(...a),
    deleteWorkspace: (...a) => target.deleteWorkspace(...a),
    search: (...a) => target.search(...a),
    countChunks: (...a) => target.countChunks(...a),
    ping: () => target.ping(),
    close: () => target.close(),
  };
}

/** Each record against the index: pending ones listed, and chunks whose document has no record counted. */
async function consistency(workspaceId: string) {
  const rows = await db.document.findMany({ where: { workspaceId }, select: { id: true, sourceRef: true, contentHash: true, status: true, chunkCount: true } });
  const perRow = await Promise.all(rows.map(async (r) => ({ ...r, chunks: await index.countChunks(workspaceId, r.id) })));
  const total = await index.countChunks(workspaceId);
  return {
    rows: perRow.length,
    pending: perRow.filter((r) => r.contentHash === 'pending'),
    /** Complete records whose chunks are not all there. */
    incomplete: perRow.filter((r) => r.contentHash !== 'pending' && r.status === 'indexed' && r.chunks !== r.chunkCount).map((r) => r.sourceRef),
    /** Chunks of documents that have no record at all. */
    chunksWithoutRecord: total - perRow.reduce((sum, r) => sum + r.chunks, 0),
  };
}

async function expectStoreUnavailable(work: Promise<unknown>): Promise<void> {
  const error = await work.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isKluisError(error, 'store_unavailable')).toBe(true);
}

function expectCompleteSync(report: SyncReport, indexed: number) {
  expect(report).toEqual({ seen: DEMO_FILES, indexed, unchanged: DEMO_FILES - indexed, removed: 0, failed: [] });
}

describe('knowledge folder sync', () => {
  it('the index failing half way leaves one pending record and no stray chunks; the next sync completes it', async () => {
    const { workspaceId } = await newWorkspace();
    fault.downAt('replaceDocument', 4);
    await expectStoreUnavailable(folderSource(workspaceId).sync());
    // While it is down, a sync fails at once with the same clear error.
    await expectStoreUnavailable(folderSource(workspaceId).sync());

    // What the outage left behind, read once the index answers again.
    fault.up();
    const broken = await consistency(workspaceId);
    expect(broken.rows).toBe(4);
    expect(broken.pending).toHaveLength(1);
    expect(broken.pending[0]!.chunks).toBe(0);
    expect(broken.incomplete).toEqual([]);
    expect(broken.chunksWithoutRecord).toBe(0);

    expectCompleteSync(await folderSource(workspaceId).sync(), DEMO_FILES - 3);
    const healed = await consistency(workspaceId);
    expect(healed).toEqual({ rows: DEMO_FILES, pending: [], incomplete: [], chunksWithoutRecord: 0 });
    // And a sync after that finds everything unchanged.
    expectCompleteSync(await folderSource(workspaceId).sync(), 0);
  });

  it('the database stopping half way leaves a pending record; after the restart the next sync completes it', async () => {
    const { workspaceId } = await newWorkspace();
    let writes = 0;
    // The server stops as the 4th document's chunks are written, so its record cannot be completed.
    const source = folderSource(workspaceId, {
      async replaceDocument(...args) {
        if (++writes === 4) await mariadb.stop();
        return index.replaceDocument(...args);
      },
    });
    await expectStoreUnavailable(source.sync());
    // While it is down, a sync fails at once with the same clear error.
    await expectStoreUnavailable(folderSource(workspaceId).sync());

    await mariadb.start();
    const broken = await consistency(workspaceId);
    expect(broken.rows).toBe(4);
    expect(broken.pending).toHaveLength(1);
    // The chunks reached the index; the record says pending, so the next sync writes them again.
    expect(broken.pending[0]!.chunks).toBe(broken.pending[0]!.chunkCount);
    expect(broken.incomplete).toEqual([]);
    expect(broken.chunksWithoutRecord).toBe(0);

    expectCompleteSync(await folderSource(workspaceId).sync(), DEMO_FILES - 3);
    expect(await consistency(workspaceId)).toEqual({ rows: DEMO_FILES, pending: [], incomplete: [], chunksWithoutRecord: 0 });
  });
});

const TEXT = Buffer.from('Expense claims above 500 euro need the approval of the finance manager.\n');

function uploadsFor(over: Partial<SearchIndex> = {}) {
  const documents = createPrismaDocumentStore(db);
  return createUploads({ store: createPrismaUploadStore(db), blobs, indexer: createIndexer({ documents, index: { ...bind(index), ...over } }), audit: createPrismaAuditLog(db) });
}

const principalOf = (workspaceId: string, userId: string): Principal => ({ workspaceId, tenantId: randomUUID(), userId, roles: ['manager'], authMethod: 'entra-token' });

async function leftOf(workspaceId: string) {
  return {
    uploads: await db.upload.count({ where: { workspaceId } }),
    blobs: await blobs.count(workspaceId),
    chunks: await index.countChunks(workspaceId),
    completeDocuments: await db.document.count({ where: { workspaceId, contentHash: { not: 'pending' } } }),
  };
}

describe('uploads', () => {
  it('the blob store stopped: the upload fails clearly, nothing is kept, and it works once the store is back', async () => {
    const { workspaceId, userId } = await newWorkspace();
    const uploads = uploadsFor();
    await s3.stop();
    await expectStoreUnavailable(uploads.accept(principalOf(workspaceId, userId), 'expenses.txt', TEXT));
    await s3.start();
    expect(await leftOf(workspaceId)).toEqual({ uploads: 0, blobs: 0, chunks: 0, completeDocuments: 0 });
    expect(await db.document.count({ where: { workspaceId } })).toBe(0);

    const stored = await uploads.accept(principalOf(workspaceId, userId), 'expenses.txt', TEXT);
    expect(stored.indexStatus).toBe('indexed');
    expect(await leftOf(workspaceId)).toEqual({ uploads: 1, blobs: 1, chunks: 1, completeDocuments: 1 });
  });

  it('the index failing: the upload fails clearly, no blob, upload row or chunks are kept', async () => {
    const { workspaceId, userId } = await newWorkspace();
    fault.downAt('replaceDocument', 1);
    await expectStoreUnavailable(uploadsFor().accept(principalOf(workspaceId, userId), 'expenses.txt', TEXT));
    fault.up();
    expect(await leftOf(workspaceId)).toEqual({ uploads: 0, blobs: 0, chunks: 0, completeDocuments: 0 });
    const stored = await uploadsFor().accept(principalOf(workspaceId, userId), 'expenses.txt', TEXT);
    expect(stored.indexStatus).toBe('indexed');
    expect(await leftOf(workspaceId)).toEqual({ uploads: 1, blobs: 1, chunks: 1, completeDocuments: 1 });
  });

  it('the database stopping after the chunks were written: the chunks go again, so no passage of a refused upload can answer', async () => {
    const { workspaceId, userId } = await newWorkspace();
    const uploads = uploadsFor({
      async replaceDocument(...args) {
        await index.replaceDocument(...args);
        await mariadb.stop();
      },
    });
    await expectStoreUnavailable(uploads.accept(principalOf(workspaceId, userId), 'expenses.txt', TEXT));
    await mariadb.start();
    expect(await leftOf(workspaceId)).toEqual({ uploads: 0, blobs: 0, chunks: 0, completeDocuments: 0 });
    expect(await index.search(workspaceId, 'expense claims finance manager', { limit: 5 })).toEqual([]);

    const stored = await uploadsFor().accept(principalOf(workspaceId, userId), 'expenses.txt', TEXT);
    expect(stored.indexStatus).toBe('indexed');
    expect(await leftOf(workspaceId)).toEqual({ uploads: 1, blobs: 1, chunks: 1, completeDocuments: 1 });
  });
});


describe('leftovers of failed uploads', () => {
  const reconciler = () => createUploadLeftoverReconciler({ leftovers: createPrismaUploadLeftovers(db), index, blobs });
  const OLD = () => new Date(Date.now() - UPLOAD_LEFTOVER_GRACE_MS - 60_000);

  /** Dates a document's last write back past the grace period, as an hour of waiting would. */
  async function age(workspaceId: string, documentId: string): Promise<void> {
    expect((await db.document.updateMany({ where: { workspaceId, id: documentId }, data: { updatedAt: OLD() } })).count).toBe(1);
  }

  /** What one document has in each store. */
  async function traceOf(workspaceId: string, documentId: string, uploadId: string) {
    return {
      record: await db.document.count({ where: { workspaceId, id: documentId } }),
      chunks: await index.countChunks(workspaceId, documentId),
      blob: (await blobs.get(workspaceId, blobNameOf(uploadId)))?.equals(TEXT) ?? false,
      upload: await db.upload.count({ where: { workspaceId, id: uploadId } }),
    };
  }

  /**
   * An upload whose clean-up finds every store down: the chunks were written, then the database,
   * the index and the blob store went down together, so its record, chunks and blob all stay.
   */
  async function leftoverWithEverything(workspaceId: string, userId: string) {
    const uploads = uploadsFor({
      async replaceDocument(...args) {
        await index.replaceDocument(...args);
        fault.down();
        await Promise.all([mariadb.stop(), s3.stop()]);
      },
    });
    await expectStoreUnavailable(uploads.accept(principalOf(workspaceId, userId), 'expenses.txt', TEXT));
    fault.up();
    await Promise.all([mariadb.start(), s3.start()]);
    return onlyPending(workspaceId);
  }

  /** An upload whose index write fails and whose clean-up finds the index still down: its record stays. */
  async function leftoverRecordOnly(workspaceId: string, userId: string) {
    fault.downAt('replaceDocument', 1);
    await expectStoreUnavailable(uploadsFor().accept(principalOf(workspaceId, userId), 'expenses.txt', TEXT));
    fault.up();
    return onlyPending(workspaceId);
  }

  async function onlyPending(workspaceId: string) {
    const rows = await db.document.findMany({ where: { workspaceId, contentHash: 'pending' }, select: { id: true, sourceRef: true } });
    expect(rows).toHaveLength(1);
    return { documentId: rows[0]!.id, uploadId: rows[0]!.sourceRef };
  }

  it('removes a failed upload from every store, spares a finished one, one in progress, other sources and other workspaces, and a second run finds nothing', async () => {
    const a = await newWorkspace();
    const b = await newWorkspace();

    const full = await leftoverWithEverything(a.workspaceId, a.userId);
    expect(await traceOf(a.workspaceId, full.documentId, full.uploadId)).toEqual({ record: 1, chunks: 1, blob: true, upload: 0 });
    const bare = await leftoverRecordOnly(b.workspaceId, b.userId);
    expect(await traceOf(b.workspaceId, bare.documentId, bare.uploadId)).toEqual({ record: 1, chunks: 0, blob: false, upload: 0 });
    await age(a.workspaceId, full.documentId);
    await age(b.workspaceId, bare.documentId);

    // Finished uploads in both workspaces, as old as the leftovers.
    const finishedA = await uploadsFor().accept(principalOf(a.workspaceId, a.userId), 'expenses.txt', TEXT);
    const finishedB = await uploadsFor().accept(principalOf(b.workspaceId, b.userId), 'expenses.txt', TEXT);
    await age(a.workspaceId, finishedA.documentId!);
    await age(b.workspaceId, finishedB.documentId!);
    // A pending record of a synced source, which its next sync completes, equally old.
    const synced = randomUUID();
    await db.document.create({ data: { id: synced, workspaceId: b.workspaceId, sourceKind: 'folder', sourceRef: 'policy.md', title: 'Policy', mimeType: 'text/markdown', contentHash: 'pending', sizeBytes: 10, chunkCount: 1, status: 'indexed', indexedAt: OLD() } });
    await age(b.workspaceId, synced);

    // An upload in progress in workspace A: its record is written, its chunks are being written.
    let reached!: () => void;
    let release!: () => void;
    const atWrite = new Promise<void>((resolve) => (reached = resolve));
    const gate = new Promise<void>((resolve) => (release = resolve));
    const inProgress = uploadsFor({
      async replaceDocument(...args) {
        reached();
        await gate;
        return index.replaceDocument(...args);
      },
    }).accept(principalOf(a.workspaceId, a.userId), 'draft.txt', TEXT);
    await atWrite;
    const pendingNow = await db.document.findMany({ where: { workspaceId: a.workspaceId, contentHash: 'pending' }, select: { id: true, sourceRef: true } });
    const fresh = pendingNow.find((d) => d.id !== full.documentId)!;
    expect(fresh).toBeDefined();

    const report = await reconciler().reconcile();
    expect(report.failures).toEqual([]);
    expect(report.removed).toEqual(expect.arrayContaining([
      { workspaceId: a.workspaceId, documentIds: [full.documentId] },
      { workspaceId: b.workspaceId, documentIds: [bare.documentId] },
    ]));

    // The leftovers are gone from every store.
    expect(await traceOf(a.workspaceId, full.documentId, full.uploadId)).toEqual({ record: 0, chunks: 0, blob: false, upload: 0 });
    expect(await traceOf(b.workspaceId, bare.documentId, bare.uploadId)).toEqual({ record: 0, chunks: 0, blob: false, upload: 0 });
    // The finished uploads, the synced record and the upload in progress are untouched.
    expect(await traceOf(a.workspaceId, finishedA.documentId!, finishedA.id)).toEqual({ record: 1, chunks: 1, blob: true, upload: 1 });
    expect(await traceOf(b.workspaceId, finishedB.documentId!, finishedB.id)).toEqual({ record: 1, chunks: 1, blob: true, upload: 1 });
    expect(await db.document.count({ where: { workspaceId: b.workspaceId, id: synced } })).toBe(1);
    expect(await traceOf(a.workspaceId, fresh.id, fresh.sourceRef)).toEqual({ record: 1, chunks: 0, blob: true, upload: 0 });

    release();
    const completed = await inProgress;
    expect(completed.indexStatus).toBe('indexed');
    expect(await traceOf(a.workspaceId, completed.documentId!, completed.id)).toEqual({ record: 1, chunks: 1, blob: true, upload: 1 });

    // Idempotent: a second run finds nothing in these workspaces and changes nothing.
    const before = { a: await leftOf(a.workspaceId), b: await leftOf(b.workspaceId) };
    const again = await reconciler().reconcile();
    expect(again.removed.filter((r) => r.workspaceId === a.workspaceId || r.workspaceId === b.workspaceId)).toEqual([]);
    expect(again.failures).toEqual([]);
    expect({ a: await leftOf(a.workspaceId), b: await leftOf(b.workspaceId) }).toEqual(before);
    expect(before).toEqual({ a: { uploads: 2, blobs: 2, chunks: 2, completeDocuments: 2 }, b: { uploads: 1, blobs: 1, chunks: 1, completeDocuments: 1 } });
  });

  it('a store still down keeps the leftover for the next run and takes nothing else with it', async () => {
    const { workspaceId, userId } = await newWorkspace();
    const leftover = await leftoverWithEverything(workspaceId, userId);
    await age(workspaceId, leftover.documentId);
    const finished = await uploadsFor().accept(principalOf(workspaceId, userId), 'expenses.txt', TEXT);
    await age(workspaceId, finished.documentId!);

    // The index down: nothing of the leftover can go, so all of it stays.
    fault.down();
    const indexDown = await reconciler().reconcile();
    fault.up();
    expect(indexDown.failures).toContainEqual({ workspaceId, documentId: leftover.documentId, errorId: 'store_unavailable' });
    expect(indexDown.removed.find((r) => r.workspaceId === workspaceId)).toBeUndefined();
    expect(await traceOf(workspaceId, leftover.documentId, leftover.uploadId)).toEqual({ record: 1, chunks: 1, blob: true, upload: 0 });

    // The blob store down: the chunks go, the record stays as the handle for the next run.
    await s3.stop();
    try {
      const blobsDown = await reconciler().reconcile();
      expect(blobsDown.failures).toContainEqual({ workspaceId, documentId: leftover.documentId, errorId: 'store_unavailable' });
      expect(blobsDown.removed.find((r) => r.workspaceId === workspaceId)).toBeUndefined();
    } finally {
      await s3.start();
    }
    expect(await traceOf(workspaceId, leftover.documentId, leftover.uploadId)).toEqual({ record: 1, chunks: 0, blob: true, upload: 0 });
    expect(await traceOf(workspaceId, finished.documentId!, finished.id)).toEqual({ record: 1, chunks: 1, blob: true, upload: 1 });

    // Every store back: the next run completes it.
    const healed = await reconciler().reconcile();
    expect(healed.removed).toContainEqual({ workspaceId, documentIds: [leftover.documentId] });
    expect(await traceOf(workspaceId, leftover.documentId, leftover.uploadId)).toEqual({ record: 0, chunks: 0, blob: false, upload: 0 });
    expect(await traceOf(workspaceId, finished.documentId!, finished.id)).toEqual({ record: 1, chunks: 1, blob: true, upload: 1 });
  });
});
