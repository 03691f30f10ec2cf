/** AuditChainSource on MySQL through Prisma: what verification reads (uses the workspaceId, seq key). */
import type { Database } from '../db/client';
import type { AuditChainSource } from './chain';

export function createPrismaAuditChainSource(db: Database): AuditChainSource {
  return {
    async workspaces() {
      const rows = await db.$queryRawUnsafe<Array<{ workspaceId: string }>>(
        'SELECT workspaceId FROM `AuditChainHead` UNION SELECT DISTINCT workspaceId FROM `AuditEvent` ORDER BY workspaceId',
      );
      return rows.map((r) => r.workspaceId);
    },

    async head(workspaceId) {
      const head = await db.auditChainHead.findUnique({ where: { workspaceId } });
      return head ? { workspaceId, seq: head.seq, hash: head.hash, anchorSeq: head.anchorSeq, anchorPrevHash: head.anchorPrevHash } : undefined;
    },

    async events(workspaceId, fromSeq, limit) {
      const rows = await db.auditEvent.findMany({ where: { workspaceId, seq: { gte: fromSeq } }, orderBy: { seq: 'asc' }, take: limit });
      return rows.map((r) => ({
        id: r.id,
        workspaceId: r.workspaceId,
        seq: r.seq,
        createdAt: r.createdAt,
        actorUserId: r.actorUserId,
        kind: r.kind,
        outcome: r.outcome,
        detail: r.detail,
        ip: r.ip,
        ipSalt: r.ipSalt,
        ipDigest: r.ipDigest,
        prevHash: r.prevHash ?? '',
        hash: r.hash,
      }));
    },

    async countUnchained(workspaceId) {
      return db.auditEvent.count({ where: { workspaceId, hash: null } });
    },
  };
}
