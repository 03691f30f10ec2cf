/**
 * The erasure engine: one persisted job per erasure, walking the stores in a fixed order (MySQL
 * rows, search-index chunks, blobs, cached Graph tokens, usage rows, and for a workspace its data
 * key), saving each step's completion before the next starts. A crash at any point loses at most
 * the step under way, and every step is idempotent, so `run` simply starts again at the first step
 * not marked done. The job ends with a residue scan over every store; it is `done` only when the
 * scan finds nothing of the scope, otherwise `failed` with the residue listed.
 *
 * The retention sweeper erases expired conversations and uploads in batches (scopes
 * `conversations` and `uploads`): one job, one pass over each store and one residue scan for up to
 * a few hundred records, instead of a job per record.
 *
 * The audit log gets who, when and the scope's ids, never erased content. A workspace erasure
 * deletes the workspace's audit events too; its record is the ErasureJob row itself.
 */
import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import type { AuditLog } from '../audit/ports';
import { fail, isKluisError } from '../errors';
import type { BlobStore } from '../files/ports';
import type { SearchIndex } from '../knowledge/ports';
import type { ErasureJobStore, ErasurePlan, ErasureRows, ErasureStepName, ErasureStepState, GraphTokenCache, StoredErasureJob } from './erasurePorts';
import type { Eraser, ErasureJobView, ErasureScope, WorkspaceDataKeys } from './ports';

export interface EraserDeps {
  jobs: ErasureJobStore;
  rows: ErasureRows;
  index: Pick<SearchIndex, 'deleteDocument' | 'deleteWorkspace' | 'countChunks'>;
  blobs: Pick<BlobStore, 'get' | 'delete' | 'deleteWorkspace' | 'count'>;
  dataKeys: Pick<WorkspaceDataKeys, 'destroy' | 'exists'> & Partial<Pick<WorkspaceDataKeys, 'renew'>>;
  /** Absent when Kluis exchanges no Graph tokens (no Entra client secret): the step then has nothing to forget. */
  graphTokens?: GraphTokenCache;
  audit: AuditLog;
  /** Data exports that hold a user's data (their own and every workspace export) go with the user. */
  exports?: { removeExportsContaining(workspaceId: string, userId: string): Promise<number> };
  /** Called after each step's completion is saved; tests inject crashes here. */
  afterStep?: (jobId: string, step: ErasureStepName) => Promise<void> | void;
}

export interface ErasureEngine extends Eraser {
  /**
   * Ids of jobs a restart must finish: unfinished and not touched for `idleMs` (a job saved more
   * recently may still be running in another process, which saves every step).
   */
  unfinished(idleMs?: number): Promise<string[]>;
  /** Gives a job up after its retries: `failed`, with the reason as residue (completed steps stay done). */
  abandon(jobId: string, reason: string): Promise<void>;
}

const STEPS: Record<ErasureScope['kind'], ErasureStepName[]> = {
  workspace: ['rows', 'index', 'blobs', 'graphTokens', 'usage', 'dataKey'],
  user: ['rows', 'blobs', 'graphTokens', 'usage'],
  conversation: ['rows'],
  upload: ['rows', 'index', 'blobs'],
  conversations: ['rows'],
  uploads: ['rows', 'index', 'blobs'],
};

/** A batch's key names its exact set of records (order aside), so a sweep that selects the same set again joins its job. */
const batchKey = (ids: string[]) => createHash('sha256').update([...ids].sort().join(',')).digest('hex');

/** The scope as a key: a second request for the same scope while a job runs joins that job. */
export function activeKeyOf(scope: ErasureScope): string {
  switch (scope.kind) {
    case 'workspace':
      return `workspace:${scope.workspaceId}`;
    case 'user':
      return `user:${scope.workspaceId}:${scope.userId}`;
    case 'conversation':
      return `conversation:${scope.workspaceId}:${scope.conversationId}`;
    case 'upload':
      return `upload:${scope.workspaceId}:${scope.uploadId}`;
    case 'conversations':
      return `conversations:${scope.workspaceId}:${batchKey(scope.conversationIds)}`;
    case 'uploads':
      return `uploads:${scope.workspaceId}:${batchKey(scope.uploadIds)}`;
  }
}

/**
 * A user erasure with deleteAccount removes the very account its requester signs in with; their
 * next contact makes a fresh, empty one that owns nothing, so "own jobs only" would hide the end
 * of their own erasure from them. The status token bridges that: 32 random bytes handed out once,
 * at request time, and kept only as a hash, so the job row holds no personal data and a copy of
 * the table (or a backup) yields no usable token.
 */
const STATUS_TOKEN = /^[A-Za-z0-9_-]{43}$/;
const hashOfToken = (token: string) => createHash('sha256').update(token, 'utf8').digest('hex');

/** The ids of a scope for the audit log: ids only, never content. */
function auditDetail(jobId: string, scope: ErasureScope): Record<string, string | boolean | number> {
  // A batch's ids are in its ErasureJob row; the audit event counts them.
  if (scope.kind === 'conversations') return { jobId, scope: scope.kind, records: scope.conversationIds.length };
  if (scope.kind === 'uploads') return { jobId, scope: scope.kind, records: scope.uploadIds.length };
  const { kind, workspaceId: _workspace, ...ids } = scope;
  return { jobId, scope: kind, ...ids };
}

export function viewOf(job: StoredErasureJob): ErasureJobView {
  return {
    jobId: job.id,
    scope: job.plan.scope,
    status: job.status,
    steps: job.steps.map((s) => ({ name: s.name, done: s.done, ...(s.removed === undefined ? {} : { removed: s.removed }) })),
    ...(job.residue === undefined ? {} : { residue: job.residue }),
    requestedAt: job.requestedAt.toISOString(),
    ...(job.finishedAt === undefined ? {} : { finishedAt: job.finishedAt.toISOString() }),
  };
}

export function createEraser(deps: EraserDeps): ErasureEngine {
  const inFlight = new Map<string, Promise<ErasureJobView>>();

  async function runStep(step: ErasureStepName, plan: ErasurePlan): Promise<number> {
    const { scope, tenantId } = plan;
    const workspaceId = scope.workspaceId;
    switch (step) {
      case 'rows':
        return deps.rows.eraseRows(plan);
      case 'index': {
        if (scope.kind === 'workspace') {
          const chunks = await deps.index.countChunks(workspaceId);
          await deps.index.deleteWorkspace(workspaceId);
          return chunks;
        }
        let removed = 0;
        for (const documentId of plan.documentIds) {
          removed += await deps.index.countChunks(workspaceId, documentId);
          await deps.index.deleteDocument(workspaceId, documentId);
        }
        return removed;
      }
      case 'blobs': {
        if (scope.kind === 'workspace') {
          const blobs = await deps.blobs.count(workspaceId);
          await deps.blobs.deleteWorkspace(workspaceId);
          return blobs;
        }
        let removed = scope.kind === 'user' && deps.exports ? await deps.exports.removeExportsContaining(workspaceId, scope.userId) : 0;
        for (const name of plan.blobNames) {
          if ((await deps.blobs.get(workspaceId, name)) !== undefined) removed++;
          await deps.blobs.delete(workspaceId, name);
        }
        if (scope.kind === 'user') {
          // Blob first, then its row: a crash between leaves the row, so a rerun still finds the picture.
          const images = await deps.rows.imagesOf(plan);
          for (const image of images) {
            if ((await deps.blobs.get(workspaceId, image.blobKey)) !== undefined) removed++;
            await deps.blobs.delete(workspaceId, image.blobKey);
          }
          await deps.rows.forgetImages(plan, images.map((i) => i.id));
        }
        return removed;
      }
      case 'graphTokens':
        if (!deps.graphTokens) return 0;
        if (scope.kind === 'workspace') return deps.graphTokens.forget({ tenantId });
        return plan.entraObjectId ? deps.graphTokens.forget({ tenantId, objectId: plan.entraObjectId }) : 0;
      case 'usage':
        return deps.rows.eraseUsage(plan);
      case 'dataKey': {
        const existed = await deps.dataKeys.exists(workspaceId);
        await deps.dataKeys.destroy(workspaceId);
        return existed ? 1 : 0;
      }
    }
  }

  /** Everything of the scope still found in any store; empty means the erasure is complete. */
  async function residueOf(plan: ErasurePlan): Promise<string[]> {
    const { scope } = plan;
    const workspaceId = scope.workspaceId;
    const found = await deps.rows.residue(plan);
    if (scope.kind === 'workspace') {
      const chunks = await deps.index.countChunks(workspaceId);
      if (chunks > 0) found.push(`search index: ${chunks} chunks`);
      const blobs = await deps.blobs.count(workspaceId);
      if (blobs > 0) found.push(`blob store: ${blobs} blobs`);
      if (await deps.dataKeys.exists(workspaceId)) found.push('data key: still exists');
    }
    if (scope.kind === 'upload' || scope.kind === 'uploads') {
      for (const documentId of plan.documentIds) {
        const chunks = await deps.index.countChunks(workspaceId, documentId);
        if (chunks > 0) found.push(`search index: ${chunks} chunks of document ${documentId}`);
      }
      for (const name of plan.blobNames) if ((await deps.blobs.get(workspaceId, name)) !== undefined) found.push(`blob store: ${name}`);
    }
    return found;
  }

  async function finish(job: StoredErasureJob, steps: ErasureStepState[]): Promise<ErasureJobView> {
    const residue = await residueOf(job.plan);
    const status = residue.length === 0 ? 'done' : 'failed';
    // The personal lookups were only needed while steps ran; the record keeps Kluis's own ids.
    const { entraObjectId: _oid, emailIndex: _email, ...plan } = job.plan;
    // A workspace an admin emptied stays in use: it gets a new key once nothing of the old one is left.
    if (status === 'done' && job.plan.scope.kind === 'workspace' && job.plan.keepAccounts && deps.dataKeys.renew) await deps.dataKeys.renew(job.plan.scope.workspaceId);
    await deps.jobs.finish(job.id, { status, steps, residue, plan });
    if (job.plan.scope.kind !== 'workspace') {
      await deps.audit.record({ workspaceId: job.plan.scope.workspaceId, actorUserId: job.requestedByUserId, kind: status === 'done' ? 'erasure.completed' : 'erasure.failed', outcome: status === 'done' ? 'success' : 'failure', detail: { ...auditDetail(job.id, job.plan.scope), residue: residue.length } });
    }
    return viewOf((await deps.jobs.find(job.id))!);
  }

  async function execute(jobId: string): Promise<ErasureJobView> {
    const job = await deps.jobs.find(jobId);
    if (!job) fail('not_found', `Erasure job ${jobId} does not exist`);
    if (job.status === 'done') return viewOf(job);
    // A failed job whose steps all ran found residue (rows written while it ran): a fresh pass.
    const again = job.status === 'failed' && job.steps.every((s) => s.done);
    const steps = job.steps.map((s) => (again ? { name: s.name, done: false } : { ...s }));
    const attempts = job.attempts + 1;
    await deps.jobs.saveProgress(jobId, { status: 'running', steps, attempts });
    let current: ErasureStepName | undefined;
    try {
      for (const step of steps) {
        if (step.done) continue;
        current = step.name;
        step.removed = await runStep(step.name, job.plan);
        step.done = true;
        await deps.jobs.saveProgress(jobId, { status: 'running', steps });
        await deps.afterStep?.(jobId, step.name);
      }
      current = undefined;
      return await finish(job, steps);
    } catch (error) {
      // The job stays `running`: exactly what a crash leaves, so both resume the same way.
      const reason = `${current ?? 'residue scan'}: ${isKluisError(error) ? error.id : 'unexpected error'}`;
      await deps.jobs.saveProgress(jobId, { status: 'running', steps, lastError: reason }).catch(() => undefined);
      throw error;
    }
  }

  return {
    async request(scope, requestedBy) {
      const found = await deps.rows.plan(scope);
      if (!found) fail('not_found', `Nothing to erase: the ${scope.kind} does not exist in workspace ${scope.workspaceId}`);
      const statusToken = scope.kind === 'user' ? randomBytes(32).toString('base64url') : undefined;
      const job: StoredErasureJob = {
        id: randomUUID(),
        plan: { scope, ...found, ...(scope.kind === 'workspace' ? { keepAccounts: requestedBy.reason !== 'termination' } : {}) },
        requestedByUserId: requestedBy.userId,
        reason: requestedBy.reason,
        status: 'queued',
        steps: STEPS[scope.kind].map((name) => ({ name, done: false })),
        attempts: 0,
        requestedAt: new Date(),
        ...(statusToken ? { statusTokenHash: hashOfToken(statusToken) } : {}),
      };
      const stored = await deps.jobs.createOrJoin(job, activeKeyOf(scope));
      if (!stored.joined && scope.kind !== 'workspace') {
        await deps.audit.record({ workspaceId: scope.workspaceId, actorUserId: requestedBy.userId, kind: 'erasure.requested', outcome: 'success', detail: { ...auditDetail(job.id, scope), reason: requestedBy.reason } });
      }
      // A joined request gets no token: only the hash of the first one exists.
      return { ...viewOf(stored.job), ...(statusToken && !stored.joined ? { statusToken } : {}) };
    },

    run(jobId) {
      // One run per job in this process: a joined request and the runner share it.
      const running = inFlight.get(jobId);
      if (running) return running;
      const started = execute(jobId).finally(() => inFlight.delete(jobId));
      inFlight.set(jobId, started);
      return started;
    },

    async status(workspaceId, jobId) {
      const job = await deps.jobs.findInWorkspace(workspaceId, jobId);
      return job ? viewOf(job) : undefined;
    },

    async statusWithToken(workspaceId, jobId, statusToken) {
      if (!STATUS_TOKEN.test(statusToken)) return undefined;
      const job = await deps.jobs.findInWorkspace(workspaceId, jobId);
      if (!job?.statusTokenHash) return undefined;
      const matches = timingSafeEqual(Buffer.from(job.statusTokenHash, 'hex'), Buffer.from(hashOfToken(statusToken), 'hex'));
      return matches ? viewOf(job) : undefined;
    },

    unfinished: (idleMs = 0) => deps.jobs.unfinished(new Date(Date.now() - idleMs)),

    async abandon(jobId, reason) {
      const job = await deps.jobs.find(jobId);
      if (!job || job.status === 'done') return;
      const { entraObjectId: _oid, emailIndex: _email, ...plan } = job.plan;
      await deps.jobs.finish(jobId, { status: 'failed', steps: job.steps, residue: [`stopped: ${reason}`], plan });
    },
  };
}
