/**
 * The one authorization policy: `can(principal, action, resource)`. The workspace comparison
 * comes first, always: a principal of workspace A has no rights at all on anything of B, and
 * `authorize` reports such a resource as not found (404), never as forbidden (403), so a caller
 * cannot even learn that it exists.
 */
import type { AuditLog } from '../audit/ports';
import { fail } from '../errors';
import type { Principal, Role } from './principal';

export type Action =
  | 'assistant.ask'
  | 'conversation.read'
  | 'conversation.delete'
  | 'members.read'
  | 'members.manage'
  | 'invitation.create'
  | 'knowledge.read'
  | 'knowledge.manage'
  | 'files.read'
  | 'files.manage'
  | 'audit.read'
  | 'workspace.configure'
  | 'admin.panel'
  | 'retention.read'
  | 'retention.manage'
  | 'answer.feedback'
  | 'usage.read'
  | 'usage.budget'
  | 'routing.read'
  | 'routing.manage'
  | 'workspace.erase';

export interface Resource {
  workspaceId: string;
  /** The user a personal resource belongs to (a conversation). */
  ownerUserId?: string;
}

const RANK: Record<Role, number> = { viewer: 0, user: 1, manager: 2, admin: 3 };

const MINIMUM_ROLE: Record<Action, Role> = {
  'assistant.ask': 'user',
  'conversation.read': 'viewer',
  'conversation.delete': 'user',
  'members.read': 'manager',
  'members.manage': 'admin',
  'invitation.create': 'admin',
  'knowledge.read': 'viewer',
  'knowledge.manage': 'manager',
  // Uploaded files: every member may list and download them; managers upload and delete.
  'files.read': 'viewer',
  'files.manage': 'manager',
  'audit.read': 'admin',
  'workspace.configure': 'admin',
  // The Teams admin panel: managers see its knowledge section, admins everything.
  'admin.panel': 'manager',
  'retention.read': 'admin',
  'retention.manage': 'admin',
  'answer.feedback': 'viewer',
  'usage.read': 'admin',
  'usage.budget': 'admin',
  // The routing policy: managers may see which providers answer, only admins change it.
  'routing.read': 'manager',
  'routing.manage': 'admin',
  // Erasing every piece of the workspace's data, or any one conversation in it.
  'workspace.erase': 'admin',
};

/** Personal resources: only their owner may act on them, whatever the role. */
const OWNER_ONLY = new Set<Action>(['conversation.read', 'conversation.delete', 'answer.feedback']);

export function highestRole(roles: readonly Role[]): Role | undefined {
  return [...roles].sort((a, b) => RANK[b] - RANK[a])[0];
}

export function can(principal: Principal, action: Action, resource: Resource): boolean {
  if (principal.workspaceId !== resource.workspaceId) return false;
  const role = highestRole(principal.roles);
  if (!role || RANK[role] < RANK[MINIMUM_ROLE[action]]) return false;
  if (OWNER_ONLY.has(action) && resource.ownerUserId !== undefined && resource.ownerUserId !== principal.userId) return false;
  return true;
}

/** Throws `not_found` across workspaces and `forbidden` within one; every refusal is audited. */
export async function authorize(principal: Principal, action: Action, resource: Resource, audit: AuditLog): Promise<void> {
  if (can(principal, action, resource)) return;
  await audit.record({ workspaceId: principal.workspaceId, actorUserId: principal.userId, kind: 'authorization.refused', outcome: 'refused', detail: { action, crossWorkspace: principal.workspaceId !== resource.workspaceId } });
  if (principal.workspaceId !== resource.workspaceId) fail('not_found', `${action} on another workspace's resource`);
  if (OWNER_ONLY.has(action) && resource.ownerUserId !== principal.userId) fail('not_found', `${action} on another user's resource`);
  fail('forbidden', `${action} needs ${MINIMUM_ROLE[action]}`);
}
