/** /api/answers/:id/feedback: thumbs up or down on one's own answer (the tab; Teams uses the bot's feedback loop). */
import { Router } from 'express';
import type { Feedback } from '../../assistant/feedback';
import { principalOf, requirePrincipal, type AuthenticateDeps } from '../authenticate';

export function feedbackRouter(deps: { authenticate: AuthenticateDeps; feedback: Feedback }): Router {
  const router = Router();
  const signedIn = requirePrincipal(deps.authenticate);

  // The id and body are checked by the feedback module: a malformed id is a 404 like any other
  // answer the caller does not own, a malformed body a 400.
  router.put('/answers/:id/feedback', signedIn, async (req, res) => {
    res.json(await deps.feedback.record(principalOf(res), String(req.params.id), req.body));
  });
  router.get('/answers/:id/feedback', signedIn, async (req, res) => {
    res.json({ feedback: (await deps.feedback.get(principalOf(res), String(req.params.id))) ?? null });
  });
  return router;
}
