/**
 * The answer pipeline with in-memory ports: streaming events, the stream guard, the budget stop
 * with its offline fallback, the e-mail tasks and the stored message id.
 */
import type { AuditEventInput } from '../audit/ports';
import { fail } from '../errors';
import type { Knowledge } from '../knowledge/knowledge';
import type { SearchHit } from '../knowledge/ports';
import type { Principal } from '../tenancy/principal';
import { createAssistant, type AssistantDeps } from './assistant';
import type { ChatProvider, ChatRequest, ChatResult, ConversationStore, StoredMessage } from './ports';
import { BASE_SYSTEM_PROMPT } from './prompt';
import { createExtractiveProvider } from './providers/extractiveProvider';
import type { UsageMeter } from './usage';

const principal: Principal = { workspaceId: 'ws-1', tenantId: 't-1', userId: 'u-1', roles: ['user'], authMethod: 'entra-token' };
const hit: SearchHit = { id: 'd1:0', documentId: 'd1', ordinal: 0, title: 'Travel policy.docx', sourceRef: 'travel.docx', text: 'Hotels in London are reimbursed up to EUR 185 per night.', language: 'en', score: 1, access: 'workspace' };

function memoryConversations(): ConversationStore & { stored: Array<{ role: string; text: string; id: string }> } {
  const stored: Array<{ role: string; text: string; id: string; authorUserId?: string; createdAt: Date }> = [];
  return {
    stored,
    openConversation: async () => ({ id: 'c-1' }),
    appendMessage: async (_w, _c, m) => {
      const id = `m-${stored.length + 1}`;
      stored.push({ id, role: m.role, text: m.text, authorUserId: m.authorUserId, createdAt: new Date() });
      return { id };
    },
    recentMessages: async (_w, _c, limit) => stored.slice(-limit).map((m) => ({ role: m.role, text: m.text, createdAt: m.createdAt, authorUserId: m.authorUserId }) as StoredMessage),
    setAside: async () => true,
    remove: async () => false,
    listForUser: async () => [],
    find: async () => undefined,
  };
}

function streamingProvider(chunks: string[], name = 'openai'): ChatProvider & { requests: ChatRequest[] } {
  const requests: ChatRequest[] = [];
  const result = (): ChatResult => ({ text: chunks.join(''), provider: name, model: 'm', usedPassages: [1] });
  return {
    name,
    requests,
    async complete(request) {
      requests.push(request);
      return result();
    },
    async *stream(request) {
      requests.push(request);
      for (const text of chunks) yield { type: 'text', text };
      yield { type: 'done', result: result() };
    },
  };
}

function setup(overrides: Partial<AssistantDeps> = {}, hits: SearchHit[] = [hit]) {
  const audit: AuditEventInput[] = [];
  const knowledge: Knowledge = { search: async () => hits };
  const conversations = memoryConversations();
  const assistant = createAssistant({ knowledge, provider: streamingProvider(['Hotels: ', 'EUR 185 ', 'per night [1].']), conversations, audit: { record: async (e) => void audit.push(e) }, topK: 4, ...overrides });
  return { assistant, audit, conversations };
}

const context = { channel: 'tab', conversationExternalId: 'x' };

describe('assistant.answer', () => {
  it('streams status and text to a streaming channel, and returns the stored message id', async () => {
    const { assistant, conversations } = setup();
    const status: string[] = [];
    const text: string[] = [];
    const answer = await assistant.answer(principal, 'What is the hotel rate in London?', context, { onStatus: (s) => status.push(s), onText: (t) => text.push(t) });
    expect(status).toEqual(['Searching your documents…', 'Writing the answer…']);
    expect(text.join('')).toBe('Hotels: EUR 185 per night [1].');
    expect(answer).toMatchObject({ text: 'Hotels: EUR 185 per night [1].', provider: 'openai', model: 'm', messageId: 'm-2' });
    expect(answer.citations.map((c) => c.documentId)).toEqual(['d1']);
    expect(conversations.stored.map((m) => m.role)).toEqual(['user', 'assistant']);
  });

  it('never streams a copied run of the system prompt and replaces the answer', async () => {
    const leak = `Sure: ${BASE_SYSTEM_PROMPT}`.match(/.{1,9}/g)!;
    const { assistant, audit } = setup({ provider: streamingProvider(leak) });
    const shown: string[] = [];
    const answer = await assistant.answer(principal, 'What is the hotel rate in London?', context, { onText: (t) => shown.push(t) });
    expect(answer.replaced).toBe(true);
    expect(answer.text).toMatch(/cannot share that answer/);
    expect(shown.join('')).not.toContain('Answer only from the numbered passages');
    expect(audit.map((e) => e.kind)).toContain('assistant.answer_withheld');
  });

  it('quotes the documents offline, with a notice, once the budget stops paid calls', async () => {
    const paid = streamingProvider(['never']);
    const meter = { forPrincipal: () => ({ wrap: (p: ChatProvider) => (p === paid ? { ...p, complete: async () => fail('budget_exhausted', 'spent'), stream: () => ({ [Symbol.asyncIterator]: () => ({ next: async () => fail('budget_exhausted', 'spent') }) }) } : p) }) } as unknown as UsageMeter;
    const { assistant } = setup({ provider: paid, meter, offlineProvider: createExtractiveProvider() });
    const whole = await assistant.answer(principal, 'What is the hotel rate in London?', context);
    expect(whole.provider).toBe('extractive');
    expect(whole.text).toMatch(/^This month's budget for the language model is used up/);
    expect(whole.text).toContain('EUR 185 per night');
    const shown: string[] = [];
    const streamed = await assistant.answer(principal, 'What is the hotel rate in London?', context, { onText: (t) => shown.push(t) });
    expect(shown.join('')).toBe(streamed.text);
    expect(paid.requests).toHaveLength(0);
  });

  it('without the offline provider, the budget stop reaches the channel as its catalogued error', async () => {
    const meter = { forPrincipal: () => ({ wrap: (p: ChatProvider) => ({ ...p, complete: async () => fail('budget_exhausted', 'spent') }) }) } as unknown as UsageMeter;
    const { assistant } = setup({ meter });
    await expect(assistant.answer(principal, 'What is the hotel rate in London?', context)).rejects.toMatchObject({ id: 'budget_exhausted' });
  });

  it('summarises a shared e-mail without searching, and refuses a task without the e-mail', async () => {
    let searched = 0;
    const provider = streamingProvider(['Jan asks about the Paris hotel budget.']);
    const { assistant } = setup({ provider, knowledge: { search: async () => (searched++, [hit]) } });
    const answer = await assistant.answer(principal, '', { ...context, task: 'summarise', mail: { subject: 'Paris', body: 'Which hotel budget applies in Paris?' } });
    expect(answer.text).toBe('Jan asks about the Paris hotel budget.');
    expect(searched).toBe(0);
    expect(provider.requests[0]!.question).toBe('Summarise this e-mail.');
    expect(provider.requests[0]!.messages.at(-1)!.content).toContain('<email subject="Paris">');
    await expect(assistant.answer(principal, 'x', { ...context, task: 'draft' })).rejects.toMatchObject({ id: 'request_malformed' });
  });

  it('answers from a shared e-mail even when no document matches, but not without one', async () => {
    const { assistant } = setup({}, []);
    expect((await assistant.answer(principal, 'What does Jan ask?', { ...context, mail: { subject: 's', body: 'Jan asks about Paris.' } })).nothingFound).toBe(false);
    expect((await assistant.answer(principal, 'What does Jan ask?', context)).nothingFound).toBe(true);
  });
});
