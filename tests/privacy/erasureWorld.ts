/** Workspaces with a row in every table, chunks in the index and blobs, for the erasure tests. */
import { createPrismaAuditLog } from '../../api/audit/prismaAuditLog';
import { createHash, randomUUID } from 'node:crypto';
import type { Database } from '../../api/db/client';
import type { BlobStore } from '../../api/files/ports';
import { blobNameOf } from '../../api/knowledge/uploads';
import type { SearchIndex } from '../../api/knowledge/ports';
import type { WorkspaceDataKeys } from '../../api/privacy/ports';

export interface SeededUser {
  userId: string;
  entraObjectId?: string;
  emailIndex?: string;
  conversationId: string;
  /** The one picture they generated (images/<id>.png). */
  imageId?: string;
}

export interface SeededWorkspace {
  workspaceId: string;
  tenantId: string;
  name: string;
  /** Entra user with a conversation, feedback, usage, audit events. */
  alice: SeededUser;
  /** Credentials user (login e-mail, sessions, login attempts). */
  bob: SeededUser;
  uploadId: string;
  uploadDocumentId: string;
  folderDocumentId: string;
}

const hex = (s: string) => createHash('sha256').update(s).digest('hex');

async function seedUser(db: Database, workspaceId: string, withCredential: boolean): Promise<SeededUser> {
  const userId = randomUUID();
  const entraObjectId = withCredential ? undefined : randomUUID();
  await db.user.create({ data: { id: userId, workspaceId, entraObjectId: entraObjectId ?? null, displayName: `Person ${userId.slice(0, 4)}` } });
  await db.membership.create({ data: { id: randomUUID(), workspaceId, userId, role: 'user' } });
  const conversationId = randomUUID();
  await db.conversation.create({ data: { id: conversationId, workspaceId, userId, channel: 'teams', externalId: randomUUID() } });
  const question = randomUUID();
  await db.message.create({ data: { id: question, workspaceId, conversationId, authorUserId: userId, role: 'user', text: 'What is my salary?' } });
  const answer = randomUUID();
  await db.message.create({ data: { id: answer, workspaceId, conversationId, role: 'assistant', text: 'Your salary is private.' } });
  await db.messageFeedback.create({ data: { id: randomUUID(), workspaceId, messageId: answer, userId, reaction: 'like', comment: 'helpful' } });
  await db.usageDaily.create({ data: { id: randomUUID(), workspaceId, userId, day: new Date('2026-12-01'), provider: 'openai', model: 'gpt-4o-mini', calls: 3 } });
  await createPrismaAuditLog(db).record({ workspaceId, actorUserId: userId, kind: 'assistant.answered', outcome: 'success', ip: '192.0.2.7' });
  await db.passwordResetToken.create({ data: { id: randomUUID(), workspaceId, userId, tokenHash: hex(randomUUID()), expiresAt: new Date(Date.now() + 3_600_000) } });
  let emailIndex: string | undefined;
  if (withCredential) {
    emailIndex = hex(`email:${userId}`);
    await db.credential.create({ data: { id: randomUUID(), workspaceId, userId, emailIndex, emailCiphertext: 'sealed', passwordHash: '$2b$12$abcdefghijklmnopqrstuv', passwordChangedAt: new Date() } });
    await db.session.create({ data: { id: randomUUID(), workspaceId, userId, expiresAt: new Date(Date.now() + 3_600_000) } });
    await db.loginAttempt.create({ data: { id: randomUUID(), workspaceId, emailIndex, ip: '198.51.100.9', method: 'password', outcome: 'failure' } });
    await db.invitation.create({ data: { id: randomUUID(), workspaceId, emailIndex, tokenHash: hex(randomUUID()), expiresAt: new Date(Date.now() + 3_600_000) } });
  }
  return { userId, entraObjectId, emailIndex, conversationId };
}

function chunks(documentId: string, title: string, n: number) {
  return Array.from({ length: n }, (_, ordinal) => ({ id: `${documentId}:${ordinal}`, documentId, ordinal, title, sourceRef: title, text: `${title} passage ${ordinal} about travel rules`, language: 'en' as const }));
}

async function seedDocument(db: Database, index: SearchIndex, workspaceId: string, sourceKind: string, title: string, n: number): Promise<string> {
  const id = randomUUID();
  await db.document.create({ data: { id, workspaceId, sourceKind, sourceRef: `${title}-${id}`, title, mimeType: 'text/plain', contentHash: hex(id), sizeBytes: 100, chunkCount: n, status: 'indexed', indexedAt: new Date() } });
  await index.replaceDocument(workspaceId, id, chunks(id, title, n));
  return id;
}

/** A workspace with rows in every tenant-owned table, 2 documents in the index and 2 blobs. */
export async function seedWorkspace(db: Database, index: SearchIndex, blobs: BlobStore, keys?: InMemoryDataKeys): Promise<SeededWorkspace> {
  const workspaceId = randomUUID();
  const tenantId = randomUUID();
  const name = `Contoso ${workspaceId.slice(0, 6)}`;
  await db.workspace.create({ data: { id: workspaceId, tenantId, name } });
  const alice = await seedUser(db, workspaceId, false);
  const bob = await seedUser(db, workspaceId, true);
  const folderDocumentId = await seedDocument(db, index, workspaceId, 'folder', 'handbook', 3);
  const uploadDocumentId = await seedDocument(db, index, workspaceId, 'upload', 'travel policy', 2);
  const uploadId = randomUUID();
  await db.upload.create({ data: { id: uploadId, workspaceId, fileName: 'travel.txt', mimeType: 'text/plain', kind: 'document', sizeBytes: 10, contentHash: hex(uploadId), indexStatus: 'indexed', documentId: uploadDocumentId, uploadedByUserId: alice.userId } });
  await blobs.put(workspaceId, blobNameOf(uploadId), Buffer.from('travel rules'));
  await blobs.put(workspaceId, 'exports/other', Buffer.from('another blob'));
  // A picture each made with /image: the row names its maker, the PNG is a blob.
  for (const maker of [alice, bob]) {
    const imageId = randomUUID();
    await db.image.create({ data: { id: imageId, workspaceId, userId: maker.userId, blobKey: `images/${imageId}.png` } });
    await blobs.put(workspaceId, `images/${imageId}.png`, Buffer.from(`picture of ${maker.userId}`));
    maker.imageId = imageId;
  }
  await db.job.create({ data: { id: randomUUID(), workspaceId, kind: 'sync', payload: { sourceId: 'x' } } });
  await db.knowledgeSource.create({ data: { id: randomUUID(), workspaceId, kind: 'sharepoint', driveId: randomUUID(), displayName: 'Team site', schedule: 'daily', createdByUserId: alice.userId } });
  await db.retentionPolicy.create({ data: { workspaceId, uploadedFileDays: 30, loginLogDays: 37, updatedByUserId: alice.userId } });
  await db.workspaceAssistantSettings.create({ data: { workspaceId, instructions: 'Be brief', maxTurns: 3, maxTurnChars: 1500, maxPassages: 6, maxPassageChars: 2000, updatedByUserId: alice.userId } });
  await db.usageBudget.create({ data: { workspaceId, monthlyLimitCents: 1000, updatedByUserId: alice.userId } });
  await db.workspaceRoutingPolicy.create({ data: { workspaceId, policy: { defaultProvider: 'extractive', allowed: ['extractive'] }, updatedByUserId: alice.userId } });
  keys?.create(workspaceId);
  return { workspaceId, tenantId, name, alice, bob, uploadId, uploadDocumentId, folderDocumentId };
}

const TABLES = ['user', 'membership', 'conversation', 'message', 'messageFeedback', 'usageDaily', 'auditEvent', 'passwordResetToken', 'credential', 'session', 'invitation', 'document', 'upload', 'job', 'knowledgeSource', 'retentionPolicy', 'workspaceAssistantSettings', 'usageBudget', 'workspaceRoutingPolicy', 'image'] as const;

/** Row counts per table, chunks and blobs of one workspace: compared before and after to prove it untouched. */
export async function snapshot(db: Database, index: SearchIndex, blobs: BlobStore, workspaceId: string): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const table of TABLES) counts[table] = await (db[table] as unknown as { count(a: object): Promise<number> }).count({ where: { workspaceId } });
  counts.loginAttempt = await db.loginAttempt.count({ where: { workspaceId } });
  counts.chunks = await index.countChunks(workspaceId);
  counts.blobs = await blobs.count(workspaceId);
  counts.displayNames = await db.user.count({ where: { workspaceId, displayName: { not: null } } });
  counts.auditActors = await db.auditEvent.count({ where: { workspaceId, actorUserId: { not: null } } });
  return counts;
}

/** The WorkspaceDataKeys port's destroy/exists, held in memory (the real key store is another module). */
export class InMemoryDataKeys implements Pick<WorkspaceDataKeys, 'destroy' | 'exists'> {
  private readonly keys = new Set<string>();
  create(workspaceId: string): void {
    this.keys.add(workspaceId);
  }
  async destroy(workspaceId: string): Promise<void> {
    this.keys.delete(workspaceId);
  }
  async exists(workspaceId: string): Promise<boolean> {
    return this.keys.has(workspaceId);
  }
}

/** A Graph token cache with some users' tokens in it. */
export class RecordingTokenCache {
  readonly held = new Set<string>();
  hold(tenantId: string, objectId: string): void {
    this.held.add(`${tenantId}:${objectId}`);
  }
  forget(identity: { tenantId: string; objectId?: string }): number {
    let n = 0;
    for (const key of [...this.held]) if (key.startsWith(identity.objectId ? `${identity.tenantId}:${identity.objectId}` : `${identity.tenantId}:`) && this.held.delete(key)) n++;
    return n;
  }
}
