/** The express application: security headers, body limits, health, the bot endpoint, errors. */
import express, { type RequestHandler } from 'express';
import helmet from 'helmet';
import type { Logger } from 'pino';
import { errorHandler, sendError } from './errors';
import { healthRouter, type ReadinessCheck } from './health';

export const MAX_BODY_BYTES = 1024 * 1024;

export function createHttpApp(deps: { logger: Logger; readiness: ReadinessCheck[]; messagesHandler: RequestHandler }) {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', false);
  app.use(helmet());
  app.use(healthRouter(deps.readiness));

  const requireJson: RequestHandler = (req, res, next) => {
    if (!req.is('application/json')) return sendError(res, 'unsupported_media_type');
    next();
  };
  app.post('/api/messages', requireJson, express.json({ limit: MAX_BODY_BYTES, strict: true }), deps.messagesHandler);
  app.all('/api/messages', (_req, res) => {
    res.setHeader('Allow', 'POST');
    sendError(res, 'method_not_allowed');
  });
  app.use((_req, res) => sendError(res, 'not_found'));
  app.use(errorHandler(deps.logger));
  return app;
}
