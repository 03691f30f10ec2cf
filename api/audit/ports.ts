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
