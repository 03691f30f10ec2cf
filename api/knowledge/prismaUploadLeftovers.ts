/** UploadLeftoverStore on MySQL through Prisma: every query names its workspace. */
import type { Database } from '../db/client';
import type { UploadLeftoverStore } from './uploadLeftovers';
import { UPLOAD_SOURCE_KIND } from './uploads';

export function createPrismaUploadLeftovers(db: Database): UploadLeftoverStore {
  return {
    async workspaceIds() {
      return (await db.workspace.findMany({ select: { id: true }, orderBy: { createdAt: 'asc' } })).map((w) => w.id);
    },
    async find(workspaceId, cutoff, limit) {
      const found: Array<{ workspaceId: string; documentId: string; uploadId: string }> = [];
      // Page through the workspace's old upload documents until `limit` unclaimed ones are found:
      // most are claimed (a finished upload's), so a page is checked against the upload records.
      let after: { updatedAt: Date; id: string } | undefined;
      while (found.length < limit) {
        const page = await db.document.findMany({
          where: {
            workspaceId,
            sourceKind: UPLOAD_SOURCE_KIND,
            updatedAt: { lt: cutoff },
            ...(after ? { OR: [{ updatedAt: { gt: after.updatedAt } }, { updatedAt: after.updatedAt, id: { gt: after.id } }] } : {}),
          },
          select: { id: true, sourceRef: true, updatedAt: true },
          orderBy: [{ updatedAt: 'asc' }, { id: 'asc' }],
          take: 500,
        });
        if (!page.length) break;
        const claimed = new Set((await db.upload.findMany({ where: { workspaceId, id: { in: page.map((d) => d.sourceRef) } }, select: { id: true } })).map((u) => u.id));
        for (const d of page) if (!claimed.has(d.sourceRef) && found.length < limit) found.push({ workspaceId, documentId: d.id, uploadId: d.sourceRef });
        const last = page[page.length - 1]!;
        after = { updatedAt: last.updatedAt, id: last.id };
      }
      return found;
    },
    async remove({ workspaceId, documentId, uploadId }, cutoff) {
      // Checked again at the delete: an upload record created since, or a record written since, keeps it.
      if (await db.upload.count({ where: { workspaceId, id: uploadId } })) return false;
      const { count } = await db.document.deleteMany({ where: { workspaceId, id: documentId, sourceKind: UPLOAD_SOURCE_KIND, sourceRef: uploadId, updatedAt: { lt: cutoff } } });
      return count > 0;
    },
  };
}
