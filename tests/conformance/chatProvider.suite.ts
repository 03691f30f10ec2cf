/**
 * The ChatProvider port's conformance suite: what every provider (extractive, OpenAI, and those to
 * come) must do with a ChatRequest built by the prompt builder.
 */
import { buildChatRequest } from '../../api/assistant/prompt';
import type { ChatProvider, Passage } from '../../api/assistant/ports';

const passages: Passage[] = [
  { number: 1, documentId: 'd1', title: 'Travel policy', sourceRef: 'travel.txt', text: 'Hotel costs are reimbursed up to EUR 185 per night in London.', score: 3 },
  { number: 2, documentId: 'd2', title: 'Expenses', sourceRef: 'expenses.md', text: 'Meals are reimbursed up to EUR 45 per day.', score: 1 },
];

export function chatProviderConformance(name: string, open: () => Promise<ChatProvider>, options: { expectedName: string }) {
  describe(`ChatProvider conformance: ${name}`, () => {
    let provider: ChatProvider;
    beforeAll(async () => {
      provider = await open();
    });

    it('names itself', () => {
      expect(provider.name).toBe(options.expectedName);
    });

    it('answers with text, a model name and passage numbers that exist', async () => {
      const result = await provider.complete(buildChatRequest('What is the hotel rate in London?', passages, 'en'));
      expect(result.text.trim().length).toBeGreaterThan(0);
      expect(result.provider).toBe(options.expectedName);
      expect(result.model.length).toBeGreaterThan(0);
      for (const n of result.usedPassages) expect(passages.map((p) => p.number)).toContain(n);
      expect(new Set(result.usedPassages).size).toBe(result.usedPassages.length);
    });

    it('leaves the request untouched', async () => {
      const request = buildChatRequest('Wat is de maaltijdvergoeding?', passages, 'nl');
      const copy = JSON.parse(JSON.stringify(request));
      await provider.complete(request);
      expect(request).toEqual(copy);
    });
  });
}
