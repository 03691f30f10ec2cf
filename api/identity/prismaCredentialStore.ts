/** CredentialStore, LoginAttemptLog and SecurityEventLog on MySQL through Prisma. */
import { randomUUID } from 'node:crypto';
import type { Database } from '../db/client';
import { fail } from '../errors';
import type { CredentialRecord, CredentialStore, InvitationRecord, LoginAttemptLog, SecurityEventLog } from './ports';

interface CredentialRow {
  id: string;
  workspaceId: string;
  userId: string;
  emailIndex: string;
  emailCiphertext: string;
  passwordHash: string;
  passwordChangedAt: Date;
  totpSecret: string | null;
  totpLastStep: number | null;
  totpEnabledAt: Date | null;
  recoveryCodeHashes: unknown;
  disabledAt: Date | null;
  credentialsLogin: number | boolean | bigint;
}

const CREDENTIAL_SELECT =
  'SELECT c.id, c.workspaceId, c.userId, c.emailIndex, c.emailCiphertext, c.passwordHash, c.passwordChangedAt, c.totpSecret, c.totpLastStep, c.totpEnabledAt, c.recoveryCodeHashes, u.disabledAt, w.credentialsLogin ' +
  'FROM `Credential` c JOIN `User` u ON u.workspaceId = c.workspaceId AND u.id = c.userId JOIN `Workspace` w ON w.id = c.workspaceId ';

/**
 * One query whether or not the account exists, so a login for an unknown address does the same
 * database work as one for a known address (no timing oracle). The lookup by blind index happens
 * before the workspace is known; the index is unique across workspaces and the row names its own.
 */
async function loadCredential(db: Database, where: { emailIndex: string } | { workspaceId: string; userId: string }): Promise<CredentialRow | undefined> {
  const rows =
    'emailIndex' in where
      ? await db.$queryRawUnsafe<CredentialRow[]>(`${CREDENTIAL_SELECT}WHERE c.emailIndex = ? LIMIT 1`, where.emailIndex)
      : await db.$queryRawUnsafe<CredentialRow[]>(`${CREDENTIAL_SELECT}WHERE c.workspaceId = ? AND c.userId = ? LIMIT 1`, where.workspaceId, where.userId);
  return rows[0];
}

function toRecord(row: CredentialRow): CredentialRecord {
  const codes = typeof row.recoveryCodeHashes === 'string' ? (JSON.parse(row.recoveryCodeHashes) as unknown) : row.recoveryCodeHashes;
  return {
    id: row.id,
    workspaceId: row.workspaceId,
    userId: row.userId,
    emailIndex: row.emailIndex,
    emailCiphertext: row.emailCiphertext,
    passwordHash: row.passwordHash,
    passwordChangedAt: row.passwordChangedAt,
    totpSecret: row.totpSecret ?? undefined,
    totpLastStep: row.totpLastStep ?? undefined,
    totpEnabledAt: row.totpEnabledAt ?? undefined,
    recoveryCodeHashes: Array.isArray(codes) ? (codes as string[]) : undefined,
    userDisabled: row.disabledAt !== null,
    credentialsLoginAllowed: Number(row.credentialsLogin) === 1 || row.credentialsLogin === true,
  };
}

function toInvitation(row: { id: string; workspaceId: string; emailIndex: string; role: InvitationRecord['role']; expiresAt: Date; usedAt: Date | null }): InvitationRecord {
  return { id: row.id, workspaceId: row.workspaceId, emailIndex: row.emailIndex, role: row.role, expiresAt: row.expiresAt, usedAt: row.usedAt ?? undefined };
}

export function createPrismaCredentialStore(db: Database): CredentialStore {
  return {
    async findByEmailIndex(emailIndex) {
      const row = await loadCredential(db, { emailIndex });
      return row ? toRecord(row) : undefined;
    },
    async findByUser(workspaceId, userId) {
      const row = await loadCredential(db, { workspaceId, userId });
      return row ? toRecord(row) : undefined;
    },
    async register({ invitation, emailIndex, emailCiphertext, passwordHash, displayName }) {
      const workspaceId = invitation.workspaceId;
      const userId = randomUUID();
      await db.$transaction(async (tx) => {
        // Using the invitation is the first write: of two registrations racing on one token, one wins.
        const used = await tx.invitation.updateMany({ where: { workspaceId, id: invitation.id, usedAt: null }, data: { usedAt: new Date() } });
        if (used.count !== 1) fail('invitation_invalid', 'Invitation used by a concurrent registration');
        await tx.user.create({ data: { id: userId, workspaceId, displayName: displayName?.slice(0, 200) ?? null } });
        await tx.membership.create({ data: { id: randomUUID(), workspaceId, userId, role: invitation.role } });
        await tx.credential.create({ data: { id: randomUUID(), workspaceId, userId, emailIndex, emailCiphertext, passwordHash, passwordChangedAt: new Date() } });
      });
      const row = await loadCredential(db, { workspaceId, userId });
      if (!row) fail('internal', 'Registered credential not found after commit');
      return toRecord(row);
    },
    async findInvitation(tokenHash) {
      const rows = await db.$queryRawUnsafe<Array<{ workspaceId: string; id: string }>>('SELECT workspaceId, id FROM `Invitation` WHERE tokenHash = ? LIMIT 1', tokenHash);
      const found = rows[0];
      if (!found) return undefined;
      const row = await db.invitation.findFirst({ where: { workspaceId: found.workspaceId, id: found.id } });
      return row ? toInvitation(row) : undefined;
    },
    async createInvitation(input) {
      return toInvitation(await db.invitation.create({ data: { id: randomUUID(), ...input } }));
    },
    async setPassword(workspaceId, userId, passwordHash, at) {
      await db.credential.updateMany({ where: { workspaceId, userId }, data: { passwordHash, passwordChangedAt: at } });
    },
    async setTotp(workspaceId, userId, totp) {
      const data: Record<string, unknown> = {};
      if (totp.secret !== undefined) data.totpSecret = totp.secret;
      if (totp.lastStep !== undefined) data.totpLastStep = totp.lastStep;
      if (totp.enabledAt !== undefined) data.totpEnabledAt = totp.enabledAt;
      if (totp.recoveryCodeHashes !== undefined) data.recoveryCodeHashes = totp.recoveryCodeHashes ?? undefined;
      await db.credential.updateMany({ where: { workspaceId, userId }, data });
    },
    async createResetToken(input) {
      await db.passwordResetToken.create({ data: { id: randomUUID(), ...input } });
    },
    async consumeResetToken(tokenHash, now) {
      const rows = await db.$queryRawUnsafe<Array<{ workspaceId: string; id: string }>>('SELECT workspaceId, id FROM `PasswordResetToken` WHERE tokenHash = ? LIMIT 1', tokenHash);
      const found = rows[0];
      if (!found) return undefined;
      const used = await db.passwordResetToken.updateMany({ where: { workspaceId: found.workspaceId, id: found.id, usedAt: null, expiresAt: { gt: now } }, data: { usedAt: now } });
      if (used.count !== 1) return undefined;
      const row = await db.passwordResetToken.findFirst({ where: { workspaceId: found.workspaceId, id: found.id }, select: { workspaceId: true, userId: true } });
      return row ?? undefined;
    },
  };
}

export function createPrismaLoginAttemptLog(db: Database): LoginAttemptLog {
  return {
    async record(a) {
      await db.loginAttempt.create({ data: { id: randomUUID(), workspaceId: a.workspaceId ?? null, emailIndex: a.emailIndex ?? null, ip: a.ip.slice(0, 45), method: a.method, outcome: a.outcome } });
    },
    async purgeOlderThan(cutoff) {
      return (await db.loginAttempt.deleteMany({ where: { createdAt: { lt: cutoff } } })).count;
    },
  };
}

export function createPrismaSecurityEventLog(db: Database): SecurityEventLog {
  return {
    async record(e) {
      await db.securityEvent.create({ data: { id: randomUUID(), tenantId: e.tenantId ?? null, kind: e.kind, outcome: e.outcome, detail: e.detail, ip: e.ip ?? null } });
    },
  };
}
