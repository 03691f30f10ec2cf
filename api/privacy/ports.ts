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
}
