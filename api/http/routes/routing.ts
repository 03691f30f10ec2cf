/**
 * /api/workspace/routing: the routing policy of the caller's workspace. GET (managers and admins)
 * shows the effective policy, where it comes from, and which providers have a key on this server;
 * PUT (admins) replaces it. The workspace is always the caller's own: there is no id to change.
 */
import { Router } from 'express';
import { errorCatalogue, isKluisError } from '../../errors';
import type { RoutingPolicies } from '../../assistant/routingPolicy';
import { unavailableProviders } from '../../assistant/routingPolicy';
import { routingPolicySchema } from '../../assistant/routingPolicySchema';
import type { ProviderName } from '../../assistant/routingPolicySchema';
import { principalOf, requirePrincipal, type AuthenticateDeps } from '../authenticate';
import { parseBody } from '../validate';

export function routingRouter(deps: { authenticate: AuthenticateDeps; routing: RoutingPolicies; available: () => ProviderName[] }): Router {
  const router = Router();
  const signedIn = requirePrincipal(deps.authenticate);
  router.get('/workspace/routing', signedIn, async (_req, res) => {
    res.set('cache-control', 'no-store').json(await deps.routing.view(principalOf(res)));
  });
  router.put('/workspace/routing', signedIn, async (req, res) => {
    const policy = parseBody(routingPolicySchema, req);
    try {
      res.set('cache-control', 'no-store').json(await deps.routing.update(principalOf(res), policy));
    } catch (error) {
      if (!isKluisError(error, 'routing_provider_unavailable')) throw error;
      // The names are no secret (GET lists the available ones); the admin needs them to fix the policy.
      const { status, message } = errorCatalogue.routing_provider_unavailable;
      res.status(status).json({ error: { id: error.id, message, providers: unavailableProviders(policy, deps.available()) } });
    }
  });
  return router;
}
