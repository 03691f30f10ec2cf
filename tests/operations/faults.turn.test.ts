/**
 * A question asked while a store stops: the database (a private MariaDB server, really stopped and
 * started again on the same port), the search index (an outage switch on the index port: LanceDB
 * runs inside Kluis and has no server to stop; see tests/support/faults.ts) and the blob store
 * (s3rver speaking the S3 protocol, really stopped), through POST /api/chat of a running Kluis.
 *
 * The conversation invariant (api/assistant/assistant.ts): the question is stored first, the answer
 * only after the whole answer exists, and the channel reports `done` only after both are stored. A
 * question whose answer could not be stored stays on record as a question without an answer;
 * memory (`turnsOf`) leaves it out, so the next turn's prompt never carries it. An answer is never
 * stored without its question before it, and the user is never told `done` of an answer that is
 * not on record.
 *
 * The blob store plays no part in answering a question (only /image and uploads write blobs), so a
 * blob outage mid-turn has no effect to check; it is checked on /readyz here and on uploads and
 * erasures in the other fault tests.
 */
import { randomUUID } from 'node:crypto';
import { createDatabase, type Database } from '../../api/db/client';
import { startFakeEntraIssuer, type FakeEntraIssuer } from '../fakes/entraIssuer';
import { startFakeOpenAi, type FakeOpenAi } from '../fakes/openaiServer';
import { injectIndexFault, readiness, startStoppableMariadb, startStoppableS3, waitUntilReady, type IndexFault, type StoppableMariadb, type StoppableS3 } from '../support/faults';
import { startTestKluis } from '../support/kluis';

jest.setTimeout(180_000);

const tenant = randomUUID();
let issuer: FakeEntraIssuer;
let openai: FakeOpenAi;
let mariadb: StoppableMariadb;
let s3: StoppableS3;
let db: Database;
let kluis: Awaited<ReturnType<typeof startTestKluis>>;
let indexFault: IndexFault;

interface SseEvent {
  event: string;
  data: Record<string, unknown>;
}

interface ChatResult {
  status: number;
  events: SseEvent[];
  json?: { error?: { id: string; message: string } };
}

const QUESTION = 'Who approves a business trip outside Europe?';
const SLOW_ANSWER = 'A business trip outside Europe needs the approval of the director before anything is booked [1]. Book through the travel desk.';

const token = (oid: string) => issuer.issueAccessToken({ tid: tenant, oid, iss: `${issuer.authorityHost}/${tenant}/v2.0`, aud: issuer.clientId, roles: ['Kluis.User'] });

/** POST /api/chat, reading the event stream as it arrives; `onFirstDelta` runs when the first answer text is in. */
async function chat(bearer: string, body: Record<string, unknown>, onFirstDelta?: () => Promise<void>): Promise<ChatResult> {
  const response = await fetch(`${kluis.url}/api/chat`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${bearer}` }, body: JSON.stringify({ channel: 'tab', ...body }) });
  if (!(response.headers.get('content-type') ?? '').startsWith('text/event-stream')) return { status: response.status, events: [], json: (await response.json()) as ChatResult['json'] };
  const events: SseEvent[] = [];
  const decoder = new TextDecoder();
  let buffer = '';
  let hooked = false;
  for await (const bytes of response.body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(bytes, { stream: true });
    let end: number;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const event = /^event: (.*)$/m.exec(block)?.[1] ?? 'message';
      const data = JSON.parse(/^data: (.*)$/m.exec(block)?.[1] ?? '{}') as Record<string, unknown>;
      events.push({ event, data });
      if (event === 'delta' && !hooked && onFirstDelta) {
        hooked = true;
        await onFirstDelta();
      }
    }
  }
  return { status: response.status, events };
}

async function messagesOf(workspaceId: string, userId: string) {
  const conversations = await db.conversation.findMany({ where: { workspaceId, userId }, select: { id: true } });
  return db.message.findMany({ where: { workspaceId, conversationId: { in: conversations.map((c) => c.id) } }, orderBy: [{ createdAt: 'asc' }, { role: 'desc' }], select: { role: true, text: true, authorUserId: true } });
}

/** No answer without the question of the same person right before it. */
function expectEveryAnswerAfterItsQuestion(messages: Array<{ role: string; authorUserId: string | null }>) {
  messages.forEach((m, i) => {
    if (m.role !== 'assistant') return;
    expect(messages[i - 1]).toMatchObject({ role: 'user', authorUserId: m.authorUserId });
  });
}

async function me(bearer: string): Promise<{ workspaceId: string; userId: string }> {
  return (await (await fetch(`${kluis.url}/api/me`, { headers: { authorization: `Bearer ${bearer}` } })).json()) as { workspaceId: string; userId: string };
}

beforeAll(async () => {
  [issuer, openai, mariadb, s3] = await Promise.all([startFakeEntraIssuer(), startFakeOpenAi(), startStoppableMariadb(), startStoppableS3()]);
  db = createDatabase(mariadb.url, 2);
  kluis = await startTestKluis({
    DATABASE_URL: mariadb.url,
    LOCAL_TENANT_ID: randomUUID(),
    ONBOARD_TENANTS: `${tenant}=Contoso`,
    ENTRA_CLIENT_ID: issuer.clientId,
    ENTRA_API_URI: `api://kluis.example/${issuer.clientId}`,
    ENTRA_AUTHORITY_HOST: issuer.authorityHost,
    KNOWLEDGE_DIR: 'demo/knowledge',
    KNOWLEDGE_TENANT_ID: tenant,
    OPENAI_API_KEY: openai.apiKey,
    OPENAI_BASE_URL: openai.baseUrl,
    ...s3.env,
  });
  indexFault = injectIndexFault(kluis.modules.index);
}, 180_000);

afterAll(async () => {
  indexFault?.up();
  await mariadb?.start();
  await kluis?.stop();
  await db?.$disconnect();
  await Promise.all([mariadb?.close(), s3?.close(), issuer?.close(), openai?.close()]);
});

describe('the database stops in the middle of a turn', () => {
  it('tells the user the store is unavailable, keeps no answer it could not deliver, and answers again after the restart', async () => {
    const bearer = await token(randomUUID());
    const { workspaceId, userId } = await me(bearer);
    const conversationId = randomUUID();
    const requestsBefore = openai.requests.length;

    // The model writes slowly; the database stops after the passages were found and the first words
    // streamed, before the answer is stored.
    openai.enqueue({ kind: 'completion', content: SLOW_ANSWER, chunkDelayMs: 300 });
    const broken = await chat(bearer, { message: QUESTION, conversationId }, () => mariadb.stop());
    expect(broken.status).toBe(200);
    expect(broken.events.some((e) => e.event === 'delta')).toBe(true);
    expect(broken.events.map((e) => e.event)).not.toContain('done');
    expect(broken.events.at(-1)).toEqual({ event: 'error', data: { id: 'store_unavailable', message: 'A data store is unavailable.' } });

    // While it is down, a new question is turned away at the door with the same catalogued error.
    const refused = await chat(bearer, { message: QUESTION, conversationId });
    expect(refused.status).toBe(503);
    expect(refused.json).toEqual({ error: { id: 'store_unavailable', message: 'A data store is unavailable.' } });

    const down = await readiness(kluis.url);
    expect(down.status).toBe(503);
    expect(down.checks).toMatchObject({ database: { ok: false }, index: { ok: true }, blobs: { ok: true } });

    await mariadb.start();
    const up = await waitUntilReady(kluis.url);
    expect(up.status).toBe(200);
    expect(up.checks).toMatchObject({ database: { ok: true }, index: { ok: true }, blobs: { ok: true } });

    const followUp = 'And who approves a trip inside Europe?';
    const again = await chat(bearer, { message: followUp, conversationId });
    expect(again.events.at(-1)?.event).toBe('done');
    expect(again.events.at(-1)?.data).toMatchObject({ nothingFound: false, provider: 'openai' });

    // On record: the unanswered question, then the new question and its answer.
    const messages = await messagesOf(workspaceId, userId);
    expect(messages.map((m) => [m.role, m.text])).toEqual([
      ['user', QUESTION],
      ['user', followUp],
      ['assistant', again.events.at(-1)!.data.text],
    ]);
    expectEveryAnswerAfterItsQuestion(messages);
    // The unanswered question is no turn of the memory: the follow-up's prompt is the system
    // prompt and the new question only, and the half-streamed answer is nowhere in it.
    expect(openai.requests.length - requestsBefore).toBe(2);
    const followUpPrompt = openai.requests[requestsBefore + 1]!.body.messages as Array<{ role: string; content: string }>;
    expect(followUpPrompt.map((m) => m.role)).toEqual(['system', 'user']);
    expect(JSON.stringify(followUpPrompt)).not.toContain('approval of the director');
  });
});

describe('the search index fails in the middle of a turn', () => {
  it('says the store is unavailable rather than "nothing found", and answers again once the index is back', async () => {
    const bearer = await token(randomUUID());
    const { workspaceId, userId } = await me(bearer);
    const conversationId = randomUUID();
    const requestsBefore = openai.requests.length;

    // The question is stored, then retrieval hits the outage.
    indexFault.downAt('search', 1);
    const broken = await chat(bearer, { message: QUESTION, conversationId });
    expect(broken.status).toBe(200);
    expect(broken.events.at(-1)).toEqual({ event: 'error', data: { id: 'store_unavailable', message: 'A data store is unavailable.' } });
    // No guess and no "I found nothing" while the documents cannot be read: the model was not called.
    expect(broken.events.map((e) => e.event)).not.toContain('delta');
    expect(openai.requests.length).toBe(requestsBefore);

    const down = await readiness(kluis.url);
    expect(down.status).toBe(503);
    expect(down.checks).toMatchObject({ database: { ok: true }, index: { ok: false }, blobs: { ok: true } });

    indexFault.up();
    expect((await waitUntilReady(kluis.url)).status).toBe(200);

    const again = await chat(bearer, { message: QUESTION, conversationId });
    expect(again.events.at(-1)?.event).toBe('done');
    expect((again.events.at(-1)?.data.citations as unknown[]).length).toBeGreaterThan(0);

    const messages = await messagesOf(workspaceId, userId);
    expect(messages.map((m) => m.role)).toEqual(['user', 'user', 'assistant']);
    expectEveryAnswerAfterItsQuestion(messages);
  });
});

describe('the search index hangs', () => {
  it('/readyz still answers, 503 with the index down, and 200 once the index answers again', async () => {
    indexFault.hang();
    const down = await readiness(kluis.url);
    expect(down.status).toBe(503);
    expect(down.checks).toMatchObject({ database: { ok: true }, index: { ok: false }, blobs: { ok: true } });
    indexFault.up();
    expect((await waitUntilReady(kluis.url)).status).toBe(200);
  });
});

describe('the blob store stops', () => {
  it('shows on /readyz until the store is back, and questions are answered throughout', async () => {
    await s3.stop();
    const down = await readiness(kluis.url);
    expect(down.status).toBe(503);
    expect(down.checks).toMatchObject({ database: { ok: true }, index: { ok: true }, blobs: { ok: false } });

    // Answering needs no blob: it goes on while the blob store is down.
    const bearer = await token(randomUUID());
    const answered = await chat(bearer, { message: QUESTION, conversationId: randomUUID() });
    expect(answered.events.at(-1)?.event).toBe('done');

    await s3.start();
    const up = await waitUntilReady(kluis.url);
    expect(up.status).toBe(200);
    expect(up.checks).toMatchObject({ blobs: { ok: true } });
  });
});
