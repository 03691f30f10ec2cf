/** How errors leave Kluis over HTTP: the catalogue's id and public message, never the detail. */
import type { NextFunction, Request, Response } from 'express';
import type { Logger } from 'pino';
import { errorCatalogue, isKluisError, type ErrorId } from '../errors';
import { requestLogger } from './requestId';

export function sendError(res: Response, id: ErrorId, retryAfterSeconds?: number, claims?: string): void {
  const entry = errorCatalogue[id];
  if (retryAfterSeconds !== undefined) res.setHeader('Retry-After', String(retryAfterSeconds));
  // A Conditional Access challenge goes back to the client as Entra documents it ("Claims
  // challenges, claims requests and client capabilities"), so it can re-run sign-in with the claims.
  if (claims) res.setHeader('WWW-Authenticate', `Bearer error="insufficient_claims", claims="${Buffer.from(claims).toString('base64')}"`);
  res.status(entry.status).json({ error: { id, message: entry.message } });
}

/** Maps body-parser failures and catalogued errors to clear responses; everything else is a logged 500. */
export function errorHandler(logger: Logger) {
  return (error: unknown, _req: Request, res: Response, next: NextFunction): void => {
    const log = requestLogger(res, logger);
    if (res.headersSent) {
      next(error);
      return;
    }
    const type = (error as { type?: string }).type;
    if (type === 'entity.too.large') return sendError(res, 'request_too_large');
    if (type === 'entity.parse.failed' || type === 'encoding.unsupported' || type === 'charset.unsupported') return sendError(res, 'request_malformed');
    if (isKluisError(error)) {
      if (error.status >= 500) log.error({ errorId: error.id, detail: error.message }, 'request failed');
      return sendError(res, error.id, error.retryAfterSeconds, error.claims);
    }
    log.error({ err: error }, 'request failed');
    sendError(res, 'internal');
  };
}
