/**
 * /api/auth: credentials login for people outside Microsoft 365. State-changing requests must be
 * JSON (a cross-site form cannot send JSON without a CORS preflight, which Kluis never grants) and
 * the session cookie is SameSite=Strict: together they stop cross-site request forgery.
 */
import { Router, type Request, type Response } from 'express';
import { fail } from '../../errors';
import type { Credentials } from '../../identity/credentials';
import { requirePrincipal, principalOf, type AuthenticateDeps } from '../authenticate';
import { parseBody } from '../validate';
import { changePasswordBody, loginBody, registerBody, resetBody, resetRequestBody, totpConfirmBody } from './auth.schemas';
import type { DirectoryForAuth } from './routeDeps';

export interface AuthRouteDeps {
  credentials: Credentials;
  authenticate: AuthenticateDeps;
  cookie: { name: string; secure: boolean };
  directory: DirectoryForAuth;
}

const language = (req: Request): 'nl' | 'en' => (/^nl\b/i.test(req.headers['accept-language'] ?? '') ? 'nl' : 'en');

export function authRouter(deps: AuthRouteDeps): Router {
  const router = Router();
  const context = (req: Request) => ({ ip: req.ip ?? 'unknown', language: language(req) });
  // No Max-Age or Expires: the cookie ends with the browser; the server ends it sooner (idle, absolute, revoked).
  const setSession = (res: Response, token: string) => res.cookie(deps.cookie.name, token, { httpOnly: true, secure: deps.cookie.secure, sameSite: 'strict', path: '/' });
  const clearSession = (res: Response) => res.clearCookie(deps.cookie.name, { httpOnly: true, secure: deps.cookie.secure, sameSite: 'strict', path: '/' });
  const signedIn = requirePrincipal(deps.authenticate);

  router.post('/register', async (req, res) => {
    res.status(202).json(await deps.credentials.register(parseBody(registerBody, req), context(req)));
  });

  router.post('/login', async (req, res) => {
    const result = await deps.credentials.login(parseBody(loginBody, req), context(req));
    setSession(res, result.sessionToken);
    res.json({ workspaceId: result.workspaceId, userId: result.userId });
  });

  router.post('/logout', signedIn, async (req, res) => {
    const session = res.locals.session as { id: string; workspaceId: string; userId: string } | undefined;
    if (session) await deps.credentials.logout(session, context(req));
    clearSession(res);
    res.status(204).end();
  });

  router.post('/password', signedIn, async (req, res) => {
    const principal = principalOf(res);
    if (principal.authMethod !== 'credentials') fail('forbidden', 'Password change is for credentials accounts');
    const { sessionToken } = await deps.credentials.changePassword({ workspaceId: principal.workspaceId, userId: principal.userId }, parseBody(changePasswordBody, req), context(req));
    setSession(res, sessionToken);
    res.status(204).end();
  });

  router.post('/reset-request', async (req, res) => {
    res.status(202).json(await deps.credentials.requestPasswordReset(parseBody(resetRequestBody, req), context(req)));
  });

  router.post('/reset', async (req, res) => {
    await deps.credentials.resetPassword(parseBody(resetBody, req), context(req));
    res.status(204).end();
  });

  router.post('/totp/begin', signedIn, async (_req, res) => {
    const principal = principalOf(res);
    if (principal.authMethod !== 'credentials') fail('forbidden', 'TOTP is for credentials accounts');
    res.json(await deps.credentials.beginTotp({ workspaceId: principal.workspaceId, userId: principal.userId }));
  });

  router.post('/totp/confirm', signedIn, async (req, res) => {
    const principal = principalOf(res);
    if (principal.authMethod !== 'credentials') fail('forbidden', 'TOTP is for credentials accounts');
    res.json(await deps.credentials.confirmTotp({ workspaceId: principal.workspaceId, userId: principal.userId }, parseBody(totpConfirmBody, req).code, context(req)));
  });

  return router;
}
