/** Turning an authenticated caller into a Principal: the tenant must be onboarded. */
import { fail } from '../errors';
import type { AuditLog } from '../audit/ports';
import type { AuthMethod, Principal } from './principal';
import type { WorkspaceDirectory } from './ports';

export interface CallerIdentity {
  tenantId: string;
  entraObjectId: string;
  displayName?: string;
  authMethod: AuthMethod;
}

export interface Principals {
  /** The Principal for a caller, or `tenant_not_onboarded` when their tenant has no workspace. */
  resolve(caller: CallerIdentity): Promise<Principal>;
  isOnboarded(tenantId: string): Promise<boolean>;
}

export function createPrincipals(deps: { directory: WorkspaceDirectory; audit: AuditLog }): Principals {
  return {
    async isOnboarded(tenantId) {
      return (await deps.directory.findByTenant(tenantId)) !== undefined;
    },
    async resolve(caller) {
      const workspace = await deps.directory.findByTenant(caller.tenantId);
      if (!workspace) fail('tenant_not_onboarded', `Tenant ${caller.tenantId} is not onboarded`);
      const member = await deps.directory.ensureMember(workspace.id, caller.entraObjectId, caller.displayName);
      return { workspaceId: workspace.id, tenantId: workspace.tenantId, userId: member.userId, roles: [member.role], authMethod: caller.authMethod };
    },
  };
}
