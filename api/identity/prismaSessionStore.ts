/** SessionStore on MySQL through Prisma. */
import type { Database } from '../db/client';
import type { SessionStore } from './ports';

export function createPrismaSessionStore(db: Database): SessionStore {
  return {
    async create(s) {
      await db.session.create({ data: { id: s.id, workspaceId: s.workspaceId, userId: s.userId, createdAt: s.createdAt, lastSeenAt: s.lastSeenAt, expiresAt: s.expiresAt } });
    },
    async find(workspaceId, id) {
      const row = await db.session.findFirst({ where: { workspaceId, id } });
      return row ? { id: row.id, workspaceId: row.workspaceId, userId: row.userId, createdAt: row.createdAt, lastSeenAt: row.lastSeenAt, expiresAt: row.expiresAt, revokedAt: row.revokedAt ?? undefined } : undefined;
    },
    async touch(workspaceId, id, at) {
      await db.session.updateMany({ where: { workspaceId, id, revokedAt: null }, data: { lastSeenAt: at } });
    },
    async revoke(workspaceId, id, why) {
      await db.session.updateMany({ where: { workspaceId, id, revokedAt: null }, data: { revokedAt: new Date(), revokedWhy: why } });
    },
    async revokeAllForUser(workspaceId, userId, why) {
      const result = await db.session.updateMany({ where: { workspaceId, userId, revokedAt: null }, data: { revokedAt: new Date(), revokedWhy: why } });
      return result.count;
    },
  };
}
