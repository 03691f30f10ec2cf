/** DocumentStore on MySQL through Prisma. */
import { randomUUID } from 'node:crypto';
import type { Database } from '../db/client';
import type { DocumentDraft, DocumentRecord, DocumentStore } from './ports';

type Row = Awaited<ReturnType<Database['document']['findFirstOrThrow']>>;

function toRecord(row: Row): DocumentRecord {
  return {
    id: row.id,
    workspaceId: row.workspaceId,
    sourceKind: row.sourceKind,
    sourceRef: row.sourceRef,
    title: row.title,
    url: row.url ?? undefined,
    mimeType: row.mimeType,
    contentHash: row.contentHash,
    sizeBytes: row.sizeBytes,
    chunkCount: row.chunkCount,
    status: row.status === 'failed' ? 'failed' : 'indexed',
    error: row.error ?? undefined,
    indexedAt: row.indexedAt,
  };
}

export function createPrismaDocumentStore(db: Database): DocumentStore {
  return {
    async listBySource(workspaceId, sourceKind) {
      return (await db.document.findMany({ where: { workspaceId, sourceKind }, orderBy: { sourceRef: 'asc' } })).map(toRecord);
    },
    async save(draft: DocumentDraft) {
      const { workspaceId, ...fields } = draft;
      const data = { ...fields, url: draft.url ?? null, error: draft.error?.slice(0, 1024) ?? null };
      const row = await db.document.upsert({
        where: { workspaceId_sourceKind_sourceRef: { workspaceId, sourceKind: draft.sourceKind, sourceRef: draft.sourceRef } },
        create: { id: randomUUID(), workspaceId, ...data },
        update: data,
      });
      return toRecord(row);
    },
    async remove(workspaceId, documentId) {
      await db.document.deleteMany({ where: { workspaceId, id: documentId } });
    },
  };
}
