/**
 * Every admin card rendered by the `adaptivecards` JS renderer in headless Chromium, as a Teams
 * web client would draw it: it renders, hostile data appears as literal text (no link, no
 * markup, no script), and pressing a button yields the verb and the typed inputs that Teams
 * would send in the Action.Execute invoke. Screenshots go to .data/screenshots/ (not committed).
 * Requires Debian's Chromium (/usr/bin/chromium).
 */
import fs from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { adminCardGallery, HOSTILE } from '../support/adminCardGallery';
import { VERBS } from '../../bot/admin/templates';
import { myDataCardGallery } from '../support/myDataCardGallery';
import { MY_DATA_VERBS } from '../../bot/myDataTemplates';

const SCREENSHOTS = path.resolve(__dirname, '..', '..', '.data', 'screenshots');
const RENDERER = require.resolve('adaptivecards/dist/adaptivecards.min.js');
const gallery = [...adminCardGallery(), ...myDataCardGallery()];

let browser: Browser;
let page: Page;

interface Rendered { text: string; links: string[]; scripts: number; buttons: string[]; inputs: Record<string, string> }

// Runs in the page (plain JavaScript: this project's TypeScript has no DOM types). Renders a card
// the way a web client does and reports what a person would see and could press.
const PAGE_SCRIPT = `
// Teams renders markdown in TextBlocks and FactSets; a small stand-in (links and bold), so data
// that reached one of those elements would show up here as a link.
AdaptiveCards.AdaptiveCard.onProcessMarkdown = (text, result) => {
  const escaped = text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  result.outputHtml = escaped.replace(/\\[([^\\]]*)\\]\\(([^)]*)\\)/g, '<a href="$2">$1</a>').replace(/\\*\\*([^*]+)\\*\\*/g, '<strong>$1</strong>');
  result.didProcess = true;
};
window.executed = [];
window.kluisRender = (json) => {
  const host = document.getElementById('host');
  host.replaceChildren();
  window.executed = [];
  const card = new AdaptiveCards.AdaptiveCard();
  card.onExecuteAction = (action) => window.executed.push({ verb: action.verb, data: action.data });
  card.parse(json);
  const element = card.render();
  if (!element) throw new Error('The renderer returned nothing');
  host.appendChild(element);
  return {
    text: element.innerText,
    links: [...element.querySelectorAll('a')].map((a) => a.href),
    scripts: element.querySelectorAll('script').length,
    buttons: [...element.querySelectorAll('button')].map((b) => b.innerText.trim()),
    inputs: Object.fromEntries([...element.querySelectorAll('input')].filter((i) => i.type === 'text').map((i) => [i.getAttribute('aria-label') || i.id, i.value])),
  };
};
`;

type PageGlobals = { kluisRender(json: unknown): Rendered; executed: Array<{ verb: string; data: Record<string, unknown> }> };
const render = (card: object): Promise<Rendered> => page.evaluate((json) => (globalThis as unknown as PageGlobals).kluisRender(json), card);
const executed = () => page.evaluate(() => (globalThis as unknown as PageGlobals).executed);

beforeAll(async () => {
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
  page = await browser.newPage({ viewport: { width: 520, height: 900 } });
  await page.setContent('<!doctype html><html><body style="font-family: sans-serif; margin: 0; background: #f5f5f5"><div id="host" style="width: 480px; padding: 12px; background: white"></div></body></html>');
  await page.addScriptTag({ path: RENDERER });
  await page.addScriptTag({ content: PAGE_SCRIPT });
  fs.mkdirSync(SCREENSHOTS, { recursive: true });
}, 60000);

afterAll(async () => {
  await browser?.close();
});

describe.each(gallery)('the $name card in the adaptivecards renderer', ({ name, card }) => {
  it('renders, with hostile data as literal text only, and is saved as a screenshot', async () => {
    const shown = await render(card);
    expect(shown.text.trim().length).toBeGreaterThan(0);
    expect(shown.links).toEqual([]);
    expect(shown.scripts).toBe(0);
    if (JSON.stringify(card).includes(HOSTILE)) expect(shown.text).toContain(HOSTILE);
    await page.locator('#host').screenshot({ path: path.join(SCREENSHOTS, `admin-${name}.png`) });
  });
});

describe('pressing buttons in the rendered cards', () => {
  const card = (name: string) => gallery.find((g) => g.name === name)!.card;

  it('sends the typed retention values with the save verb', async () => {
    await render(card('retention-defaults'));
    await page.getByLabel('Login log (IP addresses): days to keep').fill('30');
    await page.getByLabel('Conversations: days to keep, or "keep"').fill('90');
    await page.getByRole('button', { name: 'Save retention' }).click();
    expect(await executed()).toEqual([{ verb: VERBS.saveRetention, data: { section: 'retention', conversationDays: '90', uploadedFileDays: '180', loginLogDays: '30', inactiveConversationDays: 'off' } }]);
  });

  it('shows the refused values with their messages', async () => {
    const shown = await render(card('retention-invalid'));
    expect(shown.text).toContain('Not saved: correct the fields marked below.');
    expect(shown.text.match(/whole number of days from 1 to 3650/g)).toHaveLength(2);
    expect(Object.values(shown.inputs)).toEqual(expect.arrayContaining(['${1+1}', '0', 'forever']));
  });

  it('asks before removing: the confirm button carries the source id and the confirmation', async () => {
    await render(card('confirm-remove'));
    await page.getByRole('button', { name: 'Yes, remove' }).click();
    expect((await executed())[0]).toMatchObject({ verb: VERBS.removeSource, data: { section: 'knowledge', confirm: 'yes', sourceId: expect.stringMatching(/^[0-9a-f-]{36}$/) } });
  });

  it('opens the usage section from the navigation and filters the audit log by a chosen kind', async () => {
    await render(card('home-admin'));
    await page.getByRole('button', { name: 'Usage' }).click();
    expect(await executed()).toEqual([{ verb: VERBS.open, data: { section: 'usage' } }]);
    await render(card('audit'));
    await page.getByLabel('Kind').selectOption('api');
    await page.getByRole('button', { name: 'Show' }).click();
    expect(await executed()).toEqual([{ verb: VERBS.filterAudit, data: { section: 'audit', area: 'api' } }]);
  });

  it('shows the usage per provider as text a person can read', async () => {
    const shown = await render(card('usage'));
    expect(shown.text).toContain('Language-model usage this month');
    expect(shown.text).toMatch(/openai[\s\S]*1,700 calls \(3 failed\)[\s\S]*anthropic[\s\S]*30 calls \(2 refused\)/);
    expect(shown.text).toContain('exhausted, paid providers are refused until next month');
  });

  it('sends the "also delete my account" choice and the confirmation with the delete verb, bound to the card\'s user', async () => {
    await render(card('mydata-confirm'));
    await page.getByRole('button', { name: 'Yes, delete my data' }).click();
    await page.getByLabel('Also delete my account').check();
    await page.getByRole('button', { name: 'Yes, delete my data' }).click();
    expect(await executed()).toEqual([
      { verb: MY_DATA_VERBS.deleteData, data: { userId: '29:1a2b3c', confirm: 'yes', deleteAccount: 'false' } },
      { verb: MY_DATA_VERBS.deleteData, data: { userId: '29:1a2b3c', confirm: 'yes', deleteAccount: 'true' } },
    ]);
  });

  it('offers the finished export as a download button and a running one as a refresh', async () => {
    expect((await render(card('mydata-export-done'))).buttons).toEqual(['Download my data', 'Export my data', 'Delete my user data…']);
    expect((await render(card('mydata-export-running'))).buttons).toEqual(['Refresh', 'Delete my user data…']);
  });

  it('offers admins the workspace export: a download button when done, a refresh while it runs', async () => {
    expect((await render(card('data-export-done'))).buttons).toEqual(expect.arrayContaining(['Download workspace data', 'Export workspace data']));
    const running = await render(card('data-export-running'));
    expect(running.buttons).not.toContain('Export workspace data');
    await page.getByRole('button', { name: 'Refresh' }).click();
    expect(await executed()).toEqual([{ verb: VERBS.exportProgress, data: { exportId: '00000000-0000-4000-8000-0000000000e1' } }]);
  });

  it('shows a refusal with no button at all', async () => {
    const shown = await render(card('refusal'));
    expect(shown.buttons).toEqual([]);
    expect(shown.inputs).toEqual({});
  });
});
