/** RetentionPolicyStore on MySQL through Prisma: one row per workspace, none for the defaults. */
import type { Database } from '../db/client';
import type { RetentionPolicyStore } from './ports';

export function createPrismaRetentionPolicyStore(db: Database): RetentionPolicyStore {
  return {
    async find(workspaceId) {
      const row = await db.retentionPolicy.findUnique({ where: { workspaceId } });
      if (!row) return undefined;
      return {
        conversationDays: row.conversationDays,
        uploadedFileDays: row.uploadedFileDays,
        loginLogDays: row.loginLogDays,
        inactiveConversationDays: row.inactiveConversationDays,
        updatedAt: row.updatedAt,
        updatedByUserId: row.updatedByUserId ?? undefined,
      };
    },
    async save(workspaceId, p) {
      const data = { conversationDays: p.conversationDays, uploadedFileDays: p.uploadedFileDays, loginLogDays: p.loginLogDays, inactiveConversationDays: p.inactiveConversationDays, updatedByUserId: p.updatedByUserId };
      await db.retentionPolicy.upsert({ where: { workspaceId }, create: { workspaceId, ...data }, update: data });
    },
  };
}
