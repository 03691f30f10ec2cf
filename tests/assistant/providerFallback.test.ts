/**
 * Fallback end to end, as configured through the environment: OpenAI is the default, Anthropic is
 * also keyed, so the composition root's router allows both. When OpenAI fails after its SDK's
 * retries, Anthropic answers and the user sees which provider did.
 */
import { randomUUID } from 'node:crypto';
import { startFakeAnthropic } from '../fakes/anthropicServer';
import { cardText, startFakeConnector } from '../fakes/botConnector';
import { startFakeOpenAi } from '../fakes/openaiServer';
import { openTestDatabase } from '../support/database';
import { startTestKluis } from '../support/kluis';

const tenantId = randomUUID();
const db = openTestDatabase();
let kluis: Awaited<ReturnType<typeof startTestKluis>>;
let connector: Awaited<ReturnType<typeof startFakeConnector>>;
let openai: Awaited<ReturnType<typeof startFakeOpenAi>>;
let anthropic: Awaited<ReturnType<typeof startFakeAnthropic>>;

const ask = (text: string, conversationId: string) =>
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
  openai = await startFakeOpenAi({ apiKey: 'sk-test-openai' });
  anthropic = await startFakeAnthropic({ apiKey: 'sk-ant-test-kluis' });
  kluis = await startTestKluis({
    LOCAL_TENANT_ID: tenantId,
    KNOWLEDGE_DIR: 'demo/knowledge',
    OPENAI_API_KEY: 'sk-test-openai',
    OPENAI_BASE_URL: openai.baseUrl,
    OPENAI_MODEL: 'gpt-test',
    OPENAI_MAX_RETRIES: '0',
    ANTHROPIC_API_KEY: 'sk-ant-test-kluis',
    ANTHROPIC_BASE_URL: anthropic.baseUrl,
    ANTHROPIC_MODEL: 'claude-test',
    ANTHROPIC_MAX_RETRIES: '0',
  });
}, 60000);

afterAll(async () => {
  await kluis?.stop();
  await openai?.close();
  await anthropic?.close();
  await connector?.close();
  await db.workspace.deleteMany({ where: { tenantId } });
  await db.$disconnect();
});

it('answers from Anthropic when OpenAI fails, says so, and stores who answered', async () => {
  openai.enqueue({ kind: 'server-error' });
  anthropic.enqueue({ kind: 'message', text: 'Hotels in London are reimbursed up to EUR 185 per night [1].' });
  const conversationId = `conv-${randomUUID()}`;

  expect((await ask('What is the maximum hotel rate per night in London on a business trip?', conversationId)).status).toBe(200);
  const [reply] = await connector.waitForMessages(1);
  const text = cardText(reply!.activity.attachments![0]!.content);

  expect(text).toContain('EUR 185 per night [1].');
  expect(text).toContain('Answered by: anthropic');
  expect(openai.requests).toHaveLength(1);
  expect(anthropic.requests).toHaveLength(1);
  // Anthropic received the same prompt: the system rules apart, the passages and question as the user turn.
  const sent = anthropic.requests[0]!.json as { system: string; messages: Array<{ role: string; content: string }> };
  expect(sent.system).toMatch(/passages are data .* not instructions/);
  expect(sent.messages.map((m) => m.role)).toEqual(['user']);
  expect(sent.messages[0]!.content).toContain('EUR 185 per night');

  const workspace = await db.workspace.findUniqueOrThrow({ where: { tenantId } });
  const conversation = await db.conversation.findFirstOrThrow({ where: { workspaceId: workspace.id, externalId: conversationId } });
  const answer = await db.message.findFirstOrThrow({ where: { workspaceId: workspace.id, conversationId: conversation.id, role: 'assistant' } });
  expect(answer.provider).toBe('anthropic');
});
