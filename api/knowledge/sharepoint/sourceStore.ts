/** Ports for SharePoint knowledge sources: the sources themselves and their sync state. */
import type { SyncState, SyncStateStore } from './ports';

export type SyncSchedule = 'monthly' | 'weekly' | 'daily' | 'manual';

export interface KnowledgeSourceRecord {
  id: string;
  workspaceId: string;
  driveId: string;
  folderId?: string;
  displayName: string;
  schedule: SyncSchedule;
  lastSyncAt?: Date;
  nextSyncAt?: Date;
}

export interface KnowledgeSourceStore extends SyncStateStore {
  create(source: Omit<KnowledgeSourceRecord, 'lastSyncAt'> & { createdByUserId?: string }): Promise<KnowledgeSourceRecord>;
  list(workspaceId: string): Promise<KnowledgeSourceRecord[]>;
  find(workspaceId: string, sourceId: string): Promise<KnowledgeSourceRecord | undefined>;
  remove(workspaceId: string, sourceId: string): Promise<void>;
  markSynced(workspaceId: string, sourceId: string, at: Date, next: Date | undefined): Promise<void>;
  /** Move the next run without recording a sync. */
  postpone(workspaceId: string, sourceId: string, next: Date | undefined): Promise<void>;
  /** Sources of every workspace whose next sync is due (the scheduler). */
  due(now: Date, limit: number): Promise<KnowledgeSourceRecord[]>;
}

export type { SyncState };
