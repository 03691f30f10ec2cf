/**
 * Abnormal-behaviour alerts end to end: real requests that are refused or read documents raise
 * one alert per burst, as a log event, a metric and a webhook POST to a local receiver.
 */
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createLogger } from '../../api/logger';
import { startFakeEntraIssuer, type FakeEntraIssuer } from '../fakes/entraIssuer';
import { openTestDatabase } from '../support/database';
import { startTestKluis } from '../support/kluis';

const tenant = randomUUID();
const db = openTestDatabase();
let issuer: FakeEntraIssuer;
let kluis: Awaited<ReturnType<typeof startTestKluis>>;
let receiver: http.Server;
const posts: Array<Record<string, unknown>> = [];
const logLines: string[] = [];
const QUESTION = 'Who approves a business trip outside Europe?';

const token = (oid: string) => issuer.bearerFor(tenant, oid);
const alertLogs = () => logLines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.event === 'alert');

async function alertsTotal(kind: string): Promise<number> {
  const text = await (await fetch(`${kluis.url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`kluis_alerts_total{kind="${kind}"}`));
  return Number(line?.split(' ')[1]);
}

/** Waits for the background webhook POSTs to land. */
async function until(check: () => boolean) {
  for (let i = 0; i < 100 && !check(); i++) await new Promise((resolve) => setTimeout(resolve, 20));
}

beforeAll(async () => {
  receiver = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      posts.push(JSON.parse(body) as Record<string, unknown>);
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  issuer = await startFakeEntraIssuer();
  kluis = await startTestKluis(
    {
      LOCAL_TENANT_ID: randomUUID(),
      ONBOARD_TENANTS: `${tenant}=Contoso Alerts`,
      ...issuer.kluisSettings(),
      KNOWLEDGE_DIR: 'demo/knowledge',
      KNOWLEDGE_TENANT_ID: tenant,
      ALERT_WEBHOOK_URL: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/kluis`,
      ALERT_AUTHORIZATION_REFUSALS: '3',
      ALERT_DOCUMENT_READS: '2',
    },
    { logger: createLogger('info', { write: (line: string) => void logLines.push(line) }) },
  );
}, 60000);

afterAll(async () => {
  await kluis?.stop();
  await issuer?.close();
  receiver?.closeAllConnections();
  await new Promise((resolve) => receiver?.close(resolve));
  await db.workspace.deleteMany({ where: { tenantId: tenant } });
  await db.$disconnect();
});

describe('abnormal-behaviour alerts', () => {
  it('raises one alert for a burst of refused authorizations of one user: log, metric and webhook', async () => {
    const oid = randomUUID();
    const bearer = await token(oid);
    const { workspaceId, userId } = (await (await fetch(`${kluis.url}/api/me`, { headers: { authorization: `Bearer ${bearer}` } })).json()) as { workspaceId: string; userId: string };
    const refused = () => fetch(`${kluis.url}/api/usage`, { headers: { authorization: `Bearer ${bearer}` } }).then((r) => r.status);

    expect(await refused()).toBe(403);
    expect(await refused()).toBe(403);
    expect(await alertsTotal('authorization_refusals')).toBe(0);
    expect(await refused()).toBe(403);
    await until(() => posts.some((p) => p.kind === 'authorization_refusals'));
    for (let i = 0; i < 4; i++) expect(await refused()).toBe(403); // the same burst: no second alert
    // The counter moves as the alert is raised; a second POST would have been started by now.
    await new Promise((resolve) => setTimeout(resolve, 200));

    expect(await alertsTotal('authorization_refusals')).toBe(1);
    const sent = posts.filter((p) => p.kind === 'authorization_refusals');
    expect(sent).toEqual([{ source: 'kluis', kind: 'authorization_refusals', workspaceId, userId, tenantId: tenant, count: 3, threshold: 3, windowSeconds: 300, at: expect.any(String) }]);
    expect(alertLogs().filter((l) => l.kind === 'authorization_refusals')).toEqual([expect.objectContaining({ event: 'alert', workspaceId, userId, tenantId: tenant, count: 3, windowSeconds: 300 })]);
  });

  it('raises a document-reads alert from the citations of answers, without the question or the documents', async () => {
    const bearer = await token(randomUUID());
    const ask = () =>
      fetch(`${kluis.url}/api/chat`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${bearer}` }, body: JSON.stringify({ message: QUESTION, channel: 'tab' }) }).then((r) => r.text());
    await ask();
    await until(() => posts.some((p) => p.kind === 'document_reads'));
    if (!posts.some((p) => p.kind === 'document_reads')) await ask(); // one answer cites at least one document
    await until(() => posts.some((p) => p.kind === 'document_reads'));
    expect(posts.filter((p) => p.kind === 'document_reads')).toHaveLength(1);
    expect(await alertsTotal('document_reads')).toBe(1);
    const everything = JSON.stringify(posts) + logLines.filter((l) => l.includes('"alert"')).join('\n');
    expect(everything).not.toContain(QUESTION);
    expect(everything).not.toContain('travel-policy');
  });
});
