/** Ports of the identity module: where sessions, credentials and login records are kept. */
import type { Role } from '../tenancy/principal';

export interface SessionRecord {
  id: string;
  workspaceId: string;
  userId: string;
  createdAt: Date;
  lastSeenAt: Date;
  expiresAt: Date;
  revokedAt?: Date;
}

export type RevokeReason = 'logout' | 'idle' | 'password-changed' | 'password-reset' | 'user-disabled' | 'user-deleted' | 'admin';

export interface SessionStore {
  create(session: Omit<SessionRecord, 'revokedAt'>): Promise<void>;
  find(workspaceId: string, sessionId: string): Promise<SessionRecord | undefined>;
  touch(workspaceId: string, sessionId: string, at: Date): Promise<void>;
  revoke(workspaceId: string, sessionId: string, why: RevokeReason): Promise<void>;
  revokeAllForUser(workspaceId: string, userId: string, why: RevokeReason): Promise<number>;
}

export interface CredentialRecord {
  id: string;
  workspaceId: string;
  userId: string;
  emailIndex: string;
  emailCiphertext: string;
  passwordHash: string;
  passwordChangedAt: Date;
  totpSecret?: string;
  totpLastStep?: number;
  totpEnabledAt?: Date;
  recoveryCodeHashes?: string[];
  userDisabled: boolean;
  credentialsLoginAllowed: boolean;
}

export interface InvitationRecord {
  id: string;
  workspaceId: string;
  emailIndex: string;
  role: Role;
  expiresAt: Date;
  usedAt?: Date;
}

export interface CredentialStore {
  /** Looked up by blind index across workspaces: one credentials account belongs to one workspace. */
  findByEmailIndex(emailIndex: string): Promise<CredentialRecord | undefined>;
  findByUser(workspaceId: string, userId: string): Promise<CredentialRecord | undefined>;
  /** Creates the user, membership and credential from an invitation; the invitation is used up. */
  register(input: { invitation: InvitationRecord; emailIndex: string; emailCiphertext: string; passwordHash: string; displayName?: string }): Promise<CredentialRecord>;
  findInvitation(tokenHash: string): Promise<InvitationRecord | undefined>;
  createInvitation(input: { workspaceId: string; emailIndex: string; tokenHash: string; role: Role; expiresAt: Date }): Promise<InvitationRecord>;
  setPassword(workspaceId: string, userId: string, passwordHash: string, at: Date): Promise<void>;
  setTotp(workspaceId: string, userId: string, totp: { secret?: string | null; lastStep?: number | null; enabledAt?: Date | null; recoveryCodeHashes?: string[] | null }): Promise<void>;
  createResetToken(input: { workspaceId: string; userId: string; tokenHash: string; expiresAt: Date }): Promise<void>;
  /** Marks the token used and returns its owner, or undefined when unknown, used or expired. */
  consumeResetToken(tokenHash: string, now: Date): Promise<{ workspaceId: string; userId: string } | undefined>;
}

export interface LoginAttemptLog {
  record(attempt: { workspaceId?: string; emailIndex?: string; ip: string; method: string; outcome: string }): Promise<void>;
  purgeOlderThan(cutoff: Date): Promise<number>;
}

export interface SecurityEventLog {
  record(event: { tenantId?: string; kind: string; outcome: 'refused' | 'failure' | 'success'; detail?: Record<string, string | number | boolean | null>; ip?: string }): Promise<void>;
}

/** Failed-login counters shared by every replica, with growing waits (see loginThrottle.ts). */
export interface LoginThrottle {
  /** Seconds the caller must still wait before another attempt with these keys (0 = go ahead). */
  waitSeconds(keys: ThrottleKeys): Promise<number>;
  recordFailure(keys: ThrottleKeys): Promise<void>;
  /** A successful login clears the account's counter (not the IP's: one good password must not launder an IP's failures). */
  recordSuccess(keys: ThrottleKeys): Promise<void>;
}

export interface ThrottleKeys {
  /** The blind index of the email tried: known and unknown addresses are throttled alike. */
  account: string;
  ip: string;
}
