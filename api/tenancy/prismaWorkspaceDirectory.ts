/** WorkspaceDirectory on MySQL through Prisma. */
import { randomUUID } from 'node:crypto';
import type { Database } from '../db/client';
import type { Member, WorkspaceDirectory } from './ports';

const isUniqueViolation = (error: unknown) => (error as { code?: string }).code === 'P2002';

export function createPrismaWorkspaceDirectory(db: Database): WorkspaceDirectory {
  async function findMember(workspaceId: string, entraObjectId: string): Promise<Member | undefined> {
    const user = await db.user.findUnique({ where: { workspaceId_entraObjectId: { workspaceId, entraObjectId } }, select: { id: true, memberships: { where: { workspaceId }, select: { role: true } } } });
    const role = user?.memberships[0]?.role;
    return user && role ? { userId: user.id, role } : undefined;
  }

  return {
    async findByTenant(tenantId) {
      const row = await db.workspace.findUnique({ where: { tenantId }, select: { id: true, name: true, tenantId: true } });
      return row ?? undefined;
    },
    async onboard(tenantId, name) {
      try {
        return await db.workspace.create({ data: { id: randomUUID(), tenantId, name }, select: { id: true, name: true, tenantId: true } });
      } catch (error) {
        if (!isUniqueViolation(error)) throw error;
        return db.workspace.findUniqueOrThrow({ where: { tenantId }, select: { id: true, name: true, tenantId: true } });
      }
    },
    async ensureMember(workspaceId, entraObjectId, displayName) {
      const existing = await findMember(workspaceId, entraObjectId);
      if (existing) return existing;
      try {
        return await db.$transaction(async (tx) => {
          const members = await tx.membership.count({ where: { workspaceId } });
          const userId = randomUUID();
          await tx.user.create({ data: { id: userId, workspaceId, entraObjectId, displayName: displayName?.slice(0, 200) ?? null } });
          const role = members === 0 ? 'admin' : 'user';
          await tx.membership.create({ data: { id: randomUUID(), workspaceId, userId, role } });
          return { userId, role } as Member;
        });
      } catch (error) {
        // Two first messages at once: the other one created the user.
        if (!isUniqueViolation(error)) throw error;
        const member = await findMember(workspaceId, entraObjectId);
        if (!member) throw error;
        return member;
      }
    },
  };
}
