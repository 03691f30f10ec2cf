/**
 * The erasure engine against a real MariaDB, a real LanceDB index and the encrypted folder blob
 * store: a crash after every step of every scope, then a resume that must leave a residue scan
 * empty and every other workspace exactly as it was.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createEncryptedFolderStore } from '../../api/files/encryptedFolderStore';
import type { BlobStore } from '../../api/files/ports';
import { openLanceDbIndex } from '../../api/knowledge/lancedbIndex';
import type { SearchIndex } from '../../api/knowledge/ports';
import { blobNameOf } from '../../api/knowledge/uploads';
import { createEraser, type EraserDeps, type ErasureEngine } from '../../api/privacy/erasure';
import type { ErasureStepName } from '../../api/privacy/erasurePorts';
import type { ErasureScope } from '../../api/privacy/ports';
import { createPrismaErasureJobStore } from '../../api/privacy/prismaErasureJobs';
import { createPrismaErasureRows } from '../../api/privacy/prismaErasureRows';
import { createPrismaAuditLog } from '../../api/audit/prismaAuditLog';
import { createPrismaAuditChainSource } from '../../api/audit/prismaAuditChainSource';
import { verifyWorkspaceChain } from '../../api/audit/chain';
import { openTestDatabase } from '../support/database';
import { InMemoryDataKeys, RecordingTokenCache, seedWorkspace, snapshot, type SeededWorkspace } from './erasureWorld';

const db = openTestDatabase();
let dir: string;
let index: SearchIndex;
let blobs: BlobStore;
const keys = new InMemoryDataKeys();
const tokens = new RecordingTokenCache();
let bystander: SeededWorkspace;
let bystanderBefore: Record<string, number>;
const workspaces: string[] = [];

class InjectedCrash extends Error {}

function eraser(overrides: Partial<EraserDeps> = {}): ErasureEngine {
  return createEraser({ jobs: createPrismaErasureJobStore(db), rows: createPrismaErasureRows(db), index, blobs, dataKeys: keys, graphTokens: tokens, audit: createPrismaAuditLog(db), ...overrides });
}

/** An eraser whose process "dies" right after `step` was saved as done. */
function crashingAfter(step: ErasureStepName): ErasureEngine {
  return eraser({
    afterStep: (_jobId, finished) => {
      if (finished === step) throw new InjectedCrash(`crash after ${step}`);
    },
  });
}

async function seeded(): Promise<SeededWorkspace> {
  const w = await seedWorkspace(db, index, blobs, keys);
  workspaces.push(w.workspaceId);
  tokens.hold(w.tenantId, w.alice.entraObjectId!);
  return w;
}

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kluis-erasure-'));
  index = await openLanceDbIndex(path.join(dir, 'index'));
  blobs = createEncryptedFolderStore(path.join(dir, 'blobs'));
  bystander = await seeded();
  bystanderBefore = await snapshot(db, index, blobs, bystander.workspaceId);
});

afterEach(async () => {
  // Whatever a test erased, the workspace next door is exactly as it was: every table, chunk and blob.
  expect(await snapshot(db, index, blobs, bystander.workspaceId)).toEqual(bystanderBefore);
  expect(await keys.exists(bystander.workspaceId)).toBe(true);
  expect(tokens.held.has(`${bystander.tenantId}:${bystander.alice.entraObjectId}`)).toBe(true);
});

afterAll(async () => {
  await db.erasureJob.deleteMany({ where: { workspaceId: { in: workspaces } } });
  await db.workspace.deleteMany({ where: { id: { in: workspaces } } });
  await db.$disconnect();
  await index.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Requests, crashes after `step`, checks what the crash left, resumes in a "new process", returns the final view. */
async function crashAndResume(scope: ErasureScope, step: ErasureStepName, reason: 'admin' | 'termination' = 'admin') {
  const crashing = crashingAfter(step);
  const job = await crashing.request(scope, { userId: undefined, reason });
  await expect(crashing.run(job.jobId)).rejects.toThrow(InjectedCrash);

  const stored = await db.erasureJob.findUniqueOrThrow({ where: { id: job.jobId } });
  expect(stored.status).toBe('running');
  const names = (stored.steps as Array<{ name: string; done: boolean }>).map((s) => s.name);
  const doneUpTo = names.indexOf(step);
  expect((stored.steps as Array<{ done: boolean }>).map((s) => s.done)).toEqual(names.map((_, i) => i <= doneUpTo));

  const restarted = eraser();
  expect(await restarted.unfinished()).toContain(job.jobId);
  const view = await restarted.run(job.jobId);
  expect(view).toMatchObject({ status: 'done', residue: [] });
  expect(view.steps.every((s) => s.done)).toBe(true);
  expect(await restarted.unfinished()).not.toContain(job.jobId);
  return view;
}

describe('workspace erasure', () => {
  it.each<ErasureStepName>(['rows', 'index', 'blobs', 'graphTokens', 'usage', 'dataKey'])('resumes after a crash right after the %s step and leaves nothing of a leaving organisation', async (step) => {
    const w = await seeded();
    const view = await crashAndResume({ kind: 'workspace', workspaceId: w.workspaceId }, step, 'termination');

    expect(view.steps.map((s) => s.name)).toEqual(['rows', 'index', 'blobs', 'graphTokens', 'usage', 'dataKey']);
    const after = await snapshot(db, index, blobs, w.workspaceId);
    expect(Object.values(after).every((n) => n === 0)).toBe(true);
    expect(await db.loginAttempt.count({ where: { emailIndex: w.bob.emailIndex } })).toBe(0);
    expect(await keys.exists(w.workspaceId)).toBe(false);
    expect([...tokens.held].some((k) => k.startsWith(w.tenantId))).toBe(false);
    // The workspace's own audit trail is gone; the ErasureJob row is the record: ids, no content.
    expect(await db.auditEvent.count({ where: { workspaceId: w.workspaceId } })).toBe(0);
    const record = await db.erasureJob.findUniqueOrThrow({ where: { id: view.jobId } });
    expect(record).toMatchObject({ workspaceId: w.workspaceId, tenantId: w.tenantId, scopeKind: 'workspace', status: 'done', activeKey: null });
    expect(JSON.stringify(record)).not.toMatch(/salary|travel rules|Person /);
  });

  it('asked by an admin, keeps the accounts (without names) so people can still sign in, and nothing else', async () => {
    const w = await seeded();
    const view = await crashAndResume({ kind: 'workspace', workspaceId: w.workspaceId }, 'blobs');
    const after = await snapshot(db, index, blobs, w.workspaceId);
    expect(after).toEqual({ ...Object.fromEntries(Object.keys(after).map((k) => [k, 0])), user: 2, membership: 2, credential: 1, session: 1 });
    expect(view.steps.find((s) => s.name === 'usage')?.removed).toBe(0);
    expect(await keys.exists(w.workspaceId)).toBe(false);
  });

  it('reruns a step the crash interrupted half-way (deleted, not yet saved as done) without harm', async () => {
    const w = await seeded();
    let failOnce = true;
    const flaky = eraser({
      blobs: {
        ...blobs,
        async deleteWorkspace(workspaceId) {
          await blobs.deleteWorkspace(workspaceId);
          if (failOnce) {
            failOnce = false;
            throw new InjectedCrash('died after deleting, before saving');
          }
        },
      },
    });
    const job = await flaky.request({ kind: 'workspace', workspaceId: w.workspaceId }, { reason: 'termination' });
    await expect(flaky.run(job.jobId)).rejects.toThrow(InjectedCrash);
    const stored = await db.erasureJob.findUniqueOrThrow({ where: { id: job.jobId } });
    expect(stored.lastError).toBe('blobs: unexpected error');
    expect((stored.steps as Array<{ name: string; done: boolean }>).find((s) => s.name === 'blobs')?.done).toBe(false);

    const view = await eraser().run(job.jobId);
    expect(view).toMatchObject({ status: 'done', residue: [] });
    expect(view.steps.find((s) => s.name === 'blobs')?.removed).toBe(0);
  });

  it('is idempotent: a second run changes nothing, a second request for the erased workspace runs clean', async () => {
    const w = await seeded();
    const engine = eraser();
    const first = await engine.run((await engine.request({ kind: 'workspace', workspaceId: w.workspaceId }, { reason: 'admin' })).jobId);
    expect(first.status).toBe('done');
    expect(first.steps.find((s) => s.name === 'index')?.removed).toBe(5);
    expect(first.steps.find((s) => s.name === 'blobs')?.removed).toBe(4); // the upload, another blob and two pictures
    expect(first.steps.find((s) => s.name === 'dataKey')?.removed).toBe(1);

    expect(await engine.run(first.jobId)).toEqual(first);
    const again = await engine.run((await engine.request({ kind: 'workspace', workspaceId: w.workspaceId }, { reason: 'admin' })).jobId);
    expect(again.jobId).not.toBe(first.jobId);
    expect(again).toMatchObject({ status: 'done', residue: [] });
    expect(again.steps.every((s) => s.removed === 0)).toBe(true);
  });

  it('joins a concurrent request for the same scope instead of starting a second job', async () => {
    const w = await seeded();
    const engine = eraser();
    const scope: ErasureScope = { kind: 'workspace', workspaceId: w.workspaceId };
    const [a, b, c] = await Promise.all([engine.request(scope, { reason: 'admin' }), engine.request(scope, { reason: 'admin' }), eraser().request(scope, { reason: 'termination' })]);
    expect(new Set([a.jobId, b.jobId, c.jobId]).size).toBe(1);
    expect(await db.erasureJob.count({ where: { workspaceId: w.workspaceId } })).toBe(1);
    const [x, y] = await Promise.all([engine.run(a.jobId), engine.run(b.jobId)]);
    expect(x).toEqual(y);
    expect(x.status).toBe('done');
  });

  it('ends failed with the residue listed when data appears during the erasure, and a rerun then finishes it', async () => {
    const w = await seeded();
    const engine = eraser({
      afterStep: async (_jobId, step) => {
        if (step === 'index') await createPrismaAuditLog(db).record({ workspaceId: w.workspaceId, kind: 'late.write', outcome: 'success' });
      },
    });
    const job = await engine.request({ kind: 'workspace', workspaceId: w.workspaceId }, { reason: 'admin' });
    const failed = await engine.run(job.jobId);
    expect(failed).toMatchObject({ status: 'failed', residue: ['AuditEvent: 1'] });

    const finished = await eraser().run(job.jobId);
    expect(finished).toMatchObject({ status: 'done', residue: [] });
    expect(await db.auditEvent.count({ where: { workspaceId: w.workspaceId } })).toBe(0);
  });

  it('refuses to start an erasure of a workspace that does not exist', async () => {
    await expect(eraser().request({ kind: 'workspace', workspaceId: randomUUID() }, { reason: 'admin' })).rejects.toMatchObject({ id: 'not_found' });
  });
});

describe('conversation erasure', () => {
  it('resumes after a crash after its one step; the other conversations of the workspace stay', async () => {
    const w = await seeded();
    const before = await snapshot(db, index, blobs, w.workspaceId);
    const view = await crashAndResume({ kind: 'conversation', workspaceId: w.workspaceId, conversationId: w.alice.conversationId }, 'rows');
    expect(view.steps).toEqual([{ name: 'rows', done: true, removed: 3 }]);
    const after = await snapshot(db, index, blobs, w.workspaceId);
    expect(after).toMatchObject({ conversation: before.conversation! - 1, message: before.message! - 2, messageFeedback: before.messageFeedback! - 1, chunks: before.chunks, blobs: before.blobs });
    expect(await db.conversation.count({ where: { workspaceId: w.workspaceId, id: w.bob.conversationId } })).toBe(1);
    // Audited with ids only.
    const events = await db.auditEvent.findMany({ where: { workspaceId: w.workspaceId, kind: { startsWith: 'erasure.' } } });
    expect(events.map((e) => e.kind).sort()).toEqual(['erasure.completed', 'erasure.requested']);
    expect(events[0]!.detail).toMatchObject({ jobId: view.jobId, scope: 'conversation', conversationId: w.alice.conversationId });
  });

  it('cannot reach a conversation of another workspace (cross-tenant id)', async () => {
    const w = await seeded();
    await expect(eraser().request({ kind: 'conversation', workspaceId: w.workspaceId, conversationId: bystander.alice.conversationId }, { reason: 'admin' })).rejects.toMatchObject({ id: 'not_found' });
  });
});

describe('upload erasure', () => {
  it.each<ErasureStepName>(['rows', 'index', 'blobs'])('resumes after a crash after the %s step: row, blob, document and its chunks go, the rest stays', async (step) => {
    const w = await seeded();
    const before = await snapshot(db, index, blobs, w.workspaceId);
    const view = await crashAndResume({ kind: 'upload', workspaceId: w.workspaceId, uploadId: w.uploadId }, step);
    expect(view.steps).toEqual([
      { name: 'rows', done: true, removed: 2 },
      { name: 'index', done: true, removed: 2 },
      { name: 'blobs', done: true, removed: 1 },
    ]);
    expect(await blobs.get(w.workspaceId, blobNameOf(w.uploadId))).toBeUndefined();
    expect(await index.countChunks(w.workspaceId, w.uploadDocumentId)).toBe(0);
    expect(await index.countChunks(w.workspaceId, w.folderDocumentId)).toBe(3);
    const after = await snapshot(db, index, blobs, w.workspaceId);
    expect(after).toEqual({ ...before, upload: 0, document: 1, chunks: 3, blobs: before.blobs! - 1, auditEvent: before.auditEvent! + 2 });
  });
});

describe('retention batches', () => {
  /** Two more indexed uploads with their blobs, beside the seeded one. */
  async function moreUploads(w: SeededWorkspace, n: number): Promise<Array<{ uploadId: string; documentId: string }>> {
    const made = [];
    for (let i = 0; i < n; i++) {
      const uploadId = randomUUID();
      const documentId = randomUUID();
      await db.document.create({ data: { id: documentId, workspaceId: w.workspaceId, sourceKind: 'upload', sourceRef: `batch-${documentId}`, title: 'batch file', mimeType: 'text/plain', contentHash: documentId.replace(/-/g, '').padEnd(64, '0'), sizeBytes: 10, chunkCount: 2, status: 'indexed', indexedAt: new Date() } });
      await index.replaceDocument(w.workspaceId, documentId, [0, 1].map((ordinal) => ({ id: `${documentId}:${ordinal}`, documentId, ordinal, title: 'batch file', sourceRef: 'batch file', text: `batch passage ${ordinal}`, language: 'en' as const })));
      await db.upload.create({ data: { id: uploadId, workspaceId: w.workspaceId, fileName: 'batch.txt', mimeType: 'text/plain', kind: 'document', sizeBytes: 10, contentHash: uploadId.replace(/-/g, '').padEnd(64, '0'), indexStatus: 'indexed', documentId } });
      await blobs.put(w.workspaceId, blobNameOf(uploadId), Buffer.from(`batch ${uploadId}`));
      made.push({ uploadId, documentId });
    }
    return made;
  }

  it.each<ErasureStepName>(['rows', 'index', 'blobs'])('erases a batch of uploads in one job with one residue scan, resuming after a crash after %s; the upload outside the batch stays', async (step) => {
    const w = await seeded();
    const [second, outside] = await moreUploads(w, 2);
    const batch = [w.uploadId, second!.uploadId];
    const before = await snapshot(db, index, blobs, w.workspaceId);
    const view = await crashAndResume({ kind: 'uploads', workspaceId: w.workspaceId, uploadIds: batch }, step);
    expect(view.steps).toEqual([
      { name: 'rows', done: true, removed: 4 },
      { name: 'index', done: true, removed: 4 },
      { name: 'blobs', done: true, removed: 2 },
    ]);
    for (const id of batch) expect(await blobs.get(w.workspaceId, blobNameOf(id))).toBeUndefined();
    expect(await index.countChunks(w.workspaceId, second!.documentId)).toBe(0);
    expect(await db.upload.count({ where: { workspaceId: w.workspaceId, id: outside!.uploadId } })).toBe(1);
    expect(await index.countChunks(w.workspaceId, outside!.documentId)).toBe(2);
    expect(await blobs.get(w.workspaceId, blobNameOf(outside!.uploadId))).toBeDefined();
    const after = await snapshot(db, index, blobs, w.workspaceId);
    expect(after).toEqual({ ...before, upload: before.upload! - 2, document: before.document! - 2, chunks: before.chunks! - 4, blobs: before.blobs! - 2, auditEvent: before.auditEvent! + 2 });
    // One job for the batch: its row holds the ids, the audit events count them.
    const record = await db.erasureJob.findUniqueOrThrow({ where: { id: view.jobId } });
    expect(record).toMatchObject({ scopeKind: 'uploads', targetId: null, status: 'done', activeKey: null });
    const events = await db.auditEvent.findMany({ where: { workspaceId: w.workspaceId, kind: { startsWith: 'erasure.' } } });
    expect(events.map((e) => e.detail)).toEqual(expect.arrayContaining([expect.objectContaining({ jobId: view.jobId, scope: 'uploads', records: 2 })]));
  });

  it('erases a batch of conversations in one job, joins a second request for the same set in another order, and leaves the rest', async () => {
    const w = await seeded();
    const before = await snapshot(db, index, blobs, w.workspaceId);
    const set = [w.alice.conversationId, w.bob.conversationId];
    const first = await eraser().request({ kind: 'conversations', workspaceId: w.workspaceId, conversationIds: set }, { reason: 'retention' });
    const again = await eraser().request({ kind: 'conversations', workspaceId: w.workspaceId, conversationIds: [...set].reverse() }, { reason: 'retention' });
    expect(again.jobId).toBe(first.jobId);
    // A different set is a different job.
    const other = await db.conversation.create({ data: { id: randomUUID(), workspaceId: w.workspaceId, channel: 'teams', externalId: randomUUID() } });
    const third = await eraser().request({ kind: 'conversations', workspaceId: w.workspaceId, conversationIds: [other.id] }, { reason: 'retention' });
    expect(third.jobId).not.toBe(first.jobId);
    const view = await eraser().run(first.jobId);
    expect(view).toMatchObject({ status: 'done', residue: [] });
    const after = await snapshot(db, index, blobs, w.workspaceId);
    expect(after).toMatchObject({ conversation: before.conversation! - 2 + 1, chunks: before.chunks, blobs: before.blobs });
    expect(await db.message.count({ where: { workspaceId: w.workspaceId, conversationId: { in: set } } })).toBe(0);
    await eraser().run(third.jobId);
  });

  it('ends a batch failed with the residue listed when one of its conversations is written again meanwhile, and a rerun finishes it', async () => {
    const w = await seeded();
    const late = eraser({
      afterStep: async () => {
        await db.conversation.create({ data: { id: w.alice.conversationId, workspaceId: w.workspaceId, channel: 'teams', externalId: randomUUID() } });
      },
    });
    const job = await late.request({ kind: 'conversations', workspaceId: w.workspaceId, conversationIds: [w.alice.conversationId, w.bob.conversationId] }, { reason: 'retention' });
    const view = await late.run(job.jobId);
    expect(view.status).toBe('failed');
    expect(view.residue).toEqual(['Conversation: 1']);
    expect(await eraser().run(job.jobId)).toMatchObject({ status: 'done', residue: [] });
  });

  it('cannot reach another workspace\'s uploads or conversations through a batch (cross-tenant ids)', async () => {
    const w = await seeded();
    await expect(eraser().request({ kind: 'uploads', workspaceId: w.workspaceId, uploadIds: [bystander.uploadId] }, { reason: 'retention' })).rejects.toMatchObject({ id: 'not_found' });
    await expect(eraser().request({ kind: 'conversations', workspaceId: w.workspaceId, conversationIds: [bystander.alice.conversationId] }, { reason: 'retention' })).rejects.toMatchObject({ id: 'not_found' });
    // Mixed with one of its own: only its own goes (the bystander check after each test proves it).
    const mixed = await eraser().request({ kind: 'uploads', workspaceId: w.workspaceId, uploadIds: [w.uploadId, bystander.uploadId] }, { reason: 'retention' });
    expect(await eraser().run(mixed.jobId)).toMatchObject({ status: 'done', residue: [] });
  });
});

describe('user erasure', () => {
  it('finds a picture made while the erasure ran (read at the blobs step), and a residue scan lists a row it could not remove', async () => {
    const w = await seeded();
    const { userId } = w.alice;
    const lateImage = randomUUID();
    const late = eraser({
      afterStep: async (_jobId, step) => {
        if (step !== 'rows') return;
        await db.image.create({ data: { id: lateImage, workspaceId: w.workspaceId, userId, blobKey: `images/${lateImage}.png` } });
        await blobs.put(w.workspaceId, `images/${lateImage}.png`, Buffer.from('late picture'));
      },
    });
    const job = await late.request({ kind: 'user', workspaceId: w.workspaceId, userId, deleteAccount: false }, { reason: 'user' });
    expect(await late.run(job.jobId)).toMatchObject({ status: 'done', residue: [] });
    expect(await blobs.get(w.workspaceId, `images/${lateImage}.png`)).toBeUndefined();

    // A row whose blob step never ran (a picture recorded after the job finished) is residue of a rerun's scan.
    const stuck = eraser({ rows: { ...createPrismaErasureRows(db), forgetImages: async () => 0 } });
    const again = await stuck.request({ kind: 'user', workspaceId: w.workspaceId, userId, deleteAccount: false }, { reason: 'user' });
    await db.image.create({ data: { id: randomUUID(), workspaceId: w.workspaceId, userId, blobKey: 'images/never-stored.png' } });
    expect(await stuck.run(again.jobId)).toMatchObject({ status: 'failed', residue: ['Image: 1'] });
    await db.image.deleteMany({ where: { workspaceId: w.workspaceId, userId } });
  });

  it.each<ErasureStepName>(['rows', 'blobs', 'graphTokens', 'usage'])('keeps the account (login needs it) and removes everything personal; resumes after a crash after %s', async (step) => {
    const w = await seeded();
    const { userId } = w.alice;
    const view = await crashAndResume({ kind: 'user', workspaceId: w.workspaceId, userId, deleteAccount: false }, step);
    expect(view.steps.map((s) => s.name)).toEqual(['rows', 'blobs', 'graphTokens', 'usage']);
    // Her picture (row and PNG) goes; Bob's stays.
    expect(view.steps.find((s) => s.name === 'blobs')?.removed).toBe(1);
    expect(await db.image.count({ where: { workspaceId: w.workspaceId, userId } })).toBe(0);
    expect(await blobs.get(w.workspaceId, `images/${w.alice.imageId}.png`)).toBeUndefined();
    expect(await db.image.count({ where: { workspaceId: w.workspaceId, userId: w.bob.userId } })).toBe(1);
    expect((await blobs.get(w.workspaceId, `images/${w.bob.imageId}.png`))?.toString()).toBe(`picture of ${w.bob.userId}`);
    expect(view.steps.find((s) => s.name === 'graphTokens')?.removed).toBe(1);
    expect(view.steps.find((s) => s.name === 'usage')?.removed).toBe(1);

    const ws = { workspaceId: w.workspaceId };
    expect(await db.user.findFirst({ where: { ...ws, id: userId } })).toMatchObject({ displayName: null });
    expect(await db.membership.count({ where: { ...ws, userId } })).toBe(1);
    expect(await db.conversation.count({ where: { ...ws, userId } })).toBe(0);
    expect(await db.message.count({ where: { ...ws, authorUserId: userId } })).toBe(0);
    expect(await db.usageDaily.count({ where: { ...ws, userId } })).toBe(0);
    expect(await db.passwordResetToken.count({ where: { ...ws, userId } })).toBe(0);
    // Her audit event stays as the workspace's record, with her pseudonymous id but without her IP
    // address, and the workspace's hash chain still verifies.
    expect(await db.auditEvent.count({ where: { ...ws, actorUserId: userId, ip: { not: null } } })).toBe(0);
    expect(await db.auditEvent.count({ where: { ...ws, kind: 'assistant.answered', actorUserId: userId, ip: null, ipSalt: null } })).toBe(1);
    expect(await verifyWorkspaceChain(createPrismaAuditChainSource(db), ws.workspaceId)).toMatchObject({ ok: true });
    expect(await db.auditEvent.count({ where: { ...ws, kind: 'assistant.answered', actorUserId: w.bob.userId, ip: '192.0.2.7' } })).toBe(1);
    expect(await db.retentionPolicy.findFirst({ where: ws })).toMatchObject({ updatedByUserId: null, uploadedFileDays: 30 });
    expect(await db.upload.findFirst({ where: ws })).toMatchObject({ uploadedByUserId: null });
    expect(tokens.held.has(`${w.tenantId}:${w.alice.entraObjectId}`)).toBe(false);
    // Bob, in the same workspace, keeps everything.
    expect(await db.conversation.count({ where: { ...ws, userId: w.bob.userId } })).toBe(1);
    expect(await db.usageDaily.count({ where: { ...ws, userId: w.bob.userId } })).toBe(1);
    // The workspace's knowledge is not personal data.
    expect(await index.countChunks(w.workspaceId)).toBe(5);
    // The stored record no longer holds the Entra object id it needed for the token cache.
    expect(JSON.stringify((await db.erasureJob.findUniqueOrThrow({ where: { id: view.jobId } })).plan)).not.toContain(w.alice.entraObjectId!);
  });

  it('with deleteAccount also removes the credentials login, sessions, login attempts, invitations, membership and the user', async () => {
    const w = await seeded();
    const { userId, emailIndex } = w.bob;
    const view = await crashAndResume({ kind: 'user', workspaceId: w.workspaceId, userId, deleteAccount: true }, 'rows');
    const ws = { workspaceId: w.workspaceId };
    expect(await db.user.count({ where: { ...ws, id: userId } })).toBe(0);
    for (const count of [
      db.membership.count({ where: { ...ws, userId } }),
      db.credential.count({ where: { ...ws, userId } }),
      db.session.count({ where: { ...ws, userId } }),
      db.usageDaily.count({ where: { ...ws, userId } }),
      db.loginAttempt.count({ where: { emailIndex } }),
      db.invitation.count({ where: { ...ws, emailIndex } }),
    ]) {
      expect(await count).toBe(0);
    }
    expect(JSON.stringify((await db.erasureJob.findUniqueOrThrow({ where: { id: view.jobId } })).plan)).not.toContain(emailIndex!);
    expect(await db.user.count({ where: { ...ws, id: w.alice.userId } })).toBe(1);
    // The erasure's own audit events keep who and which ids.
    expect(await db.auditEvent.count({ where: { ...ws, kind: { startsWith: 'erasure.' } } })).toBe(2);
  });
});
