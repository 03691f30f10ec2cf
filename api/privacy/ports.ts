/** The retention policy port: one stored policy per workspace; no row means Kluis's defaults. */
export interface RetentionPeriods {
  /** Days a conversation is kept after its last message; null keeps conversations until deleted. */
  conversationDays: number | null;
  /** Days an uploaded file is kept. */
  uploadedFileDays: number;
  /** Days a login attempt (with its IP address) is kept. */
  loginLogDays: number;
  /** Days without a new message after which a conversation is cleaned up; null switches this off. */
  inactiveConversationDays: number | null;
}

export interface StoredRetentionPolicy extends RetentionPeriods {
  updatedAt?: Date;
  updatedByUserId?: string;
}

export interface RetentionPolicyStore {
  find(workspaceId: string): Promise<StoredRetentionPolicy | undefined>;
  save(workspaceId: string, policy: RetentionPeriods & { updatedByUserId: string }): Promise<void>;
}

/**
 * Per-workspace data keys (envelope encryption): every workspace has its own data key, wrapped by
 * the master key (or a KMS). Blob contents and stored chunk text are sealed with it, so destroying
 * the key is the last erasure step and makes every copy unreadable, backups included.
 */
export interface WorkspaceDataKeys {
  /** Seals with the workspace's data key (created on first use); `context` is bound as associated data. */
  seal(workspaceId: string, plaintext: Buffer, context: string): Promise<Buffer>;
  /** Opens what `seal` produced for the same workspace and context; fails with `data_key_destroyed` after `destroy`. */
  open(workspaceId: string, sealed: Buffer, context: string): Promise<Buffer>;
  /** Destroys the key for good. Idempotent. */
  destroy(workspaceId: string): Promise<void>;
  /** Whether a usable key exists (the erasure's residue scan asks this). */
  exists(workspaceId: string): Promise<boolean>;
  /**
   * After a workspace erasure that keeps the workspace in use: a new, unrelated key replaces the
   * destroyed one, so new files can be stored; nothing sealed with the old key opens with it.
   */
  renew(workspaceId: string): Promise<void>;
}

/** What one erasure removes: a whole workspace, one user's personal data, one conversation, one uploaded file. */
export type ErasureScope =
  | { kind: 'workspace'; workspaceId: string }
  | { kind: 'user'; workspaceId: string; userId: string; deleteAccount: boolean }
  | { kind: 'conversation'; workspaceId: string; conversationId: string }
  | { kind: 'upload'; workspaceId: string; uploadId: string }
  /** A batch of the retention sweeper: many expired records of one rule, one job and one residue scan. */
  | { kind: 'conversations'; workspaceId: string; conversationIds: string[] }
  | { kind: 'uploads'; workspaceId: string; uploadIds: string[] };

export type ErasureStatus = 'queued' | 'running' | 'done' | 'failed';

export interface ErasureJobView {
  jobId: string;
  scope: ErasureScope;
  status: ErasureStatus;
  /** Steps in order, each with what it removed; the residue scan's findings (empty when done). */
  steps: Array<{ name: string; done: boolean; removed?: number }>;
  residue?: string[];
  requestedAt: string;
  finishedAt?: string;
  /**
   * Only in the answer to the request that created a user erasure: a random token that reads this
   * job's status later (`statusWithToken`), also once the requester's account is gone with it.
   * Kluis keeps only its SHA-256.
   */
  statusToken?: string;
}

/** The erasure engine as the sweeper, the cards and the API see it (api/privacy/erasure.ts). */
export interface Eraser {
  /** Starts (or, for the same scope still running, joins) a persisted erasure job. */
  request(scope: ErasureScope, requestedBy: { userId?: string; reason: 'admin' | 'user' | 'retention' | 'termination' }): Promise<ErasureJobView>;
  /** Runs a job to its end (resuming from its last finished step). */
  run(jobId: string): Promise<ErasureJobView>;
  status(workspaceId: string, jobId: string): Promise<ErasureJobView | undefined>;
  /** The job of the workspace whose status token this is; undefined for any other job, workspace or token. */
  statusWithToken(workspaceId: string, jobId: string, statusToken: string): Promise<ErasureJobView | undefined>;
}

/**
 * The key-encryption key (KEK) that wraps workspace data keys: the local master key by default
 * (api/privacy/dataKeysLocalKek.ts), a KMS key (Azure Key Vault) in production. Data keys never
 * reach storage unwrapped.
 */
export interface KeyEncryptionKeys {
  /** Id (with version) of the key that wraps new data keys, stored beside each wrapped key. */
  readonly currentKeyId: string;
  /** Ids of retired keys it can still unwrap with (during a rotation), never wrap with. */
  readonly retiredKeyIds: readonly string[];
  /** Wraps a data key; `workspaceId` is bound to it, so a wrapped key moved to another workspace fails to unwrap. */
  wrap(workspaceId: string, dataKey: Buffer): Promise<{ wrapped: Buffer; kekId: string }>;
  /** Unwraps with the key `kekId` names (the current one or a retired one still known). */
  unwrap(workspaceId: string, wrapped: Buffer, kekId: string): Promise<Buffer>;
}

/** One workspace's stored data key: wrapped, or NULL once destroyed. */
export interface StoredDataKey {
  wrappedKey: Buffer | null;
  kekId: string;
  destroyedAt: Date | null;
}

/** Where wrapped data keys live (MySQL, api/privacy/prismaDataKeyStore.ts). */
export interface DataKeyStore {
  find(workspaceId: string): Promise<StoredDataKey | undefined>;
  /** Stores the key unless the workspace already has a row (another replica's key, or a destroyed one): the first writer wins. */
  insertIfAbsent(workspaceId: string, wrappedKey: Buffer, kekId: string): Promise<void>;
  /** Overwrites the wrapped key with NULL and stamps destroyedAt (leaves a tombstone row when there was no key). */
  destroy(workspaceId: string): Promise<void>;
  /** Workspaces whose live key is wrapped by another KEK than `kekId` (the work of a KEK rotation). */
  wrappedByOtherThan(kekId: string): Promise<string[]>;
  /** Stores a fresh wrapped key in place of a destroyed one (destroyedAt cleared); false when the key was not destroyed. */
  renewDestroyed(workspaceId: string, wrappedKey: Buffer, kekId: string): Promise<boolean>;
  /** Replaces one wrapping with another if it is still `from`; false when it changed meanwhile (destroyed, or re-wrapped by another replica). */
  replaceWrapping(workspaceId: string, from: { wrappedKey: Buffer; kekId: string }, to: { wrappedKey: Buffer; kekId: string }): Promise<boolean>;
}

/**
 * A per-workspace key for keyed-hash search tokens, derived from the workspace's data key (so it
 * dies with it): the LanceDB index stores HMACs of words instead of the words (api/knowledge/lancedbIndex.ts).
 */
export interface SearchTokenKeys {
  /** Fails with `data_key_destroyed` once the workspace's data key is destroyed. */
  tokenKey(workspaceId: string): Promise<Buffer>;
}
