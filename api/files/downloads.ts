/**
 * Downloads of uploaded files, only through short-lived signed links (downloadLinks.ts).
 *
 * Issuing a link needs read access to the file now; using it needs, again and independently:
 * a valid signature, an unexpired link, a caller signed in as the very user it was issued to, in
 * the workspace it names, who may still read the file, and a file that still exists. Every
 * download and every refused link is audited in the caller's workspace (a refused link's own
 * claims cannot be trusted, so they are never where its audit event goes).
 */
import type { AuditLog } from '../audit/ports';
import { fail, isKluisError } from '../errors';
import { blobNameOf, type UploadRecord, type UploadStore } from '../knowledge/uploads';
import { authorize } from '../tenancy/policy';
import type { Principal } from '../tenancy/principal';
import type { DownloadLinkSigner } from './downloadLinks';
import type { BlobStore } from './ports';

export interface DownloadsDeps {
  store: UploadStore;
  blobs: BlobStore;
  signer: DownloadLinkSigner;
  audit: AuditLog;
  now?: () => Date;
}

export interface DownloadedFile {
  fileName: string;
  mimeType: string;
  bytes: Buffer;
}

export function createDownloads(deps: DownloadsDeps) {
  const now = deps.now ?? (() => new Date());

  async function readable(principal: Principal, fileId: string): Promise<UploadRecord> {
    await authorize(principal, 'files.read', { workspaceId: principal.workspaceId }, deps.audit);
    const upload = await deps.store.find(principal.workspaceId, fileId);
    if (!upload) fail('not_found', 'No such file in this workspace');
    return upload;
  }

  return {
    /** A link for the principal alone, valid for the configured lifetime. */
    async issueLink(principal: Principal, fileId: string): Promise<{ token: string; expiresAt: Date }> {
      const upload = await readable(principal, fileId);
      const link = deps.signer.sign({ workspaceId: upload.workspaceId, fileId: upload.id, userId: principal.userId }, now());
      await deps.audit.record({ workspaceId: upload.workspaceId, actorUserId: principal.userId, kind: 'file.link_issued', outcome: 'success', detail: { uploadId: upload.id, expiresAt: link.expiresAt.toISOString() } });
      return link;
    },

    /** The decrypted file a link grants, after every check above; refusals are audited and rethrown. */
    async download(principal: Principal, token: string): Promise<DownloadedFile> {
      let fileId: string | null = null;
      try {
        const grant = deps.signer.verify(token, now());
        fileId = grant.fileId;
        if (grant.workspaceId !== principal.workspaceId) fail('download_link_invalid', "Link of another workspace");
        if (grant.userId !== principal.userId) fail('download_link_invalid', "Link of another user");
        const upload = await readable(principal, grant.fileId);
        const bytes = await deps.blobs.get(upload.workspaceId, blobNameOf(upload.id));
        if (!bytes) fail('not_found', 'The file record exists but its blob is gone');
        await deps.audit.record({ workspaceId: upload.workspaceId, actorUserId: principal.userId, kind: 'file.downloaded', outcome: 'success', detail: { uploadId: upload.id, sizeBytes: bytes.length } });
        return { fileName: upload.fileName, mimeType: upload.mimeType, bytes };
      } catch (error) {
        const reason = isKluisError(error) ? error.id : 'internal';
        await deps.audit.record({ workspaceId: principal.workspaceId, actorUserId: principal.userId, kind: 'file.download_refused', outcome: reason === 'store_unavailable' || reason === 'internal' ? 'failure' : 'refused', detail: { reason, uploadId: fileId } });
        throw error;
      }
    },
  };
}

export type Downloads = ReturnType<typeof createDownloads>;
