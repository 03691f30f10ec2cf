/**
 * Erasure over HTTP: an admin erases the workspace (typing its exact name), anyone erases their own
 * data; both get 202 with the job, which runs in the background, and poll its status. A user's
 * 202 carries a status token: sent back in a header when polling, it keeps the job readable after
 * the account went with it.
 */
import { Router, type Request } from 'express';
import { z } from 'zod';
import { fail } from '../../errors';
import type { ErasureRequests } from '../../privacy/erasureRequests';
import { principalOf, requirePrincipal, type AuthenticateDeps } from '../authenticate';
import { parseBody } from '../validate';

export const workspaceErasureBody = z.object({ confirmName: z.string().min(1).max(200) }).strict();
export const myErasureBody = z.object({ deleteAccount: z.boolean().optional() }).strict();

/** Carries the status token from POST /me/erasure when polling its job (it outlives a deleted account). */
export const ERASURE_STATUS_TOKEN_HEADER = 'x-kluis-erasure-token';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function jobIdOf(req: Request): string {
  const id = String(req.params.jobId);
  if (!UUID.test(id)) fail('not_found', 'Malformed erasure job id');
  return id;
}

export function erasureRouter(deps: { authenticate: AuthenticateDeps; erasure: ErasureRequests }): Router {
  const router = Router();
  const signedIn = requirePrincipal(deps.authenticate);

  router.post('/workspace/erasure', signedIn, async (req, res) => {
    res.status(202).json(await deps.erasure.eraseWorkspace(principalOf(res), () => parseBody(workspaceErasureBody, req).confirmName));
  });

  router.get('/workspace/erasure/:jobId', signedIn, async (req, res) => {
    res.json(await deps.erasure.workspaceJob(principalOf(res), jobIdOf(req)));
  });

  router.post('/me/erasure', signedIn, async (req, res) => {
    const body = parseBody(myErasureBody, req);
    res.status(202).json(await deps.erasure.eraseMyData(principalOf(res), { deleteAccount: body.deleteAccount ?? false }));
  });

  // The status token travels in a header, not the URL, so it stays out of access logs.
  router.get('/me/erasure/:jobId', signedIn, async (req, res) => {
    const statusToken = req.get(ERASURE_STATUS_TOKEN_HEADER);
    res.json(await deps.erasure.myJob(principalOf(res), jobIdOf(req), statusToken ? statusToken.slice(0, 128) : undefined));
  });

  return router;
}
