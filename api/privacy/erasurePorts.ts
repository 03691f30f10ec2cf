/** Ports of the erasure engine (api/privacy/erasure.ts): where its jobs live and how it reaches MySQL rows. */
import type { ErasureScope, ErasureStatus } from './ports';

/** The stores an erasure walks, in this order (a scope uses the ones that hold its data). */
export type ErasureStepName = 'rows' | 'index' | 'blobs' | 'graphTokens' | 'usage' | 'dataKey';

export interface ErasureStepState {
  name: ErasureStepName;
  done: boolean;
  removed?: number;
}

/**
 * What the steps need after the rows that told it are gone, read once when the job is requested:
 * the indexed documents and blob names of an upload, the Entra object id of a user (for the token
 * cache) and the blind index of their login e-mail (for the login log). The last two are dropped
 * from the stored job when it finishes, so the record keeps ids of Kluis only.
 */
export interface ErasurePlan {
  scope: ErasureScope;
  tenantId: string;
  documentIds: string[];
  blobNames: string[];
  entraObjectId?: string;
  emailIndex?: string;
  /**
   * Workspace scope: keep the accounts (User without its display name, Membership, Credential,
   * Session) so people can still sign in, as the user scope does without deleteAccount. False only
   * when the organisation leaves Kluis (reason 'termination'): then the accounts go too.
   */
  keepAccounts?: boolean;
}

export interface StoredErasureJob {
  id: string;
  plan: ErasurePlan;
  requestedByUserId?: string;
  reason: string;
  status: ErasureStatus;
  steps: ErasureStepState[];
  residue?: string[];
  attempts: number;
  requestedAt: Date;
  finishedAt?: Date;
  /** SHA-256 (hex) of the requester's status token (user erasures). */
  statusTokenHash?: string;
}

export interface ErasureJobStore {
  /**
   * Stores a new queued job unless an unfinished one holds the same `activeKey`; then that one is
   * returned with `joined: true`. Atomic across callers and replicas (a unique key, not a read first).
   */
  createOrJoin(job: StoredErasureJob, activeKey: string): Promise<{ job: StoredErasureJob; joined: boolean }>;
  find(jobId: string): Promise<StoredErasureJob | undefined>;
  findInWorkspace(workspaceId: string, jobId: string): Promise<StoredErasureJob | undefined>;
  /** Persists status and step states (after every step, so a crash loses at most the step under way). */
  saveProgress(jobId: string, progress: { status: ErasureStatus; steps: ErasureStepState[]; attempts?: number; lastError?: string }): Promise<void>;
  /** The end of a job: final status, residue, the plan without personal lookups; frees the scope for a new request. */
  finish(jobId: string, outcome: { status: 'done' | 'failed'; steps: ErasureStepState[]; residue: string[]; plan: ErasurePlan }): Promise<void>;
  /** Jobs a restart must pick up (queued, or running when the process died), untouched since `idleSince`. */
  unfinished(idleSince: Date): Promise<string[]>;
}

/** The MySQL side of an erasure. Every method is idempotent: run twice, it removes nothing more and fails on nothing. */
export interface ErasureRows {
  /** The plan of a scope, or undefined when its target does not exist in the workspace. */
  plan(scope: ErasureScope): Promise<Omit<ErasurePlan, 'scope'> | undefined>;
  /** Deletes (or, where a row must stay, strips) the scope's rows; returns the rows touched. */
  eraseRows(plan: ErasurePlan): Promise<number>;
  /** Deletes the scope's metered usage rows (UsageDaily). */
  eraseUsage(plan: ErasurePlan): Promise<number>;
  /** What is left of the scope, one line per table with rows, e.g. "Message: 3". Empty when nothing is. */
  residue(plan: ErasurePlan): Promise<string[]>;
  /** The pictures a user made with `/image` (user scope; read when the blobs step runs, so late ones go too). */
  imagesOf(plan: ErasurePlan): Promise<Array<{ id: string; blobKey: string }>>;
  /** Deletes those picture rows, once their blobs are gone; returns how many. */
  forgetImages(plan: ErasurePlan, imageIds: string[]): Promise<number>;
}

/** The in-memory Graph token cache (api/identity/onBehalfOf.ts). */
export interface GraphTokenCache {
  forget(identity: { tenantId: string; objectId?: string }): number;
}
