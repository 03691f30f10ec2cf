/**
 * Delegated Graph access at the HTTP door: a validated Entra bearer caller brings it (built from
 * their own token, which stays out of the Principal); a cookie session or a refused token never does.
 */
import { randomUUID } from 'node:crypto';
import type { Request, Response } from 'express';
import { isKluisError, KluisError } from '../errors';
import type { SessionService } from '../identity/sessions';
import type { DelegatedGraph } from '../knowledge/sharepoint/ports';
import type { Principal } from '../tenancy/principal';
import type { Principals } from '../tenancy/principals';
import { authenticateRequest, delegatedOf, requirePrincipal, type AuthenticateDeps } from './authenticate';

const tenantId = randomUUID();
const objectId = randomUUID();
const ASSERTION = 'eyJhbGciOiJSUzI1NiJ9.eyJvaWQiOiJ4In0.signature-of-the-user-token';

const principal = (authMethod: Principal['authMethod']): Principal => ({ workspaceId: randomUUID(), tenantId, userId: randomUUID(), roles: ['user'], authMethod });
const principals = {
  resolve: async () => principal('entra-token'),
  resolveUser: async () => principal('credentials'),
  isOnboarded: async () => true,
} as unknown as Principals;
const sessions = { resume: async () => ({ id: 'session-1', workspaceId: randomUUID(), userId: randomUUID() }) } as unknown as SessionService;
const request = (headers: Record<string, string>) => ({ headers, ip: '127.0.0.1' }) as unknown as Request;

function depsWith(delegate?: AuthenticateDeps['delegate'], valid = true) {
  const delegations: Array<{ identity: { tenantId: string; objectId: string }; assertion: string }> = [];
  const deps: AuthenticateDeps = {
    principals,
    sessions,
    cookieName: 'kluis_session',
    bearer: {
      async validate(token) {
        if (!valid || token !== ASSERTION) throw new KluisError('unauthenticated', 'token refused');
        return { tenantId, objectId, roles: [] };
      },
    },
    delegate:
      delegate &&
      ((identity, assertion) => {
        delegations.push({ identity, assertion });
        return delegate(identity, assertion);
      }),
  };
  return { deps, delegations };
}

const graph = {} as DelegatedGraph;

describe('delegated access at the HTTP door', () => {
  it("gives a bearer caller delegated access built from their own token and identity, and keeps the token out of the Principal", async () => {
    const { deps, delegations } = depsWith(() => graph);
    const authenticated = await authenticateRequest(request({ authorization: `Bearer ${ASSERTION}` }), deps);

    expect(authenticated.delegated).toBe(graph);
    expect(delegations).toEqual([{ identity: { tenantId, objectId }, assertion: ASSERTION }]);
    expect(JSON.stringify(authenticated.principal)).not.toContain('signature-of-the-user-token');
  });

  it('gives a cookie session (credentials login) no delegated access', async () => {
    const { deps, delegations } = depsWith(() => graph);
    const authenticated = await authenticateRequest(request({ cookie: 'kluis_session=abc' }), deps);

    expect(authenticated.delegated).toBeUndefined();
    expect(delegations).toEqual([]);
  });

  it('gives none without an On-Behalf-Of capable app (no client secret)', async () => {
    const { deps } = depsWith(undefined);
    expect((await authenticateRequest(request({ authorization: `Bearer ${ASSERTION}` }), deps)).delegated).toBeUndefined();
  });

  it('never builds delegated access from a refused token (a forged or expired bearer)', async () => {
    const { deps, delegations } = depsWith(() => graph, false);
    const error = await authenticateRequest(request({ authorization: 'Bearer forged.token.value' }), deps).catch((e: unknown) => e);

    expect(isKluisError(error, 'unauthenticated')).toBe(true);
    expect(delegations).toEqual([]);
  });

  it('puts it in res.locals for handlers, through requirePrincipal', async () => {
    const { deps } = depsWith(() => graph);
    const res = { locals: {} } as unknown as Response;
    await new Promise<void>((resolve, reject) => requirePrincipal(deps)(request({ authorization: `Bearer ${ASSERTION}` }), res, (error?: unknown) => (error ? reject(error) : resolve())));

    expect(delegatedOf(res)).toBe(graph);
    expect(res.locals.principal).toMatchObject({ tenantId, authMethod: 'entra-token' });
  });
});
