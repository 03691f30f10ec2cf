/** The audit log port: who did what, when, with which outcome. Never content, secrets or tokens. */
export interface AuditEventInput {
  workspaceId: string;
  actorUserId?: string;
  kind: string;
  outcome: 'success' | 'failure' | 'refused';
  detail?: Record<string, string | number | boolean | null>;
  ip?: string;
}

export interface AuditLog {
  record(event: AuditEventInput): Promise<void>;
}

export interface AuditPruneReport {
  /** Workspaces whose chain anchor moved forward. */
  workspaces: number;
  /** Events deleted. */
  deleted: number;
  /** Workspaces left as they were because their chain could not be extended (see audit:verify). */
  failed: string[];
}

/** Retention for the audit log: drops events older than a moment while the chain stays verifiable. */
export interface AuditRetention {
  /**
   * Deletes each workspace's events written before `cutoff` (a prefix of its chain: from the
   * first kept event on, nothing is deleted even if an older timestamp follows) and moves the
   * chain's anchor to the oldest kept event. Records an `audit.pruned` event in every chain it shortened.
   */
  pruneOlderThan(cutoff: Date, options?: { workspaceId?: string }): Promise<AuditPruneReport>;
  /**
   * Erases the client IP (and its salt) of events written before `cutoff` (in every workspace, or
   * the one given: the login log period is a per-workspace retention setting); the chain stays
   * verifiable. Returns how many events lost their IP.
   */
  eraseIpsOlderThan(cutoff: Date, options?: { workspaceId?: string }): Promise<number>;
}
