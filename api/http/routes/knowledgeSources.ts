/**
 * /api/knowledge/sources: which SharePoint content the assistant may know, and its sync. A sync
 * started here by a bearer caller runs with the caller's delegated Graph access when there is one
 * (tenants that consent only to delegated permissions can sync); scheduled syncs stay app-only.
 */
import { Router } from 'express';
import { z } from 'zod';
import { fail } from '../../errors';
import type { KnowledgeSources } from '../../knowledge/sharepoint/sources';
import { delegatedOf, principalOf, requirePrincipal, type AuthenticateDeps } from '../authenticate';
import { parseBody } from '../validate';

// Graph drive and item ids: base64url-ish tokens with '!' (OneDrive) and '-'/'_'; never paths.
const graphId = z.string().regex(/^[A-Za-z0-9!_-]{1,255}$/, 'not a Graph drive or item id');

export const addSourceBody = z
  .object({
    driveId: graphId,
    folderId: graphId.optional(),
    displayName: z.string().trim().min(1).max(512),
    schedule: z.enum(['monthly', 'weekly', 'daily', 'manual']).default('monthly'),
  })
  .strict();

export function knowledgeSourcesRouter(deps: { authenticate: AuthenticateDeps; sources: KnowledgeSources }): Router {
  const router = Router();
  const signedIn = requirePrincipal(deps.authenticate);
  const sourceId = (raw: unknown) => {
    const id = String(raw);
    if (!/^[0-9a-f-]{36}$/.test(id)) fail('not_found', 'Malformed source id');
    return id;
  };

  router.get('/knowledge/sources', signedIn, async (_req, res) => {
    res.json({ sources: await deps.sources.list(principalOf(res)) });
  });
  router.post('/knowledge/sources', signedIn, async (req, res) => {
    res.status(201).json(await deps.sources.add(principalOf(res), parseBody(addSourceBody, req)));
  });
  router.delete('/knowledge/sources/:id', signedIn, async (req, res) => {
    await deps.sources.remove(principalOf(res), sourceId(req.params.id));
    res.status(204).end();
  });
  router.post('/knowledge/sources/:id/sync', signedIn, async (req, res) => {
    res.status(202).json(await deps.sources.syncNow(principalOf(res), sourceId(req.params.id), { asUser: delegatedOf(res)?.drive }));
  });
  router.get('/knowledge/sources/:id/progress', signedIn, async (req, res) => {
    res.json({ progress: (await deps.sources.progress(principalOf(res), sourceId(req.params.id))) ?? null });
  });
  return router;
}
