/**
 * POST /api/chat over real HTTP under a turn limit: within it the stream answers; over it a plain
 * 429 `turn_rate_limited` with Retry-After before any stream opens and before anything is stored.
 */
import { randomUUID } from 'node:crypto';
import { startFakeEntraIssuer, type FakeEntraIssuer } from '../fakes/entraIssuer';
import { openTestDatabase } from '../support/database';
import { startTestKluis } from '../support/kluis';

const tenant = randomUUID();
const db = openTestDatabase();
let issuer: FakeEntraIssuer;
let kluis: Awaited<ReturnType<typeof startTestKluis>>;

const token = (oid: string) => issuer.bearerFor(tenant, oid);
const chat = (bearer: string, message: string) =>
  fetch(`${kluis.url}/api/chat`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${bearer}` }, body: JSON.stringify({ message, channel: 'tab' }) });

beforeAll(async () => {
  issuer = await startFakeEntraIssuer();
  kluis = await startTestKluis({
    LOCAL_TENANT_ID: randomUUID(),
    ONBOARD_TENANTS: `${tenant}=Contoso`,
    ...issuer.kluisSettings(),
    TURNS_PER_USER_PER_MINUTE: '2',
    TURNS_PER_WORKSPACE_PER_MINUTE: '3',
  });
}, 60000);

afterAll(async () => {
  await kluis?.stop();
  await issuer?.close();
  await db.workspace.deleteMany({ where: { tenantId: tenant } });
  await db.$disconnect();
});

it('answers two turns of a user, refuses the third with 429 and Retry-After, stores nothing of it, and applies the workspace limit to others', async () => {
  const alex = await token(randomUUID());
  for (const question of ['What is the travel policy?', 'And the expenses?']) {
    const ok = await chat(alex, question);
    expect(ok.status).toBe(200);
    expect(await ok.text()).toContain('event: done');
  }
  const workspace = await db.workspace.findFirstOrThrow({ where: { tenantId: tenant } });
  const messagesBefore = await db.message.count({ where: { workspaceId: workspace.id } });

  const refused = await chat(alex, 'A third question too soon');
  expect(refused.status).toBe(429);
  expect(refused.headers.get('content-type')).toMatch(/^application\/json/);
  expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
  expect(((await refused.json()) as { error: { id: string } }).error.id).toBe('turn_rate_limited');
  expect(await db.message.count({ where: { workspaceId: workspace.id } })).toBe(messagesBefore);

  // The workspace has had 3 turns counted (2 answered + 1 refused): another user is over the workspace limit.
  const other = await chat(await token(randomUUID()), 'Hello?');
  expect(other.status).toBe(429);
});
