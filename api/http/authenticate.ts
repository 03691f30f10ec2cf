/**
 * Every door of the HTTP API turns its caller into a Principal before a handler runs:
 * - `Authorization: Bearer <Entra v2 access token>` (Teams tab SSO, Outlook add-in, API clients),
 *   validated by api/identity/entraTokens.ts;
 * - the session cookie of a credentials login, resumed by api/identity/sessions.ts.
 * Handlers read the Principal from `res.locals.principal` and never see tokens.
 *
 * A bearer caller also brings delegated access to SharePoint: with an Entra app that has a client
 * secret, `delegate` turns the validated token into capabilities that call Graph On Behalf Of the
 * caller (api/identity/onBehalfOf.ts), lazily, only when a handler uses them. They sit in
 * `res.locals.delegated` (read with `delegatedOf`); the raw assertion stays inside them, never in
 * the Principal. Cookie sessions (credentials logins) have no Microsoft 365 identity and get none.
 */
import type { NextFunction, Request, Response } from 'express';
import { fail, isKluisError } from '../errors';
import type { SecurityEventLog } from '../identity/ports';
import type { DelegatedGraph } from '../knowledge/sharepoint/ports';
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
  /** Delegated Graph access for a validated bearer caller; undefined without an OBO-capable app. */
  delegate?: (identity: { tenantId: string; objectId: string }, userAssertion: string) => DelegatedGraph;
}

export interface Authenticated {
  principal: Principal;
  /** Set for cookie sessions (logout needs it). */
  session?: { id: string; workspaceId: string; userId: string };
  /** Set for bearer callers when delegated Graph access is configured. */
  delegated?: DelegatedGraph;
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
    const delegated = deps.delegate?.({ tenantId: identity.tenantId, objectId: identity.objectId }, match[1]!);
    return delegated ? { principal, delegated } : { principal };
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
        res.locals.delegated = authenticated.delegated;
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

/** The caller's delegated Graph access for this request, when they brought one (see above). */
export function delegatedOf(res: Response): DelegatedGraph | undefined {
  return res.locals.delegated as DelegatedGraph | undefined;
}
