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
import { createUploads } from '../../api/knowledge/uploads';
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

describe('uploads', () => {
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

// Two gaps stay open, both harmless to answers: when the upload's index write fails, or the
// database is still down while a failed upload is cleaned up, its document record can stay behind
// marked pending, without chunks and without an upload row. No answer reads it (answers come from
// chunks), and a workspace erasure removes it.
