/**
 * Reading the audit log back: the last events of a workspace, optionally of one area (the part of
 * the kind before the dot). Admins only; the log holds who did what, never content.
 */
import { authorize } from '../tenancy/policy';
import type { Principal } from '../tenancy/principal';
import type { AuditLog } from './ports';

/** The areas an admin can filter on; a filter outside this list is refused, never passed to SQL. */
export const AUDIT_AREAS = ['authorization', 'retention', 'knowledge', 'assistant', 'identity', 'role', 'file', 'usage', 'api', 'audit'] as const;
export type AuditArea = (typeof AUDIT_AREAS)[number];

export const MAX_AUDIT_EVENTS = 50;

export interface AuditEventRecord {
  at: Date;
  kind: string;
  outcome: string;
  actorUserId?: string;
  detail?: Record<string, unknown>;
}

/** The read side of the audit log port. */
export interface AuditEventReader {
  /** Newest first; `kindPrefix` such as "knowledge." limits to one area. */
  recent(workspaceId: string, options: { kindPrefix?: string; limit: number }): Promise<AuditEventRecord[]>;
}

export function isAuditArea(value: unknown): value is AuditArea {
  return typeof value === 'string' && (AUDIT_AREAS as readonly string[]).includes(value);
}

export function createAuditTrail(deps: { reader: AuditEventReader; audit: AuditLog }) {
  return {
    async recent(principal: Principal, options: { area?: AuditArea; limit?: number } = {}): Promise<AuditEventRecord[]> {
      await authorize(principal, 'audit.read', { workspaceId: principal.workspaceId }, deps.audit);
      const limit = Math.min(Math.max(Math.trunc(options.limit ?? 10), 1), MAX_AUDIT_EVENTS);
      return deps.reader.recent(principal.workspaceId, { kindPrefix: options.area ? `${options.area}.` : undefined, limit });
    },
  };
}

export type AuditTrail = ReturnType<typeof createAuditTrail>;
