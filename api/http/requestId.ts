/**
 * A request id per HTTP request, in the logs and the `X-Request-Id` response header.
 *
 * An incoming `X-Request-Id` (from a load balancer or the client) is kept when it is short and
 * plain (1-64 of letters, digits, `.`, `_`, `:`, `-`); anything else is replaced by a new UUID, so
 * a hostile header can neither forge log lines nor grow them. Each request gets a pino child
 * logger (`res.locals.log`) carrying the id, and one `request finished` line: method, route
 * pattern, status, duration, the tenant and workspace ids once authentication knows them, and a
 * bot activity's turn id.
 * Never the URL with its ids or query string, headers, cookies, tokens or bodies.
 */
import crypto from 'node:crypto';
import type { RequestHandler, Response } from 'express';
import type { Logger } from 'pino';
import type { Principal } from '../tenancy/principal';
import { routePattern } from './requestAudit';

export const REQUEST_ID_HEADER = 'X-Request-Id';
const ACCEPTED_ID = /^[A-Za-z0-9._:-]{1,64}$/;

/** The incoming id when it is acceptable, else a new one. */
export function requestIdOf(incoming: string | string[] | undefined): string {
  return typeof incoming === 'string' && ACCEPTED_ID.test(incoming) ? incoming : crypto.randomUUID();
}

/** The request's child logger when the middleware ran, else `fallback`. */
export function requestLogger(res: Response, fallback: Logger): Logger {
  return (res.locals.log as Logger | undefined) ?? fallback;
}

export function requestIds(logger: Logger): RequestHandler {
  return (req, res, next) => {
    const requestId = requestIdOf(req.headers['x-request-id']);
    const started = performance.now();
    res.locals.requestId = requestId;
    res.locals.log = logger.child({ requestId });
    res.setHeader(REQUEST_ID_HEADER, requestId);
    res.once('close', () => {
      const principal = res.locals.principal as Principal | undefined;
      const fields = {
        method: req.method,
        route: req.route ? routePattern(req) : '(unmatched)',
        status: res.statusCode,
        ms: Math.round(performance.now() - started),
        ...(principal ? { tenantId: principal.tenantId, workspaceId: principal.workspaceId } : {}),
        ...(typeof res.locals.turnId === 'string' ? { turnId: res.locals.turnId } : {}),
        ...(res.writableFinished ? {} : { aborted: true }),
      };
      (res.locals.log as Logger).info(fields, 'request finished');
    });
    next();
  };
}
