/** UploadStore on MySQL through Prisma. */
import type { Database } from '../db/client';
import type { UploadKind } from './fileType';
import type { IndexStatus, UploadRecord, UploadStore } from '../knowledge/uploads';

type Row = Awaited<ReturnType<Database['upload']['findFirstOrThrow']>>;

function toRecord(row: Row): UploadRecord {
  return {
    id: row.id,
    workspaceId: row.workspaceId,
    fileName: row.fileName,
    mimeType: row.mimeType,
    kind: row.kind as UploadKind,
    sizeBytes: row.sizeBytes,
    contentHash: row.contentHash,
    indexStatus: row.indexStatus as IndexStatus,
    documentId: row.documentId ?? undefined,
    uploadedByUserId: row.uploadedByUserId ?? undefined,
    createdAt: row.createdAt,
  };
}

export function createPrismaUploadStore(db: Database): UploadStore {
  return {
    async create(record) {
      return toRecord(await db.upload.create({ data: { ...record, documentId: record.documentId ?? null, uploadedByUserId: record.uploadedByUserId ?? null } }));
    },
    async find(workspaceId, id) {
      const row = await db.upload.findFirst({ where: { workspaceId, id } });
      return row ? toRecord(row) : undefined;
    },
    async list(workspaceId) {
      return (await db.upload.findMany({ where: { workspaceId }, orderBy: [{ createdAt: 'desc' }, { id: 'asc' }], take: 1000 })).map(toRecord);
    },
    async remove(workspaceId, id) {
      await db.upload.deleteMany({ where: { workspaceId, id } });
    },
  };
}
