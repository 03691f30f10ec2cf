/** RoutingPolicyStore on MySQL through Prisma: one row per workspace, none for the environment's policy. */
import type { Database } from '../db/client';
import type { RoutingPolicyStore } from './routingPolicy';

export function createPrismaRoutingPolicyStore(db: Database): RoutingPolicyStore {
  return {
    async find(workspaceId) {
      const row = await db.workspaceRoutingPolicy.findUnique({ where: { workspaceId } });
      return row ? { policy: row.policy, updatedAt: row.updatedAt, updatedByUserId: row.updatedByUserId ?? undefined } : undefined;
    },
    async save(workspaceId, policy, updatedByUserId) {
      const data = { policy: JSON.parse(JSON.stringify(policy)) as object, updatedByUserId };
      await db.workspaceRoutingPolicy.upsert({ where: { workspaceId }, create: { workspaceId, ...data }, update: data });
    },
  };
}
