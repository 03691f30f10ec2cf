/** Turning an authenticated caller into a Principal: the tenant must be onboarded, the user active. */
import { fail } from '../errors';
import type { AuditLog } from '../audit/ports';
import { highestRole } from './policy';
import type { AuthMethod, Principal, Role } from './principal';
import type { WorkspaceDirectory } from './ports';

/** Entra app role values (appRoles[].value in the app registration) and the Kluis role each grants. */
export const APP_ROLE_VALUES: Record<string, Role> = { 'Kluis.Admin': 'admin', 'Kluis.Manager': 'manager', 'Kluis.User': 'user', 'Kluis.Viewer': 'viewer' };

export interface CallerIdentity {
  tenantId: string;
  entraObjectId: string;
  displayName?: string;
  authMethod: AuthMethod;
  /** The token's `roles` claim, when the door has one (Entra access tokens). */
  appRoles?: string[];
}

export interface Principals {
  /** The Principal for a Microsoft 365 caller, or `tenant_not_onboarded` when their tenant has no workspace. */
  resolve(caller: CallerIdentity): Promise<Principal>;
  /** The Principal for a known user of a workspace (credentials sessions). */
  resolveUser(workspaceId: string, userId: string, authMethod: AuthMethod): Promise<Principal>;
  isOnboarded(tenantId: string): Promise<boolean>;
}

export function createPrincipals(deps: { directory: WorkspaceDirectory; audit: AuditLog }): Principals {
  return {
    async isOnboarded(tenantId) {
      const workspace = await deps.directory.findByTenant(tenantId);
      return workspace !== undefined && !workspace.terminatedAt;
    },
    async resolve(caller) {
      const workspace = await deps.directory.findByTenant(caller.tenantId);
      if (!workspace) fail('tenant_not_onboarded', `Tenant ${caller.tenantId} is not onboarded`);
      // A terminated organisation is no longer connected: its people get the same answer as strangers.
      if (workspace.terminatedAt) fail('tenant_not_onboarded', `Tenant ${caller.tenantId} was terminated`);
      let member = await deps.directory.ensureMember(workspace.id, caller.entraObjectId, caller.displayName);
      if (member.disabled) fail('forbidden', 'User disabled');
      const tokenRole = caller.appRoles ? highestRole(caller.appRoles.map((r) => APP_ROLE_VALUES[r]).filter((r): r is Role => r !== undefined)) : undefined;
      if (tokenRole) {
        const previous = await deps.directory.recordTokenRole(workspace.id, member.userId, tokenRole);
        if (previous) {
          await deps.audit.record({ workspaceId: workspace.id, actorUserId: member.userId, kind: 'role.changed', outcome: 'success', detail: { from: previous, to: tokenRole, source: 'entra-app-roles' } });
          member = (await deps.directory.member(workspace.id, member.userId)) ?? member;
        }
      }
      return { workspaceId: workspace.id, tenantId: workspace.tenantId, userId: member.userId, roles: [member.role], authMethod: caller.authMethod };
    },
    async resolveUser(workspaceId, userId, authMethod) {
      const [workspace, member] = await Promise.all([deps.directory.findById(workspaceId), deps.directory.member(workspaceId, userId)]);
      if (!workspace || !member) fail('unauthenticated', 'Session user no longer exists');
      if (workspace.terminatedAt) fail('tenant_not_onboarded', 'Session of a terminated workspace');
      if (member.disabled) fail('unauthenticated', 'Session user disabled');
      return { workspaceId, tenantId: workspace.tenantId, userId, roles: [member.role], authMethod };
    },
  };
}
