/** /api/usage: the month's usage figures and the monthly budget of the caller's workspace (admins). */
import { Router, type Request } from 'express';
import { utcMonth, type UsageMeter } from '../../assistant/usage';
import { principalOf, requirePrincipal, type AuthenticateDeps } from '../authenticate';

/** `?month=YYYY-MM`, or the current UTC month without one. A repeated parameter is malformed. */
function monthOf(req: Request): string {
  const month = req.query.month;
  if (month === undefined) return utcMonth(new Date());
  return typeof month === 'string' ? month : '(not one value)';
}

export function usageRouter(deps: { authenticate: AuthenticateDeps; meter: Pick<UsageMeter, 'report' | 'setBudget'> }): Router {
  const router = Router();
  const signedIn = requirePrincipal(deps.authenticate);

  // The meter checks the policy before the month and the body, so a non-admin gets 403 whatever
  // they send, and the workspace is always the caller's own: it is never read from the request.
  router.get('/usage', signedIn, async (req, res) => {
    res.json(await deps.meter.report(principalOf(res), monthOf(req)));
  });

  router.put('/usage/budget', signedIn, async (req, res) => {
    res.json(await deps.meter.setBudget(principalOf(res), req.body));
  });

  return router;
}
