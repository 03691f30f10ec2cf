/** The workspace directory port: onboarded tenants, their users and roles. */
import type { Role } from './principal';

export interface Workspace {
  id: string;
  name: string;
  tenantId: string;
  credentialsLogin: boolean;
}

export interface Member {
  userId: string;
  /** The effective role: the admin's override when set, else the role from Entra app roles or onboarding. */
  role: Role;
  disabled: boolean;
}

export interface WorkspaceDirectory {
  findByTenant(tenantId: string): Promise<Workspace | undefined>;
  findById(workspaceId: string): Promise<Workspace | undefined>;
  /** Onboard a tenant (idempotent): returns the existing workspace when there is one. */
  onboard(tenantId: string, name: string): Promise<Workspace>;
  /** Find or create the user (by Entra object id) and their membership; the first member becomes admin. */
  ensureMember(workspaceId: string, entraObjectId: string, displayName?: string): Promise<Member>;
  member(workspaceId: string, userId: string): Promise<Member | undefined>;
  /** The user's Entra object id; undefined for people outside Microsoft 365 (credentials login). */
  entraObjectId(workspaceId: string, userId: string): Promise<string | undefined>;
  /** Store the role Entra's app roles give; returns the previous stored role when it changed. */
  recordTokenRole(workspaceId: string, userId: string, role: Role): Promise<Role | undefined>;
}
