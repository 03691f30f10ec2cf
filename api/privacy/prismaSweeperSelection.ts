/** RetentionSelection on MySQL through Prisma: the queries that find expired records for the sweeper. */
import type { Database } from '../db/client';
import type { RetentionSelection } from './sweeper';

export function createPrismaSweeperSelection(db: Database): RetentionSelection {
  return {
    async workspaceIds() {
      return (await db.workspace.findMany({ select: { id: true }, orderBy: { createdAt: 'asc' } })).map((w) => w.id);
    },
    async conversationsIdleSince(workspaceId, cutoff) {
      // Last message per conversation, kept only when it is older than the cutoff.
      const withMessages = await db.message.groupBy({ by: ['conversationId'], where: { workspaceId }, _max: { createdAt: true }, having: { createdAt: { _max: { lt: cutoff } } } });
      // A conversation opened but never written to is measured from its creation.
      const empty = await db.conversation.findMany({ where: { workspaceId, createdAt: { lt: cutoff }, messages: { none: {} } }, select: { id: true, createdAt: true } });
      // Longest idle first, then by id: the same records form the same batches on every sweep, so a
      // repeated sweep joins an unfinished batch's job instead of starting a new one.
      const idle = [...withMessages.map((m) => ({ id: m.conversationId, at: m._max.createdAt!.getTime() })), ...empty.map((c) => ({ id: c.id, at: c.createdAt.getTime() }))];
      return idle.sort((x, y) => x.at - y.at || (x.id < y.id ? -1 : x.id > y.id ? 1 : 0)).map((c) => c.id);
    },
    async uploadsStoredBefore(workspaceId, cutoff) {
      return (await db.upload.findMany({ where: { workspaceId, createdAt: { lt: cutoff } }, select: { id: true }, orderBy: [{ createdAt: 'asc' }, { id: 'asc' }] })).map((u) => u.id);
    },
    async purgeLoginAttempts(workspaceId, cutoff) {
      return (await db.loginAttempt.deleteMany({ where: { workspaceId, createdAt: { lt: cutoff } } })).count;
    },
    async purgeUnownedLoginAttempts(cutoff) {
      // No workspace named, or one that no longer exists (erased): the global period applies.
      const known = (await db.workspace.findMany({ select: { id: true } })).map((w) => w.id);
      return (await db.loginAttempt.deleteMany({ where: { createdAt: { lt: cutoff }, OR: [{ workspaceId: null }, { workspaceId: { notIn: known } }] } })).count;
    },
    async terminatedBefore(cutoff) {
      const terminated = await db.workspace.findMany({ where: { terminatedAt: { lt: cutoff } }, select: { id: true, terminatedAt: true }, orderBy: { terminatedAt: 'asc' } });
      if (!terminated.length) return [];
      // A workspace whose termination erasure finished after it was terminated is done: the Workspace
      // row (tenant id, name) stays for the operator, and the sweeper does not erase it again.
      const erased = await db.erasureJob.findMany({
        where: { workspaceId: { in: terminated.map((w) => w.id) }, scopeKind: 'workspace', reason: 'termination', status: 'done' },
        select: { workspaceId: true, requestedAt: true },
      });
      return terminated.filter((w) => !erased.some((e) => e.workspaceId === w.id && e.requestedAt >= w.terminatedAt!)).map((w) => w.id);
    },
  };
}
