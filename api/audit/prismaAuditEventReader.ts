/** AuditEventReader on MySQL through Prisma (uses the workspaceId, kind, createdAt index). */
import type { Database } from '../db/client';
import type { AuditEventReader } from './auditTrail';

export function createPrismaAuditEventReader(db: Database): AuditEventReader {
  return {
    async recent(workspaceId, { kindPrefix, limit }) {
      const rows = await db.auditEvent.findMany({
        where: { workspaceId, ...(kindPrefix ? { kind: { startsWith: kindPrefix } } : {}) },
        orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
        take: limit,
      });
      return rows.map((r) => ({
        at: r.createdAt,
        kind: r.kind,
        outcome: r.outcome,
        ...(r.actorUserId ? { actorUserId: r.actorUserId } : {}),
        ...(r.detail && typeof r.detail === 'object' && !Array.isArray(r.detail) ? { detail: r.detail as Record<string, unknown> } : {}),
      }));
    },
  };
}
