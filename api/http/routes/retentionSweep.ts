/**
 * POST /api/workspace/retention/sweep: an admin applies their workspace's retention policy now
 * instead of waiting for the schedule. The workspace is always the caller's own, never read from
 * the request; the answer holds counts and ids of what was removed or failed, never content.
 */
import { Router } from 'express';
import { z } from 'zod';
import type { RetentionSweeper } from '../../privacy/sweeper';
import { principalOf, requirePrincipal, type AuthenticateDeps } from '../authenticate';
import { parseBody } from '../validate';

/** No options: the body is `{}` (JSON, like every write); anything else (a workspace id, say) is refused, not ignored. */
export const retentionSweepBody = z.object({}).strict();

export function retentionSweepRouter(deps: { authenticate: AuthenticateDeps; sweeper: Pick<RetentionSweeper, 'sweepWorkspaceOf'> }): Router {
  const router = Router();
  router.post('/workspace/retention/sweep', requirePrincipal(deps.authenticate), async (req, res) => {
    const principal = principalOf(res);
    parseBody(retentionSweepBody, req);
    res.set('cache-control', 'no-store').json(await deps.sweeper.sweepWorkspaceOf(principal));
  });
  return router;
}
