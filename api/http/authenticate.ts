/**
 * Every door of the HTTP API turns its caller into a Principal before a handler runs:
 * - `Authorization: Bearer <Entra v2 access token>` (Teams tab SSO, Outlook add-in, API clients),
 *   validated by api/identity/entraTokens.ts;
 * - the session cookie of a credentials login, resumed by api/identity/sessions.ts.
 * Handlers read the Principal from `res.locals.principal` and never see tokens.
 */
import type { NextFunction, Request, Response } from 'express';
import { fail, isKluisError } from '../errors';
import type { SecurityEventLog } from '../identity/ports';
import type { SessionService } from '../identity/sessions';
import type { Principal } from '../tenancy/principal';
import type { Principals } from '../tenancy/principals';

export interface BearerValidator {
  validate(token: string): Promise<{ tenantId: string; objectId: string; roles: string[]; name?: string }>;
}

export interface AuthenticateDeps {
  principals: Principals;
  /** Refused bearer tokens are recorded here (no workspace is known for them). */
  securityEvents?: SecurityEventLog;
  sessions: SessionService;
  cookieName: string;
  /** Undefined when no Entra app is configured: bearer tokens are then refused. */
  bearer?: BearerValidator;
}

export interface Authenticated {
  principal: Principal;
  /** Set for cookie sessions (logout needs it). */
  session?: { id: string; workspaceId: string; userId: string };
}

export function readCookie(req: Request, name: string): string | undefined {
  const header = req.headers.cookie;
  if (!header || header.length > 8192) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return decodeURIComponent(part.slice(eq + 1).trim());
  }
  return undefined;
}

export async function authenticateRequest(req: Request, deps: AuthenticateDeps): Promise<Authenticated> {
  const authorization = req.headers.authorization;
  if (typeof authorization === 'string' && authorization.length > 0) {
    const match = /^Bearer (\S+)$/.exec(authorization);
    if (!match) fail('unauthenticated', 'Authorization header is not a Bearer token');
    if (!deps.bearer) fail('unauthenticated', 'Bearer tokens are not accepted: no Entra app configured');
    let identity;
    try {
      identity = await deps.bearer.validate(match[1]!);
    } catch (error) {
      if (isKluisError(error, 'unauthenticated')) await deps.securityEvents?.record({ kind: 'api.token_refused', outcome: 'refused', detail: { reason: error.message.slice(0, 200) }, ip: req.ip });
      throw error;
    }
    const principal = await deps.principals.resolve({ tenantId: identity.tenantId, entraObjectId: identity.objectId, displayName: identity.name, authMethod: 'entra-token', appRoles: identity.roles });
    return { principal };
  }
  const cookie = readCookie(req, deps.cookieName);
  if (!cookie) fail('unauthenticated', 'No credentials on the request');
  const session = await deps.sessions.resume(cookie);
  const principal = await deps.principals.resolveUser(session.workspaceId, session.userId, 'credentials');
  return { principal, session: { id: session.id, workspaceId: session.workspaceId, userId: session.userId } };
}

/** Express middleware: 401 with a catalogued error unless the request authenticates. */
export function requirePrincipal(deps: AuthenticateDeps) {
  return (req: Request, res: Response, next: NextFunction) => {
    authenticateRequest(req, deps).then(
      (authenticated) => {
        res.locals.principal = authenticated.principal;
        res.locals.session = authenticated.session;
        next();
      },
      (error: unknown) => next(error),
    );
  };
}

export function principalOf(res: Response): Principal {
  const principal = res.locals.principal as Principal | undefined;
  if (!principal) fail('unauthenticated', 'Handler reached without a Principal');
  return principal;
}
