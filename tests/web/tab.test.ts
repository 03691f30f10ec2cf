/**
 * The Teams tab in a real browser (Debian's Chromium via playwright-core), framed by a simulated
 * Teams web client (./hosts.ts) that signs the user in with tokens of the fake Entra issuer:
 * chat with a streamed, cited answer; the sources page; my conversations (and deleting one); the Dutch UI from the
 * Teams locale; the CSP refusing an injected inline script; and a keyboard-only chat.
 * Screenshots go to .data/screenshots/ for review.
 */
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import type { Browser, BrowserContext, FrameLocator, Page } from 'playwright-core';
import { buildWeb } from '../../scripts/build-web';
import { startFakeEntraIssuer, type FakeEntraIssuer } from '../fakes/entraIssuer';
import { openTestDatabase } from '../support/database';
import { startTestKluis } from '../support/kluis';
import { isolatedContext, launchBrowser, SCREENSHOTS, TEAMS_HOST, teamsHarness } from './hosts';

jest.setTimeout(120000);

const tenantId = randomUUID();
const db = openTestDatabase();
let issuer: FakeEntraIssuer;
let kluis: Awaited<ReturnType<typeof startTestKluis>>;
let browser: Browser;
let context: BrowserContext;

const token = (oid: string, role = 'Kluis.User') => issuer.bearerFor(tenantId, oid, [role]);

/** Opens the tab inside the Teams harness as a fresh user; returns the page and the tab's frame. */
async function openTab(options: { locale?: string; oid?: string } = {}): Promise<{ page: Page; tab: FrameLocator; oid: string; tokenCalls: () => number }> {
  const oid = options.oid ?? randomUUID();
  const page = await context.newPage();
  let calls = 0;
  await page.exposeFunction('hostToken', async () => {
    calls++;
    return token(oid);
  });
  const harness = teamsHarness(`${kluis.url}/tab/index.html`, { locale: options.locale ?? 'en-us', tid: tenantId, oid });
  await page.route(`${TEAMS_HOST}/**`, (route) => route.fulfill({ status: 200, contentType: 'text/html', body: harness }));
  await page.goto(`${TEAMS_HOST}/_kluis-test/${randomUUID()}`);
  const tab = page.frameLocator('#tab');
  return { page, tab, oid, tokenCalls: () => calls };
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
  const added = await fetch(`${kluis.url}/api/knowledge/sources`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${await token(randomUUID(), 'Kluis.Manager')}` },
    body: JSON.stringify({ driveId: 'b!hr-drive', displayName: 'HR policies' }),
  });
  expect(added.status).toBe(201);
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

describe('the Teams tab', () => {
  it('signs in with Teams SSO and answers a question with a cited source', async () => {
    const { page, tab, tokenCalls } = await openTab();
    await tab.getByRole('button', { name: 'Chat' }).waitFor();
    await tab.getByLabel('Your question').fill('Who approves a business trip outside Europe?');
    await tab.getByRole('button', { name: 'Send' }).click();
    const answer = tab.locator('.message.kluis').last();
    await answer.locator('.citations li').first().waitFor();
    expect(await answer.locator('.answer-text').innerText()).not.toBe('');
    expect(await answer.locator('.citations').innerText()).toMatch(/travel-policy|TRAVEL POLICY|travel/i);
    expect(await answer.getAttribute('aria-busy')).toBe('false');
    // Every API call carried a Teams SSO token (the host was asked for one).
    expect(tokenCalls()).toBeGreaterThan(0);
    await shot(page, 'tab-chat');
    await page.close();
  });

  it('lists the sources the assistant may know, with their last sync', async () => {
    const { page, tab } = await openTab();
    await tab.getByRole('button', { name: 'Sources' }).click();
    const row = tab.locator('#sources tbody tr', { hasText: 'HR policies' });
    await row.waitFor();
    expect(await row.innerText()).toMatch(/not yet/);
    await shot(page, 'tab-sources');
    await page.close();
  });

  it('shows my conversations, and only mine', async () => {
    const { page, tab, oid } = await openTab();
    await tab.getByLabel('Your question').fill('How many days of leave do I get?');
    await tab.getByRole('button', { name: 'Send' }).click();
    await tab.locator('.message.kluis[aria-busy="false"]').waitFor();
    await tab.getByRole('button', { name: 'My data' }).click();
    await tab.locator('#conversations tbody tr').first().waitFor();
    expect(await tab.locator('#conversations tbody tr').count()).toBe(1);
    await shot(page, 'tab-my-data');
    // Delete it: the page asks first, then the row goes and the API no longer has it.
    page.once('dialog', (dialog) => void dialog.accept());
    await tab.locator('#conversations tbody tr button').click();
    await tab.getByText('Conversation deleted.').waitFor();
    expect(await tab.locator('#conversations tbody tr').count()).toBe(0);
    const left = (await (await fetch(`${kluis.url}/api/conversations`, { headers: { authorization: `Bearer ${await token(oid)}` } })).json()) as { conversations: unknown[] };
    expect(left.conversations).toEqual([]);
    await page.close();
    // Another user's tab sees none of it.
    const other = await openTab();
    expect(other.oid).not.toBe(oid);
    await other.tab.getByRole('button', { name: 'My data' }).click();
    await other.tab.getByText('You have no conversations yet.').waitFor();
    await other.page.close();
  });

  it('speaks Dutch when Teams runs in Dutch', async () => {
    const { page, tab } = await openTab({ locale: 'nl-nl' });
    await tab.getByRole('button', { name: 'Versturen' }).waitFor();
    expect(await tab.locator('html').getAttribute('lang')).toBe('nl');
    await tab.getByLabel('Je vraag').fill('Hoeveel thuiswerkdagen zijn toegestaan?');
    await tab.getByLabel('Je vraag').press('Enter');
    await tab.locator('.message.kluis[aria-busy="false"]').waitFor();
    await shot(page, 'tab-chat-nl');
    await page.close();
  });

  it('refuses an injected inline script (CSP), and reports the violation', async () => {
    const { page, tab } = await openTab();
    await tab.getByRole('button', { name: 'Chat' }).waitFor();
    const frame = page.frames().find((f) => f.url().startsWith(`${kluis.url}/tab/`))!;
    const consoleErrors: string[] = [];
    page.on('console', (m) => m.type() === 'error' && consoleErrors.push(m.text()));
    // Page-side code is passed as text: it runs in the browser, not in this (Node) program.
    const outcome = (await frame.evaluate(`new Promise((resolve) => {
      document.addEventListener('securitypolicyviolation', (e) => resolve({ ran: window.injected === true, directive: e.effectiveDirective }), { once: true });
      const script = document.createElement('script');
      script.textContent = 'window.injected = true;';
      document.body.append(script);
      setTimeout(() => resolve({ ran: window.injected === true }), 2000);
    })`)) as { ran: boolean; directive?: string };
    expect(outcome).toEqual({ ran: false, directive: 'script-src-elem' });
    expect(consoleErrors.join('\n')).toMatch(/Content Security Policy/);
    await page.close();
  });

  it('can be used with the keyboard only: Tab to the question, type, Enter sends, focus returns to the question', async () => {
    const { page, tab } = await openTab();
    await tab.getByRole('button', { name: 'Chat' }).waitFor();
    const frame = page.frames().find((f) => f.url().startsWith(`${kluis.url}/tab/`))!;
    const focused = async () =>
      (await frame.evaluate(`(() => { const a = document.activeElement; return a ? a.tagName.toLowerCase() + '#' + a.id + '|' + (a.textContent || '').trim().slice(0, 40) : ''; })()`)) as string;
    const order: string[] = [];
    for (let i = 0; i < 10 && !(await focused()).startsWith('textarea#question'); i++) {
      await page.keyboard.press('Tab');
      order.push(await focused());
    }
    // Focus order: the three sections, then the question.
    expect(order.filter((f) => f.startsWith('button#'))).toEqual(['button#|Chat', 'button#|Sources', 'button#|My data']);
    expect(await focused()).toMatch(/^textarea#question/);
    // The focused control shows a visible focus ring.
    expect(await frame.evaluate('getComputedStyle(document.activeElement).outlineStyle')).toBe('solid');
    await page.keyboard.type('What does the travel policy say about trips outside Europe?');
    await page.keyboard.press('Enter');
    await tab.locator('.message.kluis[aria-busy="false"] .citations').waitFor();
    // After the answer, focus is back in the question box.
    expect(await focused()).toMatch(/^textarea#question/);
    await shot(page, 'tab-keyboard');
    await page.close();
  });
});
