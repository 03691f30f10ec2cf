/**
 * POST /api/chat over real HTTP: the Server-Sent Events contract (status, delta, done | error),
 * validation at the door, authentication, and conversations scoped to their user.
 */
import { randomUUID } from 'node:crypto';
import { startFakeEntraIssuer, type FakeEntraIssuer } from '../fakes/entraIssuer';
import { openTestDatabase } from '../support/database';
import { startTestKluis } from '../support/kluis';

const tenantA = randomUUID();
const tenantB = randomUUID();
const db = openTestDatabase();
let issuer: FakeEntraIssuer;
let kluis: Awaited<ReturnType<typeof startTestKluis>>;

const token = (tid: string, oid: string) => issuer.bearerFor(tid, oid, ['Kluis.User']);

interface SseEvent {
  event: string;
  data: Record<string, unknown>;
}

/** Parses a text/event-stream body as the EventSource spec reads it (event + data lines, blank line ends). */
function parseSse(text: string): SseEvent[] {
  return text
    .split('\n\n')
    .filter((block) => block.trim())
    .map((block) => {
      let event = 'message';
      const data: string[] = [];
      for (const line of block.split('\n')) {
        if (line.startsWith('event: ')) event = line.slice(7);
        else if (line.startsWith('data: ')) data.push(line.slice(6));
      }
      return { event, data: JSON.parse(data.join('\n')) as Record<string, unknown> };
    });
}

async function chat(body: unknown, bearer?: string, headers: Record<string, string> = {}) {
  const response = await fetch(`${kluis.url}/api/chat`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(bearer ? { authorization: `Bearer ${bearer}` } : {}), ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await response.text();
  const type = response.headers.get('content-type') ?? '';
  return { status: response.status, type, events: type.startsWith('text/event-stream') ? parseSse(text) : [], json: type.startsWith('application/json') ? JSON.parse(text) : undefined };
}

async function me(bearer: string): Promise<{ workspaceId: string; userId: string }> {
  return (await (await fetch(`${kluis.url}/api/me`, { headers: { authorization: `Bearer ${bearer}` } })).json()) as { workspaceId: string; userId: string };
}

beforeAll(async () => {
  issuer = await startFakeEntraIssuer();
  kluis = await startTestKluis({
    LOCAL_TENANT_ID: randomUUID(),
    ONBOARD_TENANTS: `${tenantA}=Contoso,${tenantB}=Fabrikam`,
    ...issuer.kluisSettings(),
    KNOWLEDGE_DIR: 'demo/knowledge',
    KNOWLEDGE_TENANT_ID: tenantA,
  });
}, 60000);

afterAll(async () => {
  await kluis?.stop();
  await issuer?.close();
  await db.workspace.deleteMany({ where: { tenantId: { in: [tenantA, tenantB] } } });
  await db.$disconnect();
});

type ChatEventOf = { event: string; data: Record<string, unknown> };
/** Statuses first, then at least one delta, then one done; the deltas add up to the final text. */
function expectStreamShape(events: ChatEventOf[]) {
  const names = events.map((e) => e.event).join(' ');
  expect(names).toMatch(/^(status )+(delta )+done$/);
  const done = events.at(-1)!;
  expect(events.filter((e) => e.event === 'delta').map((e) => String(e.data.text)).join('')).toBe(done.data.text);
  return done;
}

describe('POST /api/chat', () => {
  it('streams status, delta and done with the cited answer', async () => {
    const r = await chat({ message: 'Who approves a business trip outside Europe?', channel: 'tab', conversationId: randomUUID() }, await token(tenantA, randomUUID()));
    expect(r.status).toBe(200);
    expect(r.type).toMatch(/^text\/event-stream/);
    const done = expectStreamShape(r.events as ChatEventOf[]).data as { text: string; citations: Array<{ title: string; sourceRef: string }>; nothingFound: boolean; provider: string };
    expect(r.events.map((e) => e.data.text)).toContain('Searching your documents…');
    expect(done.nothingFound).toBe(false);
    expect(done.citations.length).toBeGreaterThan(0);
    expect(done.citations.map((c) => c.sourceRef)).toContain('travel-policy.txt');
  });

  it('says "nothing found" for a workspace without documents, still as a done event', async () => {
    const r = await chat({ message: 'Who approves a business trip outside Europe?', channel: 'tab' }, await token(tenantB, randomUUID()));
    const done = expectStreamShape(r.events as ChatEventOf[]);
    expect(done.data).toMatchObject({ nothingFound: true, citations: [] });
    expect(typeof done.data.conversationId).toBe('string');
  });

  it('summarises a shared e-mail for the Outlook add-in', async () => {
    const mail = { subject: 'Trip to Lyon', body: 'Hi, can I take the train to Lyon next week for the client workshop? Regards, An' };
    const r = await chat({ message: 'Summarise', channel: 'outlook', task: 'summarise', mail }, await token(tenantA, randomUUID()));
    const done = expectStreamShape(r.events as ChatEventOf[]);
    expect(String(done.data.text)).toContain('Lyon');
  });

  it('refuses an unauthenticated call with 401 and a forged token with 401', async () => {
    const none = await chat({ message: 'hello', channel: 'tab' });
    expect(none.status).toBe(401);
    expect(none.json.error.id).toBe('unauthenticated');
    const forged = await chat({ message: 'hello', channel: 'tab' }, 'eyJhbGciOiJub25lIn0.eyJ0aWQiOiJ4In0.');
    expect(forged.status).toBe(401);
  });

  it.each([
    ['an empty message', { message: '', channel: 'tab' }],
    ['an oversized message', { message: 'x'.repeat(4001), channel: 'tab' }],
    ['an unknown channel', { message: 'hi', channel: 'msteams' }],
    ['an unknown field (mass assignment)', { message: 'hi', channel: 'tab', userId: randomUUID() }],
    ['an unknown mail field', { message: 'hi', channel: 'outlook', task: 'summarise', mail: { subject: 's', body: 'b', to: 'x@example.com' } }],
    ['an oversized mail body', { message: 'hi', channel: 'outlook', task: 'summarise', mail: { subject: 's', body: 'x'.repeat(50_001) } }],
    ['an oversized subject', { message: 'hi', channel: 'outlook', task: 'summarise', mail: { subject: 's'.repeat(301), body: 'b' } }],
    ['a summary without the e-mail', { message: 'hi', channel: 'outlook', task: 'summarise' }],
    ['a hostile conversation id', { message: 'hi', channel: 'tab', conversationId: '../other:user' }],
    ['a message that is not a string', { message: { $ne: '' }, channel: 'tab' }],
  ])('refuses %s with 400 before any stream starts', async (_name, body) => {
    const r = await chat(body, await token(tenantA, randomUUID()));
    expect(r.status).toBe(400);
    expect(r.json.error.id).toBe('request_malformed');
  });

  it('refuses a body that is not JSON (415), broken JSON (400) or a body over the limit (413)', async () => {
    const bearer = await token(tenantA, randomUUID());
    expect((await chat('message=hi', bearer, { 'content-type': 'application/x-www-form-urlencoded' })).status).toBe(415);
    expect((await chat('{"message":', bearer)).status).toBe(400);
    const huge = await chat({ message: 'hi', channel: 'outlook', task: 'summarise', mail: { subject: 's', body: 'x'.repeat(300 * 1024) } }, bearer);
    expect(huge.status).toBe(413);
    expect(huge.json.error.id).toBe('request_too_large');
  });

  it('takes a 50,000-character e-mail in multi-byte script (over the 64 KiB of other API bodies)', async () => {
    const body = 'é€'.repeat(25_000);
    const r = await chat({ message: 'Summarise', channel: 'outlook', task: 'summarise', mail: { subject: 'Lange mail', body } }, await token(tenantA, randomUUID()));
    expect(r.status).toBe(200);
    expect(r.events.at(-1)!.event).toBe('done');
  });

  it('keeps two users who pick the same conversation id apart', async () => {
    const alice = randomUUID();
    const bob = randomUUID();
    const shared = 'same-id-for-both';
    await chat({ message: 'Who approves a business trip outside Europe?', channel: 'tab', conversationId: shared }, await token(tenantA, alice));
    await chat({ message: 'How many home-working days are allowed?', channel: 'tab', conversationId: shared }, await token(tenantA, bob));
    const a = await me(await token(tenantA, alice));
    const b = await me(await token(tenantA, bob));
    expect(a.userId).not.toBe(b.userId);
    const conversations = await db.conversation.findMany({ where: { workspaceId: a.workspaceId, userId: { in: [a.userId, b.userId] } }, include: { messages: true } });
    expect(conversations).toHaveLength(2);
    for (const c of conversations) {
      expect(c.externalId).toBe(`tab:${c.userId}:${shared}`);
      expect(new Set(c.messages.map((m) => m.authorUserId))).toEqual(new Set([c.userId]));
    }
    // Bob's list shows only his conversation.
    const list = (await fetch(`${kluis.url}/api/conversations`, { headers: { authorization: `Bearer ${await token(tenantA, bob)}` } }).then((r) => r.json())) as { conversations: unknown[] };
    expect(list.conversations).toHaveLength(1);
  });

  it('continues a conversation under the same id for the same user', async () => {
    const oid = randomUUID();
    const id = randomUUID();
    await chat({ message: 'Who approves a business trip outside Europe?', channel: 'tab', conversationId: id }, await token(tenantA, oid));
    await chat({ message: 'And within the Benelux?', channel: 'tab', conversationId: id }, await token(tenantA, oid));
    const caller = await me(await token(tenantA, oid));
    const conversations = await db.conversation.findMany({ where: { workspaceId: caller.workspaceId, userId: caller.userId }, include: { messages: true } });
    expect(conversations).toHaveLength(1);
    expect(conversations[0]!.messages).toHaveLength(4);
  });

  it('reports a failing pipeline as an error event, not as a broken stream', async () => {
    // The pipeline fails with an unexpected error after the stream has started: the client gets
    // the catalogued `internal` error event, never the detail.
    const bearer = await token(tenantB, randomUUID());
    const spy = jest.spyOn(kluis.modules.assistant, 'answer').mockRejectedValueOnce(new Error('boom: secret detail'));
    try {
      const r = await chat({ message: 'hello', channel: 'tab' }, bearer);
      expect(r.status).toBe(200);
      // The pipeline failed before it reported any progress.
      expect(r.events.map((e) => e.event)).toEqual(['error']);
      expect(r.events[0]!.data).toEqual({ id: 'internal', message: 'Internal error.' });
      expect(JSON.stringify(r.events)).not.toContain('boom');
    } finally {
      spy.mockRestore();
    }
  });

  it('lets the owner delete a conversation (audited, without content) and nobody else', async () => {
    const owner = await token(tenantA, randomUUID());
    const other = await token(tenantA, randomUUID());
    const foreign = await token(tenantB, randomUUID());
    await chat({ message: 'Who approves a business trip outside Europe?', channel: 'tab', conversationId: randomUUID() }, owner);
    const list = (await (await fetch(`${kluis.url}/api/conversations`, { headers: { authorization: `Bearer ${owner}` } })).json()) as { conversations: Array<{ id: string }> };
    const id = list.conversations[0]!.id;
    // Every write is JSON (the API's CSRF rule), even when it carries nothing.
    const del = (bearer: string, target = id) => fetch(`${kluis.url}/api/conversations/${target}`, { method: 'DELETE', headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json' }, body: '{}' });
    expect((await del(other)).status).toBe(404);
    expect((await del(foreign)).status).toBe(404);
    expect((await del(owner, '..%2F..%2Fme')).status).toBe(404);
    expect((await fetch(`${kluis.url}/api/conversations/${id}`, { method: 'DELETE', headers: { 'content-type': 'application/json' }, body: '{}' })).status).toBe(401);
    // A form post cannot delete (no JSON, no write).
    expect((await fetch(`${kluis.url}/api/conversations/${id}`, { method: 'DELETE', headers: { authorization: `Bearer ${owner}`, 'content-type': 'application/x-www-form-urlencoded' }, body: 'x=1' })).status).toBe(415);
    expect((await fetch(`${kluis.url}/api/conversations/${id}`, { headers: { authorization: `Bearer ${owner}` } })).status).toBe(200);
    expect((await del(owner)).status).toBe(204);
    expect((await fetch(`${kluis.url}/api/conversations/${id}`, { headers: { authorization: `Bearer ${owner}` } })).status).toBe(404);
    expect((await del(owner)).status).toBe(404);
    const caller = await me(owner);
    expect(await db.message.count({ where: { workspaceId: caller.workspaceId, conversationId: id } })).toBe(0);
    const events = await db.auditEvent.findMany({ where: { workspaceId: caller.workspaceId, actorUserId: caller.userId, kind: 'conversation.deleted' } });
    expect(events).toHaveLength(1);
    expect(events[0]!.detail).toEqual({ channel: 'tab', messages: 2 });
  });
});
