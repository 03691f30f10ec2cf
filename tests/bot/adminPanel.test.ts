/**
 * The admin panel over real HTTP (local mode, fake Bot Connector): the `admin` command, every
 * Action.Execute of its cards as Teams sends them (invoke `adaptiveCard/action`), and the attacks
 * on it — a non-admin asking, a forged Action.Execute from a non-admin, card data naming another
 * workspace's source, and hostile text in the data the cards show.
 */
import { randomUUID } from 'node:crypto';
import { cardText, startFakeConnector } from '../fakes/botConnector';
import { openTestDatabase } from '../support/database';
import { startTestKluis } from '../support/kluis';
import { cardNodes } from '../support/cardNodes';

const tenantA = randomUUID();
const tenantB = randomUUID();
const db = openTestDatabase();
let kluis: Awaited<ReturnType<typeof startTestKluis>>;
let connector: Awaited<ReturnType<typeof startFakeConnector>>;

interface Person { tenantId: string; oid: string; mri: string; name: string }
const person = (tenantId: string, name: string): Person => ({ tenantId, oid: randomUUID(), mri: `29:${randomUUID()}`, name });
const adminA = person(tenantA, 'Ada Admin');
const userA = person(tenantA, 'Uma User');
const managerA = person(tenantA, 'Max Manager');
const adminB = person(tenantB, 'Bea Admin');

type Card = { type: string; body: unknown[]; actions?: unknown[]; refresh?: { action: { verb: string; data?: Record<string, unknown> }; userIds: string[] } };

function base(p: Person, overrides: Record<string, unknown> = {}) {
  return {
    id: randomUUID(),
    channelId: 'msteams',
    serviceUrl: connector.serviceUrl,
    from: { id: p.mri, name: p.name, aadObjectId: p.oid },
    recipient: { id: 'bot-id', name: 'Kluis' },
    conversation: { id: `a:${p.oid}`, conversationType: 'personal', tenantId: p.tenantId },
    channelData: { tenant: { id: p.tenantId } },
    ...overrides,
  };
}

async function post(body: unknown) {
  const response = await fetch(`${kluis.url}/api/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const text = await response.text();
  return { status: response.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : undefined };
}

/** Types a message and returns the card the bot replied with. */
async function say(p: Person, text: string): Promise<Card> {
  connector.reset();
  expect((await post({ ...base(p), type: 'message', text })).status).toBe(200);
  const [reply] = await connector.waitForMessages(1);
  return reply!.activity.attachments![0]!.content as Card;
}

/** Presses an Action.Execute button as Teams does, and returns the card of the invoke response. */
async function press(p: Person, verb: string, data: Record<string, unknown> = {}, overrides: Record<string, unknown> = {}): Promise<Card> {
  const response = await post({ ...base(p, overrides), type: 'invoke', name: 'adaptiveCard/action', value: { action: { type: 'Action.Execute', verb, data }, trigger: 'manual' } });
  expect(response.status).toBe(200);
  expect(response.body).toMatchObject({ statusCode: 200, type: 'application/vnd.microsoft.card.adaptive' });
  return response.body!.value as Card;
}

const nodes = cardNodes;
const buttons = (card: unknown) => nodes(card, (n) => n.type === 'Action.Execute' && typeof n.title === 'string').filter((n) => n.title !== 'Refresh' || !('userIds' in n));
const buttonTitles = (card: unknown) => nodes((card as Card).body, (n) => n.type === 'Action.Execute').map((n) => n.title).concat(((card as Card).actions ?? []).map((a) => (a as { title: string }).title));
const inputs = (card: unknown) => Object.fromEntries(nodes(card, (n) => typeof n.type === 'string' && n.type.startsWith('Input.')).map((n) => [n.id, n.value]));

const workspaceOf = async (tenantId: string) => (await db.workspace.findUniqueOrThrow({ where: { tenantId } })).id;
const refusals = async (tenantId: string) => (await db.auditEvent.findMany({ where: { workspaceId: await workspaceOf(tenantId), kind: 'authorization.refused' }, orderBy: { createdAt: 'asc' } })).map((e) => (e.detail as { action: string }).action);

const HOSTILE_NAME = '${$root.userId} {"$when":"${false}"} [click me](https://evil.example) **bold**';

beforeAll(async () => {
  connector = await startFakeConnector();
  kluis = await startTestKluis({ LOCAL_TENANT_ID: randomUUID(), ONBOARD_TENANTS: `${tenantA}=Contoso,${tenantB}=Fabrikam` });
  // The first member of a workspace becomes its admin; later members are users.
  for (const p of [adminA, userA, managerA, adminB]) await say(p, 'help');
  const wsA = await workspaceOf(tenantA);
  const manager = await db.user.findFirstOrThrow({ where: { workspaceId: wsA, entraObjectId: managerA.oid } });
  await db.membership.updateMany({ where: { workspaceId: wsA, userId: manager.id }, data: { role: 'manager', roleOverride: 'manager' } });
}, 60000);

afterAll(async () => {
  await kluis?.stop();
  await connector?.close();
  await db.workspace.deleteMany({ where: { tenantId: { in: [tenantA, tenantB] } } });
  await db.$disconnect();
});

async function addSource(tenantId: string, displayName: string, driveId = `b!${randomUUID().slice(0, 8)}`) {
  const id = randomUUID();
  await db.knowledgeSource.create({ data: { id, workspaceId: await workspaceOf(tenantId), kind: 'sharepoint', driveId, displayName, schedule: 'monthly' } });
  return id;
}

describe('opening the admin panel', () => {
  it('answers "admin" from an admin with an opening card that refreshes for that admin only and holds no workspace data', async () => {
    const card = await say(adminA, 'admin');
    expect(card).toMatchObject({ type: 'AdaptiveCard', version: '1.5' });
    expect(card.refresh).toEqual({ action: { type: 'Action.Execute', title: 'Open', verb: 'kluis.admin.open', data: { section: 'home' } }, userIds: [adminA.mri] });
    expect(cardText(card)).not.toMatch(/Retention|days/);
    expect(inputs(card)).toEqual({});
  });

  it('accepts the Dutch command "beheer"', async () => {
    expect((await say(adminA, 'beheer')).refresh?.userIds).toEqual([adminA.mri]);
  });

  it('shows an admin every section and keeps refreshing for them', async () => {
    const card = await press(adminA, 'kluis.admin.open', { section: 'home' });
    expect(buttonTitles(card)).toEqual(expect.arrayContaining(['Overview', 'Retention', 'Knowledge', 'Audit log']));
    expect(card.refresh?.userIds).toEqual([adminA.mri]);
    expect(cardText(card)).toMatch(/administrator/);
  });

  it('refuses a user politely, with no controls, and audits it', async () => {
    const card = await say(userA, 'admin');
    expect(cardText(card)).toMatch(/Not available to you/);
    expect(card.refresh).toBeUndefined();
    expect(buttons(card)).toEqual([]);
    expect(await refusals(tenantA)).toContain('admin.panel');
  });

  it('shows a manager the knowledge section only', async () => {
    const card = await press(managerA, 'kluis.admin.open', { section: 'knowledge' });
    const titles = buttonTitles(card);
    expect(titles).toEqual(expect.arrayContaining(['Overview', 'Knowledge', 'Add source']));
    expect(titles).not.toContain('Retention');
    expect(titles).not.toContain('Audit log');
  });
});

describe('retention', () => {
  it('shows the defaults in the retention section', async () => {
    const card = await press(adminA, 'kluis.admin.open', { section: 'retention' });
    expect(inputs(card)).toEqual({ conversationDays: 'keep', uploadedFileDays: '180', loginLogDays: '37', inactiveConversationDays: 'off' });
    expect(cardText(card)).toMatch(/Kluis defaults/);
  });

  it('saves a valid change, confirms it in the refreshed card, and audits old and new values', async () => {
    const card = await press(adminA, 'kluis.admin.retention.save', { section: 'retention', conversationDays: '90', uploadedFileDays: '180', loginLogDays: '30', inactiveConversationDays: 'off' });
    expect(cardText(card)).toMatch(/Saved: conversations 90 days, uploaded files 180 days, login log 30 days, inactive clean-up off/);
    expect(inputs(card)).toMatchObject({ conversationDays: '90', loginLogDays: '30' });
    const ws = await workspaceOf(tenantA);
    expect(await db.retentionPolicy.findUnique({ where: { workspaceId: ws } })).toMatchObject({ conversationDays: 90, uploadedFileDays: 180, loginLogDays: 30, inactiveConversationDays: null });
    const [event] = await db.auditEvent.findMany({ where: { workspaceId: ws, kind: 'retention.changed' } });
    expect(event?.detail).toEqual({ 'conversationDays.from': null, 'conversationDays.to': 90, 'loginLogDays.from': 37, 'loginLogDays.to': 30 });
    expect(await kluis.modules.retention.effective(ws)).toEqual({ conversationDays: 90, uploadedFileDays: 180, loginLogDays: 30, inactiveConversationDays: null });
  });

  it('returns invalid input in the refreshed card with a message per field, and saves nothing', async () => {
    const ws = await workspaceOf(tenantA);
    const before = await db.retentionPolicy.findUnique({ where: { workspaceId: ws } });
    const card = await press(adminA, 'kluis.admin.retention.save', { section: 'retention', conversationDays: '30', uploadedFileDays: '0', loginLogDays: 'forever', inactiveConversationDays: '99999' });
    const text = cardText(card);
    expect(text).toMatch(/Not saved: correct the fields marked below/);
    expect(text.match(/whole number of days from 1 to 3650/g)).toHaveLength(3);
    // What the admin typed stays in the form.
    expect(inputs(card)).toEqual({ conversationDays: '30', uploadedFileDays: '0', loginLogDays: 'forever', inactiveConversationDays: '99999' });
    expect(await db.retentionPolicy.findUnique({ where: { workspaceId: ws } })).toEqual(before);
  });

  it.each([
    ['an object', { $when: '${true}' }],
    ['an array', ['30']],
    ['an over-long string', '9'.repeat(5000)],
  ])('refuses %s as a period without saving', async (_name, value) => {
    const ws = await workspaceOf(tenantA);
    const before = await db.retentionPolicy.findUnique({ where: { workspaceId: ws } });
    const card = await press(adminA, 'kluis.admin.retention.save', { uploadedFileDays: value });
    expect(cardText(card)).toMatch(/Not saved/);
    expect(await db.retentionPolicy.findUnique({ where: { workspaceId: ws } })).toEqual(before);
  });

  it('refuses a forged Action.Execute from a user: a refusal card, no data, nothing saved, audited', async () => {
    const ws = await workspaceOf(tenantA);
    const before = await db.retentionPolicy.findUnique({ where: { workspaceId: ws } });
    for (const [verb, data] of [['kluis.admin.retention.save', { uploadedFileDays: '1' }], ['kluis.admin.open', { section: 'retention' }], ['kluis.admin.audit.filter', { area: 'retention' }]] as const) {
      const card = await press(userA, verb, data);
      expect(cardText(card)).toMatch(/Not available to you/);
      expect(inputs(card)).toEqual({});
      expect(buttons(card)).toEqual([]);
      expect(JSON.stringify(card)).not.toMatch(/180|retention\.changed/);
    }
    expect(await db.retentionPolicy.findUnique({ where: { workspaceId: ws } })).toEqual(before);
    expect((await refusals(tenantA)).filter((a) => a === 'admin.panel').length).toBeGreaterThanOrEqual(4);
  });

  it('refuses a manager who forges a retention change or opens the audit log, and audits each', async () => {
    const ws = await workspaceOf(tenantA);
    const before = await db.retentionPolicy.findUnique({ where: { workspaceId: ws } });
    expect(cardText(await press(managerA, 'kluis.admin.retention.save', { uploadedFileDays: '1' }))).toMatch(/You may not do this/);
    expect(cardText(await press(managerA, 'kluis.admin.open', { section: 'retention' }))).toMatch(/You may not do this/);
    expect(cardText(await press(managerA, 'kluis.admin.audit.filter', { area: 'all' }))).toMatch(/You may not do this/);
    expect(await db.retentionPolicy.findUnique({ where: { workspaceId: ws } })).toEqual(before);
    expect(await refusals(tenantA)).toEqual(expect.arrayContaining(['retention.manage', 'retention.read', 'audit.read']));
  });

  it('keeps workspaces apart: the change in A left B on the defaults', async () => {
    const card = await press(adminB, 'kluis.admin.open', { section: 'retention' });
    expect(inputs(card)).toEqual({ conversationDays: 'keep', uploadedFileDays: '180', loginLogDays: '37', inactiveConversationDays: 'off' });
  });
});

describe('knowledge', () => {
  it('lists sources with their sync state, showing a hostile name literally', async () => {
    await addSource(tenantA, HOSTILE_NAME);
    const card = await press(adminA, 'kluis.admin.open', { section: 'knowledge' });
    const runs = nodes(card, (n) => n.type === 'TextRun').map((n) => n.text);
    expect(runs).toContain(HOSTILE_NAME);
    // Never in an element that renders markdown.
    expect(nodes(card, (n) => n.type === 'TextBlock' && typeof n.text === 'string' && n.text.includes('evil.example'))).toEqual([]);
    expect(JSON.stringify(nodes(card, (n) => n.type === 'FactSet'))).not.toContain('evil.example');
    const facts = nodes(card, (n) => typeof n.title === 'string' && typeof n.value === 'string' && !('type' in n));
    expect(facts).toEqual(expect.arrayContaining([{ title: 'Last sync', value: 'never' }, { title: 'Progress', value: 'not synced yet' }]));
    expect(buttonTitles(card)).toEqual(expect.arrayContaining(['Sync now', 'Remove…']));
  });

  it('asks for confirmation before removing, and removes only when confirmed', async () => {
    const id = await addSource(tenantA, 'Finance');
    const ask = await press(adminA, 'kluis.admin.knowledge.removeAsk', { sourceId: id });
    expect(cardText(ask)).toMatch(/Remove this knowledge source\?/);
    expect(cardText(ask)).toContain('Finance');
    const yes = buttons(ask).find((b) => b.title === 'Yes, remove')!;
    expect(yes.data).toEqual({ section: 'knowledge', sourceId: id, confirm: 'yes' });

    const unconfirmed = await press(adminA, 'kluis.admin.knowledge.remove', { sourceId: id });
    expect(cardText(unconfirmed)).toMatch(/Not removed/);
    expect(await db.knowledgeSource.findFirst({ where: { workspaceId: await workspaceOf(tenantA), id } })).not.toBeNull();

    const done = await press(adminA, 'kluis.admin.knowledge.remove', yes.data as Record<string, unknown>);
    expect(cardText(done)).toMatch(/Removed Finance/);
    expect(await db.knowledgeSource.findFirst({ where: { workspaceId: await workspaceOf(tenantA), id } })).toBeNull();
    expect(await db.auditEvent.count({ where: { workspaceId: await workspaceOf(tenantA), kind: 'knowledge.source_removed' } })).toBe(1);
  });

  it('refuses another workspace\'s source id (cross-workspace) as not found, leaving it untouched', async () => {
    const foreign = await addSource(tenantB, 'Fabrikam secrets');
    for (const verb of ['kluis.admin.knowledge.remove', 'kluis.admin.knowledge.removeAsk', 'kluis.admin.knowledge.sync']) {
      const card = await press(adminA, verb, { sourceId: foreign, confirm: 'yes' });
      expect(cardText(card)).toMatch(/does not exist \(any more\) in this workspace/);
      expect(JSON.stringify(card)).not.toContain('Fabrikam secrets');
    }
    expect(await db.knowledgeSource.findFirst({ where: { workspaceId: await workspaceOf(tenantB), id: foreign } })).not.toBeNull();
  });

  it('refuses a malformed source id', async () => {
    const card = await press(adminA, 'kluis.admin.knowledge.remove', { sourceId: "' OR 1=1 --", confirm: 'yes' });
    expect(cardText(card)).toMatch(/does not exist/);
  });

  it('says plainly why "sync now" cannot start when Graph access is not configured', async () => {
    const id = await addSource(tenantA, 'HR');
    const card = await press(adminA, 'kluis.admin.knowledge.sync', { sourceId: id });
    expect(cardText(card)).toMatch(/Could not do this: Kluis is not configured correctly/);
  });

  it('lets a user press no knowledge button (forged sync and remove refused, nothing removed)', async () => {
    const id = await addSource(tenantA, 'Legal');
    for (const verb of ['kluis.admin.knowledge.sync', 'kluis.admin.knowledge.remove']) expect(cardText(await press(userA, verb, { sourceId: id, confirm: 'yes' }))).toMatch(/Not available to you/);
    expect(await db.knowledgeSource.findFirst({ where: { workspaceId: await workspaceOf(tenantA), id } })).not.toBeNull();
  });

  it('adds a source from the form and refuses a path as drive id, keeping what was typed', async () => {
    const bad = await press(managerA, 'kluis.admin.knowledge.add', { displayName: 'Sales', driveId: '../../sites/hr', schedule: 'weekly' });
    expect(cardText(bad)).toMatch(/Not added: The drive id is not a Microsoft Graph drive id/);
    expect(inputs(bad)).toMatchObject({ displayName: 'Sales', driveId: '../../sites/hr' });
    const good = await press(managerA, 'kluis.admin.knowledge.add', { displayName: 'Sales', driveId: 'b!sales1', schedule: 'weekly' });
    expect(cardText(good)).toMatch(/Added Sales/);
    expect(cardText(await press(managerA, 'kluis.admin.knowledge.add', { displayName: 'Sales again', driveId: 'b!sales1', schedule: 'weekly' }))).toMatch(/already a knowledge source/);
    expect(cardText(await press(managerA, 'kluis.admin.knowledge.add', { displayName: 'X', driveId: 'b!x', schedule: 'hourly' }))).toMatch(/Choose a schedule/);
  });
});

describe('audit log', () => {
  it('shows the latest events and filters them by kind', async () => {
    const all = await press(adminA, 'kluis.admin.open', { section: 'audit' });
    expect(cardText(all)).toMatch(/authorization\.refused/);
    const retention = await press(adminA, 'kluis.admin.audit.filter', { area: 'retention' });
    const kinds = nodes(retention, (n) => n.type === 'TextRun' && typeof n.text === 'string' && /^ {2}[a-z]+\./.test(n.text)).map((n) => (n.text as string).trim());
    expect(kinds.length).toBeGreaterThan(0);
    expect(new Set(kinds)).toEqual(new Set(['retention.changed']));
    expect(inputs(retention).area).toBe('retention');
  });

  it('refuses a kind outside the list (no free-text filter reaches the database)', async () => {
    const card = await press(adminA, 'kluis.admin.audit.filter', { area: "retention%' OR '1'='1" });
    expect(cardText(card)).toMatch(/Unknown kind of event/);
  });
});

describe('usage section', () => {
  it('shows an admin this month\'s usage per provider of their own workspace only', async () => {
    const day = new Date(`${new Date().toISOString().slice(0, 10)}T00:00:00Z`);
    const usage = (workspaceId: string, userId: string, provider: string, model: string, calls: number) =>
      db.usageDaily.create({ data: { id: randomUUID(), workspaceId, userId, day, provider, model, calls, inputTokens: BigInt(calls * 100), outputTokens: BigInt(calls * 10), costMicros: BigInt(calls * 2_000_000) } });
    const [wsA, wsB] = [await workspaceOf(tenantA), await workspaceOf(tenantB)];
    const userOf = async (workspaceId: string, p: Person) => (await db.user.findFirstOrThrow({ where: { workspaceId, entraObjectId: p.oid } })).id;
    await usage(wsA, await userOf(wsA, userA), 'openai', 'gpt-4o-mini', 7);
    await usage(wsA, await userOf(wsA, adminA), 'openai', 'gpt-4o', 5);
    await usage(wsB, await userOf(wsB, adminB), 'gemini', 'gemini-2.5-flash', 99);
    const card = await press(adminA, 'kluis.admin.open', { section: 'usage' });
    const text = cardText(card);
    expect(text).toMatch(/Language-model usage this month/);
    expect(text).toContain('12 calls');
    expect(text).toContain('1,200 tokens in, 120 out');
    expect(text).not.toMatch(/gemini|99 calls/);
  });

  it('refuses a manager\'s forged press on the usage section, shows no figures and audits it', async () => {
    const card = await press(managerA, 'kluis.admin.open', { section: 'usage' });
    expect(cardText(card)).toMatch(/You may not do this/);
    expect(cardText(card)).not.toMatch(/calls/);
    expect(await refusals(tenantA)).toContain('usage.read');
  });
});

describe('bad presses', () => {
  it('refuses an unknown verb', async () => {
    expect(cardText(await press(adminA, 'kluis.admin.dropEverything'))).toMatch(/not known to Kluis/);
  });

  it('refuses an invoke without the sender\'s Entra object id', async () => {
    const card = await press(adminA, 'kluis.admin.open', { section: 'home' }, { from: { id: adminA.mri, name: 'x' } });
    expect(cardText(card)).toMatch(/Not available to you/);
  });

  it('ignores a workspace id smuggled into the card data', async () => {
    const card = await press(adminA, 'kluis.admin.retention.save', { workspaceId: await workspaceOf(tenantB), uploadedFileDays: '11' });
    expect(cardText(card)).toMatch(/Saved/);
    expect(await kluis.modules.retention.effective(await workspaceOf(tenantB))).toMatchObject({ uploadedFileDays: 180 });
    expect(await kluis.modules.retention.effective(await workspaceOf(tenantA))).toMatchObject({ uploadedFileDays: 11 });
  });
});
