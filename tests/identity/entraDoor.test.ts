/**
 * The Entra door of the HTTP API (Teams tab SSO, Outlook add-in, API clients): a bearer access
 * token becomes a Principal, with roles from the token's app roles; a principal of workspace A
 * finds nothing of workspace B.
 */
import { randomUUID } from 'node:crypto';
import { startFakeEntraIssuer, type FakeEntraIssuer } from '../fakes/entraIssuer';
import { openTestDatabase } from '../support/database';
import { startTestKluis } from '../support/kluis';

const tenantA = randomUUID();
const tenantB = randomUUID();
const db = openTestDatabase();
let issuer: FakeEntraIssuer;
let kluis: Awaited<ReturnType<typeof startTestKluis>>;
const API_URI = () => `api://kluis.example/${issuer.clientId}`;

const get = async (path: string, token?: string) => {
  const response = await fetch(`${kluis.url}${path}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined };
};

const tokenFor = (tid: string, oid: string, extra: Record<string, unknown> = {}) => issuer.issueAccessToken({ tid, oid, iss: `${issuer.authorityHost}/${tid}/v2.0`, aud: issuer.clientId, ...extra });

beforeAll(async () => {
  issuer = await startFakeEntraIssuer();
  kluis = await startTestKluis({
    LOCAL_TENANT_ID: randomUUID(),
    ONBOARD_TENANTS: `${tenantA}=Contoso,${tenantB}=Fabrikam`,
    ENTRA_CLIENT_ID: issuer.clientId,
    ENTRA_API_URI: API_URI(),
    ENTRA_AUTHORITY_HOST: issuer.authorityHost,
  });
}, 60000);

afterAll(async () => {
  await kluis?.stop();
  await issuer?.close();
  await db.workspace.deleteMany({ where: { tenantId: { in: [tenantA, tenantB] } } });
  await db.$disconnect();
});

describe('Entra access tokens at the API', () => {
  it('turns a valid token into a Principal: user = tenant + object id, role from app roles', async () => {
    const oid = randomUUID();
    const me = await get('/api/me', await tokenFor(tenantA, oid, { roles: ['Kluis.Manager'] }));
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({ tenantId: tenantA, roles: ['manager'], authMethod: 'entra-token' });
    const user = await db.user.findFirst({ where: { workspaceId: me.body.workspaceId, id: me.body.userId } });
    expect(user?.entraObjectId).toBe(oid);
  });

  it('records a role change from the token in the audit log', async () => {
    const oid = randomUUID();
    await get('/api/me', await tokenFor(tenantA, oid, { roles: ['Kluis.User'] }));
    const me = await get('/api/me', await tokenFor(tenantA, oid, { roles: ['Kluis.Admin'] }));
    expect(me.body.roles).toEqual(['admin']);
    const events = await db.auditEvent.findMany({ where: { workspaceId: me.body.workspaceId, actorUserId: me.body.userId, kind: 'role.changed' } });
    expect(events.map((e) => e.detail)).toEqual([{ from: 'user', to: 'admin', source: 'entra-app-roles' }]);
  });

  it('lets an admin override win over the token role', async () => {
    const oid = randomUUID();
    const first = await get('/api/me', await tokenFor(tenantA, oid, { roles: ['Kluis.Admin'] }));
    await db.membership.updateMany({ where: { workspaceId: first.body.workspaceId, userId: first.body.userId }, data: { roleOverride: 'viewer' } });
    const again = await get('/api/me', await tokenFor(tenantA, oid, { roles: ['Kluis.Admin'] }));
    expect(again.body.roles).toEqual(['viewer']);
  });

  it('rejects a signature-valid token from a tenant that is not onboarded (cross-tenant bypass), and records it', async () => {
    const before = await db.securityEvent.count({ where: { kind: 'api.token_refused' } });
    const r = await get('/api/me', await tokenFor(randomUUID(), randomUUID()));
    expect(r.status).toBe(401);
    expect(r.body.error.id).toBe('unauthenticated');
    expect(await db.securityEvent.count({ where: { kind: 'api.token_refused' } })).toBe(before + 1);
  });

  it('rejects a token meant for Microsoft Graph', async () => {
    expect((await get('/api/me', await tokenFor(tenantA, randomUUID(), { aud: '00000003-0000-0000-c000-000000000000' }))).status).toBe(401);
  });

  it('rejects an unsigned token (alg none)', async () => {
    expect((await get('/api/me', issuer.unsignedToken({ tid: tenantA, oid: randomUUID() }))).status).toBe(401);
  });

  it('answers 404, not 403, when a principal of workspace A asks for a conversation of workspace B', async () => {
    const userB = await get('/api/me', await tokenFor(tenantB, randomUUID()));
    const conversationId = randomUUID();
    await db.conversation.create({ data: { id: conversationId, workspaceId: userB.body.workspaceId, userId: userB.body.userId, channel: 'teams', externalId: `c-${conversationId}` } });
    const adminA = await tokenFor(tenantA, randomUUID(), { roles: ['Kluis.Admin'] });
    const crossTenant = await get(`/api/conversations/${conversationId}`, adminA);
    expect(crossTenant.status).toBe(404);
    expect(crossTenant.body.error.id).toBe('not_found');
    const own = await get(`/api/conversations/${conversationId}`, await tokenFor(tenantB, (await db.user.findFirst({ where: { workspaceId: userB.body.workspaceId, id: userB.body.userId } }))!.entraObjectId!));
    expect(own.status).toBe(200);
  });

  it('answers 404 for another user\'s conversation in the same workspace, and audits the refusal', async () => {
    const owner = await get('/api/me', await tokenFor(tenantA, randomUUID()));
    const conversationId = randomUUID();
    await db.conversation.create({ data: { id: conversationId, workspaceId: owner.body.workspaceId, userId: owner.body.userId, channel: 'teams', externalId: `c-${conversationId}` } });
    const colleague = await get('/api/me', await tokenFor(tenantA, randomUUID()));
    const r = await get(`/api/conversations/${conversationId}`, await tokenFor(tenantA, (await db.user.findFirst({ where: { workspaceId: colleague.body.workspaceId, id: colleague.body.userId } }))!.entraObjectId!));
    expect(r.status).toBe(404);
    const refusals = await db.auditEvent.count({ where: { workspaceId: owner.body.workspaceId, actorUserId: colleague.body.userId, kind: 'authorization.refused' } });
    expect(refusals).toBe(1);
  });

  it('lets only admins create invitations (403 within the workspace)', async () => {
    const user = await tokenFor(tenantA, randomUUID(), { roles: ['Kluis.User'] });
    const r = await fetch(`${kluis.url}/api/workspace/invitations`, { method: 'POST', headers: { authorization: `Bearer ${user}`, 'content-type': 'application/json' }, body: JSON.stringify({ email: 'guest@partner.example' }) });
    expect(r.status).toBe(403);
    const admin = await tokenFor(tenantA, randomUUID(), { roles: ['Kluis.Admin'] });
    const ok = await fetch(`${kluis.url}/api/workspace/invitations`, { method: 'POST', headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' }, body: JSON.stringify({ email: 'guest@partner.example', role: 'viewer' }) });
    expect(ok.status).toBe(201);
    expect(((await ok.json()) as { token: string }).token).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });
});
