/**
 * Erasure over HTTP: an admin erases the workspace (typing its exact name), anyone erases their own
 * data; both get 202 with the job, which runs in the background, and poll its status.
 */
import { Router, type Request } from 'express';
import { z } from 'zod';
import { fail } from '../../errors';
import type { ErasureRequests } from '../../privacy/erasureRequests';
import { principalOf, requirePrincipal, type AuthenticateDeps } from '../authenticate';
import { parseBody } from '../validate';

export const workspaceErasureBody = z.object({ confirmName: z.string().min(1).max(200) }).strict();
export const myErasureBody = z.object({ deleteAccount: z.boolean().optional() }).strict();

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

  router.get('/me/erasure/:jobId', signedIn, async (req, res) => {
    res.json(await deps.erasure.myJob(principalOf(res), jobIdOf(req)));
  });

  return router;
}
