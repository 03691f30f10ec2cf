/**
 * The "my data" card over real HTTP (local mode, fake Bot Connector), pressed as Teams sends
 * Action.Execute: the command in English and Dutch, an export that ends in a signed download
 * link, a deletion with its confirmation card that runs to done, and the attacks — a press with
 * another person's card binding, an unconfirmed deletion, malformed and hostile card data, and
 * ids of another user's or another workspace's jobs. None of them deletes anything.
 */
import { createHash, randomUUID } from 'node:crypto';
import JSZip from 'jszip';
import { cardText, startFakeConnector } from '../fakes/botConnector';
import { FAKE_PNG, startFakeStability, type FakeStability } from '../fakes/stabilityServer';
import { openTestDatabase } from '../support/database';
import { startTestKluis } from '../support/kluis';
import { cardNodes } from '../support/cardNodes';

const tenantA = randomUUID();
const tenantB = randomUUID();
const db = openTestDatabase();
let kluis: Awaited<ReturnType<typeof startTestKluis>>;
let connector: Awaited<ReturnType<typeof startFakeConnector>>;
let stability: FakeStability;

interface Person { tenantId: string; oid: string; mri: string }
const person = (tenantId: string): Person => ({ tenantId, oid: randomUUID(), mri: `29:${randomUUID()}` });
const adminA = person(tenantA);
const userA = person(tenantA);
const otherA = person(tenantA);
const userB = person(tenantB);

type Card = { body: unknown[]; actions?: unknown[]; refresh?: { action: { verb: string; data?: Record<string, unknown> }; userIds: string[] } };

async function post(p: Person, body: Record<string, unknown>) {
  const activity = { id: randomUUID(), channelId: 'msteams', serviceUrl: connector.serviceUrl, from: { id: p.mri, name: 'Someone', aadObjectId: p.oid }, recipient: { id: 'bot-id', name: 'Kluis' }, conversation: { id: `a:${p.oid}`, conversationType: 'personal', tenantId: p.tenantId }, channelData: { tenant: { id: p.tenantId } }, ...body };
  const response = await fetch(`${kluis.url}/api/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(activity) });
  const text = await response.text();
  return { status: response.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : undefined };
}

async function say(p: Person, text: string): Promise<Card> {
  connector.reset();
  expect((await post(p, { type: 'message', text })).status).toBe(200);
  const [reply] = await connector.waitForMessages(1);
  return reply!.activity.attachments![0]!.content as Card;
}

/** A press on the person's own card: the card's userId binding is theirs unless `data` says otherwise. */
async function press(p: Person, verb: string, data: Record<string, unknown> = {}): Promise<Card> {
  const response = await post(p, { type: 'invoke', name: 'adaptiveCard/action', value: { action: { type: 'Action.Execute', verb, data: { userId: p.mri, ...data } }, trigger: 'manual' } });
  expect(response.status).toBe(200);
  expect(response.body).toMatchObject({ statusCode: 200, type: 'application/vnd.microsoft.card.adaptive' });
  return response.body!.value as Card;
}

const nodes = cardNodes;
const buttonTitles = (card: Card) => nodes({ body: card.body, actions: card.actions }, (n) => typeof n.type === 'string' && n.type.startsWith('Action.')).map((n) => n.title);
const downloadUrl = (card: Card) => nodes(card, (n) => n.type === 'Action.OpenUrl').map((n) => String(n.url))[0];
const workspaceOf = async (tenantId: string) => (await db.workspace.findUniqueOrThrow({ where: { tenantId } })).id;
const userOf = async (p: Person) => db.user.findFirstOrThrow({ where: { workspaceId: await workspaceOf(p.tenantId), entraObjectId: p.oid } });
const principalOf = (p: Person) => kluis.modules.principals.resolve({ tenantId: p.tenantId, entraObjectId: p.oid, authMethod: 'local-playground' });

async function conversationOf(p: Person): Promise<string> {
  const user = await userOf(p);
  const id = randomUUID();
  await db.conversation.create({ data: { id, workspaceId: user.workspaceId, userId: user.id, channel: 'teams', externalId: randomUUID() } });
  await db.message.create({ data: { id: randomUUID(), workspaceId: user.workspaceId, conversationId: id, authorUserId: user.id, role: 'user', text: `private question ${id}` } });
  return id;
}

beforeAll(async () => {
  connector = await startFakeConnector();
  stability = await startFakeStability();
  kluis = await startTestKluis({ LOCAL_TENANT_ID: randomUUID(), ONBOARD_TENANTS: `${tenantA}=Contoso,${tenantB}=Fabrikam`, STABILITY_API_KEY: stability.apiKey, STABILITY_BASE_URL: stability.baseUrl, STABILITY_MAX_RETRIES: '0' });
  for (const p of [adminA, userA, otherA, userB]) await say(p, 'help');
}, 60000);

afterAll(async () => {
  await kluis?.stop();
  await connector?.close();
  await stability?.close();
  const ids = (await db.workspace.findMany({ where: { tenantId: { in: [tenantA, tenantB] } } })).map((w) => w.id);
  await db.erasureJob.deleteMany({ where: { workspaceId: { in: ids } } });
  await db.workspace.deleteMany({ where: { id: { in: ids } } });
  await db.$disconnect();
});

describe('the my data command', () => {
  it.each(['mydata', 'my data', 'My Data', 'mijn gegevens'])('answers "%s" from any member with an opening card that refreshes for them only', async (text) => {
    const card = await say(userA, text);
    expect(card.refresh).toEqual({ action: { type: 'Action.Execute', title: 'Open', verb: 'kluis.mydata.open', data: { userId: userA.mri } }, userIds: [userA.mri] });
    expect(cardText(card)).toMatch(/My data in Kluis/);
    expect(JSON.stringify(card)).not.toMatch(/Export my data|Delete my/);
  });

  it('opens on the export and delete buttons', async () => {
    const card = await press(userA, 'kluis.mydata.open');
    expect(buttonTitles(card)).toEqual(['Export my data', 'Delete my user data…']);
    expect(card.refresh).toBeUndefined();
  });
});

describe('export my data', () => {
  it('starts the export, shows its progress, then a signed absolute link that downloads the caller\'s own data', async () => {
    const conversationId = await conversationOf(userA);
    const started = await press(userA, 'kluis.mydata.export');
    expect(cardText(started)).toMatch(/Export started/);
    const exportId = String(started.refresh?.action.data?.exportId);
    expect(exportId).toMatch(/^[0-9a-f-]{36}$/);
    expect(started.refresh?.userIds).toEqual([userA.mri]);
    await kluis.modules.exports.settled();

    const done = await press(userA, 'kluis.mydata.open', { exportId });
    expect(JSON.stringify(done)).toContain('ready to download');
    const url = downloadUrl(done)!;
    expect(url.startsWith(`${kluis.url}/api/export/download/`)).toBe(true);
    const archive = await kluis.modules.exports.download(await principalOf(userA), url.split('/').pop()!);
    const zip = await JSZip.loadAsync(archive.bytes);
    const contents = (await Promise.all(Object.values(zip.files).filter((f) => !f.dir).map((f) => f.async('string')))).join('\n');
    expect(contents).toContain(`private question ${conversationId}`);
    expect(await db.auditEvent.count({ where: { workspaceId: await workspaceOf(tenantA), kind: 'export.link_issued', detail: { path: '$.jobId', equals: exportId } } })).toBe(1);
  });

  it('answers another user\'s export id, or another workspace\'s, like one that does not exist, with no link', async () => {
    const started = await press(userA, 'kluis.mydata.export');
    const exportId = String(started.refresh?.action.data?.exportId);
    await kluis.modules.exports.settled();
    for (const p of [otherA, userB]) {
      const card = await press(p, 'kluis.mydata.open', { exportId });
      expect(cardText(card)).toMatch(/does not exist \(any more\) for you/);
      expect(downloadUrl(card)).toBeUndefined();
    }
  });
});

describe('delete my user data', () => {
  it('asks for confirmation with an "also delete my account" checkbox, then erases to done and keeps the account', async () => {
    const conversationId = await conversationOf(userA);
    const confirm = await press(userA, 'kluis.mydata.deleteAsk');
    expect(nodes(confirm, (n) => n.type === 'Input.Toggle')).toEqual([expect.objectContaining({ id: 'deleteAccount', title: 'Also delete my account', value: 'false' })]);
    expect(buttonTitles(confirm)).toEqual(['Yes, delete my data', 'Cancel']);
    expect(await db.conversation.count({ where: { workspaceId: await workspaceOf(tenantA), id: conversationId } })).toBe(1);

    const started = await press(userA, 'kluis.mydata.delete', { confirm: 'yes', deleteAccount: 'false' });
    expect(cardText(started)).toMatch(/Deleting your data\./);
    const jobId = String(started.refresh?.action.data?.jobId);
    expect(started.refresh?.userIds).toEqual([userA.mri]);
    await kluis.modules.erasureRunner.settled();

    const done = await press(userA, 'kluis.mydata.open', { jobId });
    expect(cardText(done)).toMatch(/Your data is deleted/);
    expect(JSON.stringify(done)).toContain('"value":"done"');
    expect(await db.conversation.count({ where: { workspaceId: await workspaceOf(tenantA), id: conversationId } })).toBe(0);
    expect(await db.user.count({ where: { workspaceId: await workspaceOf(tenantA), entraObjectId: userA.oid } })).toBe(1);
    // Another member's and another workspace's press on that job learns nothing of it.
    for (const p of [otherA, userB]) expect(cardText(await press(p, 'kluis.mydata.open', { jobId }))).toMatch(/does not exist \(any more\) for you/);
  });

  it('deletes the account too when the checkbox is ticked, and the card still shows the end to the person whose account went', async () => {
    const p = person(tenantA);
    await say(p, 'help');
    const user = await userOf(p);
    const started = await press(p, 'kluis.mydata.delete', { confirm: 'yes', deleteAccount: 'true' });
    const jobId = String(started.refresh?.action.data?.jobId);
    const statusToken = String(started.refresh?.action.data?.statusToken);
    expect(statusToken).toMatch(/^[A-Za-z0-9_-]{43}$/);
    await kluis.modules.erasureRunner.settled();
    expect(await db.user.count({ where: { workspaceId: user.workspaceId, id: user.id } })).toBe(0);
    // The job row keeps only the token's hash.
    const row = await db.erasureJob.findUniqueOrThrow({ where: { id: jobId } });
    expect(row.statusTokenHash).toBe(createHash('sha256').update(statusToken).digest('hex'));
    expect(JSON.stringify(row)).not.toContain(statusToken);

    // Their next message makes a fresh, empty account; the card's refresh still reads the job as done.
    await say(p, 'help');
    const fresh = await userOf(p);
    expect(fresh.id).not.toBe(user.id);
    const done = await press(p, 'kluis.mydata.open', { jobId, statusToken });
    expect(cardText(done)).toMatch(/Your data is deleted/);
    expect(JSON.stringify(done)).toContain('"value":"done"');
    expect(done.refresh?.action.data).toMatchObject({ jobId, statusToken });
    // Without the token the fresh account owns no such job.
    expect(cardText(await press(p, 'kluis.mydata.open', { jobId }))).toMatch(/does not exist \(any more\) for you/);
  });

  it('opens a deletion by status token for no one else: a wrong token, another member\'s token, another tenant with the right token', async () => {
    const p = person(tenantA);
    await say(p, 'help');
    const started = await press(p, 'kluis.mydata.delete', { confirm: 'yes', deleteAccount: 'true' });
    const jobId = String(started.refresh?.action.data?.jobId);
    const statusToken = String(started.refresh?.action.data?.statusToken);
    await kluis.modules.erasureRunner.settled();
    const wrong = `${statusToken.slice(0, 42)}${statusToken.endsWith('A') ? 'B' : 'A'}`;
    for (const [who, token] of [[otherA, wrong], [otherA, ''], [otherA, `${statusToken}x`], [otherA, { $when: statusToken }], [userB, statusToken]] as const) {
      const card = await press(who, 'kluis.mydata.open', { jobId, statusToken: token });
      expect(cardText(card)).toMatch(/does not exist \(any more\) for you/);
      expect(JSON.stringify(card)).not.toContain('"value":"done"');
    }
    // A status token opens only its own job: with another job's id it opens nothing.
    const q = person(tenantA);
    await say(q, 'help');
    const own = await press(q, 'kluis.mydata.delete', { confirm: 'yes', deleteAccount: 'false' });
    const otherJob = String(own.refresh?.action.data?.jobId);
    await kluis.modules.erasureRunner.settled();
    expect(cardText(await press(p, 'kluis.mydata.open', { jobId: otherJob, statusToken }))).toMatch(/does not exist \(any more\) for you/);
  });

  it('deletes nothing without the confirmation', async () => {
    const conversationId = await conversationOf(otherA);
    for (const confirm of [undefined, 'no', true, { $when: '${true}' }]) {
      const card = await press(otherA, 'kluis.mydata.delete', confirm === undefined ? {} : { confirm });
      expect(cardText(card)).toMatch(/Not deleted: the deletion was not confirmed/);
    }
    await kluis.modules.erasureRunner.settled();
    expect(await db.conversation.count({ where: { workspaceId: await workspaceOf(tenantA), id: conversationId } })).toBe(1);
    expect(await db.erasureJob.count({ where: { workspaceId: await workspaceOf(tenantA), requestedByUserId: (await userOf(otherA)).id } })).toBe(0);
  });
});

describe('pictures made with /image', () => {
  it('are in the maker\'s export (and no one else\'s) and go with the maker\'s deletion', async () => {
    const maker = person(tenantA);
    const other = person(tenantA);
    const pictureOf = async (p: Person) => {
      stability.enqueue({ kind: 'image', seed: 3 });
      connector.reset();
      expect((await post(p, { type: 'message', text: '/image a lighthouse at dusk' })).status).toBe(200);
      const [reply] = await connector.waitForMessages(1);
      expect((reply!.activity.attachments as Array<{ contentType: string }>)[0]!.contentType).toBe('image/png');
      const user = await userOf(p);
      const [image] = await db.image.findMany({ where: { workspaceId: user.workspaceId, userId: user.id } });
      expect(image).toMatchObject({ blobKey: `images/${image!.id}.png` });
      return image!;
    };
    await say(maker, 'help');
    await say(other, 'help');
    const mine = await pictureOf(maker);
    const theirs = await pictureOf(other);
    const ws = mine.workspaceId;

    const started = await press(maker, 'kluis.mydata.export');
    await kluis.modules.exports.settled();
    const done = await press(maker, 'kluis.mydata.open', { exportId: String(started.refresh?.action.data?.exportId) });
    const archive = await kluis.modules.exports.download(await principalOf(maker), downloadUrl(done)!.split('/').pop()!);
    const zip = await JSZip.loadAsync(archive.bytes);
    expect((await zip.file(`images/${mine.id}.png`)!.async('nodebuffer')).equals(FAKE_PNG)).toBe(true);
    expect(zip.file(`images/${theirs.id}.png`)).toBeNull();
    expect(JSON.parse(await zip.file('images.json')!.async('string'))).toEqual([expect.objectContaining({ id: mine.id, userId: (await userOf(maker)).id })]);

    await press(maker, 'kluis.mydata.delete', { confirm: 'yes', deleteAccount: 'false' });
    await kluis.modules.erasureRunner.settled();
    expect(await db.image.count({ where: { workspaceId: ws, id: mine.id } })).toBe(0);
    expect(await kluis.modules.blobs.get(ws, mine.blobKey)).toBeUndefined();
    // The other member's picture stays, row and PNG.
    expect(await db.image.count({ where: { workspaceId: ws, id: theirs.id } })).toBe(1);
    expect((await kluis.modules.blobs.get(ws, theirs.blobKey))?.equals(FAKE_PNG)).toBe(true);
  });
});

describe('presses that are refused', () => {
  it('refuses a press carrying another person\'s card binding, forged or forwarded, and deletes nothing', async () => {
    const conversationId = await conversationOf(otherA);
    for (const forged of [userA.mri, userB.mri, '', undefined, { $ref: userA.mri }, [otherA.mri], `${otherA.mri} `]) {
      for (const verb of ['kluis.mydata.delete', 'kluis.mydata.export', 'kluis.mydata.open']) {
        const card = await press(otherA, verb, { userId: forged, confirm: 'yes', deleteAccount: 'true' });
        expect(cardText(card)).toMatch(/made for someone else/);
        expect(buttonTitles(card)).toEqual([]);
        expect(card.refresh).toBeUndefined();
      }
    }
    await kluis.modules.erasureRunner.settled();
    expect(await db.conversation.count({ where: { workspaceId: await workspaceOf(tenantA), id: conversationId } })).toBe(1);
    expect(await db.user.count({ where: { workspaceId: await workspaceOf(tenantA), entraObjectId: otherA.oid } })).toBe(1);
  });

  it('refuses an unknown verb and shows malformed or hostile ids as a plain "does not exist"', async () => {
    expect(cardText(await press(otherA, 'kluis.mydata.everything'))).toMatch(/not known to Kluis/);
    for (const id of ['../../x', '${$root.userId}', '0'.repeat(5000), { $when: '${true}' }, ['a'], randomUUID()]) {
      const card = await press(otherA, 'kluis.mydata.open', { jobId: id, exportId: id });
      const text = cardText(card);
      if (typeof id === 'string' && /^[0-9a-f-]{36}$/.test(id)) expect(text).toMatch(/does not exist/);
      else expect(buttonTitles(card)).toEqual(['Export my data', 'Delete my user data…']);
      expect(JSON.stringify(card)).not.toContain('${$root');
    }
  });

  it('refuses a press that names no known person (no Entra id) and an activity from a tenant that is not onboarded', async () => {
    const response = await post(otherA, { type: 'invoke', name: 'adaptiveCard/action', from: { id: otherA.mri, name: 'x' }, value: { action: { type: 'Action.Execute', verb: 'kluis.mydata.delete', data: { userId: otherA.mri, confirm: 'yes' } } } });
    expect(cardText(response.body!.value)).toMatch(/cannot tell who you are/);
    const stranger = person(randomUUID());
    const refused = await post(stranger, { type: 'invoke', name: 'adaptiveCard/action', value: { action: { type: 'Action.Execute', verb: 'kluis.mydata.export', data: { userId: stranger.mri } } } });
    expect(refused.status).toBeGreaterThanOrEqual(400);
    expect(await db.erasureJob.count({ where: { workspaceId: await workspaceOf(tenantA), status: { in: ['queued', 'running'] } } })).toBe(0);
  });
});

describe('the admin Data card: export workspace data', () => {
  it('starts the workspace export for an admin, shows its progress, then a signed absolute download link', async () => {
    const data = await press(adminA, 'kluis.admin.data.open');
    expect(buttonTitles(data)).toContain('Export workspace data');
    const started = await press(adminA, 'kluis.admin.data.export');
    expect(cardText(started)).toMatch(/Export started/);
    expect(started.refresh?.action.verb).toBe('kluis.admin.data.exportProgress');
    expect(started.refresh?.userIds).toEqual([adminA.mri]);
    const exportId = String(started.refresh?.action.data?.exportId);
    await kluis.modules.exports.settled();
    const done = await press(adminA, 'kluis.admin.data.exportProgress', { exportId });
    expect(JSON.stringify(done)).toContain('ready to download');
    const url = downloadUrl(done)!;
    expect(url.startsWith(`${kluis.url}/api/export/download/`)).toBe(true);
    const archive = await kluis.modules.exports.download(await principalOf(adminA), url.split('/').pop()!);
    expect(archive.fileName).toMatch(/^kluis-export-workspace-/);
    expect((await JSZip.loadAsync(archive.bytes)).file(/./).length).toBeGreaterThan(0);
  });

  it('refuses a member, another workspace\'s admin, and malformed ids; no export is started', async () => {
    const ws = await workspaceOf(tenantA);
    const before = await db.job.count({ where: { workspaceId: ws, kind: 'export' } });
    for (const p of [userA, otherA]) {
      expect(cardText(await press(p, 'kluis.admin.data.export'))).toMatch(/Not available to you/);
    }
    const mine = await press(adminA, 'kluis.admin.data.export');
    const exportId = String(mine.refresh?.action.data?.exportId);
    await kluis.modules.exports.settled();
    const after = await db.job.count({ where: { workspaceId: ws, kind: 'export' } });
    expect(after).toBe(before + 1);
    expect(downloadUrl(await press(userA, 'kluis.admin.data.exportProgress', { exportId }))).toBeUndefined();
    const crossTenant = await press(userB, 'kluis.admin.data.exportProgress', { exportId });
    expect(downloadUrl(crossTenant)).toBeUndefined();
    for (const id of ['../x', { $when: '${true}' }, '${$root.userId}']) {
      const card = await press(adminA, 'kluis.admin.data.exportProgress', { exportId: id });
      expect(cardText(card)).toMatch(/does not exist in this workspace/);
      expect(downloadUrl(card)).toBeUndefined();
    }
  });
});
