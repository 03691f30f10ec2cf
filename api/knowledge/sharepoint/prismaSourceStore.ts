/** KnowledgeSourceStore (and the sync state the delta engine saves after every page) on MySQL through Prisma. */
import type { Database } from '../../db/client';
import { fail } from '../../errors';
import type { KnowledgeSourceRecord, KnowledgeSourceStore, SyncSchedule, SyncState } from './sourceStore';

interface Row {
  id: string;
  workspaceId: string;
  driveId: string;
  folderId: string | null;
  displayName: string;
  schedule: string;
  lastSyncAt: Date | null;
  nextSyncAt: Date | null;
}

const SELECT = { id: true, workspaceId: true, driveId: true, folderId: true, displayName: true, schedule: true, lastSyncAt: true, nextSyncAt: true } as const;

function toRecord(r: Row): KnowledgeSourceRecord {
  return { id: r.id, workspaceId: r.workspaceId, driveId: r.driveId, folderId: r.folderId ?? undefined, displayName: r.displayName, schedule: r.schedule as SyncSchedule, lastSyncAt: r.lastSyncAt ?? undefined, nextSyncAt: r.nextSyncAt ?? undefined };
}

export function createPrismaSourceStore(db: Database): KnowledgeSourceStore {
  return {
    async create(s) {
      try {
        return toRecord(await db.knowledgeSource.create({ data: { id: s.id, workspaceId: s.workspaceId, kind: 'sharepoint', driveId: s.driveId, folderId: s.folderId ?? null, displayName: s.displayName, schedule: s.schedule, nextSyncAt: s.nextSyncAt ?? null, createdByUserId: s.createdByUserId ?? null }, select: SELECT }));
      } catch (error) {
        if ((error as { code?: string }).code === 'P2002') fail('source_exists', 'This workspace already has a source on that drive');
        throw error;
      }
    },
    async list(workspaceId) {
      return (await db.knowledgeSource.findMany({ where: { workspaceId }, orderBy: { createdAt: 'asc' }, select: SELECT })).map(toRecord);
    },
    async find(workspaceId, id) {
      const row = await db.knowledgeSource.findFirst({ where: { workspaceId, id }, select: SELECT });
      return row ? toRecord(row) : undefined;
    },
    async remove(workspaceId, id) {
      await db.knowledgeSource.deleteMany({ where: { workspaceId, id } });
    },
    async markSynced(workspaceId, id, at, next) {
      await db.knowledgeSource.updateMany({ where: { workspaceId, id }, data: { lastSyncAt: at, nextSyncAt: next ?? null } });
    },
    async postpone(workspaceId, id, next) {
      await db.knowledgeSource.updateMany({ where: { workspaceId, id }, data: { nextSyncAt: next ?? null } });
    },
    async due(now, limit) {
      // The scheduler works across workspaces; each source then runs scoped to its own workspace.
      const rows = await db.$queryRawUnsafe<Row[]>('SELECT id, workspaceId, driveId, folderId, displayName, schedule, lastSyncAt, nextSyncAt FROM `KnowledgeSource` WHERE nextSyncAt IS NOT NULL AND nextSyncAt <= ? ORDER BY nextSyncAt LIMIT ?', now, limit);
      return rows.map(toRecord);
    },
    async load(workspaceId, sourceId) {
      const row = await db.knowledgeSource.findFirst({ where: { workspaceId, id: sourceId }, select: { state: true } });
      return (row?.state as SyncState | null | undefined) ?? undefined;
    },
    async save(workspaceId, sourceId, state) {
      await db.knowledgeSource.updateMany({ where: { workspaceId, id: sourceId }, data: { state: JSON.parse(JSON.stringify(state)) } });
    },
  };
}
