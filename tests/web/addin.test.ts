/**
 * The Outlook add-in's task pane in a real browser (Debian's Chromium via playwright-core),
 * framed by a simulated Outlook on the web (./hosts.ts) whose Office.js stand-in provides the
 * mailbox item and the nested app authentication bridge, with tokens of the fake Entra issuer.
 * Proves: nothing of the mailbox is read until an action is clicked; summarise and ask show the
 * answer; a draft enters the compose body only on "Insert"; the API call carries a bearer token
 * and no cookie. Screenshots go to .data/screenshots/.
 */
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import type { Browser, BrowserContext, Frame, Page } from 'playwright-core';
import { buildWeb } from '../../scripts/build-web';
import { startFakeEntraIssuer, type FakeEntraIssuer } from '../fakes/entraIssuer';
import { openTestDatabase } from '../support/database';
import { startTestKluis } from '../support/kluis';
import { fakeOfficeJs, isolatedContext, launchBrowser, OUTLOOK_HOST, outlookHarness, SCREENSHOTS, type FakeMailItem } from './hosts';

jest.setTimeout(120000);

const tenantId = randomUUID();
const db = openTestDatabase();
let issuer: FakeEntraIssuer;
let kluis: Awaited<ReturnType<typeof startTestKluis>>;
let browser: Browser;
let context: BrowserContext;

const MAIL: Omit<FakeMailItem, 'mode'> = {
  subject: 'Trip to Lyon for the client workshop',
  body: 'Hi,\n\nCan I travel to Lyon next Tuesday for the workshop at the client? I would take the train and stay one night.\n\nThanks,\nAn',
};

interface OpenedPane {
  page: Page;
  pane: Frame;
  chatRequests: Array<{ authorization?: string; cookie?: string; body: unknown }>;
  calls: () => Promise<string[]>;
}

async function openPane(mode: FakeMailItem['mode'], action: string): Promise<OpenedPane> {
  const oid = randomUUID();
  const claims = { tid: tenantId, oid, iss: `${issuer.authorityHost}/${tenantId}/v2.0`, aud: issuer.clientId, roles: ['Kluis.User'] };
  const accessToken = await issuer.issueAccessToken(claims);
  const page = await context.newPage();
  const chatRequests: OpenedPane['chatRequests'] = [];
  page.on('request', (r) => {
    if (r.url().endsWith('/api/chat')) chatRequests.push({ authorization: r.headers()['authorization'], cookie: r.headers()['cookie'], body: r.postDataJSON() });
  });
  await page.route('https://appsforoffice.microsoft.com/**', (route) => route.fulfill({ status: 200, contentType: 'text/javascript', body: fakeOfficeJs({ mode, ...MAIL }, { accessToken, idToken: accessToken, tid: tenantId, oid }) }));
  await page.route(`${OUTLOOK_HOST}/**`, (route) => route.fulfill({ status: 200, contentType: 'text/html', body: outlookHarness(`${kluis.url}/addin/taskpane.html?action=${action}`) }));
  await page.goto(`${OUTLOOK_HOST}/mail/${randomUUID()}`);
  await page.frameLocator('#pane').getByRole('button', { name: 'Summarise this thread' }).waitFor();
  const pane = page.frames().find((f) => f.url().startsWith(`${kluis.url}/addin/`))!;
  return { page, pane, chatRequests, calls: async () => (await pane.evaluate('window.mailboxCalls')) as string[] };
}

const shot = (page: Page, name: string) => page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`), fullPage: true });

beforeAll(async () => {
  await buildWeb();
  issuer = await startFakeEntraIssuer();
  kluis = await startTestKluis({
    LOCAL_TENANT_ID: randomUUID(),
    ONBOARD_TENANTS: `${tenantId}=Contoso`,
    ...issuer.kluisSettings(),
    KNOWLEDGE_DIR: 'demo/knowledge',
    KNOWLEDGE_TENANT_ID: tenantId,
  });
  browser = await launchBrowser();
  context = await isolatedContext(browser, kluis.url);
}, 120000);

afterAll(async () => {
  await context?.close();
  await browser?.close();
  await kluis?.stop();
  await issuer?.close();
  await db.workspace.deleteMany({ where: { tenantId } });
  await db.$disconnect();
});

describe('the Outlook add-in', () => {
  it('reads nothing of the mailbox until asked, then summarises this email', async () => {
    const { page, pane, chatRequests, calls } = await openPane('read', 'summarise');
    // The ribbon's action only preselects the button; the pane has read nothing yet.
    expect(await pane.evaluate('document.activeElement && document.activeElement.id')).toBe('summarise');
    expect(await calls()).toEqual([]);
    expect(chatRequests).toEqual([]);
    await pane.getByRole('button', { name: 'Summarise this thread' }).click();
    await pane.locator('#result-text').waitFor();
    expect((await pane.locator('#result-text').innerText()).length).toBeGreaterThan(0);
    expect(await calls()).toEqual(expect.arrayContaining(['subject', 'body.getAsync:text', 'naa:GetInitContext', 'naa:GetToken']));
    expect(chatRequests).toHaveLength(1);
    expect(chatRequests[0]!.authorization).toMatch(/^Bearer ey/);
    expect(chatRequests[0]!.cookie).toBeUndefined();
    expect(chatRequests[0]!.body).toMatchObject({ channel: 'outlook', task: 'summarise', mail: { subject: MAIL.subject, body: MAIL.body } });
    // Read mode has nothing to insert into.
    expect(await pane.locator('#insert').count()).toBe(0);
    await shot(page, 'addin-summarise');
    await page.close();
  });

  it('answers a question about this email with the organisation’s documents', async () => {
    const { page, pane, chatRequests } = await openPane('read', 'ask');
    expect(await pane.evaluate('document.activeElement && document.activeElement.id')).toBe('mail-question');
    await pane.getByLabel('Your question about this email').fill('Who must approve this trip?');
    await pane.getByRole('button', { name: 'Ask about this email' }).click();
    await pane.locator('#result-text').waitFor();
    expect(chatRequests[0]!.body).toMatchObject({ channel: 'outlook', task: 'answer', message: 'Who must approve this trip?' });
    await shot(page, 'addin-ask');
    await page.close();
  });

  it('drafts a reply and puts it into the compose body only when Insert is clicked', async () => {
    const { page, pane, calls } = await openPane('compose', 'draft');
    await pane.getByRole('button', { name: 'Draft a reply' }).click();
    await pane.locator('#result-text').waitFor();
    const draft = await pane.locator('#result-text').innerText();
    expect(await calls()).toEqual(expect.arrayContaining(['subject.getAsync', 'body.getAsync:text']));
    expect(await calls()).not.toContain('body.setSelectedDataAsync');
    await shot(page, 'addin-draft');
    await pane.getByRole('button', { name: 'Insert into reply' }).click();
    await pane.getByText('The draft is in your reply.').waitFor();
    expect((await calls()).filter((c) => c === 'body.setSelectedDataAsync')).toHaveLength(1);
    expect(await pane.evaluate('window.insertedText')).toBe(draft);
    await shot(page, 'addin-draft-inserted');
    await page.close();
  });
});
