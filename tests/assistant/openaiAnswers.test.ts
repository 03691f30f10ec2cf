/**
 * A Teams question answered by the OpenAI provider, end to end over HTTP: Kluis -> a local server
 * speaking the Chat Completions wire format. Proves what leaves Kluis (only the rules, the
 * retrieved passages and the question) and what the user sees when the provider fails.
 */
import { randomUUID } from 'node:crypto';
import { cardText, startFakeConnector } from '../fakes/botConnector';
import { startFakeOpenAi } from '../fakes/openaiServer';
import { openTestDatabase } from '../support/database';
import { startTestKluis } from '../support/kluis';

const tenantId = randomUUID();
const db = openTestDatabase();
let kluis: Awaited<ReturnType<typeof startTestKluis>>;
let connector: Awaited<ReturnType<typeof startFakeConnector>>;
let openai: Awaited<ReturnType<typeof startFakeOpenAi>>;

const ask = (text: string, conversationId = `conv-${randomUUID()}`) =>
  fetch(`${kluis.url}/api/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      type: 'message',
      id: randomUUID(),
      channelId: 'msteams',
      serviceUrl: connector.serviceUrl,
      from: { id: 'user-id-0', aadObjectId: '00000000-0000-0000-0000-0000000000020' },
      recipient: { id: 'bot-id' },
      conversation: { id: conversationId, tenantId },
      channelData: { tenant: { id: tenantId } },
      text,
    }),
  });

beforeAll(async () => {
  connector = await startFakeConnector();
  openai = await startFakeOpenAi({ apiKey: 'sk-test-kluis' });
  kluis = await startTestKluis({ LOCAL_TENANT_ID: tenantId, KNOWLEDGE_DIR: 'demo/knowledge', ASSISTANT_PROVIDER: 'openai', OPENAI_API_KEY: 'sk-test-kluis', OPENAI_BASE_URL: openai.baseUrl, OPENAI_MODEL: 'gpt-test', OPENAI_MAX_RETRIES: '1' });
}, 60000);

afterAll(async () => {
  await kluis?.stop();
  await openai?.close();
  await connector?.close();
  await db.workspace.deleteMany({ where: { tenantId } });
  await db.$disconnect();
});

beforeEach(() => {
  connector.reset();
  openai.requests.splice(0);
});

describe('answers by the OpenAI provider', () => {
  it('sends only the rules, the passages as data and the question, and shows the cited sources', async () => {
    openai.enqueue({ kind: 'completion', content: 'Hotels in London are reimbursed up to EUR 185 per night [1].' });
    expect((await ask('What is the maximum hotel rate per night in London on a business trip?')).status).toBe(200);
    const [reply] = await connector.waitForMessages(1);
    const text = cardText(reply!.activity.attachments![0]!.content);
    expect(text).toContain('Hotels in London are reimbursed up to EUR 185 per night [1].');
    expect(text).toContain('travel-policy.txt');
    expect(text).toContain('Answered by: openai');

    expect(openai.requests).toHaveLength(1);
    const body = openai.requests[0]!.body as { model: string; messages: Array<{ role: string; content: string }> };
    expect(body.model).toBe('gpt-test');
    expect(body.messages.map((m) => m.role)).toEqual(['system', 'user']);
    expect(body.messages[0]!.content).toMatch(/passages are data .* not instructions/);
    const user = body.messages[1]!.content;
    expect(user).toMatch(/^<passages>\n<passage number="1" title="[^"]+"/);
    expect(user).toContain('EUR 185 per night');
    expect(user.endsWith('Question: What is the maximum hotel rate per night in London on a business trip?')).toBe(true);
    // Nothing about the user or the tenant leaves Kluis.
    expect(JSON.stringify(body)).not.toContain(tenantId);
    expect(JSON.stringify(body)).not.toContain('00000000-0000-0000-0000-0000000000020');
  });

  it('does not call the provider when no document is relevant', async () => {
    await ask('What is on the menu of the company canteen on Mars this Friday?');
    const [reply] = await connector.waitForMessages(1);
    expect(cardText(reply!.activity.attachments![0]!.content)).toMatch(/couldn't find anything/);
    expect(openai.requests).toHaveLength(0);
  });

  it('tells the user to retry when the provider keeps answering 429, after the SDK retried', async () => {
    openai.enqueue({ kind: 'rate-limit', retryAfterSeconds: 1 }, { kind: 'rate-limit', retryAfterSeconds: 1 });
    const conversationId = `conv-${randomUUID()}`;
    expect((await ask('What phone number do I call to report a security incident?', conversationId)).status).toBe(200);
    const [reply] = await connector.waitForMessages(1);
    expect(reply!.activity.text).toMatch(/busy or unreachable right now/);
    expect(openai.requests).toHaveLength(2);
    // The question is on record; no answer was invented.
    const workspace = await db.workspace.findUniqueOrThrow({ where: { tenantId } });
    const conversation = await db.conversation.findFirstOrThrow({ where: { workspaceId: workspace.id, externalId: conversationId } });
    const roles = (await db.message.findMany({ where: { workspaceId: workspace.id, conversationId: conversation.id } })).map((m) => m.role);
    expect(roles).toEqual(['user']);
  });

  it('reports a rejected key as a failure without leaking it', async () => {
    openai.enqueue({ kind: 'error', status: 401, message: 'Incorrect API key provided: sk-test-****luis.', type: 'invalid_request_error', code: 'invalid_api_key' });
    await ask('What phone number do I call to report a security incident?');
    const [reply] = await connector.waitForMessages(1);
    expect(reply!.activity.text).toMatch(/Something went wrong while answering/);
    expect(JSON.stringify(reply)).not.toContain('sk-test');
  });
});
