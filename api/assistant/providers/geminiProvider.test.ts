/**
 * The Gemini adapter against a local server that speaks the Gemini API wire format, so the real
 * `@google/genai` SDK builds the URLs, retries and parses the SSE stream.
 */
import { buildChatRequest } from '../prompt';
import type { Passage } from '../ports';
import { startFakeGemini, type FakeGemini } from '../../../tests/fakes/geminiServer';
import { everythingSaidAbout, kluisRejection } from '../../../tests/support/errors';
import { createGeminiProvider, type GeminiProviderOptions } from './geminiProvider';

const passages: Passage[] = [{ number: 1, documentId: 'd1', title: 'Leave', sourceRef: 'leave.md', text: 'Everyone has 25 leave days.', score: 1 }];
const request = () => buildChatRequest('How many leave days do I have?', passages, 'en');

describe('Gemini provider', () => {
  let fake: FakeGemini;
  beforeEach(async () => {
    fake = await startFakeGemini();
  });
  afterEach(async () => {
    await fake.close();
  });

  // The test realm has no global Undici dispatcher for the SDK's own fetch set-up; see GeminiProviderOptions.fetch.
  const provider = (overrides: Partial<GeminiProviderOptions> = {}) =>
    createGeminiProvider({ apiKey: fake.apiKey, baseUrl: fake.baseUrl, model: 'gemini-test', timeoutMs: 5000, maxRetries: 0, fetch: (url, init) => fetch(url, init), ...overrides });

  it('sends the system prompt as systemInstruction and the key only in its header, and reports model and usage', async () => {
    fake.enqueue({ kind: 'answer', text: 'You have 25 days [1].', modelVersion: 'gemini-test-001', usage: { promptTokenCount: 80, candidatesTokenCount: 7 } });

    const result = await provider().complete(request());

    expect(result).toEqual({ text: 'You have 25 days [1].', provider: 'gemini', model: 'gemini-test-001', usedPassages: [1], usage: { inputTokens: 80, outputTokens: 7 } });
    const [sent] = fake.requests;
    expect(sent?.path).toMatch(/^\/v1(beta)?\/models\/gemini-test:streamGenerateContent$/);
    expect(sent?.query).toEqual({ alt: 'sse' });
    expect(sent?.headers['x-goog-api-key']).toBe('[redacted]');
    expect(sent?.json.contents).toEqual([{ role: 'user', parts: [{ text: request().messages[1]?.content }] }]);
    expect(JSON.stringify(sent?.json.systemInstruction)).toContain('passages');
    expect(sent?.raw.toString()).not.toContain(fake.apiKey);
  });

  it('answers after the SDK retried a 503', async () => {
    fake.enqueue({ kind: 'overloaded' }, { kind: 'answer', text: 'Twenty-five [1].' });
    const result = await provider({ maxRetries: 1 }).complete(request());
    expect(result.text).toBe('Twenty-five [1].');
    expect(fake.requests).toHaveLength(2);
  });

  it('reads the wait from RetryInfo on a 429 and maps a wrong key without echoing it', async () => {
    fake.enqueue({ kind: 'rate-limit', retryDelaySeconds: 17 });
    const limited = await kluisRejection(provider().complete(request()));
    const wrongKey = 'AIza-wrong-0123456789';
    const denied = await kluisRejection(provider({ apiKey: wrongKey }).complete(request()));

    expect(limited).toMatchObject({ id: 'provider_unavailable', retryAfterSeconds: 17 });
    expect(limited.message).toContain('RESOURCE_EXHAUSTED');
    expect(denied.id).toBe('provider_auth_failed');
    expect(denied.message).toContain('API_KEY_INVALID');
    expect(everythingSaidAbout(denied)).not.toContain(wrongKey);
  });

  it('maps an unknown model to provider_rejected and a stream without finishReason to provider_stream_invalid', async () => {
    fake.enqueue({ kind: 'error', code: 404, status: 'NOT_FOUND', message: 'models/gemini-nope is not found for API version v1beta.' }, { kind: 'truncated-stream', text: 'You have' });
    const rejected = await kluisRejection(provider().complete(request()));
    const truncated = await kluisRejection(provider().complete(request()));
    expect(rejected.id).toBe('provider_rejected');
    expect(truncated.id).toBe('provider_stream_invalid');
  });

  it('maps a reply that never comes to provider_unavailable after timeoutMs', async () => {
    fake.enqueue({ kind: 'hang' });
    const error = await kluisRejection(provider({ timeoutMs: 200 }).complete(request()));
    expect(error.id).toBe('provider_unavailable');
    expect(error.message).toContain('200 ms');
  });
});
