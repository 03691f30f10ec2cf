/**
 * Browser sessions for credentials login. The cookie carries a signed JWT (HS256, a key derived
 * for this purpose only) that names a Session row; the row is the truth: it can be revoked
 * (logout, password change, user disabled or deleted) and it expires after an idle period and
 * after an absolute lifetime, whatever the token says. A new session (new id) is made on every
 * login, so a session id planted before login is worthless (session fixation).
 */
import { randomUUID } from 'node:crypto';
import { jwtVerify, SignJWT } from 'jose';
import { fail } from '../errors';
import type { RevokeReason, SessionRecord, SessionStore } from './ports';

export interface SessionOptions {
  signingKey: Buffer;
  idleMinutes: number;
  absoluteHours: number;
  /** Don't write lastSeenAt more often than this (one UPDATE per request would be waste). */
  touchEveryMs?: number;
  now?: () => Date;
}

export interface ActiveSession {
  session: SessionRecord;
  /** Set when the cookie should be re-sent (never: the token does not change; kept for clarity). */
  renewedToken?: string;
}

const ISSUER = 'kluis';
const AUDIENCE = 'kluis-session';

export function createSessionService(store: SessionStore, options: SessionOptions) {
  const now = options.now ?? (() => new Date());
  const idleMs = options.idleMinutes * 60_000;
  const absoluteMs = options.absoluteHours * 3_600_000;
  const touchEveryMs = options.touchEveryMs ?? 60_000;

  return {
    /** Start a session for a user who just logged in; returns the cookie value. */
    async start(workspaceId: string, userId: string): Promise<{ token: string; session: SessionRecord }> {
      const createdAt = now();
      const session: SessionRecord = { id: randomUUID(), workspaceId, userId, createdAt, lastSeenAt: createdAt, expiresAt: new Date(createdAt.getTime() + absoluteMs) };
      await store.create(session);
      const token = await new SignJWT({ wid: workspaceId })
        .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
        .setIssuer(ISSUER)
        .setAudience(AUDIENCE)
        .setSubject(userId)
        .setJti(session.id)
        .setIssuedAt(Math.floor(createdAt.getTime() / 1000))
        .setExpirationTime(Math.floor(session.expiresAt.getTime() / 1000))
        .sign(options.signingKey);
      return { token, session };
    },

    /** The live session behind a cookie value; throws `session_expired` / `unauthenticated` otherwise. */
    async resume(token: string): Promise<SessionRecord> {
      let claims;
      try {
        ({ payload: claims } = await jwtVerify(token, options.signingKey, { algorithms: ['HS256'], issuer: ISSUER, audience: AUDIENCE, currentDate: now() }));
      } catch {
        fail('unauthenticated', 'Session token invalid or expired');
      }
      if (typeof claims.jti !== 'string' || typeof claims.wid !== 'string' || typeof claims.sub !== 'string') fail('unauthenticated', 'Session token without its claims');
      const session = await store.find(claims.wid, claims.jti);
      if (!session || session.userId !== claims.sub) fail('unauthenticated', 'Session not found');
      if (session.revokedAt) fail('unauthenticated', 'Session revoked');
      const at = now();
      if (at.getTime() >= session.expiresAt.getTime()) fail('session_expired', 'Absolute session lifetime reached');
      if (at.getTime() - session.lastSeenAt.getTime() >= idleMs) {
        await store.revoke(session.workspaceId, session.id, 'idle');
        fail('session_expired', 'Session idle for too long');
      }
      if (at.getTime() - session.lastSeenAt.getTime() >= touchEveryMs) {
        await store.touch(session.workspaceId, session.id, at);
        session.lastSeenAt = at;
      }
      return session;
    },

    end(session: { workspaceId: string; id: string }, why: RevokeReason = 'logout'): Promise<void> {
      return store.revoke(session.workspaceId, session.id, why);
    },

    endAllForUser(workspaceId: string, userId: string, why: RevokeReason): Promise<number> {
      return store.revokeAllForUser(workspaceId, userId, why);
    },
  };
}

export type SessionService = ReturnType<typeof createSessionService>;
