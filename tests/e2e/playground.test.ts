/**
 * End to end, as a person would use it: Kluis in local mode on its embedded index with the demo
 * documents, the real Microsoft 365 Agents Playground as the Teams client (a personal chat, so
 * answers stream), and headless Chromium typing into its chat. The language model is a local
 * server speaking OpenAI's wire format. Requires Debian's Chromium (/usr/bin/chromium; .ci/run
 * installs it).
 */
import { PLAYGROUND_TENANT_ID } from '../../api/config';
import { startFakeOpenAi, type FakeOpenAi } from '../fakes/openaiServer';
import { openTestDatabase } from '../support/database';
import { startTestKluis } from '../support/kluis';
import { openPlaygroundChat, startPlayground, type PlaygroundChat, type RunningPlayground } from './playground';

jest.setTimeout(120000);

let kluis: Awaited<ReturnType<typeof startTestKluis>>;
let playground: RunningPlayground;
let chat: PlaygroundChat;
let openai: FakeOpenAi;
const db = openTestDatabase();

/** What the model answers, by what the user asked last (the prompt ends with the question). */
function modelAnswer(body: { messages: Array<{ role: string; content: string }> }): string {
  const question = (body.messages.at(-1)?.content ?? '').split('Question:').at(-1)!;
  if (/thuiswerkvergoeding/.test(question)) return 'De thuiswerkvergoeding bedraagt 129,50 euro per maand [1].';
  if (/Paris/.test(question)) return 'In Paris the same travel policy applies to hotel stays [1].';
  return 'Hotels in London are reimbursed up to EUR 185 per night [1].';
}

beforeAll(async () => {
  openai = await startFakeOpenAi({ apiKey: 'sk-test-kluis' });
  openai.setDefault(modelAnswer);
  kluis = await startTestKluis({ LOCAL_TENANT_ID: PLAYGROUND_TENANT_ID, KNOWLEDGE_DIR: 'demo/knowledge', ASSISTANT_PROVIDER: 'openai', OPENAI_API_KEY: 'sk-test-kluis', OPENAI_BASE_URL: openai.baseUrl, OPENAI_MODEL: 'gpt-test', OPENAI_MAX_RETRIES: '0' });
  playground = await startPlayground({ botEndpoint: `${kluis.url}/api/messages` });
  chat = await openPlaygroundChat(playground.url);
});

afterAll(async () => {
  if (chat && process.env.KLUIS_E2E_SCREENSHOT) await chat.screenshot(process.env.KLUIS_E2E_SCREENSHOT);
  await chat?.close();
  await playground?.stop();
  await kluis?.stop();
  await openai?.close();
  await db.workspace.deleteMany({ where: { tenantId: PLAYGROUND_TENANT_ID } });
  await db.$disconnect();
});

describe('Kluis in the Agents Playground', () => {
  it('welcomes the user when the chat opens', async () => {
    const messages = await chat.botMessages();
    expect(messages.join('\n')).toMatch(/Welcome to Kluis/);
  });

  it('streams an answer from the demo documents with its citation', async () => {
    await chat.send('What is the maximum hotel rate per night in London on a business trip?');
    const reply = await chat.waitForBotMessage(/Answered by/, 30000);
    expect(reply).toContain('EUR 185 per night');
    expect(reply).toContain('Answered by: openai (gpt-test)');
    // Teams' own rendering: the [1] becomes a citation, the message carries the AI label and feedback buttons.
    const page = chat.page;
    const answer = page.locator('.fai-OutputCard').last();
    expect(await answer.locator('.fai-Citation').allInnerTexts()).toEqual(['1']);
    expect(await page.locator('.fai-AiGeneratedDisclaimer').count()).toBeGreaterThan(0);
    expect(await page.getByRole('button', { name: 'Like' }).count()).toBeGreaterThan(0);
  });

  it('answers a follow-up with the first turn in the prompt', async () => {
    await chat.send('And in Paris?');
    const reply = await chat.waitForBotMessage(/Answered by/, 30000);
    expect(reply).toContain('In Paris the same travel policy applies');
    const prompt = JSON.stringify(openai.requests.at(-1)!.body.messages);
    expect(prompt).toContain('What is the maximum hotel rate per night in London on a business trip?');
    expect(prompt).toContain('Hotels in London are reimbursed up to EUR 185 per night [1].');
  });

  it('answers a Dutch question in Dutch from a Word document', async () => {
    await chat.send('Hoeveel bedraagt de thuiswerkvergoeding per maand?');
    const reply = await chat.waitForBotMessage(/Beantwoord door/, 30000);
    expect(reply).toContain('129,50 euro per maand');
  });

  it('says honestly that nothing was found for a question the documents do not answer', async () => {
    await chat.send('What is on the menu of the company canteen on Mars this Friday?');
    const reply = await chat.waitForBotMessage(/couldn't find anything/, 30000);
    expect(reply).not.toMatch(/Sources/);
  });

  it('stored the conversation under the playground tenant\'s workspace', async () => {
    const workspace = await db.workspace.findUniqueOrThrow({ where: { tenantId: PLAYGROUND_TENANT_ID } });
    const messages = await db.message.findMany({ where: { workspaceId: workspace.id }, orderBy: { createdAt: 'asc' }, select: { role: true, text: true } });
    expect(messages.filter((m) => m.role === 'user').map((m) => m.text)).toEqual([
      'What is the maximum hotel rate per night in London on a business trip?',
      'And in Paris?',
      'Hoeveel bedraagt de thuiswerkvergoeding per maand?',
      'What is on the menu of the company canteen on Mars this Friday?',
    ]);
    expect(messages.filter((m) => m.role === 'assistant')).toHaveLength(4);
  });
});
