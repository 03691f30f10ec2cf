/** /api/knowledge/sources over HTTP: validation, roles and workspaces at the door. */
import { randomUUID } from 'node:crypto';
import { startFakeEntraIssuer, type FakeEntraIssuer } from '../fakes/entraIssuer';
import { openTestDatabase } from '../support/database';
import { startTestKluis } from '../support/kluis';

const tenantA = randomUUID();
const tenantB = randomUUID();
const db = openTestDatabase();
let issuer: FakeEntraIssuer;
let kluis: Awaited<ReturnType<typeof startTestKluis>>;

const token = (tid: string, role: string) => issuer.bearerFor(tid, randomUUID(), [role]);
async function call(method: string, path: string, bearer: string, payload?: unknown) {
  // Every write is JSON (the CSRF rule of the API), even when it carries nothing.
  const body = payload ?? (method === 'GET' ? undefined : {});
  const response = await fetch(`${kluis.url}${path}`, { method, headers: { authorization: `Bearer ${bearer}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) }, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined };
}

beforeAll(async () => {
  issuer = await startFakeEntraIssuer();
  kluis = await startTestKluis({ LOCAL_TENANT_ID: randomUUID(), ONBOARD_TENANTS: `${tenantA}=Contoso,${tenantB}=Fabrikam`, ...issuer.kluisSettings() });
}, 60000);

afterAll(async () => {
  await kluis?.stop();
  await issuer?.close();
  await db.workspace.deleteMany({ where: { tenantId: { in: [tenantA, tenantB] } } });
  await db.$disconnect();
});

describe('/api/knowledge/sources', () => {
  it.each([
    ['a path instead of a drive id (path traversal)', { driveId: '../../sites/hr', displayName: 'x' }],
    ['an unknown field (mass assignment)', { driveId: 'b!abc', displayName: 'x', workspaceId: randomUUID() }],
    ['an unknown schedule', { driveId: 'b!abc', displayName: 'x', schedule: 'hourly' }],
    ['an over-long name', { driveId: 'b!abc', displayName: 'x'.repeat(600) }],
  ])('refuses %s with 400', async (_name, body) => {
    const r = await call('POST', '/api/knowledge/sources', await token(tenantA, 'Kluis.Admin'), body);
    expect(r.status).toBe(400);
    expect(r.body.error.id).toBe('request_malformed');
  });

  it('lets a manager add a source and every member list it; a user may not add', async () => {
    expect((await call('POST', '/api/knowledge/sources', await token(tenantA, 'Kluis.User'), { driveId: 'b!drive1', displayName: 'HR' })).status).toBe(403);
    const added = await call('POST', '/api/knowledge/sources', await token(tenantA, 'Kluis.Manager'), { driveId: 'b!drive1', displayName: 'HR' });
    expect(added.status).toBe(201);
    expect(added.body).toMatchObject({ driveId: 'b!drive1', displayName: 'HR', schedule: 'monthly' });
    const list = await call('GET', '/api/knowledge/sources', await token(tenantA, 'Kluis.Viewer'));
    expect(list.body.sources.map((s: { displayName: string }) => s.displayName)).toEqual(['HR']);
  });

  it('answers 404 to another workspace and says plainly when Graph access is not configured', async () => {
    const list = await call('GET', '/api/knowledge/sources', await token(tenantA, 'Kluis.Viewer'));
    const id = list.body.sources[0].id as string;
    expect((await call('POST', `/api/knowledge/sources/${id}/sync`, await token(tenantB, 'Kluis.Admin'))).status).toBe(404);
    expect((await call('DELETE', `/api/knowledge/sources/${id}`, await token(tenantB, 'Kluis.Admin'))).status).toBe(404);
    const sync = await call('POST', `/api/knowledge/sources/${id}/sync`, await token(tenantA, 'Kluis.Admin'));
    expect(sync.status).toBe(500);
    expect(sync.body.error.id).toBe('config_invalid');
  });
});
