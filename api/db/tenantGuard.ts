/**
 * The tenant guard: a query on a tenant-owned model must name its workspace.
 *
 * Cross-tenant leaks come from a forgotten filter, not from a missing feature, so the guard makes
 * the forgetting impossible at run time: every read, update and delete on a tenant-owned model
 * needs `where.workspaceId` (or a compound unique key that contains it), and every create needs
 * `workspaceId` in each row. Anything else throws `tenant_scope_missing` before SQL is sent.
 * Raw SQL ($queryRaw) is outside the guard by design and reserved for migrations, health checks and
 * the few lookups that must find a row before its workspace is known, by a globally unique secret
 * (a login's email blind index, an invitation or reset token hash); each then re-reads through the guard.
 */
import { fail } from '../errors';
import type { PrismaClient } from './generated/client';

export const TENANT_MODELS = new Set(['User', 'Membership', 'Conversation', 'Message', 'Document', 'AuditEvent', 'AuditChainHead', 'Job', 'Credential', 'Session', 'PasswordResetToken', 'Invitation', 'KnowledgeSource', 'WorkspaceAssistantSettings', 'Upload', 'RetentionPolicy', 'UsageDaily', 'UsageBudget', 'MessageFeedback', 'WorkspaceRoutingPolicy', 'WorkspaceDataKey', 'Image']);

const CREATE_OPERATIONS = new Set(['create', 'createMany', 'createManyAndReturn']);

function hasWorkspace(where: unknown): boolean {
  if (!where || typeof where !== 'object') return false;
  const w = where as Record<string, unknown>;
  if (typeof w.workspaceId === 'string' && w.workspaceId.length > 0) return true;
  // Compound unique keys such as workspaceId_entraObjectId: { workspaceId, entraObjectId }.
  return Object.entries(w).some(([key, value]) => key.startsWith('workspaceId_') && hasWorkspace(value));
}

function rowHasWorkspace(row: unknown): boolean {
  return !!row && typeof row === 'object' && typeof (row as Record<string, unknown>).workspaceId === 'string';
}

/** Throws unless the arguments of `operation` on `model` are scoped to one workspace. */
export function assertTenantScoped(model: string | undefined, operation: string, args: unknown): void {
  if (!model || !TENANT_MODELS.has(model)) return;
  const a = (args ?? {}) as Record<string, unknown>;
  assertFlatWrite(model, operation, a.data);
  assertFlatWrite(model, operation, a.create);
  assertFlatWrite(model, operation, a.update);
  if (CREATE_OPERATIONS.has(operation)) {
    const rows = Array.isArray(a.data) ? a.data : [a.data];
    if (rows.length > 0 && rows.every(rowHasWorkspace)) return;
    fail('tenant_scope_missing', `${model}.${operation} without workspaceId in data`);
  }
  if (operation === 'upsert' && !rowHasWorkspace(a.create)) fail('tenant_scope_missing', `${model}.upsert without workspaceId in create`);
  if (!hasWorkspace(a.where)) fail('tenant_scope_missing', `${model}.${operation} without where.workspaceId`);
  for (const data of [a.data, a.update]) {
    if (!data || typeof data !== 'object') continue;
    // A row never moves to another workspace.
    const d = data as Record<string, unknown>;
    if ('workspaceId' in d || 'workspace' in d) fail('tenant_scope_missing', `${model}.${operation} may not change workspaceId`);
  }
}

const NESTED_WRITES = new Set(['create', 'createMany', 'connect', 'connectOrCreate', 'upsert', 'set', 'update', 'updateMany', 'delete', 'deleteMany', 'disconnect']);

/**
 * Nested writes would reach rows of related models without the checks above (a conversation
 * update creating a message in another workspace), so writes on tenant-owned models must be flat.
 */
function assertFlatWrite(model: string, operation: string, data: unknown): void {
  const rows = Array.isArray(data) ? data : [data];
  for (const row of rows) {
    if (!row || typeof row !== 'object') continue;
    for (const [field, value] of Object.entries(row as Record<string, unknown>)) {
      if (value && typeof value === 'object' && !Array.isArray(value) && !(value instanceof Date) && Object.keys(value).some((k) => NESTED_WRITES.has(k))) {
        fail('tenant_scope_missing', `${model}.${operation} with a nested write on ${field}`);
      }
    }
  }
}

export function guardTenantScope(prisma: PrismaClient) {
  return prisma.$extends({
    name: 'tenant-guard',
    query: {
      $allModels: {
        async $allOperations({ model, operation, args, query }) {
          assertTenantScoped(model, operation, args);
          return query(args);
        },
      },
    },
  });
}
