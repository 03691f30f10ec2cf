/**
 * Data export (the right of access and data portability, GDPR articles 15 and 20): a zip of a
 * scope's records as JSON plus its uploaded files. A user exports their own data; an admin exports
 * the whole workspace.
 *
 * An export is a persisted job (the Job table, kind 'export'): its progress is saved as it goes,
 * and a job whose worker died (its lock not renewed for `staleAfterMs`) is built again from the
 * start by `resumeInterrupted`. The archive is written in memory and stored in the blob store in
 * one put (`exports/<jobId>.zip`) only once complete, and only a job marked succeeded is ever
 * served: a half-written zip cannot be downloaded, whatever moment the process died at.
 *
 * Downloads go through short-lived signed links bound to the asking user (the pattern of
 * api/files/downloadLinks.ts, under a key of their own); every download and refusal is audited.
 * Exports are deleted EXPORT_RETENTION_DAYS after they were requested by `purgeExpiredExports`,
 * which the retention sweeper calls (and main.ts on a timer).
 */
import { randomUUID } from 'node:crypto';
import type { AuditLog } from '../audit/ports';
import { fail, isKluisError } from '../errors';
import type { DownloadLinkSigner } from '../files/downloadLinks';
import type { BlobStore } from '../files/ports';
import { authorize } from '../tenancy/policy';
import type { Principal } from '../tenancy/principal';
import { buildExportArchive } from './exportArchive';
import type { ArchiveWriter, ExportJob, ExportJobStore, ExportProgress, ExportRecords, ExportScope } from './exportPorts';

/** Days an export is kept after it was requested. */
export const EXPORT_RETENTION_DAYS = 7;
const DAY_MS = 86_400_000;

export const exportBlobKey = (jobId: string) => `exports/${jobId}.zip`;

export interface ExportsDeps {
  jobs: ExportJobStore;
  records: ExportRecords;
  blobs: BlobStore;
  /** A new, empty archive per build. */
  archive: () => ArchiveWriter;
  signer: DownloadLinkSigner;
  audit: AuditLog;
  now?: () => Date;
  /** This process's name on the jobs it locks. */
  workerId?: string;
  /** A running job whose lock is older than this is taken to have lost its worker. */
  staleAfterMs?: number;
  onBackgroundError?: (error: unknown, jobId: string) => void;
  /**
   * Hands a build to the shared job queue (any replica runs it, via `run`). Without it, builds run
   * in the background of this process.
   */
  dispatch?: (workspaceId: string, jobId: string) => Promise<void>;
}

/** What the API shows of an export. */
export interface ExportView {
  id: string;
  scope: 'user' | 'workspace';
  status: 'queued' | 'running' | 'done' | 'failed';
  progress: { phase: ExportProgress['phase']; filesDone: number; filesTotal: number };
  sizeBytes?: number;
  createdAt: string;
  expiresAt: string;
  /** A fresh signed link for the asking user, when the export is done. */
  download?: { token: string; expiresAt: string };
}

export interface ExportedArchive {
  fileName: string;
  bytes: Buffer;
}

const STATUS_OF: Record<ExportJob['status'], ExportView['status']> = { queued: 'queued', running: 'running', succeeded: 'done', failed: 'failed' };

export function createExports(deps: ExportsDeps) {
  const now = deps.now ?? (() => new Date());
  const workerId = deps.workerId ?? `exporter-${randomUUID()}`;
  const staleAfterMs = deps.staleAfterMs ?? 10 * 60_000;
  const background = new Set<Promise<unknown>>();

  const expiresAt = (job: ExportJob) => new Date(job.createdAt.getTime() + EXPORT_RETENTION_DAYS * DAY_MS);
  const sameScope = (a: ExportScope, b: ExportScope) => a.kind === b.kind && (a.kind === 'workspace' || (b.kind === 'user' && a.userId === b.userId));

  /** Workspace exports are for admins; a user export only for the user it is about (others: not found). */
  async function mayRead(principal: Principal, job: ExportJob): Promise<void> {
    if (job.scope.kind === 'workspace') await authorize(principal, 'workspace.configure', { workspaceId: job.workspaceId }, deps.audit);
    else if (job.scope.userId !== principal.userId) fail('not_found', "Another user's export");
  }

  async function findReadable(principal: Principal, jobId: string): Promise<ExportJob> {
    const job = await deps.jobs.find(principal.workspaceId, jobId);
    if (!job || now() >= expiresAt(job)) fail('not_found', 'No such export in this workspace');
    await mayRead(principal, job);
    return job;
  }

  function viewOf(job: ExportJob, download?: { token: string; expiresAt: Date }): ExportView {
    return {
      id: job.id,
      scope: job.scope.kind,
      status: STATUS_OF[job.status],
      progress: { phase: job.progress.phase, filesDone: job.progress.filesDone, filesTotal: job.progress.filesTotal },
      ...(job.progress.sizeBytes === undefined ? {} : { sizeBytes: job.progress.sizeBytes }),
      createdAt: job.createdAt.toISOString(),
      expiresAt: expiresAt(job).toISOString(),
      ...(download ? { download: { token: download.token, expiresAt: download.expiresAt.toISOString() } } : {}),
    };
  }

  /** Builds the job's archive if this worker can take it; returns the job as it ended (or as another worker has it). */
  async function run(workspaceId: string, jobId: string): Promise<ExportJob | undefined> {
    const started = now();
    const job = await deps.jobs.claim(workspaceId, jobId, workerId, started, new Date(started.getTime() - staleAfterMs));
    if (!job) return deps.jobs.find(workspaceId, jobId);
    const save = (progress: ExportProgress) => deps.jobs.saveProgress(workspaceId, jobId, workerId, progress, now());
    try {
      const built = await buildExportArchive({ job, records: deps.records, blobs: deps.blobs, archive: deps.archive(), save, now });
      if (!built) return deps.jobs.find(workspaceId, jobId);
      const blobKey = exportBlobKey(job.id);
      // A worker that lost its lock (taken to have crashed) must not overwrite the new worker's archive.
      if (!(await save({ ...built.progress, phase: 'storing' }))) return deps.jobs.find(workspaceId, jobId);
      await deps.blobs.put(workspaceId, blobKey, built.bytes);
      const progress: ExportProgress = { ...built.progress, phase: 'done', blobKey, sizeBytes: built.bytes.length };
      if (await deps.jobs.finish(workspaceId, jobId, workerId, { status: 'succeeded', progress }, now())) {
        await deps.audit.record({ workspaceId, actorUserId: job.requestedByUserId, kind: 'export.completed', outcome: 'success', detail: { jobId, scope: job.scope.kind, sizeBytes: built.bytes.length, files: progress.filesDone } });
      }
    } catch (error) {
      const reason = isKluisError(error) ? error.id : 'internal';
      const progress: ExportProgress = { ...job.progress, phase: 'failed' };
      if (await deps.jobs.finish(workspaceId, jobId, workerId, { status: 'failed', progress, error: reason }, now())) {
        await deps.audit.record({ workspaceId, actorUserId: job.requestedByUserId, kind: 'export.failed', outcome: 'failure', detail: { jobId, scope: job.scope.kind, reason } });
      }
      throw error;
    }
    return deps.jobs.find(workspaceId, jobId);
  }

  function runInBackground(workspaceId: string, jobId: string): void {
    const running = (deps.dispatch ? deps.dispatch(workspaceId, jobId) : run(workspaceId, jobId))
      .catch((error) => deps.onBackgroundError?.(error, jobId))
      .finally(() => background.delete(running));
    background.add(running);
  }

  return {
    /** Starts an export of the principal's own data, or (admins) of the workspace; joins one of the same scope that is still under way. */
    async request(principal: Principal, kind: 'user' | 'workspace'): Promise<ExportView> {
      const scope: ExportScope = kind === 'workspace' ? { kind, workspaceId: principal.workspaceId } : { kind, workspaceId: principal.workspaceId, userId: principal.userId };
      if (kind === 'workspace') await authorize(principal, 'workspace.configure', { workspaceId: principal.workspaceId }, deps.audit);
      // One export per scope at a time: a second request joins the one under way.
      const active = (await deps.jobs.listActive(principal.workspaceId)).find((job) => sameScope(job.scope, scope));
      if (active) return viewOf(active);
      const job = await deps.jobs.create({ id: randomUUID(), scope, requestedByUserId: principal.userId, now: now() });
      await deps.audit.record({ workspaceId: principal.workspaceId, actorUserId: principal.userId, kind: 'export.requested', outcome: 'success', detail: { jobId: job.id, scope: kind } });
      runInBackground(job.workspaceId, job.id);
      return viewOf(job);
    },

    /** The export's status; once done, with a fresh short-lived link for the asking user (audited). */
    async status(principal: Principal, jobId: string, expectedScope: 'user' | 'workspace'): Promise<ExportView> {
      const job = await findReadable(principal, jobId);
      if (job.scope.kind !== expectedScope) fail('not_found', 'An export of the other scope');
      if (job.status !== 'succeeded') return viewOf(job);
      const link = deps.signer.sign({ workspaceId: job.workspaceId, fileId: job.id, userId: principal.userId }, now());
      await deps.audit.record({ workspaceId: job.workspaceId, actorUserId: principal.userId, kind: 'export.link_issued', outcome: 'success', detail: { jobId: job.id, expiresAt: link.expiresAt.toISOString() } });
      return viewOf(job, link);
    },

    /** The archive a link grants: signature, expiry, same user and workspace, still allowed, job done. Refusals audited and rethrown. */
    async download(principal: Principal, token: string): Promise<ExportedArchive> {
      let jobId: string | null = null;
      try {
        const grant = deps.signer.verify(token, now());
        jobId = grant.fileId;
        if (grant.workspaceId !== principal.workspaceId) fail('download_link_invalid', 'Link of another workspace');
        if (grant.userId !== principal.userId) fail('download_link_invalid', 'Link of another user');
        const job = await findReadable(principal, grant.fileId);
        if (job.status !== 'succeeded' || !job.progress.blobKey) fail('export_not_ready', 'Export not finished');
        const bytes = await deps.blobs.get(job.workspaceId, job.progress.blobKey);
        if (!bytes) fail('not_found', 'The export is done but its archive is gone');
        await deps.audit.record({ workspaceId: job.workspaceId, actorUserId: principal.userId, kind: 'export.downloaded', outcome: 'success', detail: { jobId: job.id, scope: job.scope.kind, sizeBytes: bytes.length } });
        return { fileName: `kluis-export-${job.scope.kind}-${job.createdAt.toISOString().slice(0, 10)}.zip`, bytes };
      } catch (error) {
        const reason = isKluisError(error) ? error.id : 'internal';
        await deps.audit.record({ workspaceId: principal.workspaceId, actorUserId: principal.userId, kind: 'export.download_refused', outcome: reason === 'store_unavailable' || reason === 'internal' ? 'failure' : 'refused', detail: { reason, jobId } });
        throw error;
      }
    },

    /** Runs one job to its end (tests and the resume sweep); a job another live worker holds is left alone. */
    run,

    /** Builds again every export (of one workspace, or all) that lost its worker (a crash mid-build). Returns how many were run. */
    async resumeInterrupted(onlyWorkspaceId?: string): Promise<number> {
      const staleBefore = new Date(now().getTime() - staleAfterMs);
      let count = 0;
      for (const workspaceId of onlyWorkspaceId ? [onlyWorkspaceId] : await deps.jobs.workspacesWithJobs()) {
        for (const job of await deps.jobs.listResumable(workspaceId, staleBefore)) {
          await run(workspaceId, job.id).catch((error) => deps.onBackgroundError?.(error, job.id));
          count++;
        }
      }
      return count;
    },

    /**
     * Deletes exports requested more than EXPORT_RETENTION_DAYS ago: the archive from the blob
     * store first, then the job row, so a crash in between leaves a row the next purge finds.
     * The retention sweeper calls it per workspace; without an argument it sweeps every workspace.
     */
    async purgeExpiredExports(onlyWorkspaceId?: string): Promise<number> {
      const cutoff = new Date(now().getTime() - EXPORT_RETENTION_DAYS * DAY_MS);
      let purged = 0;
      for (const workspaceId of onlyWorkspaceId ? [onlyWorkspaceId] : await deps.jobs.workspacesWithJobs()) {
        for (const job of await deps.jobs.listCreatedBefore(workspaceId, cutoff)) {
          await deps.blobs.delete(workspaceId, exportBlobKey(job.id));
          await deps.jobs.remove(workspaceId, job.id);
          await deps.audit.record({ workspaceId, kind: 'export.purged', outcome: 'success', detail: { jobId: job.id, scope: job.scope.kind } });
          purged++;
        }
      }
      return purged;
    },

    /**
     * For the erasure of a user: deletes every export that holds their data (their own exports and
     * every workspace export), archive first, then row. Returns how many were removed.
     */
    async removeExportsContaining(workspaceId: string, userId: string): Promise<number> {
      // Every export of the workspace: DATETIME ends at year 9999.
      const all = await deps.jobs.listCreatedBefore(workspaceId, new Date('9999-01-01T00:00:00Z'));
      const holding = all.filter((job) => job.scope.kind === 'workspace' || job.scope.userId === userId);
      for (const job of holding) {
        await deps.blobs.delete(workspaceId, exportBlobKey(job.id));
        await deps.jobs.remove(workspaceId, job.id);
      }
      return holding.length;
    },

    /** Resolves when the builds started by `request` have ended (with `dispatch`: have been queued). */
    async settled(): Promise<void> {
      while (background.size) await Promise.all([...background]);
    },
  };
}

export type Exports = ReturnType<typeof createExports>;
