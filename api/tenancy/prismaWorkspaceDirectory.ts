/** WorkspaceDirectory on MySQL through Prisma. */
import { randomUUID } from 'node:crypto';
import type { Database } from '../db/client';
import type { Member, WorkspaceDirectory, WorkspaceTermination } from './ports';

const isUniqueViolation = (error: unknown) => (error as { code?: string }).code === 'P2002';
/**
 * A burst of first messages (a whole team starting at once) waits its turn for a pooled
 * connection, as audit appends do, rather than failing after Prisma's default two seconds.
 */
const NEW_MEMBER_TRANSACTION = { maxWait: 15_000, timeout: 15_000 };
const WORKSPACE_FIELDS = { id: true, name: true, tenantId: true, credentialsLogin: true, terminatedAt: true } as const;

export function createPrismaWorkspaceDirectory(db: Database): WorkspaceDirectory {
  async function member(workspaceId: string, userId: string): Promise<Member | undefined> {
    const row = await db.membership.findFirst({ where: { workspaceId, userId }, select: { role: true, roleOverride: true, user: { select: { disabledAt: true } } } });
    return row ? { userId, role: row.roleOverride ?? row.role, disabled: row.user.disabledAt !== null } : undefined;
  }

  async function findMember(workspaceId: string, entraObjectId: string): Promise<Member | undefined> {
    const user = await db.user.findFirst({ where: { workspaceId, entraObjectId }, select: { id: true } });
    return user ? member(workspaceId, user.id) : undefined;
  }

  return {
    async findByTenant(tenantId) {
      return (await db.workspace.findUnique({ where: { tenantId }, select: WORKSPACE_FIELDS })) ?? undefined;
    },
    async findById(workspaceId) {
      return (await db.workspace.findUnique({ where: { id: workspaceId }, select: WORKSPACE_FIELDS })) ?? undefined;
    },
    async onboard(tenantId, name) {
      try {
        return await db.workspace.create({ data: { id: randomUUID(), tenantId, name }, select: WORKSPACE_FIELDS });
      } catch (error) {
        if (!isUniqueViolation(error)) throw error;
        return db.workspace.findUniqueOrThrow({ where: { tenantId }, select: WORKSPACE_FIELDS });
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
          return { userId, role, disabled: false } as Member;
        }, NEW_MEMBER_TRANSACTION);
      } catch (error) {
        // Two first messages at once: the other one created the user.
        if (!isUniqueViolation(error)) throw error;
        const found = await findMember(workspaceId, entraObjectId);
        if (!found) throw error;
        return found;
      }
    },
    member,
    async entraObjectId(workspaceId, userId) {
      return (await db.user.findFirst({ where: { workspaceId, id: userId }, select: { entraObjectId: true } }))?.entraObjectId ?? undefined;
    },
    async recordTokenRole(workspaceId, userId, role) {
      const row = await db.membership.findFirst({ where: { workspaceId, userId }, select: { role: true } });
      if (!row || row.role === role) return undefined;
      await db.membership.updateMany({ where: { workspaceId, userId }, data: { role } });
      return row.role;
    },
  };
}

/** WorkspaceTermination on MySQL through Prisma (the Workspace table is the tenant root, outside the guard). */
export function createPrismaWorkspaceTermination(db: Database): WorkspaceTermination {
  return {
    async terminate(tenantId, at) {
      // A second call must not push the erasure date further out: the first mark stands.
      await db.workspace.updateMany({ where: { tenantId, terminatedAt: null }, data: { terminatedAt: at } });
      const row = await db.workspace.findUnique({ where: { tenantId }, select: { id: true, terminatedAt: true } });
      return row?.terminatedAt ? { workspaceId: row.id, terminatedAt: row.terminatedAt } : undefined;
    },
    async undo(tenantId) {
      return (await db.workspace.updateMany({ where: { tenantId }, data: { terminatedAt: null } })).count > 0;
    },
  };
}
