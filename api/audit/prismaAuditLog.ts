/** AuditLog on MySQL through Prisma. */
import { randomUUID } from 'node:crypto';
import type { Database } from '../db/client';
import type { AuditLog } from './ports';

export function createPrismaAuditLog(db: Database): AuditLog {
  return {
    async record(event) {
      await db.auditEvent.create({
        data: { id: randomUUID(), workspaceId: event.workspaceId, actorUserId: event.actorUserId ?? null, kind: event.kind, outcome: event.outcome, detail: event.detail, ip: event.ip ?? null },
      });
    },
  };
}
