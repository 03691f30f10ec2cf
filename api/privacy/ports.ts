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
