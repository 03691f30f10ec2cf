/**
 * Kluis as deployed with app credentials (api/serve.ts in its own process, ENTRA_CLIENT_SECRET set,
 * the authority over TLS, Graph at a stand-in): a question's group lookup takes an app-only token
 * by the client credentials grant and asks Graph for the user's transitive groups with it. A Graph
 * or an Entra that accepts the request and never answers must not hold the answer: the lookup gives
 * up within its interactive budget, trimming fails closed (no groups), and the same user's next
 * question does not wait again.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startFakeEntraIssuer, type FakeEntraIssuer } from '../fakes/entraIssuer';
import { startFakeGraph, type FakeGraph } from '../fakes/graphServer';
import { openTestDatabase, randomTenantId, testDatabaseUrl } from '../support/database';
import { productionBasics, startKluisProcess, type KluisProcess } from '../support/kluisProcess';

const db = openTestDatabase();
const tenant = randomTenantId();
const otherTenant = randomTenantId();
let issuer: FakeEntraIssuer;
let graph: FakeGraph;
let kluis: KluisProcess;
let dir: string;
const lines: string[] = [];

async function ask(tid: string, oid: string): Promise<string> {
  // Signed by the authority Kluis is configured with: the TLS one.
  const bearer = await issuer.issueAccessToken({ tid, oid, iss: `${issuer.tlsAuthorityHost}/${tid}/v2.0`, aud: issuer.clientId, roles: ['Kluis.User'] });
  const response = await fetch(`${kluis.url}/api/chat`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${bearer}` },
    body: JSON.stringify({ message: 'What is the travel policy?', channel: 'tab', conversationId: randomUUID() }),
  });
  expect(response.status).toBe(200);
  return response.text();
}

const lookupsOf = (oid: string) => graph.requests.filter((r) => r.route === 'memberships' && r.url.includes(oid));
const logged = (message: string) => lines.filter((l) => l.includes(`"msg":"${message}"`)).map((l) => JSON.parse(l) as { errorId?: string });

beforeAll(async () => {
  issuer = await startFakeEntraIssuer();
  graph = await startFakeGraph({ token: await issuer.appTokenFor(tenant) });
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kluis-app-graph-'));
  // Node trusts the stand-in authority's throw-away certificate as an operator would trust a
  // private authority: through NODE_EXTRA_CA_CERTS, read at start.
  const ca = path.join(dir, 'authority-ca.pem');
  fs.writeFileSync(ca, issuer.caCertificate);
  kluis = await startKluisProcess(
    {
      ...productionBasics(),
      DATABASE_URL: testDatabaseUrl(),
      DATA_DIR: dir,
      ONBOARD_TENANTS: `${tenant}=Contoso,${otherTenant}=Fabrikam`,
      ...issuer.kluisSettings(),
      ENTRA_AUTHORITY_HOST: issuer.tlsAuthorityHost,
      ENTRA_CLIENT_SECRET: issuer.clientSecret,
      GRAPH_BASE_URL: graph.baseUrl,
      NODE_EXTRA_CA_CERTS: ca,
    },
    { readyTimeoutMs: 55_000, onLine: (line) => lines.push(line) },
  );
}, 90_000);

afterAll(async () => {
  await kluis?.stop(10_000);
  await graph?.close();
  await issuer?.close();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
  await db.workspace.deleteMany({ where: { tenantId: { in: [tenant, otherTenant] } } });
  await db.$disconnect();
}, 30_000);

describe('group lookups with the app token', () => {
  it("answers, having asked Entra for an app token by client credentials and Graph for the user's groups with it", async () => {
    const oid = randomUUID();
    graph.setMemberships(oid, [randomUUID()]);
    const body = await ask(tenant, oid);
    expect(body).toContain('event: done');
    expect(body).not.toContain('event: error');
    expect(issuer.tokenRequests.filter((r) => r.tenant === tenant && r.grantType === 'client_credentials')).toEqual([
      expect.objectContaining({ scope: 'https://graph.microsoft.com/.default', clientSecretValid: true }),
    ]);
    expect(lookupsOf(oid)).toEqual([expect.objectContaining({ status: 200, authorization: `Bearer ${await issuer.appTokenFor(tenant)}` })]);
  }, 30_000);

  it('answers when Graph never answers the lookup, and the same user’s next question does not wait on Graph again', async () => {
    const oid = randomUUID();
    graph.setMemberships(oid, [randomUUID()]);
    // The first attempt and its one retry.
    graph.failNext('memberships', { kind: 'hang' }, { kind: 'hang' });
    const first = await ask(tenant, oid);
    expect(first).toContain('event: done');
    expect(lookupsOf(oid)).toHaveLength(2);
    expect(logged('group memberships unavailable: group-shared passages withheld').map((l) => l.errorId)).toContain('graph_unavailable');
    const second = await ask(tenant, oid);
    expect(second).toContain('event: done');
    expect(lookupsOf(oid)).toHaveLength(2);
  }, 45_000);

  it('answers when Entra never answers the token request of a tenant it has no token for yet', async () => {
    const before = logged('group memberships unavailable: group-shared passages withheld').length;
    issuer.enqueueTokenReply({ kind: 'hang' });
    const body = await ask(otherTenant, randomUUID());
    expect(body).toContain('event: done');
    expect(issuer.tokenRequests.filter((r) => r.tenant === otherTenant && r.grantType === 'client_credentials').length).toBeGreaterThanOrEqual(1);
    // The Graph client reports the lookup as Graph unavailable; its detail names the token request.
    const failures = logged('group memberships unavailable: group-shared passages withheld').slice(before) as Array<{ errorId?: string; err?: { message?: string } }>;
    expect(failures.map((l) => l.err?.message)).toEqual([expect.stringContaining(`App token for tenant ${otherTenant} failed`)]);
  }, 45_000);

  it('never writes the client secret or a token to its log, and logs nothing at error level', async () => {
    const appToken = await issuer.appTokenFor(tenant);
    expect(lines.filter((l) => l.includes(issuer.clientSecret) || l.includes(appToken))).toEqual([]);
    expect(kluis.errorLines()).toEqual([]);
  });
});
