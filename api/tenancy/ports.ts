/** The workspace directory port: onboarded tenants, their users and roles. */
import type { Role } from './principal';

export interface Workspace {
  id: string;
  name: string;
  tenantId: string;
  credentialsLogin: boolean;
  /** Set when the organisation's contract ended: no one signs in any more and the workspace is erased later. */
  terminatedAt?: Date | null;
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

/** Marking a workspace as terminated (contract ended), for operators; the retention sweeper erases it later. */
export interface WorkspaceTermination {
  /** Marks the tenant's workspace terminated at `at` (an earlier mark is kept); undefined when no such tenant. */
  terminate(tenantId: string, at: Date): Promise<{ workspaceId: string; terminatedAt: Date } | undefined>;
  /** Lifts the mark (before the erasure ran); false when no such tenant. */
  undo(tenantId: string): Promise<boolean>;
}
