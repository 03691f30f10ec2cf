/**
 * Credentials login for people outside Microsoft 365: register (by invitation), login, logout,
 * change and reset password, and an optional TOTP second factor.
 *
 * Protections, and why:
 * - No user enumeration (OWASP Authentication Cheat Sheet): login answers the same status, body
 *   and bcrypt work for an unknown address, a wrong password and a disabled account; register and
 *   reset-request answer the same for existing and new addresses and do the address-dependent
 *   work (mails, tokens) after the answer.
 * - Throttling with growing waits per account and per IP (loginThrottle.ts), before any password
 *   is checked, keyed by the email's blind index so unknown addresses are throttled alike.
 * - Breached and common passwords are refused (NIST SP 800-63B 5.1.1.2) via k-anonymity.
 * - A new session on every login; all sessions end on a password change or reset.
 * - Every attempt is recorded with its IP (purged after the retention period) and audited.
 */
import { createHmac, randomBytes, randomInt } from 'node:crypto';
import type { AuditLog } from '../audit/ports';
import type { Role } from '../tenancy/principal';
import { fail, isKluisError } from '../errors';
import type { Mailer } from '../mail/ports';
import { passwordResetMail } from '../mail/messages';
import type { BreachedPasswordChecker } from './breachedPasswords';
import type { EmailProtector } from './emailProtection';
import { checkPasswordPolicy, hashPassword, verifyAgainstDummy, verifyPassword } from './passwords';
import type { CredentialRecord, CredentialStore, LoginAttemptLog, LoginThrottle } from './ports';
import type { SecretBox } from './secretBox';
import type { SessionService } from './sessions';
import { consumeRecoveryCode, generateRecoveryCodes, generateTotpSecret, totpUri, verifyTotp } from './totp';

export interface CredentialsDeps {
  store: CredentialStore;
  sessions: SessionService;
  throttle: LoginThrottle;
  attempts: LoginAttemptLog;
  audit: AuditLog;
  email: EmailProtector;
  breached: BreachedPasswordChecker;
  mailer?: Mailer;
  totpSecrets: SecretBox;
  /** HMAC key for invitation and reset token hashes (a leaked table holds no usable token). */
  tokenIndexKey: Buffer;
  bcryptCost: number;
  /** Builds the link a reset mail points at, from the one-time token. */
  resetUrl: (token: string) => string;
  resetTokenMinutes?: number;
  onBackgroundError?: (error: unknown) => void;
  now?: () => Date;
}

export interface RequestContext {
  ip: string;
  language?: 'nl' | 'en';
}

export interface LoginResult {
  sessionToken: string;
  workspaceId: string;
  userId: string;
}

/** The window in which background work after an answer starts (see `later`). */
const LATER_JITTER_MS = 250;

export function createCredentials(deps: CredentialsDeps) {
  const now = deps.now ?? (() => new Date());
  const resetMinutes = deps.resetTokenMinutes ?? 30;
  const background = new Set<Promise<unknown>>();
  const tokenHash = (token: string) => createHmac('sha256', deps.tokenIndexKey).update(token).digest('hex');
  const newToken = () => randomBytes(32).toString('base64url');

  /**
   * Work that depends on whether an address exists runs after the answer (no timing oracle), and at
   * a random moment within LATER_JITTER_MS: its cost (an audit append takes a lock and a commit) then
   * falls on whichever requests come next, not on the one right after a known account's attempt.
   */
  function later(work: () => Promise<unknown>): void {
    const p = new Promise<void>((resolve) => setTimeout(resolve, randomInt(LATER_JITTER_MS)))
      .then(work)
      .catch((error) => deps.onBackgroundError?.(error));
    background.add(p);
    void p.finally(() => background.delete(p));
  }

  async function assertAcceptablePassword(password: string): Promise<void> {
    checkPasswordPolicy(password);
    const breach = await deps.breached.check(password);
    if (breach.breached) fail('password_rejected', `breached (${breach.source})`);
  }

  async function secondFactorOk(credential: CredentialRecord, code: string | undefined): Promise<boolean> {
    if (!credential.totpEnabledAt || !credential.totpSecret) return true;
    if (!code) fail('second_factor_required', 'TOTP enabled, no code given');
    if (/^\d{6}$/.test(code)) {
      const result = verifyTotp(deps.totpSecrets.open(credential.totpSecret), code, { lastUsedStep: credential.totpLastStep });
      if (result.ok) await deps.store.setTotp(credential.workspaceId, credential.userId, { lastStep: result.step });
      return result.ok;
    }
    const recovery = consumeRecoveryCode(code, credential.recoveryCodeHashes ?? []);
    if (recovery.ok) await deps.store.setTotp(credential.workspaceId, credential.userId, { recoveryCodeHashes: recovery.remaining });
    return recovery.ok;
  }

  return {
    /** Resolves when every answer-independent background task has finished (tests, shutdown). */
    async settled(): Promise<void> {
      while (background.size) await Promise.allSettled([...background]);
    },

    /** An admin invites an address; the token goes to that address out of band (returned once). */
    async invite(input: { workspaceId: string; email: string; role: Role; validDays?: number }): Promise<{ token: string; expiresAt: Date }> {
      const token = newToken();
      const expiresAt = new Date(now().getTime() + (input.validDays ?? 7) * 86_400_000);
      await deps.store.createInvitation({ workspaceId: input.workspaceId, emailIndex: deps.email.blindIndex(input.email), tokenHash: tokenHash(token), role: input.role, expiresAt });
      return { token, expiresAt };
    },

    /** Register with an invitation. Answers the same whether or not the address already has an account. */
    async register(input: { invitationToken: string; email: string; password: string; displayName?: string }, context: RequestContext): Promise<{ status: 'check-your-email' }> {
      const emailIndex = deps.email.blindIndex(input.email);
      const invitation = await deps.store.findInvitation(tokenHash(input.invitationToken));
      if (!invitation || invitation.usedAt || invitation.expiresAt <= now() || invitation.emailIndex !== emailIndex) fail('invitation_invalid', 'Unknown, used, expired or for another address');
      await assertAcceptablePassword(input.password);
      // The hash is computed in both cases so both take the same time.
      const passwordHash = await hashPassword(input.password, deps.bcryptCost);
      const existing = await deps.store.findByEmailIndex(emailIndex);
      later(async () => {
        if (existing) {
          await deps.attempts.record({ workspaceId: existing.workspaceId, emailIndex, ip: context.ip, method: 'register', outcome: 'exists' });
          return;
        }
        const created = await deps.store.register({ invitation, emailIndex, emailCiphertext: deps.email.encrypt(input.email), passwordHash, displayName: input.displayName });
        await deps.attempts.record({ workspaceId: created.workspaceId, emailIndex, ip: context.ip, method: 'register', outcome: 'created' });
        await deps.audit.record({ workspaceId: created.workspaceId, actorUserId: created.userId, kind: 'identity.registered', outcome: 'success', ip: context.ip, detail: { role: invitation.role } });
      });
      return { status: 'check-your-email' };
    },

    async login(input: { email: string; password: string; totpCode?: string }, context: RequestContext): Promise<LoginResult> {
      const emailIndex = deps.email.blindIndex(input.email);
      const keys = { account: emailIndex, ip: context.ip };
      const wait = await deps.throttle.waitSeconds(keys);
      if (wait > 0) {
        await deps.attempts.record({ emailIndex, ip: context.ip, method: 'password', outcome: 'throttled' });
        fail('too_many_attempts', `Login throttled for ${wait} s`, { retryAfterSeconds: wait });
      }
      const credential = await deps.store.findByEmailIndex(emailIndex);
      const passwordOk = credential ? await verifyPassword(input.password, credential.passwordHash) : await verifyAgainstDummy(input.password, deps.bcryptCost);
      if (!credential || !passwordOk || credential.userDisabled) {
        await deps.throttle.recordFailure(keys);
        const outcome = !credential ? 'unknown-account' : credential.userDisabled ? 'disabled' : 'wrong-password';
        await deps.attempts.record({ workspaceId: credential?.workspaceId, emailIndex, ip: context.ip, method: 'password', outcome });
        // The audit row exists only for known accounts, so it is written after the answer.
        if (credential) later(() => deps.audit.record({ workspaceId: credential.workspaceId, actorUserId: credential.userId, kind: 'identity.login', outcome: 'failure', ip: context.ip, detail: { method: 'password', reason: outcome } }));
        fail('login_failed', outcome);
      }
      if (!credential.credentialsLoginAllowed) {
        await deps.attempts.record({ workspaceId: credential.workspaceId, emailIndex, ip: context.ip, method: 'password', outcome: 'microsoft-only' });
        await deps.audit.record({ workspaceId: credential.workspaceId, actorUserId: credential.userId, kind: 'identity.login', outcome: 'refused', ip: context.ip, detail: { method: 'password', reason: 'microsoft-only' } });
        fail('credentials_login_disabled', 'Workspace allows Microsoft login only');
      }
      let secondOk: boolean;
      try {
        secondOk = await secondFactorOk(credential, input.totpCode);
      } catch (error) {
        if (isKluisError(error, 'second_factor_required')) await deps.attempts.record({ workspaceId: credential.workspaceId, emailIndex, ip: context.ip, method: 'password', outcome: 'second-factor-required' });
        throw error;
      }
      if (!secondOk) {
        await deps.throttle.recordFailure(keys);
        await deps.attempts.record({ workspaceId: credential.workspaceId, emailIndex, ip: context.ip, method: 'totp', outcome: 'wrong-code' });
        await deps.audit.record({ workspaceId: credential.workspaceId, actorUserId: credential.userId, kind: 'identity.login', outcome: 'failure', ip: context.ip, detail: { method: 'totp', reason: 'wrong-code' } });
        fail('login_failed', 'wrong second factor');
      }
      await deps.throttle.recordSuccess(keys);
      const { token } = await deps.sessions.start(credential.workspaceId, credential.userId);
      await deps.attempts.record({ workspaceId: credential.workspaceId, emailIndex, ip: context.ip, method: credential.totpEnabledAt ? 'password+totp' : 'password', outcome: 'success' });
      await deps.audit.record({ workspaceId: credential.workspaceId, actorUserId: credential.userId, kind: 'identity.login', outcome: 'success', ip: context.ip, detail: { method: credential.totpEnabledAt ? 'password+totp' : 'password' } });
      return { sessionToken: token, workspaceId: credential.workspaceId, userId: credential.userId };
    },

    async logout(session: { workspaceId: string; id: string; userId: string }, context: RequestContext): Promise<void> {
      await deps.sessions.end(session, 'logout');
      await deps.audit.record({ workspaceId: session.workspaceId, actorUserId: session.userId, kind: 'identity.logout', outcome: 'success', ip: context.ip });
    },

    /** Change the password (the current one is required); ends every session and starts a new one. */
    async changePassword(user: { workspaceId: string; userId: string }, input: { currentPassword: string; newPassword: string }, context: RequestContext): Promise<{ sessionToken: string }> {
      const credential = await deps.store.findByUser(user.workspaceId, user.userId);
      if (!credential || !(await verifyPassword(input.currentPassword, credential.passwordHash))) {
        await deps.audit.record({ workspaceId: user.workspaceId, actorUserId: user.userId, kind: 'identity.password_changed', outcome: 'failure', ip: context.ip });
        fail('login_failed', 'current password wrong');
      }
      await assertAcceptablePassword(input.newPassword);
      await deps.store.setPassword(user.workspaceId, user.userId, await hashPassword(input.newPassword, deps.bcryptCost), now());
      await deps.sessions.endAllForUser(user.workspaceId, user.userId, 'password-changed');
      await deps.audit.record({ workspaceId: user.workspaceId, actorUserId: user.userId, kind: 'identity.password_changed', outcome: 'success', ip: context.ip });
      const { token } = await deps.sessions.start(user.workspaceId, user.userId);
      return { sessionToken: token };
    },

    /** Always answers the same; a reset mail goes out only when the address has an account. */
    async requestPasswordReset(input: { email: string }, context: RequestContext): Promise<{ status: 'check-your-email' }> {
      const emailIndex = deps.email.blindIndex(input.email);
      later(async () => {
        const credential = await deps.store.findByEmailIndex(emailIndex);
        await deps.attempts.record({ workspaceId: credential?.workspaceId, emailIndex, ip: context.ip, method: 'reset-request', outcome: credential ? 'sent' : 'unknown-account' });
        if (!credential || credential.userDisabled || !credential.credentialsLoginAllowed) return;
        const token = newToken();
        await deps.store.createResetToken({ workspaceId: credential.workspaceId, userId: credential.userId, tokenHash: tokenHash(token), expiresAt: new Date(now().getTime() + resetMinutes * 60_000) });
        if (!deps.mailer) fail('mail_unavailable', 'No SMTP_URL configured: reset mail not sent');
        await deps.mailer.send(passwordResetMail({ to: deps.email.decrypt(credential.emailCiphertext), resetUrl: deps.resetUrl(token), language: context.language ?? 'en', expiresInMinutes: resetMinutes }));
        await deps.audit.record({ workspaceId: credential.workspaceId, actorUserId: credential.userId, kind: 'identity.reset_requested', outcome: 'success', ip: context.ip });
      });
      return { status: 'check-your-email' };
    },

    /** Set a new password with a one-time token from a reset mail; ends every session. */
    async resetPassword(input: { token: string; newPassword: string }, context: RequestContext): Promise<void> {
      await assertAcceptablePassword(input.newPassword);
      const owner = await deps.store.consumeResetToken(tokenHash(input.token), now());
      if (!owner) fail('reset_token_invalid', 'Unknown, used or expired reset token');
      await deps.store.setPassword(owner.workspaceId, owner.userId, await hashPassword(input.newPassword, deps.bcryptCost), now());
      await deps.sessions.endAllForUser(owner.workspaceId, owner.userId, 'password-reset');
      await deps.audit.record({ workspaceId: owner.workspaceId, actorUserId: owner.userId, kind: 'identity.password_reset', outcome: 'success', ip: context.ip });
    },

    /** Step 1 of TOTP enrolment: a new secret (stored sealed, not yet active) and its otpauth URI. */
    async beginTotp(user: { workspaceId: string; userId: string }): Promise<{ secret: string; uri: string }> {
      const secret = generateTotpSecret();
      await deps.store.setTotp(user.workspaceId, user.userId, { secret: deps.totpSecrets.seal(secret), enabledAt: null, lastStep: null });
      return { secret, uri: totpUri({ secret, account: user.userId, issuer: 'Kluis' }) };
    },

    /** Step 2: prove the authenticator works; TOTP becomes required and recovery codes are shown once. */
    async confirmTotp(user: { workspaceId: string; userId: string }, code: string, context: RequestContext): Promise<{ recoveryCodes: string[] }> {
      const credential = await deps.store.findByUser(user.workspaceId, user.userId);
      if (!credential?.totpSecret) fail('request_malformed', 'No TOTP enrolment in progress');
      const result = verifyTotp(deps.totpSecrets.open(credential.totpSecret), code, { lastUsedStep: credential.totpLastStep });
      if (!result.ok) fail('login_failed', 'wrong TOTP code at enrolment');
      const { codes, hashes } = generateRecoveryCodes();
      await deps.store.setTotp(user.workspaceId, user.userId, { enabledAt: now(), lastStep: result.step ?? null, recoveryCodeHashes: hashes });
      await deps.audit.record({ workspaceId: user.workspaceId, actorUserId: user.userId, kind: 'identity.totp_enabled', outcome: 'success', ip: context.ip });
      return { recoveryCodes: codes };
    },
  };
}

export type Credentials = ReturnType<typeof createCredentials>;
