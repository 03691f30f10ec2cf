/** The workspace directory port: onboarded tenants, their users and roles. */
import type { Role } from './principal';

export interface Workspace {
  id: string;
  name: string;
  tenantId: string;
}

export interface Member {
  userId: string;
  role: Role;
}

export interface WorkspaceDirectory {
  findByTenant(tenantId: string): Promise<Workspace | undefined>;
  /** Onboard a tenant (idempotent): returns the existing workspace when there is one. */
  onboard(tenantId: string, name: string): Promise<Workspace>;
  /** Find or create the user (by Entra object id) and their membership; the first member becomes admin. */
  ensureMember(workspaceId: string, entraObjectId: string, displayName?: string): Promise<Member>;
}
