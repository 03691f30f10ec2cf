/**
 * The tenant guard: a query on a tenant-owned model must name its workspace.
 *
 * Cross-tenant leaks come from a forgotten filter, not from a missing feature, so the guard makes
 * the forgetting impossible at run time: every read, update and delete on a tenant-owned model
 * needs `where.workspaceId` (or a compound unique key that contains it), and every create needs
 * `workspaceId` in each row. Anything else throws `tenant_scope_missing` before SQL is sent.
 * Raw SQL ($queryRaw) is outside the guard by design and reserved for migrations and health checks.
 */
import { fail } from '../errors';
import type { PrismaClient } from './generated/client';

export const TENANT_MODELS = new Set(['User', 'Membership', 'Conversation', 'Message', 'Document', 'AuditEvent', 'Job']);

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
  if (CREATE_OPERATIONS.has(operation)) {
    const rows = Array.isArray(a.data) ? a.data : [a.data];
    if (rows.length > 0 && rows.every(rowHasWorkspace)) return;
    fail('tenant_scope_missing', `${model}.${operation} without workspaceId in data`);
  }
  if (operation === 'upsert') {
    if (hasWorkspace(a.where) && rowHasWorkspace(a.create)) return;
    fail('tenant_scope_missing', `${model}.upsert without workspaceId in where and create`);
  }
  if (!hasWorkspace(a.where)) fail('tenant_scope_missing', `${model}.${operation} without where.workspaceId`);
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
