/**
 * Ports of the data export (api/privacy/export.ts): the persisted export jobs, the records of a
 * scope, and the archive the export is written into. Adapters: prismaExportJobs.ts,
 * prismaExportRecords.ts, exportZip.ts.
 */

/** What one export holds: everything of a workspace (admins), or one user's own data. */
export type ExportScope = { kind: 'workspace'; workspaceId: string } | { kind: 'user'; workspaceId: string; userId: string };

export type ExportJobStatus = 'queued' | 'running' | 'succeeded' | 'failed';

export interface ExportProgress {
  /** The step being done: reading records, copying files, storing the archive. */
  phase: 'queued' | 'records' | 'files' | 'storing' | 'done' | 'failed';
  filesDone: number;
  filesTotal: number;
  /** Set once the archive is stored: its blob name and size. */
  blobKey?: string;
  sizeBytes?: number;
}

export interface ExportJob {
  id: string;
  workspaceId: string;
  scope: ExportScope;
  requestedByUserId: string;
  status: ExportJobStatus;
  progress: ExportProgress;
  attempts: number;
  lockedBy?: string;
  lockedAt?: Date;
  lastError?: string;
  createdAt: Date;
  updatedAt: Date;
}

/** Export jobs, persisted (the Job table, kind 'export'), so progress survives a crash. */
export interface ExportJobStore {
  create(job: { id: string; scope: ExportScope; requestedByUserId: string; now: Date }): Promise<ExportJob>;
  find(workspaceId: string, jobId: string): Promise<ExportJob | undefined>;
  /** Queued or running jobs of the workspace (any scope). */
  listActive(workspaceId: string): Promise<ExportJob[]>;
  /**
   * Takes the job for `worker` when it is queued, or running under a lock older than `staleBefore`
   * (its worker crashed). Atomic: of two workers, one gets it. Undefined when it cannot be taken.
   */
  claim(workspaceId: string, jobId: string, worker: string, now: Date, staleBefore: Date): Promise<ExportJob | undefined>;
  /** Saves progress and renews the lock; false when the worker lost the job to another. */
  saveProgress(workspaceId: string, jobId: string, worker: string, progress: ExportProgress, now: Date): Promise<boolean>;
  /** Ends the job (succeeded with its archive, or failed with an error id); false when the worker lost it. */
  finish(workspaceId: string, jobId: string, worker: string, outcome: { status: 'succeeded' | 'failed'; progress: ExportProgress; error?: string }, now: Date): Promise<boolean>;
  /** Workspaces that have export jobs (for the sweeps that cross workspaces). */
  workspacesWithJobs(): Promise<string[]>;
  /** Jobs created before `createdBefore` (any status). */
  listCreatedBefore(workspaceId: string, createdBefore: Date): Promise<ExportJob[]>;
  /** Jobs that lost their worker: queued since before `staleBefore`, or running under a lock older than it. */
  listResumable(workspaceId: string, staleBefore: Date): Promise<ExportJob[]>;
  remove(workspaceId: string, jobId: string): Promise<void>;
}

/** A JSON-ready row: dates as ISO strings, big counters as strings. */
export type ExportRow = Record<string, unknown>;

export interface ExportConversation extends ExportRow {
  id: string;
  messages: ExportRow[];
}

export interface ExportUpload extends ExportRow {
  id: string;
  fileName: string;
}

/** A picture generated with `/image`: its record; the PNG is the blob `blobKey`. */
export interface ExportImage extends ExportRow {
  id: string;
  blobKey: string;
}

/** Filter of a scope's records: the workspace, and for a user export the user it is about. */
export interface RecordFilter {
  workspaceId: string;
  userId?: string;
}

/** The records of one workspace, read for an export; every read names its workspace. */
export interface ExportRecords {
  workspace(workspaceId: string): Promise<ExportRow | undefined>;
  /** Users with their memberships (secrets such as password hashes and TOTP secrets never). */
  members(filter: RecordFilter): Promise<ExportRow[]>;
  /** Conversations (with a user filter: the user's own) with all their messages. */
  conversations(filter: RecordFilter): Promise<ExportConversation[]>;
  feedback(filter: RecordFilter): Promise<ExportRow[]>;
  usage(filter: RecordFilter): Promise<ExportRow[]>;
  /** Uploaded files (with a user filter: the ones the user uploaded). */
  uploads(filter: RecordFilter): Promise<ExportUpload[]>;
  /** Generated pictures (with a user filter: the ones the user made). */
  images(filter: RecordFilter): Promise<ExportImage[]>;
  sources(workspaceId: string): Promise<ExportRow[]>;
  documents(workspaceId: string): Promise<ExportRow[]>;
  /** Retention periods, usage budget and assistant limits; the admin's instructions only as set/length. */
  settings(workspaceId: string): Promise<ExportRow>;
  auditEvents(workspaceId: string): Promise<ExportRow[]>;
}

/** A zip being written: entries are added in order, `finish` yields the complete archive. */
export interface ArchiveWriter {
  add(name: string, content: Buffer | string): Promise<void>;
  finish(): Promise<Buffer>;
  /** Drops everything written so far (a failed or abandoned build). */
  abort(): void;
}
