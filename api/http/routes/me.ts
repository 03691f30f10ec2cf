/** /api/me, /api/conversations (read, delete one) and /api/workspace/invitations: what a signed-in caller may see and do. */
import { Router } from 'express';
import type { AuditLog } from '../../audit/ports';
import type { ConversationReader } from '../../assistant/conversations';
import { fail } from '../../errors';
import type { Credentials } from '../../identity/credentials';
import { authorize } from '../../tenancy/policy';
import { requirePrincipal, principalOf, type AuthenticateDeps } from '../authenticate';
import { parseBody } from '../validate';
import { invitationBody } from './auth.schemas';

export function meRouter(deps: { authenticate: AuthenticateDeps; conversations: ConversationReader; credentials: Credentials; audit: AuditLog }): Router {
  const router = Router();
  // Per route, not router-wide: an unknown /api path must stay a 404, not become a 401.
  const signedIn = requirePrincipal(deps.authenticate);

  router.get('/me', signedIn, (_req, res) => {
    const p = principalOf(res);
    res.json({ workspaceId: p.workspaceId, tenantId: p.tenantId, userId: p.userId, roles: p.roles, authMethod: p.authMethod });
  });

  router.get('/conversations', signedIn, async (_req, res) => {
    res.json({ conversations: await deps.conversations.listMine(principalOf(res)) });
  });

  router.get('/conversations/:id', signedIn, async (req, res) => {
    const id = String(req.params.id);
    if (!/^[0-9a-f-]{36}$/.test(id)) fail('not_found', 'Malformed conversation id');
    res.json(await deps.conversations.get(principalOf(res), id));
  });

  router.delete('/conversations/:id', signedIn, async (req, res) => {
    const id = String(req.params.id);
    if (!/^[0-9a-f-]{36}$/.test(id)) fail('not_found', 'Malformed conversation id');
    await deps.conversations.remove(principalOf(res), id);
    res.status(204).end();
  });

  router.post('/workspace/invitations', signedIn, async (req, res) => {
    const principal = principalOf(res);
    await authorize(principal, 'invitation.create', { workspaceId: principal.workspaceId }, deps.audit);
    const body = parseBody(invitationBody, req);
    const invitation = await deps.credentials.invite({ workspaceId: principal.workspaceId, email: body.email, role: body.role, validDays: body.validDays });
    await deps.audit.record({ workspaceId: principal.workspaceId, actorUserId: principal.userId, kind: 'identity.invited', outcome: 'success', detail: { role: body.role } });
    res.status(201).json(invitation);
  });

  return router;
}
