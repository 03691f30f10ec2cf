/**
 * The Outlook add-in's sign-in fallback, in a real browser (Debian's Chromium) framed by the
 * simulated Outlook on the web (./hosts.ts): on a host without nested app authentication the task
 * pane opens the Office dialog on Kluis's own dialog page, takes the token the dialog hands back,
 * calls the API with it as a bearer token (no cookie), reuses it for the next action, and refuses a
 * dialog message that comes from any other origin. Screenshots go to .data/screenshots/.
 */
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import type { Browser, BrowserContext, Frame, Page } from 'playwright-core';
import { buildWeb } from '../../scripts/build-web';
import { startFakeEntraIssuer, type FakeEntraIssuer } from '../fakes/entraIssuer';
import { openTestDatabase } from '../support/database';
import { startTestKluis } from '../support/kluis';
import { fakeOfficeJs, isolatedContext, launchBrowser, OUTLOOK_HOST, outlookHarness, SCREENSHOTS } from './hosts';

jest.setTimeout(120000);

const tenantId = randomUUID();
const db = openTestDatabase();
let issuer: FakeEntraIssuer;
let kluis: Awaited<ReturnType<typeof startTestKluis>>;
let browser: Browser;
let context: BrowserContext;

const MAIL = { subject: 'Trip to Lyon for the client workshop', body: 'Can I travel to Lyon next Tuesday for the workshop at the client?' };

async function openPane(dialog: (accessToken: string) => { message: string; origin: string }) {
  const oid = randomUUID();
  const accessToken = await issuer.bearerFor(tenantId, oid);
  const page = await context.newPage();
  const chatRequests: Array<{ authorization?: string; cookie?: string }> = [];
  page.on('request', (r) => {
    if (r.url().endsWith('/api/chat')) chatRequests.push({ authorization: r.headers()['authorization'], cookie: r.headers()['cookie'] });
  });
  const office = fakeOfficeJs({ mode: 'read', ...MAIL }, { accessToken, idToken: accessToken, tid: tenantId, oid }, dialog(accessToken));
  await page.route('https://appsforoffice.microsoft.com/**', (route) => route.fulfill({ status: 200, contentType: 'text/javascript', body: office }));
  await page.route(`${OUTLOOK_HOST}/**`, (route) => route.fulfill({ status: 200, contentType: 'text/html', body: outlookHarness(`${kluis.url}/addin/taskpane.html`) }));
  await page.goto(`${OUTLOOK_HOST}/mail/${randomUUID()}`);
  await page.frameLocator('#pane').getByRole('button', { name: 'Summarise this thread' }).waitFor();
  const pane: Frame = page.frames().find((f) => f.url().startsWith(`${kluis.url}/addin/`))!;
  return { page, pane, accessToken, chatRequests, calls: async () => (await pane.evaluate('window.mailboxCalls')) as string[] };
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

describe('the Outlook add-in without nested app authentication', () => {
  it('signs in through the Office dialog on its own page, and uses that token for every call', async () => {
    const { page, pane, accessToken, chatRequests, calls } = await openPane((token) => ({ message: JSON.stringify({ token, expiresOn: Date.now() + 3_600_000 }), origin: new URL(kluis.url).origin }));
    await pane.getByRole('button', { name: 'Summarise this thread' }).click();
    await pane.locator('#result-text').waitFor();
    const made = await calls();
    // The dialog opened Kluis's own sign-in page, and the nested app authentication bridge was never asked.
    expect(made.filter((c) => c.startsWith('displayDialogAsync:'))).toEqual([`displayDialogAsync:${kluis.url}/addin/dialog.html`]);
    expect(made).toContain('dialog.close');
    expect(made.filter((c) => c.startsWith('naa:'))).toEqual([]);
    expect(chatRequests).toHaveLength(1);
    expect(chatRequests[0]!.authorization).toBe(`Bearer ${accessToken}`);
    expect(chatRequests[0]!.cookie).toBeUndefined();
    await shot(page, 'addin-dialog-fallback');

    // The next action reuses the token: no second dialog.
    await pane.getByLabel('Your question about this email').fill('Who must approve this trip?');
    await pane.getByRole('button', { name: 'Ask about this email' }).click();
    // The buttons are enabled again once the answer is in.
    await pane.locator('#ask[disabled]').waitFor({ state: 'detached' });
    await pane.locator('#result-text').waitFor();
    expect(chatRequests).toHaveLength(2);
    expect(chatRequests[1]!.authorization).toBe(`Bearer ${accessToken}`);
    expect((await calls()).filter((c) => c.startsWith('displayDialogAsync:'))).toHaveLength(1);
    await page.close();
  });

  it('refuses a token posted by a dialog of another origin, and calls nothing with it', async () => {
    const { page, pane, chatRequests } = await openPane((token) => ({ message: JSON.stringify({ token }), origin: 'https://attacker.example' }));
    await pane.getByRole('button', { name: 'Summarise this thread' }).click();
    const error = pane.locator('#result [role="alert"]');
    await error.waitFor();
    expect(await error.innerText()).toMatch(/unexpected dialog message/);
    expect(chatRequests).toEqual([]);
    await page.close();
  });

  it('shows why when the dialog reports a failed sign-in', async () => {
    const { page, pane, chatRequests } = await openPane(() => ({ message: JSON.stringify({ error: 'user cancelled the sign-in' }), origin: new URL(kluis.url).origin }));
    await pane.getByRole('button', { name: 'Summarise this thread' }).click();
    const error = pane.locator('#result [role="alert"]');
    await error.waitFor();
    expect(await error.innerText()).toMatch(/user cancelled the sign-in/);
    expect(chatRequests).toEqual([]);
    await shot(page, 'addin-dialog-fallback-refused');
    await page.close();
  });
});
