/** DataKeyStore on MySQL through Prisma: one row per workspace, the key only ever wrapped. */
import type { Database } from '../db/client';
import type { DataKeyStore } from './ports';

export function createPrismaDataKeyStore(db: Database): DataKeyStore {
  return {
    async find(workspaceId) {
      const row = await db.workspaceDataKey.findUnique({ where: { workspaceId } });
      if (!row) return undefined;
      return { wrappedKey: row.wrappedKey ? Buffer.from(row.wrappedKey) : null, kekId: row.kekId, destroyedAt: row.destroyedAt };
    },
    async insertIfAbsent(workspaceId, wrappedKey, kekId) {
      // INSERT IGNORE: the primary key keeps whichever replica inserted first; the caller re-reads.
      await db.workspaceDataKey.createMany({ data: [{ workspaceId, wrappedKey: new Uint8Array(wrappedKey), kekId }], skipDuplicates: true });
    },
    async renewDestroyed(workspaceId, wrappedKey, kekId) {
      const { count } = await db.workspaceDataKey.updateMany({ where: { workspaceId, destroyedAt: { not: null } }, data: { wrappedKey: new Uint8Array(wrappedKey), kekId, destroyedAt: null, createdAt: new Date() } });
      return count > 0;
    },
    async destroy(workspaceId) {
      const destroyedAt = new Date();
      const { count } = await db.workspaceDataKey.updateMany({ where: { workspaceId, destroyedAt: null }, data: { wrappedKey: null, destroyedAt } });
      if (count > 0) return;
      // Destroyed before (the insert is then ignored), or no key yet: a tombstone, so no seal
      // after the erasure creates a fresh one.
      await db.workspaceDataKey.createMany({ data: [{ workspaceId, wrappedKey: null, kekId: 'destroyed', destroyedAt }], skipDuplicates: true });
      // A key inserted between the two statements is destroyed too.
      await db.workspaceDataKey.updateMany({ where: { workspaceId, destroyedAt: null }, data: { wrappedKey: null, destroyedAt } });
    },
    async wrappedByOtherThan(kekId) {
      // Across workspaces by design (a KEK rotation); each row is then re-read through the tenant guard.
      const rows = await db.$queryRawUnsafe<Array<{ workspaceId: string }>>('SELECT `workspaceId` FROM `WorkspaceDataKey` WHERE `wrappedKey` IS NOT NULL AND `destroyedAt` IS NULL AND `kekId` <> ?', kekId);
      return rows.map((r) => r.workspaceId);
    },
    async replaceWrapping(workspaceId, from, to) {
      const { count } = await db.workspaceDataKey.updateMany({
        where: { workspaceId, kekId: from.kekId, wrappedKey: new Uint8Array(from.wrappedKey), destroyedAt: null },
        data: { wrappedKey: new Uint8Array(to.wrappedKey), kekId: to.kekId },
      });
      return count === 1;
    },
  };
}
