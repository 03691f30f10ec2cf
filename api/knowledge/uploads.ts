/**
 * Uploaded files, the second knowledge source beside SharePoint: managers and admins upload,
 * every member lists them. Documents (PDF, Word, PowerPoint, Excel, text, Markdown, HTML) are
 * indexed for every member of the workspace; images and video are kept and listed, not indexed.
 *
 * The bytes go to the blob store (which encrypts them) under `uploads/<id>`, never under the
 * uploader's name. A file is accepted whole or not at all: when indexing or recording fails,
 * what was already written is removed again, and what a store that is down keeps from going then,
 * housekeeping removes later (./uploadLeftovers.ts). Every step is audited with metadata only (sizes,
 * types, ids), never the content or the file name.
 */
import { randomUUID } from 'node:crypto';
import type { AuditLog } from '../audit/ports';
import { fail, isKluisError } from '../errors';
import { sanitiseFileName } from '../files/fileName';
import { fileTypeOf, type UploadKind } from '../files/fileType';
import type { BlobStore } from '../files/ports';
import { authorize } from '../tenancy/policy';
import type { Principal } from '../tenancy/principal';
import { contentHash, type Indexer } from './indexer';

export const UPLOAD_SOURCE_KIND = 'upload';

export type IndexStatus = 'indexed' | 'failed' | 'not_indexed';

export interface UploadRecord {
  id: string;
  workspaceId: string;
  fileName: string;
  mimeType: string;
  kind: UploadKind;
  sizeBytes: number;
  contentHash: string;
  indexStatus: IndexStatus;
  documentId?: string;
  uploadedByUserId?: string;
  createdAt: Date;
}

/** Upload records; every call names its workspace. */
export interface UploadStore {
  create(record: Omit<UploadRecord, 'createdAt'>): Promise<UploadRecord>;
  find(workspaceId: string, id: string): Promise<UploadRecord | undefined>;
  list(workspaceId: string): Promise<UploadRecord[]>;
  remove(workspaceId: string, id: string): Promise<void>;
}

export const blobNameOf = (uploadId: string) => `uploads/${uploadId}`;

export interface UploadsDeps {
  store: UploadStore;
  blobs: BlobStore;
  indexer: Indexer;
  audit: AuditLog;
}

export function createUploads(deps: UploadsDeps) {
  async function refused(principal: Principal, reason: string, detail: Record<string, string | number | boolean | null>): Promise<void> {
    await deps.audit.record({ workspaceId: principal.workspaceId, actorUserId: principal.userId, kind: 'upload.refused', outcome: 'refused', detail: { reason, ...detail } });
  }

  return {
    /** May this principal upload? Asked before the body is read, so a refused caller sends nothing for long. */
    async mayUpload(principal: Principal): Promise<void> {
      await authorize(principal, 'files.manage', { workspaceId: principal.workspaceId }, deps.audit);
    },

    /** An upload refused before its bytes reached Kluis (too large, malformed): audited, nothing kept. */
    async recordRefusal(principal: Principal, reason: string, detail: Record<string, string | number | boolean | null> = {}): Promise<void> {
      await refused(principal, reason, detail);
    },

    /** Store, index (documents only) and record one file; all of it or nothing. */
    async accept(principal: Principal, rawFileName: string, bytes: Buffer): Promise<UploadRecord> {
      await authorize(principal, 'files.manage', { workspaceId: principal.workspaceId }, deps.audit);
      let fileName: string;
      let type: ReturnType<typeof fileTypeOf>;
      try {
        fileName = sanitiseFileName(rawFileName);
        type = fileTypeOf(fileName, bytes);
      } catch (error) {
        if (isKluisError(error)) await refused(principal, error.id, { sizeBytes: bytes.length });
        throw error;
      }
      const id = randomUUID();
      const workspaceId = principal.workspaceId;
      const blobName = blobNameOf(id);
      await deps.blobs.put(workspaceId, blobName, bytes);
      let documentId: string | undefined;
      let recorded = false;
      try {
        let indexStatus: IndexStatus = 'not_indexed';
        if (type.kind === 'document') {
          const document = await deps.indexer.indexFile(workspaceId, { sourceKind: UPLOAD_SOURCE_KIND, sourceRef: id, fileName, bytes }, { discardOnFailure: true });
          documentId = document.id;
          indexStatus = document.status;
        }
        const record = await deps.store.create({ id, workspaceId, fileName, mimeType: type.mimeType, kind: type.kind, sizeBytes: bytes.length, contentHash: contentHash(bytes), indexStatus, documentId, uploadedByUserId: principal.userId });
        recorded = true;
        await deps.audit.record({ workspaceId, actorUserId: principal.userId, kind: 'upload.stored', outcome: 'success', detail: { uploadId: id, kind: type.kind, mimeType: type.mimeType, sizeBytes: bytes.length, indexStatus } });
        return record;
      } catch (error) {
        // Leave nothing behind: no blob without a record, no chunks without a file. The upload record
        // goes first: a document no upload record claims is a leftover that housekeeping removes
        // (./uploadLeftovers.ts), while a record that cannot go keeps the whole file with it (listed,
        // downloadable, removable) rather than pointing at a blob or chunks that are gone.
        if (recorded && !(await deps.store.remove(workspaceId, id).then(() => true, () => false))) throw error;
        if (documentId) await deps.indexer.removeDocument(workspaceId, documentId).catch(() => undefined);
        await deps.blobs.delete(workspaceId, blobName).catch(() => undefined);
        await deps.audit.record({ workspaceId, actorUserId: principal.userId, kind: 'upload.stored', outcome: 'failure', detail: { uploadId: id, kind: type.kind, sizeBytes: bytes.length } }).catch(() => undefined);
        throw error;
      }
    },

    async list(principal: Principal): Promise<UploadRecord[]> {
      await authorize(principal, 'files.read', { workspaceId: principal.workspaceId }, deps.audit);
      return deps.store.list(principal.workspaceId);
    },

    /** Remove the chunks, the blob and the record, in that order (a crash leaves a record to retry). */
    async remove(principal: Principal, uploadId: string): Promise<void> {
      await authorize(principal, 'files.manage', { workspaceId: principal.workspaceId }, deps.audit);
      const upload = await deps.store.find(principal.workspaceId, uploadId);
      if (!upload) fail('not_found', 'No such upload in this workspace');
      if (upload.documentId) await deps.indexer.removeDocument(upload.workspaceId, upload.documentId);
      await deps.blobs.delete(upload.workspaceId, blobNameOf(upload.id));
      await deps.store.remove(upload.workspaceId, upload.id);
      await deps.audit.record({ workspaceId: upload.workspaceId, actorUserId: principal.userId, kind: 'upload.deleted', outcome: 'success', detail: { uploadId: upload.id, kind: upload.kind } });
    },
  };
}

export type Uploads = ReturnType<typeof createUploads>;
