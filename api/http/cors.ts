/**
 * Cross-origin calls to /api: only from origins of our own (ALLOWED_ORIGINS, none by default), only
 * with a bearer token. The tab and the add-in are served by Kluis itself, so they are same-origin
 * and need no CORS at all. Credentials are never allowed across origins: no
 * Access-Control-Allow-Credentials, and the session cookie of a request from another origin is
 * dropped before authentication, so a cookie can only ever authenticate Kluis's own pages.
 */
import type { RequestHandler } from 'express';

export function corsForOwnOrigins(allowedOrigins: readonly string[]): RequestHandler {
  const allowed = new Set(allowedOrigins.map((o) => o.toLowerCase()));
  return (req, res, next) => {
    const origin = req.headers.origin;
    if (typeof origin !== 'string') return next();
    const own = `${req.protocol}://${req.get('host') ?? ''}`.toLowerCase();
    if (origin.toLowerCase() === own) return next();
    // Another origin (allowed or not): its requests authenticate by bearer token or not at all.
    delete req.headers.cookie;
    res.vary('Origin');
    if (!allowed.has(origin.toLowerCase())) return next();
    res.setHeader('Access-Control-Allow-Origin', origin);
    if (req.method === 'OPTIONS' && req.headers['access-control-request-method']) {
      res.setHeader('Access-Control-Allow-Methods', 'GET, POST, PUT, DELETE');
      res.setHeader('Access-Control-Allow-Headers', 'Authorization, Content-Type');
      res.setHeader('Access-Control-Max-Age', '600');
      res.status(204).end();
      return;
    }
    next();
  };
}
