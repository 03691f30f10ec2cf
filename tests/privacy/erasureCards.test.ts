/**
 * The admin panel's Data cards over real HTTP, pressed as Teams sends Action.Execute: delete
 * workspace data (the typed name, the progress card refreshing until done), delete one
 * conversation, and the attacks: a forged press from a non-admin, a wrong name, a conversation id
 * of another workspace, a malformed id.
 */
import { randomUUID } from 'node:crypto';
import { startFakeConnector } from '../fakes/botConnector';
import { openTestDatabase } from '../support/database';
import { startTestKluis } from '../support/kluis';

const tenantA = randomUUID();
const tenantB = randomUUID();
const db = openTestDatabase();
let kluis: Awaited<ReturnType<typeof startTestKluis>>;
let connector: Awaited<ReturnType<typeof startFakeConnector>>;

interface Person { tenantId: string; oid: string; mri: string }
const person = (tenantId: string): Person => ({ tenantId, oid: randomUUID(), mri: `29:${randomUUID()}` });
const adminA = person(tenantA);
const userA = person(tenantA);
const adminB = person(tenantB);

type Card = { body: unknown[]; refresh?: { action: { verb: string; data?: Record<string, unknown> }; userIds: string[] } };

async function post(p: Person, body: Record<string, unknown>) {
  const activity = { id: randomUUID(), channelId: 'msteams', serviceUrl: connector.serviceUrl, from: { id: p.mri, name: 'Someone', aadObjectId: p.oid }, recipient: { id: 'bot-id', name: 'Kluis' }, conversation: { id: `a:${p.oid}`, conversationType: 'personal', tenantId: p.tenantId }, channelData: { tenant: { id: p.tenantId } }, ...body };
  const response = await fetch(`${kluis.url}/api/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(activity) });
  const text = await response.text();
  return { status: response.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : undefined };
}

async function press(p: Person, verb: string, data: Record<string, unknown> = {}): Promise<Card> {
  const response = await post(p, { type: 'invoke', name: 'adaptiveCard/action', value: { action: { type: 'Action.Execute', verb, data }, trigger: 'manual' } });
  expect(response.status).toBe(200);
  return response.body!.value as Card;
}

const texts = (card: unknown): string => JSON.stringify(card);
const workspaceOf = async (tenantId: string) => (await db.workspace.findUniqueOrThrow({ where: { tenantId } })).id;

async function conversationIn(tenantId: string): Promise<string> {
  const workspaceId = await workspaceOf(tenantId);
  const id = randomUUID();
  await db.conversation.create({ data: { id, workspaceId, channel: 'teams', externalId: randomUUID() } });
  await db.message.create({ data: { id: randomUUID(), workspaceId, conversationId: id, role: 'user', text: 'private question' } });
  return id;
}

beforeAll(async () => {
  connector = await startFakeConnector();
  kluis = await startTestKluis({ LOCAL_TENANT_ID: randomUUID(), ONBOARD_TENANTS: `${tenantA}=Contoso,${tenantB}=Fabrikam` });
  // The first member of a workspace becomes its admin; later members are users.
  for (const p of [adminA, userA, adminB]) expect((await post(p, { type: 'message', text: 'help' })).status).toBe(200);
}, 60000);

afterAll(async () => {
  await kluis?.stop();
  await connector?.close();
  const ids = (await db.workspace.findMany({ where: { tenantId: { in: [tenantA, tenantB] } } })).map((w) => w.id);
  await db.erasureJob.deleteMany({ where: { workspaceId: { in: ids } } });
  await db.workspace.deleteMany({ where: { id: { in: ids } } });
  await db.$disconnect();
});

describe('the Data cards', () => {
  it('are offered to an admin and refused to a user pressing a forged Data button', async () => {
    const home = await press(adminA, 'kluis.admin.open', { section: 'home' });
    expect(texts(home)).toContain('kluis.admin.data.open');
    const data = await press(adminA, 'kluis.admin.data.open');
    expect(texts(data)).toContain('Delete workspace data…');
    expect(data.refresh).toBeUndefined();

    const conversation = await conversationIn(tenantA);
    for (const [verb, payload] of [
      ['kluis.admin.data.open', {}],
      ['kluis.admin.data.workspaceErase', { confirmName: 'Contoso' }],
      ['kluis.admin.data.conversationErase', { conversationId: conversation }],
    ] as const) {
      const refused = await press(userA, verb, payload);
      expect(texts(refused)).not.toContain('Delete workspace data');
      expect(texts(refused)).toMatch(/administrators and managers|You may not do this/);
    }
    expect(await db.conversation.count({ where: { workspaceId: await workspaceOf(tenantA), id: conversation } })).toBe(1);
    expect(await db.erasureJob.count({ where: { workspaceId: await workspaceOf(tenantA) } })).toBe(0);
  });

  it('deletes one conversation by id, and cannot reach another workspace’s or a malformed one', async () => {
    const mine = await conversationIn(tenantA);
    const theirs = await conversationIn(tenantB);

    const malformed = await press(adminA, 'kluis.admin.data.conversationErase', { conversationId: '../../etc/passwd' });
    expect(texts(malformed)).toContain('Not deleted: a conversation id looks like');
    const foreign = await press(adminA, 'kluis.admin.data.conversationErase', { conversationId: theirs });
    expect(texts(foreign)).toContain('does not exist in this workspace. Nothing was deleted.');
    expect(await db.conversation.count({ where: { workspaceId: await workspaceOf(tenantB), id: theirs } })).toBe(1);

    const progress = await press(adminA, 'kluis.admin.data.conversationErase', { conversationId: mine.toUpperCase() });
    expect(texts(progress)).toContain('Erasure progress');
    const jobId = (await db.erasureJob.findFirstOrThrow({ where: { workspaceId: await workspaceOf(tenantA), targetId: mine } })).id;
    await kluis.modules.erasureRunner.settled();
    const done = await press(adminA, 'kluis.admin.data.progress', { jobId });
    expect(texts(done)).toContain('The erasure is done');
    expect(await db.conversation.count({ where: { workspaceId: await workspaceOf(tenantA), id: mine } })).toBe(0);
    // Another workspace's admin cannot follow it.
    expect(texts(await press(adminB, 'kluis.admin.data.progress', { jobId }))).toContain('does not exist in this workspace');
  });

  it('asks for the workspace name, refuses a wrong one with nothing deleted, and follows the erasure until done', async () => {
    const conversation = await conversationIn(tenantA);
    const confirm = await press(adminA, 'kluis.admin.data.workspaceAsk');
    expect(texts(confirm)).toContain('Type the name of this workspace to confirm');

    for (const wrong of ['contoso', 'Fabrikam', '', 42]) {
      const refused = await press(adminA, 'kluis.admin.data.workspaceErase', { confirmName: wrong });
      expect(texts(refused)).toContain('Not deleted: the name you typed is not the name of this workspace.');
    }
    expect(await db.conversation.count({ where: { workspaceId: await workspaceOf(tenantA), id: conversation } })).toBe(1);

    const started = await press(adminA, 'kluis.admin.data.workspaceErase', { confirmName: 'Contoso' });
    expect(texts(started)).toContain('Erasure started');
    const jobId = (await db.erasureJob.findFirstOrThrow({ where: { workspaceId: await workspaceOf(tenantA), scopeKind: 'workspace' } })).id;
    // While it runs the card refreshes itself, for this admin only; once done it stops.
    expect(started.refresh).toMatchObject({ action: { verb: 'kluis.admin.data.progress', data: { jobId } }, userIds: [adminA.mri] });
    await kluis.modules.erasureRunner.settled();
    const done = await press(adminA, 'kluis.admin.data.progress', { jobId });
    expect(texts(done)).toContain('The erasure is done');
    expect(done.refresh).toBeUndefined();
    expect(await db.conversation.count({ where: { workspaceId: await workspaceOf(tenantA) } })).toBe(0);
    expect(await db.message.count({ where: { workspaceId: await workspaceOf(tenantB) } })).toBeGreaterThan(0);
  });
});
