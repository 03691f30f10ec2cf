/**
 * The ChatProvider port's conformance suite: what every provider (extractive, the SDK adapters and
 * the router) must do with a ChatRequest built by the prompt builder, whole and streamed. Remote
 * providers pass a `fake` that scripts their local server's next reply in the provider's own wire
 * format, so the same failures (401, 429 + Retry-After, 500, a broken stream) are checked for each,
 * through the real SDK. Providers under test are built with maxRetries 0.
 */
import { buildChatRequest } from '../../api/assistant/prompt';
import type { ChatDelta, ChatProvider, ChatResult, Passage } from '../../api/assistant/ports';
import { everythingSaidAbout, kluisRejection } from '../support/errors';

const passages: Passage[] = [
  { number: 1, documentId: 'd1', title: 'Travel policy', sourceRef: 'travel.txt', text: 'Hotel costs are reimbursed up to EUR 185 per night in London.', score: 3 },
  { number: 2, documentId: 'd2', title: 'Expenses', sourceRef: 'expenses.md', text: 'Meals are reimbursed up to EUR 45 per day.', score: 1 },
];

export type ScriptedFailure = 'unauthorized' | 'rate-limit-1s' | 'server-error' | 'malformed-stream';

export interface ConformanceOptions {
  expectedName: string;
  /** The name results carry, when it differs from the provider's own (a router reports who answered). */
  answeredBy?: string;
  /** For providers behind a fake server: makes its next reply the given failure. */
  fake?: { next(failure: ScriptedFailure): void; apiKey: string };
}

export async function collect(stream: AsyncIterable<ChatDelta>): Promise<{ texts: string[]; results: ChatResult[]; order: string[] }> {
  const texts: string[] = [];
  const results: ChatResult[] = [];
  const order: string[] = [];
  for await (const delta of stream) {
    order.push(delta.type);
    if (delta.type === 'text') texts.push(delta.text);
    else results.push(delta.result);
  }
  return { texts, results, order };
}

export function chatProviderConformance(name: string, open: () => Promise<ChatProvider>, options: ConformanceOptions) {
  describe(`ChatProvider conformance: ${name}`, () => {
    let provider: ChatProvider;
    beforeAll(async () => {
      provider = await open();
    });

    const request = () => buildChatRequest('What is the hotel rate in London?', passages, 'en');

    it('names itself', () => {
      expect(provider.name).toBe(options.expectedName);
    });

    it('answers with text, a model name and passage numbers that exist', async () => {
      const result = await provider.complete(request());
      expect(result.text.trim().length).toBeGreaterThan(0);
      expect(result.provider).toBe(options.answeredBy ?? options.expectedName);
      expect(result.model.length).toBeGreaterThan(0);
      for (const n of result.usedPassages) expect(passages.map((p) => p.number)).toContain(n);
      expect(new Set(result.usedPassages).size).toBe(result.usedPassages.length);
    });

    it('leaves the request untouched', async () => {
      const nl = buildChatRequest('Wat is de maaltijdvergoeding?', passages, 'nl');
      const copy = JSON.parse(JSON.stringify(nl));
      await provider.complete(nl);
      await collect(provider.stream(nl));
      expect(nl).toEqual(copy);
    });

    it('streams text deltas and ends with exactly one result whose text they make up', async () => {
      const { texts, results, order } = await collect(provider.stream(request()));
      expect(texts.length).toBeGreaterThan(0);
      expect(results).toHaveLength(1);
      expect(order[order.length - 1]).toBe('done');
      const [result] = results;
      expect(result?.text).toBe(texts.join('').trim());
      expect(result?.provider).toBe(options.answeredBy ?? options.expectedName);
      expect(result?.model.length).toBeGreaterThan(0);
      for (const n of result?.usedPassages ?? []) expect(passages.map((p) => p.number)).toContain(n);
    });

    it('streams the same answer that complete returns', async () => {
      const whole = await provider.complete(request());
      const { results } = await collect(provider.stream(request()));
      expect(results[0]?.text).toBe(whole.text);
      expect(results[0]?.usedPassages).toEqual(whole.usedPassages);
    });

    it('does not start when the signal is already aborted', async () => {
      const controller = new AbortController();
      controller.abort(new Error('cancelled by the caller'));
      await expect(provider.complete(request(), controller.signal)).rejects.toBe(controller.signal.reason);
      await expect(collect(provider.stream(request(), controller.signal))).rejects.toBe(controller.signal.reason);
    });

    const fake = options.fake;
    if (fake) {
      describe('failures in the provider’s own wire format', () => {
        it.each([
          ['unauthorized', 'provider_auth_failed'],
          ['rate-limit-1s', 'provider_unavailable'],
          ['server-error', 'provider_unavailable'],
        ] as const)('maps %s to %s, whole and streamed, without the key', async (failure, id) => {
          fake.next(failure);
          const whole = await kluisRejection(provider.complete(request()));
          fake.next(failure);
          const streamed = await kluisRejection(collect(provider.stream(request())));
          for (const error of [whole, streamed]) {
            expect(error.id).toBe(id);
            expect(everythingSaidAbout(error)).not.toContain(fake.apiKey);
            if (failure === 'rate-limit-1s') expect(error.retryAfterSeconds).toBe(1);
          }
        });

        it('maps a malformed stream to provider_stream_invalid', async () => {
          fake.next('malformed-stream');
          const error = await kluisRejection(collect(provider.stream(request())));
          expect(error.id).toBe('provider_stream_invalid');
        });

        it('answers normally again after a failure', async () => {
          fake.next('server-error');
          await kluisRejection(provider.complete(request()));
          const result = await provider.complete(request());
          expect(result.text.length).toBeGreaterThan(0);
        });
      });
    }
  });
}
