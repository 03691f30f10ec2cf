/**
 * The admin panel end to end in the Microsoft 365 Agents Playground (the local Teams client),
 * driven by headless Chromium: an admin changes a retention period through the cards, and after
 * being demoted the same person gets no admin controls, and a press on the admin card still on
 * screen (an Action.Execute from a non-admin) is refused. The admin also deletes a conversation
 * through the Data card, and the member's "my data" card starts an export and shows its link.
 *
 * Who is admin: in local mode the playground's tenant is onboarded at start-up and the first
 * member of a workspace becomes its admin, so the playground user (the only one) is the admin of
 * a fresh workspace. The suite starts from a fresh workspace for that reason.
 * Requires Debian's Chromium (/usr/bin/chromium).
 */
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import type { Locator } from 'playwright-core';
import { PLAYGROUND_TENANT_ID } from '../../api/config';
import { openTestDatabase } from '../support/database';
import { startTestKluis } from '../support/kluis';
import { openPlaygroundChat, startPlayground, type PlaygroundChat, type RunningPlayground } from './playground';

jest.setTimeout(120000);

const SCREENSHOTS = path.resolve(__dirname, '..', '..', '.data', 'screenshots');
let kluis: Awaited<ReturnType<typeof startTestKluis>>;
let playground: RunningPlayground;
let chat: PlaygroundChat;
const db = openTestDatabase();

const workspaceId = async () => (await db.workspace.findUniqueOrThrow({ where: { tenantId: PLAYGROUND_TENANT_ID } })).id;
/** The Adaptive Card of the newest bot message (cards refresh in place, so it stays the newest). */
const lastCard = (): Locator => chat.page.locator('.ac-adaptiveCard').last();

async function waitForCardText(match: RegExp, timeoutMs = 15000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let text = '';
  while (Date.now() < deadline) {
    text = (await lastCard().innerText().catch(() => '')).trim();
    if (match.test(text)) return text;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`The newest card never matched ${String(match)}; it shows:\n${text}`);
}

beforeAll(async () => {
  await db.workspace.deleteMany({ where: { tenantId: PLAYGROUND_TENANT_ID } });
  kluis = await startTestKluis({ LOCAL_TENANT_ID: PLAYGROUND_TENANT_ID });
  playground = await startPlayground({ botEndpoint: `${kluis.url}/api/messages` });
  chat = await openPlaygroundChat(playground.url);
});

afterAll(async () => {
  await chat?.close();
  await playground?.stop();
  await kluis?.stop();
  await db.workspace.deleteMany({ where: { tenantId: PLAYGROUND_TENANT_ID } });
  await db.$disconnect();
});

describe('the admin panel in the Agents Playground', () => {
  it('opens for the workspace admin', async () => {
    await chat.send('admin');
    await chat.waitForBotMessage(/Kluis administration/);
    // A client that honours `refresh` shows the panel at once; otherwise the admin presses Open.
    const open = lastCard().getByRole('button', { name: 'Open admin panel' });
    if (!(await lastCard().getByRole('button', { name: 'Overview' }).count()) && (await open.count())) await open.click();
    const text = await waitForCardText(/administrator/);
    expect(text).toMatch(/Knowledge sources/);
    await chat.screenshot(path.join(SCREENSHOTS, 'playground-admin-home.png'));
  });

  it('lets the admin change a retention period through the card and confirms it in the refreshed card', async () => {
    await lastCard().getByRole('button', { name: 'Retention' }).click();
    await waitForCardText(/Uploaded files: days to keep/);
    const loginLog = lastCard().getByLabel('Login log (IP addresses): days to keep');
    expect(await loginLog.inputValue()).toBe('37');
    await loginLog.fill('30');
    await lastCard().getByRole('button', { name: 'Save retention' }).click();
    const text = await waitForCardText(/Saved:/);
    expect(text).toMatch(/login log 30 days/);
    await chat.screenshot(path.join(SCREENSHOTS, 'playground-admin-retention-saved.png'));

    const ws = await workspaceId();
    expect(await db.retentionPolicy.findUnique({ where: { workspaceId: ws } })).toMatchObject({ loginLogDays: 30, uploadedFileDays: 180, conversationDays: null });
    const events = await db.auditEvent.findMany({ where: { workspaceId: ws, kind: 'retention.changed' } });
    expect(events.map((e) => e.detail)).toEqual([{ 'loginLogDays.from': 37, 'loginLogDays.to': 30 }]);
  });

  it('shows a refused value again with its message and saves nothing', async () => {
    const uploaded = lastCard().getByLabel('Uploaded files: days to keep');
    await uploaded.fill('0');
    await lastCard().getByRole('button', { name: 'Save retention' }).click();
    const text = await waitForCardText(/Not saved/);
    expect(text).toMatch(/whole number of days from 1 to 3650/);
    expect(await lastCard().getByLabel('Uploaded files: days to keep').inputValue()).toBe('0');
    expect(await db.retentionPolicy.findUnique({ where: { workspaceId: await workspaceId() } })).toMatchObject({ uploadedFileDays: 180 });
  });

  it('lets the admin delete a conversation through the Data card, with a progress card until it is done', async () => {
    const ws = await workspaceId();
    const conversationId = randomUUID();
    await db.conversation.create({ data: { id: conversationId, workspaceId: ws, channel: 'teams', externalId: randomUUID() } });
    await db.message.create({ data: { id: randomUUID(), workspaceId: ws, conversationId, role: 'user', text: 'a question to forget' } });
    await lastCard().getByRole('button', { name: 'Data' }).click();
    await waitForCardText(/Delete one conversation/);
    await lastCard().getByLabel('Conversation id').fill(conversationId);
    await lastCard().getByRole('button', { name: 'Delete conversation' }).click();
    await waitForCardText(/Erasure progress/);
    await kluis.modules.erasureRunner.settled();
    await lastCard().getByRole('button', { name: 'Refresh' }).click();
    await waitForCardText(/The erasure is done/);
    await chat.screenshot(path.join(SCREENSHOTS, 'playground-admin-conversation-erased.png'));
    expect(await db.conversation.count({ where: { workspaceId: ws, id: conversationId } })).toBe(0);
    expect(await db.message.count({ where: { workspaceId: ws, conversationId } })).toBe(0);
    // Back to the retention section, where the next test presses again.
    await lastCard().getByRole('button', { name: 'Overview' }).click();
    await lastCard().getByRole('button', { name: 'Retention' }).click();
    await waitForCardText(/Uploaded files: days to keep/);
  });

  it('refuses the same person once demoted: a press on the admin card on screen changes nothing', async () => {
    const ws = await workspaceId();
    await db.membership.updateMany({ where: { workspaceId: ws }, data: { role: 'user', roleOverride: 'user' } });
    await lastCard().getByLabel('Uploaded files: days to keep').fill('1');
    await lastCard().getByRole('button', { name: 'Save retention' }).click();
    const text = await waitForCardText(/Not available to you/);
    expect(text).not.toMatch(/Retention|Save/);
    expect(await lastCard().getByRole('button').count()).toBe(0);
    expect(await db.retentionPolicy.findUnique({ where: { workspaceId: ws } })).toMatchObject({ uploadedFileDays: 180, loginLogDays: 30 });
    expect(await db.auditEvent.count({ where: { workspaceId: ws, kind: 'authorization.refused' } })).toBeGreaterThan(0);
  });

  it('gives a non-admin no admin controls when they ask for the panel', async () => {
    await chat.send('admin');
    const reply = await chat.waitForBotMessage(/Not available to you/);
    expect(reply).not.toMatch(/Open admin panel|Retention/);
    expect(await lastCard().getByRole('button').count()).toBe(0);
    await chat.screenshot(path.join(SCREENSHOTS, 'playground-non-admin.png'));
  });

  it("starts an export from the member's my data card (any role) and shows the download link", async () => {
    await chat.send('my data');
    await chat.waitForBotMessage(/My data in Kluis/);
    const open = lastCard().getByRole('button', { name: 'Open my data' });
    if (!(await lastCard().getByRole('button', { name: 'Export my data' }).count()) && (await open.count())) await open.click();
    await lastCard().getByRole('button', { name: 'Export my data' }).click();
    await waitForCardText(/Export started|ready to download/);
    await kluis.modules.exports.settled();
    const refresh = lastCard().getByRole('button', { name: 'Refresh' });
    if (await refresh.count()) await refresh.click();
    await waitForCardText(/ready to download/);
    // The playground draws Action.OpenUrl as a link whose title is the address.
    const link = lastCard().getByRole('link', { name: 'Download my data' });
    expect(await link.count()).toBe(1);
    expect(await link.getAttribute('title')).toMatch(new RegExp(`^${kluis.url.replace(/[.]/g, '\\.')}/api/export/download/[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+$`));
    await chat.screenshot(path.join(SCREENSHOTS, 'playground-my-data-export.png'));
    expect(await db.auditEvent.count({ where: { workspaceId: await workspaceId(), kind: 'export.link_issued' } })).toBeGreaterThan(0);
  });
});
