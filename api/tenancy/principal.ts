/** Who is asking: every request becomes a Principal before domain code runs. */
export type Role = 'admin' | 'manager' | 'user' | 'viewer';

export type AuthMethod = 'bot-framework' | 'local-playground' | 'entra-token' | 'credentials';

export interface Principal {
  workspaceId: string;
  tenantId: string;
  userId: string;
  roles: readonly Role[];
  authMethod: AuthMethod;
}
