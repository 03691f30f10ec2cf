/**
 * Leftovers of failed uploads, removed by housekeeping.
 *
 * An upload writes its document record (pending), then its chunks, then completes the record and
 * only then creates its upload record (api/knowledge/uploads.ts). When it fails part-way it removes
 * what it wrote; but when the search index or the database is down during that clean-up, the
 * document record can stay behind (pending, or complete), sometimes with chunks or the blob. No
 * answer reads such a record without chunks, yet it is data the workspace never kept.
 *
 * The rule: an upload's document record is kept only while an upload record claims it (same
 * workspace, upload id = the document's sourceRef). A record of source kind `upload` that no
 * upload record claims and that was last written more than the grace period ago is a leftover: an
 * upload still in progress writes its records within seconds, and the grace keeps it safe. Each
 * leftover goes from every store, in the order that always leaves a handle for the next run:
 * chunks, then the blob `uploads/<upload id>`, then the document record last. Every step is
 * idempotent; a store that is down leaves that leftover whole for the next run, and the others of
 * every workspace still go. A finished upload (it has its upload record), a document of any other
 * source (SharePoint, the knowledge folder: their syncs retry pending records) and another
 * workspace's rows are never touched: every call names its workspace.
 *
 * The report carries ids and counts only, never a title or any content.
 */
import { isKluisError } from '../errors';
import type { BlobStore } from '../files/ports';
import type { SearchIndex } from './ports';
import { blobNameOf } from './uploads';

/** Leftovers older than this are removed: an hour, far beyond any upload's own writes. */
export const UPLOAD_LEFTOVER_GRACE_MS = 60 * 60 * 1000;
/** At most this many leftovers per workspace per run; the next run takes the rest. */
export const UPLOAD_LEFTOVER_BATCH = 500;

export interface UploadLeftover {
  workspaceId: string;
  documentId: string;
  /** The upload the document was written for (its sourceRef); its blob is `uploads/<uploadId>`. */
  uploadId: string;
}

/** Finds and removes leftover upload documents (api/knowledge/prismaUploadLeftovers.ts). */
export interface UploadLeftoverStore {
  /** Every workspace, terminated ones included. */
  workspaceIds(): Promise<string[]>;
  /**
   * Documents of source kind `upload` in this workspace that no upload record claims and that were
   * last written before `cutoff`, oldest first, at most `limit`.
   */
  find(workspaceId: string, cutoff: Date, limit: number): Promise<UploadLeftover[]>;
  /**
   * Deletes the document record if it is still a leftover (unclaimed, not written since `cutoff`);
   * false when there was nothing to delete.
   */
  remove(leftover: UploadLeftover, cutoff: Date): Promise<boolean>;
}

export interface UploadLeftoverDeps {
  leftovers: UploadLeftoverStore;
  index: Pick<SearchIndex, 'deleteDocument'>;
  blobs: Pick<BlobStore, 'delete'>;
  graceMs?: number;
  batchSize?: number;
  now?: () => Date;
}

export interface UploadLeftoverFailure {
  workspaceId: string;
  /** Absent when the workspace's leftovers could not even be listed. */
  documentId?: string;
  /** The catalogue's error id (`store_unavailable`, ...), or `unexpected`. */
  errorId: string;
}

export interface UploadLeftoverReport {
  /** Leftovers removed from every store, per workspace (workspaces with none are left out). */
  removed: Array<{ workspaceId: string; documentIds: string[] }>;
  /** Leftovers kept for the next run because a store failed. */
  failures: UploadLeftoverFailure[];
  /** How many leftovers were removed in all. */
  total: number;
}

const errorIdOf = (error: unknown) => (isKluisError(error) ? error.id : 'unexpected');

export function createUploadLeftoverReconciler(deps: UploadLeftoverDeps) {
  const graceMs = deps.graceMs ?? UPLOAD_LEFTOVER_GRACE_MS;
  const batchSize = deps.batchSize ?? UPLOAD_LEFTOVER_BATCH;
  const now = deps.now ?? (() => new Date());

  /** One leftover from every store; chunks and blob first, so the record stays as the handle to retry. */
  async function removeOne(leftover: UploadLeftover, cutoff: Date): Promise<boolean> {
    await deps.index.deleteDocument(leftover.workspaceId, leftover.documentId);
    await deps.blobs.delete(leftover.workspaceId, blobNameOf(leftover.uploadId));
    return deps.leftovers.remove(leftover, cutoff);
  }

  return {
    /** Removes the leftovers of every workspace; never throws for one workspace or one leftover. */
    async reconcile(): Promise<UploadLeftoverReport> {
      const cutoff = new Date(now().getTime() - graceMs);
      const report: UploadLeftoverReport = { removed: [], failures: [], total: 0 };
      for (const workspaceId of await deps.leftovers.workspaceIds()) {
        let found: UploadLeftover[];
        try {
          found = await deps.leftovers.find(workspaceId, cutoff, batchSize);
        } catch (error) {
          report.failures.push({ workspaceId, errorId: errorIdOf(error) });
          continue;
        }
        const documentIds: string[] = [];
        for (const leftover of found) {
          try {
            if (await removeOne(leftover, cutoff)) documentIds.push(leftover.documentId);
          } catch (error) {
            report.failures.push({ workspaceId, documentId: leftover.documentId, errorId: errorIdOf(error) });
          }
        }
        if (documentIds.length) {
          report.removed.push({ workspaceId, documentIds });
          report.total += documentIds.length;
        }
      }
      return report;
    },
  };
}

export type UploadLeftoverReconciler = ReturnType<typeof createUploadLeftoverReconciler>;
