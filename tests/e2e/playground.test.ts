/**
 * End to end, as a person would use it: Kluis in local mode on its embedded index with the demo
 * documents, the real Microsoft 365 Agents Playground as the Teams client, and headless Chromium
 * typing into its chat. Requires Debian's Chromium (/usr/bin/chromium; .ci/run installs it).
 */
import { PLAYGROUND_TENANT_ID } from '../../api/config';
import { openTestDatabase } from '../support/database';
import { startTestKluis } from '../support/kluis';
import { openPlaygroundChat, startPlayground, type PlaygroundChat, type RunningPlayground } from './playground';

jest.setTimeout(120000);

let kluis: Awaited<ReturnType<typeof startTestKluis>>;
let playground: RunningPlayground;
let chat: PlaygroundChat;
const db = openTestDatabase();

beforeAll(async () => {
  kluis = await startTestKluis({ LOCAL_TENANT_ID: PLAYGROUND_TENANT_ID, KNOWLEDGE_DIR: 'demo/knowledge' });
  playground = await startPlayground({ botEndpoint: `${kluis.url}/api/messages` });
  chat = await openPlaygroundChat(playground.url);
});

afterAll(async () => {
  if (chat && process.env.KLUIS_E2E_SCREENSHOT) await chat.screenshot(process.env.KLUIS_E2E_SCREENSHOT);
  await chat?.close();
  await playground?.stop();
  await kluis?.stop();
  await db.workspace.deleteMany({ where: { tenantId: PLAYGROUND_TENANT_ID } });
  await db.$disconnect();
});

describe('Kluis in the Agents Playground', () => {
  it('welcomes the user when the chat opens', async () => {
    const messages = await chat.botMessages();
    expect(messages.join('\n')).toMatch(/Welcome to Kluis/);
  });

  it('answers a question from the demo documents with the passage and its source', async () => {
    await chat.send('What is the maximum hotel rate per night in London on a business trip?');
    const reply = await chat.waitForBotMessage(/Sources/, 30000);
    expect(reply).toContain('EUR 185 per night');
    expect(reply).toMatch(/BUSINESS TRAVEL POLICY/i);
    expect(reply).toContain('travel-policy.txt');
  });

  it('answers a Dutch question in Dutch from a Word document', async () => {
    await chat.send('Hoeveel bedraagt de thuiswerkvergoeding per maand?');
    const reply = await chat.waitForBotMessage(/Bronnen/, 30000);
    expect(reply).toContain('129,50 euro per maand');
    expect(reply).toContain('thuiswerkbeleid.docx');
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
      'Hoeveel bedraagt de thuiswerkvergoeding per maand?',
      'What is on the menu of the company canteen on Mars this Friday?',
    ]);
    expect(messages.filter((m) => m.role === 'assistant')).toHaveLength(3);
  });
});
