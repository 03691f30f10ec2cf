/** The express application: security headers, body limits, health, the bot endpoint, errors. */
import express, { type RequestHandler, type Router } from 'express';
import helmet from 'helmet';
import type { Logger } from 'pino';
import { errorHandler, sendError } from './errors';
import { healthRouter, type ReadinessCheck } from './health';

export const MAX_BODY_BYTES = 1024 * 1024;

/** Auth and API bodies are small; only bot activities may be large. */
export const MAX_API_BODY_BYTES = 64 * 1024;

export interface HttpAppDeps {
  logger: Logger;
  readiness: ReadinessCheck[];
  messagesHandler: RequestHandler;
  trustProxy: boolean | number | string;
  /** Routers mounted under /api/auth and /api. */
  authRouter?: Router;
  apiRouters?: Router[];
  /** The tab and add-in pages (/tab, /addin) with their own security headers (api/http/webPages.ts). */
  webPages?: Router;
  /** Cross-origin rules for /api (api/http/cors.ts). */
  cors?: RequestHandler;
  /** Routers under /api that read their own (streamed, non-JSON) bodies, such as file uploads. */
  streamRouters?: Router[];
  /** Records each authenticated /api request in the audit log once it has finished (api/http/requestAudit.ts). */
  requestAudit?: RequestHandler;
  /** Runs first on every request: request ids and child loggers (api/http/requestId.ts), HTTP latency. */
  observe?: RequestHandler[];
  /** `GET /metrics` (api/http/metrics.ts). */
  metrics?: Router;
}

export function createHttpApp(deps: HttpAppDeps) {
  const app = express();
  app.disable('x-powered-by');
  // Behind a load balancer the client IP (login throttling, attempt logs) is in X-Forwarded-For;
  // trusting it is a deployment decision (TRUST_PROXY), never a default.
  app.set('trust proxy', deps.trustProxy);
  if (deps.observe?.length) app.use(...deps.observe);
  // The pages set their own CSP (frame-ancestors for Teams and Outlook); everything else keeps helmet's defaults.
  if (deps.webPages) app.use(deps.webPages);
  app.use(helmet());
  app.use(healthRouter(deps.readiness));
  if (deps.metrics) app.use(deps.metrics);

  const requireJson: RequestHandler = (req, res, next) => {
    if (!req.is('application/json')) return sendError(res, 'unsupported_media_type');
    next();
  };
  app.post('/api/messages', requireJson, express.json({ limit: MAX_BODY_BYTES, strict: true }), deps.messagesHandler);
  app.all('/api/messages', (_req, res) => {
    res.setHeader('Allow', 'POST');
    sendError(res, 'method_not_allowed');
  });
  if (deps.cors) app.use('/api', deps.cors);
  if (deps.requestAudit) app.use('/api', deps.requestAudit);
  const jsonForWrites: RequestHandler = (req, res, next) => (req.method === 'GET' || req.method === 'HEAD' ? next() : requireJson(req, res, next));
  const apiJson = express.json({ limit: MAX_API_BODY_BYTES, strict: true });
  if (deps.authRouter) app.use('/api/auth', jsonForWrites, apiJson, deps.authRouter);
  if (deps.streamRouters?.length) app.use('/api', ...deps.streamRouters);
  if (deps.apiRouters?.length) app.use('/api', jsonForWrites, apiJson, ...deps.apiRouters);
  app.use((_req, res) => sendError(res, 'not_found'));
  app.use(errorHandler(deps.logger));
  return app;
}
