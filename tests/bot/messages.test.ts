/**
 * The bot endpoint over real HTTP, in local mode: a grounded answer end to end (question in,
 * stored messages, card out to the connector), and every kind of bad input refused with a clear
 * 4xx without storing anything.
 */
import { randomUUID } from 'node:crypto';
import { cardText, startFakeConnector } from '../fakes/botConnector';
import { openTestDatabase } from '../support/database';
import { startTestKluis } from '../support/kluis';

const tenantId = randomUUID();
let kluis: Awaited<ReturnType<typeof startTestKluis>>;
let connector: Awaited<ReturnType<typeof startFakeConnector>>;
const db = openTestDatabase();

function activity(overrides: Record<string, unknown> = {}) {
  return {
    type: 'message',
    id: randomUUID(),
    channelId: 'msteams',
    serviceUrl: connector.serviceUrl,
    from: { id: 'user-id-0', name: 'Alex Wilber', aadObjectId: '00000000-0000-0000-0000-0000000000020' },
    recipient: { id: 'bot-id', name: 'Kluis' },
    conversation: { id: `conv-${randomUUID()}`, conversationType: 'personal', tenantId },
    channelData: { tenant: { id: tenantId } },
    text: 'What is the maximum hotel rate per night in London on a business trip?',
    ...overrides,
  };
}

async function post(body: unknown, init: { contentType?: string; raw?: string } = {}) {
  const response = await fetch(`${kluis.url}/api/messages`, {
    method: 'POST',
    headers: { 'content-type': init.contentType ?? 'application/json' },
    body: init.raw ?? JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text ? (JSON.parse(text) as { error?: { id: string; message: string } }) : undefined };
}

async function storedCounts() {
  const [conversations, messages] = await Promise.all([db.$queryRawUnsafe<Array<{ n: bigint }>>('SELECT COUNT(*) AS n FROM Conversation'), db.$queryRawUnsafe<Array<{ n: bigint }>>('SELECT COUNT(*) AS n FROM Message')]);
  return { conversations: Number(conversations[0]!.n), messages: Number(messages[0]!.n) };
}

beforeAll(async () => {
  connector = await startFakeConnector();
  kluis = await startTestKluis({ LOCAL_TENANT_ID: tenantId, KNOWLEDGE_DIR: 'demo/knowledge' });
}, 60000);

afterAll(async () => {
  await kluis?.stop();
  await connector?.close();
  await db.workspace.deleteMany({ where: { tenantId } });
  await db.$disconnect();
});

beforeEach(() => connector.reset());

/** A group chat: answers come as one final card (personal chats stream; see answerStreaming.test.ts). */
const groupChat = () => ({ conversation: { id: `19:${randomUUID()}@thread.v2`, conversationType: 'groupChat', tenantId } });

describe('a grounded answer', () => {
  it('streams the answer into a personal chat with its source as a citation, and stores both messages first', async () => {
    const a = activity();
    const response = await post(a);
    expect(response.status).toBe(200);
    const [reply] = await connector.waitForMessages(1);
    expect((reply!.activity.channelData as { streamType?: string }).streamType).toBe('final');
    expect(reply!.activity.text).toContain('EUR 185 per night');
    const entities = reply!.activity.entities as Array<{ additionalType?: string[]; citation?: Array<{ appearance: { name: string } }> }>;
    const ai = entities.find((e) => e.additionalType?.includes('AIGeneratedContent'));
    expect(ai?.citation?.map((c) => c.appearance.name).join(' ')).toMatch(/travel/i);

    const workspace = await db.workspace.findUniqueOrThrow({ where: { tenantId } });
    const conversation = await db.conversation.findFirstOrThrow({ where: { workspaceId: workspace.id, externalId: a.conversation.id } });
    const messages = await db.message.findMany({ where: { workspaceId: workspace.id, conversationId: conversation.id }, orderBy: { createdAt: 'asc' } });
    expect(messages.map((m) => m.role)).toEqual(['user', 'assistant']);
    expect(messages[0]!.text).toBe(a.text);
    expect(JSON.stringify(messages[1]!.citations)).toContain('travel-policy.txt');
    // The reply Teams shows is tied to the stored answer, so its feedback buttons find it.
    expect(messages[1]!.replyActivityId).toBe((reply!.activity.channelData as { streamId?: string }).streamId);
  }, 20000);

  it('answers a Dutch question from a Word document (group chat: one card)', async () => {
    await post(activity({ text: 'Hoeveel bedraagt de thuiswerkvergoeding per maand?', ...groupChat() }));
    const [reply] = await connector.waitForMessages(1);
    const text = cardText(reply!.activity.attachments![0]!.content);
    expect(text).toContain('129,50 euro per maand');
    expect(text).toContain('Bronnen');
    expect(text).toContain('thuiswerkbeleid.docx');
  });

  it('says plainly when nothing relevant was found', async () => {
    await post(activity({ text: 'What is on the menu of the company canteen on Mars this Friday?', ...groupChat() }));
    const [reply] = await connector.waitForMessages(1);
    const text = cardText(reply!.activity.attachments![0]!.content);
    expect(text).toMatch(/couldn't find anything about this/);
    expect(text).not.toMatch(/Sources/);
  });

  it('strips the @mention in a channel before answering', async () => {
    const mention = { type: 'mention', text: '<at>Kluis</at>', mentioned: { id: 'bot-id', name: 'Kluis' } };
    await post(activity({ text: '<at>Kluis</at> What phone number do I call to report a security incident?', entities: [mention], conversation: { id: `19:${randomUUID()}@thread.tacv2`, conversationType: 'channel', tenantId } }));
    const [reply] = await connector.waitForMessages(1);
    expect(cardText(reply!.activity.attachments![0]!.content)).toContain('+32 9 265 41 99');
  });

  it('shows help for "help"', async () => {
    await post(activity({ text: 'help' }));
    const [reply] = await connector.waitForMessages(1);
    expect(cardText(reply!.activity.attachments![0]!.content)).toMatch(/Ask me a question about your organisation's documents/);
  });

  it('welcomes on install and when the bot is added to a conversation, once per conversation', async () => {
    const installed = activity({ type: 'installationUpdate', action: 'add', text: undefined });
    await post(installed);
    await post({ ...installed, id: randomUUID(), type: 'conversationUpdate', action: undefined, membersAdded: [{ id: 'bot-id' }] });
    await post(activity({ type: 'conversationUpdate', text: undefined, membersAdded: [{ id: 'bot-id' }] }));
    await post(activity({ type: 'conversationUpdate', text: undefined, membersAdded: [{ id: 'someone-else' }] }));
    const replies = await connector.waitForMessages(2);
    for (const r of replies) expect(cardText(r.activity.attachments![0]!.content)).toMatch(/Welcome to Kluis/);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(connector.messages()).toHaveLength(2);
  });
});

describe('bad input at /api/messages', () => {
  const huge = JSON.stringify({ type: 'message', text: 'x'.repeat(1024 * 1024 + 10) });
  it.each([
    ['an empty body', { raw: '' }, 400, 'activity_invalid'],
    ['a body that is not JSON', { raw: '{"type": "message",' }, 400, 'request_malformed'],
    ['a JSON array', { raw: '[1,2,3]' }, 400, 'activity_invalid'],
    ['a body that is not declared as JSON', { raw: 'hello', contentType: 'text/plain' }, 415, 'unsupported_media_type'],
    ['a body over 1 MB', { raw: huge }, 413, 'request_too_large'],
  ])('refuses %s', async (_name, init, status, id) => {
    const before = await storedCounts();
    const response = await post(undefined, init);
    expect(response.status).toBe(status);
    expect(response.body?.error?.id).toBe(id);
    expect(await storedCounts()).toEqual(before);
  });

  it.each([
    ['an unknown activity type', { type: 'launchMissiles' }, 'activity_type_unsupported'],
    ['a missing conversation', { conversation: undefined }, 'activity_invalid'],
    ['a missing sender', { from: undefined }, 'activity_invalid'],
    ['a missing recipient', { recipient: undefined }, 'activity_invalid'],
    ['a missing serviceUrl', { serviceUrl: undefined }, 'activity_invalid'],
    ['a serviceUrl that is not a URL', { serviceUrl: 'javascript:alert(1)x' }, 'activity_invalid'],
    ['a missing tenant', { channelData: {}, conversation: { id: 'c1' } }, 'activity_invalid'],
    ['a message without text', { text: undefined }, 'activity_invalid'],
    ['a text over the Teams limit', { text: 'a'.repeat(28001) }, 'activity_invalid'],
    ['a message without the sender\'s Entra object id', { from: { id: 'user-id-0' } }, 'activity_invalid'],
  ])('refuses %s with a clear 400', async (_name, overrides, id) => {
    const before = await storedCounts();
    const response = await post(activity(overrides));
    expect(response.status).toBe(400);
    expect(response.body?.error?.id).toBe(id);
    expect(await storedCounts()).toEqual(before);
    expect(connector.replies).toHaveLength(0);
  });

  it('refuses a message from a tenant that is not onboarded (cross-tenant) with a polite card, storing no conversation', async () => {
    const stranger = randomUUID();
    const before = await storedCounts();
    const response = await post(activity({ conversation: { id: 'c-x', tenantId: stranger }, channelData: { tenant: { id: stranger } } }));
    expect(response.status).toBe(403);
    expect(response.body?.error).toEqual({ id: 'tenant_not_onboarded', message: 'This organisation is not connected to Kluis.' });
    expect(await storedCounts()).toEqual(before);
    expect(await db.workspace.findUnique({ where: { tenantId: stranger } })).toBeNull();
    // The person sees why; the answer holds no details of Kluis or other tenants.
    expect(connector.messages()).toHaveLength(1);
    expect(cardText(connector.messages()[0]!.activity.attachments![0]!.content)).toMatch(/Kluis is not available for your organisation/);
    // The refusal is on record as a security event (there is no workspace to audit it in).
    const events = await db.securityEvent.findMany({ where: { tenantId: stranger } });
    expect(events.map((e) => [e.kind, e.outcome])).toEqual([['bot.tenant_refused', 'refused']]);
  });

  it('refuses a conversationUpdate from a tenant that is not onboarded without replying', async () => {
    const stranger = randomUUID();
    const response = await post(activity({ type: 'conversationUpdate', text: undefined, membersAdded: [{ id: 'bot-id' }], conversation: { id: 'c-y', tenantId: stranger }, channelData: { tenant: { id: stranger } } }));
    expect(response.status).toBe(403);
    expect(connector.replies).toHaveLength(0);
  });

  it('answers GET with 405 and unknown paths with 404', async () => {
    expect((await fetch(`${kluis.url}/api/messages`)).status).toBe(405);
    expect((await fetch(`${kluis.url}/api/nothing-here`)).status).toBe(404);
  });

  it('keeps serving after all of the above', async () => {
    const response = await fetch(`${kluis.url}/healthz`);
    expect(response.status).toBe(200);
  });
});

describe('health', () => {
  it('reports liveness and readiness of every store as JSON', async () => {
    expect(await (await fetch(`${kluis.url}/healthz`)).json()).toEqual({ status: 'ok' });
    const ready = await fetch(`${kluis.url}/readyz`);
    expect(ready.status).toBe(200);
    const body = (await ready.json()) as { status: string; checks: Record<string, { ok: boolean }> };
    expect(body.status).toBe('ready');
    expect(Object.keys(body.checks).sort()).toEqual(['accepting', 'blobs', 'database', 'index']);
    expect(Object.values(body.checks).every((c) => c.ok)).toBe(true);
  });

  it('sends security headers', async () => {
    const response = await fetch(`${kluis.url}/healthz`);
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    expect(response.headers.get('x-powered-by')).toBeNull();
  });
});
