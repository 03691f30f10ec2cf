/**
 * "Export my data" on the tab's My data page, in a real browser (Debian's Chromium) framed by the
 * simulated Teams web client (./hosts.ts): started with the keyboard alone, the progress of a build
 * under way is shown, the finished zip downloads through the signed link (with the Teams SSO token)
 * and holds the user's own records and files; in Dutch when Teams runs in Dutch.
 * Screenshots go to .data/screenshots/ for review.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Browser, BrowserContext, FrameLocator, Page } from 'playwright-core';
import { createEncryptedFolderStore } from '../../api/files/encryptedFolderStore';
import { createSealedBlobStore } from '../../api/files/sealedBlobStore';
import type { BlobStore } from '../../api/files/ports';
import { exportBlobKey } from '../../api/privacy/export';
import { createZipArchive } from '../../api/privacy/exportZip';
import { buildWeb } from '../../scripts/build-web';
import { startFakeEntraIssuer, type FakeEntraIssuer } from '../fakes/entraIssuer';
import { readArchive, seedUser } from '../privacy/exportSeed';
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
let blobs: BlobStore;
let workspaceId: string;

const token = (oid: string) => issuer.bearerFor(tenantId, oid);
const userIdOf = async (oid: string) => ((await (await fetch(`${kluis.url}/api/me`, { headers: { authorization: `Bearer ${await token(oid)}` } })).json()) as { userId: string }).userId;

async function openTab(oid: string, locale = 'en-us'): Promise<{ page: Page; tab: FrameLocator }> {
  const page = await context.newPage();
  await page.exposeFunction('hostToken', () => token(oid));
  const harness = teamsHarness(`${kluis.url}/tab/index.html`, { locale, tid: tenantId, oid });
  await page.route(`${TEAMS_HOST}/**`, (route) => route.fulfill({ status: 200, contentType: 'text/html', body: harness }));
  await page.goto(`${TEAMS_HOST}/_kluis-test/${randomUUID()}`);
  return { page, tab: page.frameLocator('#tab') };
}

const shot = (page: Page, name: string) => page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`), fullPage: true });
const tabFrame = (page: Page) => page.frames().find((f) => f.url().startsWith(`${kluis.url}/tab/`))!;
const focusedId = async (page: Page) => (await tabFrame(page).evaluate('document.activeElement ? document.activeElement.id : ""')) as string;

beforeAll(async () => {
  await buildWeb();
  issuer = await startFakeEntraIssuer();
  kluis = await startTestKluis({
    LOCAL_TENANT_ID: randomUUID(),
    ONBOARD_TENANTS: `${tenantId}=Contoso`,
    ...issuer.kluisSettings(),
  });
  blobs = createSealedBlobStore(createEncryptedFolderStore(path.join(kluis.dataDir, 'blobs')), kluis.modules.dataKeys);
  workspaceId = (await db.workspace.findUniqueOrThrow({ where: { tenantId } })).id;
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

describe('Export my data on the tab', () => {
  it('starts with the keyboard, then downloads a zip of my own data through the signed link', async () => {
    const oid = randomUUID();
    const me = await seedUser(db, blobs, workspaceId, { userId: await userIdOf(oid), label: 'tab-me', conversations: 1, files: 1 });
    const other = await seedUser(db, blobs, workspaceId, { label: 'tab-other', conversations: 1, files: 1 });
    const { page, tab } = await openTab(oid);
    await tab.getByRole('button', { name: 'My data' }).click();
    await tab.getByRole('heading', { name: 'Export my data' }).waitFor();
    // Keyboard only from here: Tab to the button, Enter starts.
    for (let i = 0; i < 10 && (await focusedId(page)) !== 'export-start'; i++) await page.keyboard.press('Tab');
    expect(await focusedId(page)).toBe('export-start');
    await page.keyboard.press('Enter');
    const link = tab.getByRole('link', { name: 'Download my data (zip)' });
    await link.waitFor();
    expect(await tab.locator('#export-status').innerText()).toMatch(/^Your export is ready \(.+\)\. It is kept until /);
    // Focus moves to the link, so Enter downloads.
    expect(await focusedId(page)).toBe('export-download');
    await shot(page, 'tab-export');
    const [download] = await Promise.all([page.waitForEvent('download'), page.keyboard.press('Enter')]);
    const zip = await readArchive(fs.readFileSync((await download.path())!));
    expect(zip.json<{ id: string }>('profile.json').id).toBe(me.userId);
    expect(zip.bytes(`files/${me.uploads[0]!.id}/${me.uploads[0]!.fileName}`).equals(me.uploads[0]!.bytes)).toBe(true);
    expect(zip.everything).toContain(me.canary);
    expect(zip.everything).not.toContain(other.canary);
    expect(await db.auditEvent.count({ where: { workspaceId, actorUserId: me.userId, kind: 'export.downloaded' } })).toBe(1);
    await page.close();
  });

  it('shows the progress of an export under way, then its link once it is done (in Dutch)', async () => {
    const oid = randomUUID();
    const userId = await userIdOf(oid);
    // An export of this user that another replica is building: the page joins it and follows it.
    const jobId = randomUUID();
    const scope = { kind: 'user', workspaceId, userId };
    await db.job.create({ data: { id: jobId, workspaceId, kind: 'export', status: 'running', lockedBy: 'another-replica', lockedAt: new Date(), payload: { scope, requestedByUserId: userId }, progress: { phase: 'files', filesDone: 2, filesTotal: 5 } } });
    const { page, tab } = await openTab(oid, 'nl-nl');
    await tab.getByRole('button', { name: 'Mijn gegevens', exact: true }).click();
    await tab.getByRole('button', { name: 'Mijn gegevens exporteren' }).click();
    await tab.getByText('Je bestanden worden gekopieerd: 2 van 5…').waitFor();
    const bar = tab.locator('#export-progress');
    expect(await bar.getAttribute('value')).toBe('2');
    expect(await bar.getAttribute('max')).toBe('5');
    expect(await bar.isVisible()).toBe(true);
    await shot(page, 'tab-export-progress-nl');

    // The other replica finishes: the archive is stored, then the job marked succeeded.
    const archive = createZipArchive();
    await archive.add('profile.json', JSON.stringify({ id: userId }));
    const bytes = await archive.finish();
    await blobs.put(workspaceId, exportBlobKey(jobId), bytes);
    await db.job.updateMany({ where: { workspaceId, id: jobId }, data: { status: 'succeeded', lockedBy: null, lockedAt: null, progress: { phase: 'done', filesDone: 5, filesTotal: 5, blobKey: exportBlobKey(jobId), sizeBytes: bytes.length } } });
    await tab.getByRole('link', { name: 'Mijn gegevens downloaden (zip)' }).waitFor();
    expect(await tab.locator('#export-status').innerText()).toMatch(/^Je export is klaar/);
    expect(await bar.isVisible()).toBe(false);
    await shot(page, 'tab-export-nl');
    await page.close();
  });
});
