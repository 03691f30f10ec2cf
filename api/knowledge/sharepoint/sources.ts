/**
 * SharePoint knowledge sources of a workspace: managers and admins choose which drives (or
 * folders) the assistant may know; each is synced on its schedule (monthly by default, as the
 * data-protection statement promises) or on demand, resumably, through the delta engine.
 */
import { randomUUID } from 'node:crypto';
import type { AuditLog } from '../../audit/ports';
import { fail } from '../../errors';
import { authorize } from '../../tenancy/policy';
import type { Principal } from '../../tenancy/principal';
import type { Indexer } from '../indexer';
import type { DocumentStore, SearchIndex } from '../ports';
import { deltaSync, readSyncProgress, SHAREPOINT_SOURCE_KIND, type DeltaSyncResult } from './deltaSync';
import type { GraphDriveClient, SyncProgress } from './ports';
import type { KnowledgeSourceRecord, KnowledgeSourceStore, SyncSchedule } from './sourceStore';

export interface KnowledgeSourcesDeps {
  store: KnowledgeSourceStore;
  /** A Graph client acting for the workspace's tenant (app-only for scheduled syncs). */
  graphFor(workspace: { workspaceId: string; tenantId: string }): GraphDriveClient;
  tenantOf(workspaceId: string): Promise<string | undefined>;
  indexer: Indexer;
  documents: DocumentStore;
  index: SearchIndex;
  audit: AuditLog;
  maxFileBytes: number;
  onSyncError?: (error: unknown, source: KnowledgeSourceRecord) => void;
  /**
   * Hands an app-only sync to the shared job queue (any replica runs it, via `runSync`). Without it,
   * syncs run in the background of this process. Delegated syncs always run here: the caller's
   * token never goes into a queue.
   */
  dispatch?: (source: { workspaceId: string; sourceId: string }) => Promise<void>;
  now?: () => Date;
}

const SCHEDULE_DAYS: Record<Exclude<SyncSchedule, 'manual'>, number> = { daily: 1, weekly: 7, monthly: 30 };

export function nextRun(schedule: SyncSchedule, from: Date): Date | undefined {
  return schedule === 'manual' ? undefined : new Date(from.getTime() + SCHEDULE_DAYS[schedule] * 86_400_000);
}

export function createKnowledgeSources(deps: KnowledgeSourcesDeps) {
  const now = deps.now ?? (() => new Date());
  const background = new Set<Promise<unknown>>();

  /** The Graph client for a source's tenant; fails at once when Graph access is not configured. */
  async function graphOf(source: KnowledgeSourceRecord): Promise<GraphDriveClient> {
    const tenantId = await deps.tenantOf(source.workspaceId);
    if (!tenantId) fail('not_found', 'Workspace of the source no longer exists');
    return deps.graphFor({ workspaceId: source.workspaceId, tenantId });
  }

  async function run(source: KnowledgeSourceRecord, graph?: GraphDriveClient, delegated = false): Promise<DeltaSyncResult> {
    const result = await deltaSync(
      { id: source.id, workspaceId: source.workspaceId, driveId: source.driveId, folderId: source.folderId, maxFileBytes: deps.maxFileBytes, delegated },
      { graph: graph ?? (await graphOf(source)), indexer: deps.indexer, documents: deps.documents, index: deps.index, state: deps.store },
    );
    const at = now();
    await deps.store.markSynced(source.workspaceId, source.id, at, nextRun(source.schedule, at));
    return result;
  }

  function inBackground(source: KnowledgeSourceRecord, graph?: GraphDriveClient, delegated = false): void {
    const p = (deps.dispatch && !delegated ? deps.dispatch({ workspaceId: source.workspaceId, sourceId: source.id }) : run(source, graph, delegated)).catch((error) => deps.onSyncError?.(error, source));
    background.add(p);
    void p.finally(() => background.delete(p));
  }

  async function sourceOf(principal: Principal, sourceId: string): Promise<KnowledgeSourceRecord> {
    const source = await deps.store.find(principal.workspaceId, sourceId);
    if (!source) fail('not_found', 'No such knowledge source in this workspace');
    return source;
  }

  return {
    /** Resolves when every background sync started here has finished (tests, shutdown). */
    async settled(): Promise<void> {
      while (background.size) await Promise.allSettled([...background]);
    },

    async add(principal: Principal, input: { driveId: string; folderId?: string; displayName: string; schedule: SyncSchedule }): Promise<KnowledgeSourceRecord> {
      await authorize(principal, 'knowledge.manage', { workspaceId: principal.workspaceId }, deps.audit);
      // A new source syncs at the next scheduler tick, then on its schedule.
      const source = await deps.store.create({ id: randomUUID(), workspaceId: principal.workspaceId, driveId: input.driveId, folderId: input.folderId, displayName: input.displayName, schedule: input.schedule, nextSyncAt: now(), createdByUserId: principal.userId });
      await deps.audit.record({ workspaceId: principal.workspaceId, actorUserId: principal.userId, kind: 'knowledge.source_added', outcome: 'success', detail: { sourceId: source.id, schedule: input.schedule, folderScoped: input.folderId !== undefined } });
      return source;
    },

    async list(principal: Principal): Promise<Array<KnowledgeSourceRecord & { progress?: SyncProgress }>> {
      await authorize(principal, 'knowledge.read', { workspaceId: principal.workspaceId }, deps.audit);
      const sources = await deps.store.list(principal.workspaceId);
      return Promise.all(sources.map(async (s) => ({ ...s, progress: await readSyncProgress(deps.store, s.workspaceId, s.id) })));
    },

    async progress(principal: Principal, sourceId: string): Promise<SyncProgress | undefined> {
      await authorize(principal, 'knowledge.read', { workspaceId: principal.workspaceId }, deps.audit);
      const source = await sourceOf(principal, sourceId);
      return readSyncProgress(deps.store, source.workspaceId, source.id);
    },

    /**
     * Start a sync now; it runs in the background and its progress is readable while it runs.
     * `asUser`: Graph as the caller (delegated). The sync then indexes what that user can see, and a
     * full enumeration prunes what they cannot; when their token runs out mid-way the sync stops as
     * interrupted and the next run (scheduled, app-only) resumes from the saved link.
     */
    async syncNow(principal: Principal, sourceId: string, options: { asUser?: GraphDriveClient } = {}): Promise<{ status: 'started'; delegated: boolean }> {
      await authorize(principal, 'knowledge.manage', { workspaceId: principal.workspaceId }, deps.audit);
      const source = await sourceOf(principal, sourceId);
      // Resolve Graph access before answering, so a missing app registration is the caller's error, not a log line.
      const delegated = options.asUser !== undefined;
      inBackground(source, options.asUser ?? (await graphOf(source)), delegated);
      await deps.audit.record({ workspaceId: principal.workspaceId, actorUserId: principal.userId, kind: 'knowledge.sync_requested', outcome: 'success', detail: { sourceId, delegated } });
      return { status: 'started', delegated };
    },

    /** Remove a source and everything indexed from it. */
    async remove(principal: Principal, sourceId: string): Promise<void> {
      await authorize(principal, 'knowledge.manage', { workspaceId: principal.workspaceId }, deps.audit);
      const source = await sourceOf(principal, sourceId);
      const prefix = `${source.driveId}/`;
      for (const doc of await deps.documents.listBySource(source.workspaceId, SHAREPOINT_SOURCE_KIND)) {
        if (doc.sourceRef.startsWith(prefix)) await deps.indexer.removeDocument(source.workspaceId, doc.id);
      }
      await deps.store.remove(source.workspaceId, source.id);
      await deps.audit.record({ workspaceId: principal.workspaceId, actorUserId: principal.userId, kind: 'knowledge.source_removed', outcome: 'success', detail: { sourceId } });
    },

    /**
     * Runs one app-only sync to its end (the job queue's handler). A source removed meanwhile is
     * nothing to do; a failure is thrown so the queue retries it.
     */
    async runSync(workspaceId: string, sourceId: string): Promise<DeltaSyncResult | undefined> {
      const source = await deps.store.find(workspaceId, sourceId);
      if (!source) return undefined;
      return run(source);
    },

    /** One scheduler tick: start every due source (each in its own workspace). */
    async runDue(limit = 20): Promise<number> {
      const due = await deps.store.due(now(), limit);
      for (const source of due) {
        // Push the next run out first, so a slow sync is not started again by the next tick.
        await deps.store.postpone(source.workspaceId, source.id, nextRun(source.schedule === 'manual' ? 'daily' : source.schedule, now()));
        inBackground(source);
      }
      return due.length;
    },
  };
}

export type KnowledgeSources = ReturnType<typeof createKnowledgeSources>;
