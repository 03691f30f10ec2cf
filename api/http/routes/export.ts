/**
 * Data exports: `POST /api/me/export` and `GET /api/me/export/:id` (one's own data),
 * `POST /api/workspace/export` and `GET /api/workspace/export/:id` (admins: the whole workspace),
 * `GET /api/export/download/:token` (the archive, through a short-lived link bound to the caller).
 * A POST answers 202 with the job; a second POST while one of the same scope is under way joins it.
 */
import { Router } from 'express';
import { z } from 'zod';
import { fail } from '../../errors';
import type { Exports, ExportView } from '../../privacy/export';
import { principalOf, requirePrincipal, type AuthenticateDeps } from '../authenticate';
import { parseBody } from '../validate';
import { contentDisposition } from './files';

export interface ExportRouteDeps {
  authenticate: AuthenticateDeps;
  exports: Exports;
  /** Base URL the links are built on (PUBLIC_URL, or the address Kluis listens on). */
  publicUrl(): string;
}

const exportId = (value: unknown): string => {
  const id = String(value);
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(id)) fail('not_found', 'Malformed export id');
  return id;
};

export function exportRouter(deps: ExportRouteDeps): Router {
  const router = Router();
  const signedIn = requirePrincipal(deps.authenticate);

  const reply = (view: ExportView) => {
    const { download, ...rest } = view;
    return download ? { ...rest, download: { url: `${deps.publicUrl()}/api/export/download/${download.token}`, expiresAt: download.expiresAt } } : rest;
  };

  for (const [path, scope] of [['/me/export', 'user'], ['/workspace/export', 'workspace']] as const) {
    router.post(path, signedIn, async (req, res) => {
      parseBody(z.object({}).strict(), req);
      const view = await deps.exports.request(principalOf(res), scope);
      res.setHeader('Cache-Control', 'no-store');
      res.status(202).json(reply(view));
    });

    router.get(`${path}/:id`, signedIn, async (req, res) => {
      const view = await deps.exports.status(principalOf(res), exportId(req.params.id), scope);
      res.setHeader('Cache-Control', 'no-store');
      res.json(reply(view));
    });
  }

  router.get('/export/download/:token', signedIn, async (req, res) => {
    const archive = await deps.exports.download(principalOf(res), String(req.params.token));
    res.setHeader('Content-Type', 'application/zip');
    res.setHeader('Content-Length', String(archive.bytes.length));
    res.setHeader('Content-Disposition', contentDisposition(archive.fileName));
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Cache-Control', 'no-store');
    res.status(200).end(archive.bytes);
  });

  return router;
}
