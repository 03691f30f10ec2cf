/**
 * /api/files: short-lived signed download links for uploaded files, and the downloads themselves.
 *
 * A download answers as an attachment that the browser must not sniff, render, cache or embed:
 * Content-Disposition attachment with the name in both forms of RFC 6266 (an ASCII fallback and
 * RFC 5987 `filename*` in UTF-8), X-Content-Type-Options nosniff, Cache-Control no-store and a
 * sandboxing Content-Security-Policy (an uploaded HTML file must never run in Kluis's origin).
 */
import { Router } from 'express';
import { z } from 'zod';
import type { Downloads } from '../../files/downloads';
import { principalOf, requirePrincipal, type AuthenticateDeps } from '../authenticate';
import { parseBody } from '../validate';
import { uploadId } from './uploads';

export interface FilesRouteDeps {
  authenticate: AuthenticateDeps;
  downloads: Downloads;
  /** Base URL the links are built on (PUBLIC_URL, or the address Kluis listens on). */
  publicUrl(): string;
}

/** RFC 5987 attr-char: ALPHA / DIGIT / "!#$&+-.^_`|~"; everything else is percent-encoded UTF-8. */
export function encodeRfc5987(value: string): string {
  return encodeURIComponent(value).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** `attachment; filename="ascii"; filename*=UTF-8''utf8`, safe whatever the (already cleaned) name. */
export function contentDisposition(fileName: string): string {
  const ascii = fileName.replace(/[^\x20-\x7e]|["\\%]/g, '_');
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encodeRfc5987(fileName)}`;
}

export function filesRouter(deps: FilesRouteDeps): Router {
  const router = Router();
  const signedIn = requirePrincipal(deps.authenticate);

  router.post('/files/:id/link', signedIn, async (req, res) => {
    parseBody(z.object({}).strict(), req);
    const link = await deps.downloads.issueLink(principalOf(res), uploadId(req.params.id));
    res.setHeader('Cache-Control', 'no-store');
    res.status(201).json({ url: `${deps.publicUrl()}/api/files/download/${link.token}`, expiresAt: link.expiresAt.toISOString() });
  });

  router.get('/files/download/:token', signedIn, async (req, res) => {
    const file = await deps.downloads.download(principalOf(res), String(req.params.token));
    res.setHeader('Content-Type', file.mimeType);
    res.setHeader('Content-Length', String(file.bytes.length));
    res.setHeader('Content-Disposition', contentDisposition(file.fileName));
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('Content-Security-Policy', "default-src 'none'; sandbox");
    res.status(200).end(file.bytes);
  });

  return router;
}
