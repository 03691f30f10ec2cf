/** One audit event per authenticated API request, over real HTTP against a running Kluis. */
import { randomUUID } from 'node:crypto';
import { verifyWorkspaceChain } from '../../api/audit/chain';
import { createPrismaAuditChainSource } from '../../api/audit/prismaAuditChainSource';
import { startFakeEntraIssuer, type FakeEntraIssuer } from '../fakes/entraIssuer';
import { openTestDatabase } from '../support/database';
import { startTestKluis } from '../support/kluis';

const tenantA = randomUUID();
const tenantB = randomUUID();
const db = openTestDatabase();
let issuer: FakeEntraIssuer;
let kluis: Awaited<ReturnType<typeof startTestKluis>>;
const oid = { admin: randomUUID(), user: randomUUID(), other: randomUUID() };
const workspace: Record<string, string> = {};

const token = (tid: string, userOid: string, role = 'Kluis.User') => issuer.bearerFor(tid, userOid, [role]);

async function call(method: string, path: string, bearer?: string, payload?: unknown) {
  const body = payload === undefined ? undefined : JSON.stringify(payload);
  const response = await fetch(`${kluis.url}${path}`, { method, headers: { ...(bearer ? { authorization: `Bearer ${bearer}` } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }) }, body });
  await response.text();
  return response.status;
}

async function apiEvents(workspaceId: string) {
  return db.auditEvent.findMany({ where: { workspaceId, kind: 'api.request' }, orderBy: { seq: 'asc' } });
}

/** The event is written after the response; wait until `count` are there (the test's own timeout bounds it). */
async function eventually(workspaceId: string, count: number) {
  for (;;) {
    const events = await apiEvents(workspaceId);
    if (events.length >= count) return events;
    await new Promise((r) => setTimeout(r, 20));
  }
}

beforeAll(async () => {
  issuer = await startFakeEntraIssuer();
  kluis = await startTestKluis({ LOCAL_TENANT_ID: randomUUID(), ONBOARD_TENANTS: `${tenantA}=Contoso,${tenantB}=Fabrikam`, ...issuer.kluisSettings() });
  for (const [tenantId, userOid, key] of [[tenantA, oid.admin, 'a'], [tenantB, oid.other, 'b']] as const) {
    const response = await fetch(`${kluis.url}/api/me`, { headers: { authorization: `Bearer ${await token(tenantId, userOid, 'Kluis.Admin')}` } });
    workspace[key] = ((await response.json()) as { workspaceId: string }).workspaceId;
  }
  await eventually(workspace.a!, 1);
  await eventually(workspace.b!, 1);
}, 60000);

afterAll(async () => {
  await kluis?.stop();
  await issuer?.close();
  await db.workspace.deleteMany({ where: { tenantId: { in: [tenantA, tenantB] } } });
  await db.$disconnect();
});

describe('auditing API requests', () => {
  it('records method, route pattern, status and the caller, never the query string', async () => {
    const before = (await apiEvents(workspace.a!)).length;
    expect(await call('GET', '/api/usage?month=2026-01&note=private-query-text', await token(tenantA, oid.admin, 'Kluis.Admin'))).toBe(200);
    const [event] = (await eventually(workspace.a!, before + 1)).slice(before);
    const admin = await db.user.findFirst({ where: { workspaceId: workspace.a!, entraObjectId: oid.admin } });
    expect(event).toMatchObject({ actorUserId: admin!.id, outcome: 'success', ip: null, detail: { method: 'GET', route: '/api/usage', status: 200 } });
    expect(JSON.stringify(event)).not.toMatch(/private-query-text|2026-01/);
  });

  it('records the route pattern, not the id in the URL, and never the body', async () => {
    const before = (await apiEvents(workspace.a!)).length;
    const id = randomUUID();
    expect(await call('PUT', `/api/answers/${id}/feedback`, await token(tenantA, oid.admin, 'Kluis.Admin'), { reaction: 'like', comment: 'private-body-text' })).toBe(404);
    const [event] = (await eventually(workspace.a!, before + 1)).slice(before);
    expect(event).toMatchObject({ outcome: 'refused', detail: { method: 'PUT', route: '/api/answers/:id/feedback', status: 404 } });
    expect(JSON.stringify(event)).not.toContain(id);
    expect(JSON.stringify(event)).not.toContain('private-body-text');
  });

  it('records a refused request of a signed-in user as refused', async () => {
    const before = (await apiEvents(workspace.a!)).length;
    expect(await call('GET', '/api/usage', await token(tenantA, oid.user))).toBe(403);
    const events = await eventually(workspace.a!, before + 1);
    expect(events.slice(before).map((e) => [e.outcome, e.detail])).toContainEqual(['refused', { method: 'GET', route: '/api/usage', status: 403 }]);
  });

  it('keeps workspaces apart: another tenant\'s request lands in its own chain only', async () => {
    const beforeA = (await apiEvents(workspace.a!)).length;
    const beforeB = (await apiEvents(workspace.b!)).length;
    expect(await call('GET', '/api/conversations', await token(tenantB, oid.other, 'Kluis.Admin'))).toBe(200);
    const [event] = (await eventually(workspace.b!, beforeB + 1)).slice(beforeB);
    expect(event!.detail).toEqual({ method: 'GET', route: '/api/conversations', status: 200 });
    expect(await apiEvents(workspace.a!)).toHaveLength(beforeA);
  });

  it('records nothing for requests without a signed-in caller (no workspace to tie them to)', async () => {
    const forged = await token(randomUUID(), oid.admin, 'Kluis.Admin');
    expect(await call('GET', '/api/usage')).toBe(401);
    expect(await call('GET', '/api/usage', forged)).toBe(401);
    expect(await call('GET', '/api/usage', 'not-a-token')).toBe(401);
    expect(await call('POST', '/api/auth/login', undefined, { email: 'nobody@example.com', password: 'wrong-password-1' })).toBe(401);
    // A signed-in request afterwards is recorded, and it is the only new one.
    const before = (await apiEvents(workspace.a!)).length;
    expect(await call('GET', '/api/me', await token(tenantA, oid.admin, 'Kluis.Admin'))).toBe(200);
    await eventually(workspace.a!, before + 1);
    await new Promise((r) => setTimeout(r, 200));
    const all = await db.$queryRawUnsafe<Array<{ n: bigint }>>("SELECT COUNT(*) AS n FROM `AuditEvent` WHERE kind = 'api.request' AND JSON_VALUE(detail, '$.status') = '401'");
    expect(Number(all[0]!.n)).toBe(0);
    expect((await apiEvents(workspace.a!)).slice(before).map((e) => e.detail)).toEqual([{ method: 'GET', route: '/api/me', status: 200 }]);
  });

  it('leaves both workspaces\' chains valid after a burst of parallel requests', async () => {
    const before = (await apiEvents(workspace.a!)).length;
    const bearer = await token(tenantA, oid.admin, 'Kluis.Admin');
    const statuses = await Promise.all(Array.from({ length: 30 }, () => call('GET', '/api/me', bearer)));
    expect(new Set(statuses)).toEqual(new Set([200]));
    await eventually(workspace.a!, before + 30);
    for (const w of [workspace.a!, workspace.b!]) expect(await verifyWorkspaceChain(createPrismaAuditChainSource(db), w)).toMatchObject({ ok: true });
  });
});
