/**
 * "Delete my user data" on the tab's My data page, in Chromium inside the simulated Teams client:
 * cancelling deletes nothing; confirming starts the erasure and the page follows it until done.
 */
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import type { Browser, BrowserContext, FrameLocator, Page } from 'playwright-core';
import { buildWeb } from '../../scripts/build-web';
import { startFakeEntraIssuer, type FakeEntraIssuer } from '../fakes/entraIssuer';
import { openTestDatabase } from '../support/database';
import { startTestKluis } from '../support/kluis';
import { isolatedContext, launchBrowser, SCREENSHOTS, TEAMS_HOST, teamsHarness } from '../web/hosts';

jest.setTimeout(120000);

const tenantId = randomUUID();
const db = openTestDatabase();
let issuer: FakeEntraIssuer;
let kluis: Awaited<ReturnType<typeof startTestKluis>>;
let browser: Browser;
let context: BrowserContext;

const token = (oid: string) => issuer.issueAccessToken({ tid: tenantId, oid, iss: `${issuer.authorityHost}/${tenantId}/v2.0`, aud: issuer.clientId, roles: ['Kluis.User'] });

async function openTab(oid: string, locale = 'en-us'): Promise<{ page: Page; tab: FrameLocator }> {
  const page = await context.newPage();
  await page.exposeFunction('hostToken', async () => token(oid));
  const harness = teamsHarness(`${kluis.url}/tab/index.html`, { locale, tid: tenantId, oid });
  await page.route(`${TEAMS_HOST}/**`, (route) => route.fulfill({ status: 200, contentType: 'text/html', body: harness }));
  await page.goto(`${TEAMS_HOST}/_kluis-test/${randomUUID()}`);
  return { page, tab: page.frameLocator('#tab') };
}

/** The user as Kluis knows them, with one conversation of two messages. */
async function userWithConversation(oid: string): Promise<{ workspaceId: string; userId: string }> {
  const me = await fetch(`${kluis.url}/api/me`, { headers: { authorization: `Bearer ${await token(oid)}` } });
  const p = (await me.json()) as { workspaceId: string; userId: string };
  const conversationId = randomUUID();
  await db.conversation.create({ data: { id: conversationId, workspaceId: p.workspaceId, userId: p.userId, channel: 'tab', externalId: randomUUID() } });
  await db.message.create({ data: { id: randomUUID(), workspaceId: p.workspaceId, conversationId, authorUserId: p.userId, role: 'user', text: 'my question' } });
  await db.message.create({ data: { id: randomUUID(), workspaceId: p.workspaceId, conversationId, role: 'assistant', text: 'the answer' } });
  return p;
}

beforeAll(async () => {
  await buildWeb();
  issuer = await startFakeEntraIssuer();
  kluis = await startTestKluis({ LOCAL_TENANT_ID: randomUUID(), ONBOARD_TENANTS: `${tenantId}=Contoso`, ENTRA_CLIENT_ID: issuer.clientId, ENTRA_API_URI: `api://kluis.example/${issuer.clientId}`, ENTRA_AUTHORITY_HOST: issuer.authorityHost });
  browser = await launchBrowser();
  context = await isolatedContext(browser, kluis.url);
}, 120000);

afterAll(async () => {
  await context?.close();
  await browser?.close();
  await kluis?.stop();
  await issuer?.close();
  const ids = (await db.workspace.findMany({ where: { tenantId } })).map((w) => w.id);
  await db.erasureJob.deleteMany({ where: { workspaceId: { in: ids } } });
  await db.workspace.deleteMany({ where: { tenantId } });
  await db.$disconnect();
});

describe('Delete my user data (tab)', () => {
  it('asks for confirmation, deletes nothing on cancel, and follows the erasure to the end on confirm', async () => {
    const oid = randomUUID();
    const other = await userWithConversation(randomUUID());
    const me = await userWithConversation(oid);
    const { page, tab } = await openTab(oid);
    await tab.getByRole('button', { name: 'My data' }).click();
    await tab.locator('#conversations tbody tr').first().waitFor();

    await tab.getByRole('button', { name: 'Delete my user data…' }).click();
    await tab.getByRole('alertdialog').waitFor();
    await page.screenshot({ path: path.join(SCREENSHOTS, 'tab-erasure-confirm.png'), fullPage: true });
    await tab.getByRole('button', { name: 'Cancel' }).click();
    await tab.getByRole('alertdialog').waitFor({ state: 'hidden' });
    expect(await db.erasureJob.count({ where: { workspaceId: me.workspaceId } })).toBe(0);
    expect(await db.conversation.count({ where: { workspaceId: me.workspaceId, userId: me.userId } })).toBe(1);

    await tab.getByRole('button', { name: 'Delete my user data…' }).click();
    await tab.getByRole('button', { name: 'Yes, delete my data' }).click();
    await tab.locator('#erasure-status', { hasText: 'Your user data has been deleted.' }).waitFor({ timeout: 30000 });
    expect(await tab.locator('#erasure-progress').getAttribute('value')).toBe('4');
    expect(await tab.getByRole('button', { name: 'Delete my user data…' }).isDisabled()).toBe(true);
    // The erased conversations leave the page at once.
    await tab.getByText('You have no conversations yet.').waitFor();
    expect(await tab.locator('#conversations').count()).toBe(0);
    await page.screenshot({ path: path.join(SCREENSHOTS, 'tab-erasure-done.png'), fullPage: true });

    expect(await db.conversation.count({ where: { workspaceId: me.workspaceId, userId: me.userId } })).toBe(0);
    expect(await db.message.count({ where: { workspaceId: me.workspaceId, authorUserId: me.userId } })).toBe(0);
    expect(await db.conversation.count({ where: { workspaceId: other.workspaceId, userId: other.userId } })).toBe(1);
    const job = await db.erasureJob.findFirstOrThrow({ where: { workspaceId: me.workspaceId } });
    expect(job).toMatchObject({ scopeKind: 'user', targetId: me.userId, status: 'done', reason: 'user' });

    // Opened again, My data shows no conversations any more.
    await tab.getByRole('button', { name: 'Chat' }).click();
    await tab.getByRole('button', { name: 'My data' }).click();
    await tab.getByText('You have no conversations yet.').waitFor();
    await page.close();
  });

  it('speaks Dutch with a Dutch Teams locale', async () => {
    const { page, tab } = await openTab(randomUUID(), 'nl-be');
    await tab.getByRole('button', { name: 'Mijn gegevens' }).click();
    await tab.getByRole('button', { name: 'Mijn gebruikersdata verwijderen…' }).click();
    await tab.getByRole('button', { name: 'Ja, verwijder mijn data' }).waitFor();
    await page.close();
  });
});
