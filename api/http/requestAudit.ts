/**
 * One audit event per authenticated API request ("registration of the use of our API"): method,
 * route pattern (`/api/answers/:id/feedback`, never the URL with its ids or query string), status
 * and whether the client went away before the end. Never bodies, query strings, headers or the IP:
 * the event is about who used which part of the API, and the IP of a request is not needed for that.
 *
 * Requests without a Principal (sign-in attempts, refused tokens, the bot endpoint, unmatched
 * paths before authentication) belong to no workspace and are not recorded here: failed sign-ins
 * are in the login attempt log and refused bearer tokens in the security events.
 *
 * The event is written after the response has gone out, so the caller never waits for it; a
 * failed write is logged, never thrown into the request.
 */
import type { Request, RequestHandler, Response } from 'express';
import type { Logger } from 'pino';
import type { AuditEventInput, AuditLog } from '../audit/ports';
import type { Principal } from '../tenancy/principal';

export const API_REQUEST_KIND = 'api.request';

/**
 * The matched route as written in its router, with the path its router is mounted on; never the
 * raw URL. Express restores `req.baseUrl` when an error leaves a router, so the mount path is
 * taken from the URL instead: the segments before those the route pattern matched, which belong
 * to a fixed mount path (`/api`, `/api/auth`), never to an id. A pattern that can match several
 * segments (a wildcard) gives no such count and is recorded without its mount path.
 */
export function routePattern(req: Request): string {
  const path = (req.route as { path?: unknown } | undefined)?.path;
  if (typeof path !== 'string') return '(no route)';
  if (/[*(]/.test(path)) return path.slice(0, 200);
  const urlSegments = req.originalUrl.split('?')[0]!.split('/').filter(Boolean);
  const routeSegments = path.split('/').filter(Boolean);
  const mount = urlSegments.slice(0, Math.max(0, urlSegments.length - routeSegments.length));
  return `${mount.length ? `/${mount.join('/')}` : ''}${path}`.slice(0, 200);
}

function outcomeOf(status: number, finished: boolean): AuditEventInput['outcome'] {
  if (!finished || status >= 500) return 'failure';
  if (status === 401 || status === 403 || status === 404 || status === 429) return 'refused';
  return status >= 400 ? 'failure' : 'success';
}

export function recordApiRequests(deps: { audit: AuditLog; logger: Logger }): RequestHandler {
  return (req: Request, res: Response, next) => {
    const method = req.method;
    res.once('close', () => {
      const principal = res.locals.principal as Principal | undefined;
      if (!principal) return;
      const finished = res.writableFinished;
      const route = routePattern(req);
      const detail: NonNullable<AuditEventInput['detail']> = { method, route, status: res.statusCode, ...(finished ? {} : { aborted: true }) };
      deps.audit
        .record({ workspaceId: principal.workspaceId, actorUserId: principal.userId, kind: API_REQUEST_KIND, outcome: outcomeOf(res.statusCode, finished), detail })
        .catch((error: unknown) => deps.logger.error({ err: error, workspaceId: principal.workspaceId, route, status: res.statusCode }, 'could not record the API request in the audit log'));
    });
    next();
  };
}
