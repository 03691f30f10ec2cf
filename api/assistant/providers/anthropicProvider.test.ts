/**
 * The Anthropic adapter against a local server that speaks the Messages API wire format, so the
 * real `@anthropic-ai/sdk` does the HTTP, the retries and the stream parsing.
 */
import { buildChatRequest } from '../prompt';
import type { ChatDelta, Passage } from '../ports';
import { startFakeAnthropic, type FakeAnthropic } from '../../../tests/fakes/anthropicServer';
import { everythingSaidAbout, kluisRejection } from '../../../tests/support/errors';
import { createAnthropicProvider, type AnthropicProviderOptions } from './anthropicProvider';

const passages: Passage[] = [{ number: 1, documentId: 'd1', title: 'Leave', sourceRef: 'leave.md', text: 'Everyone has 25 leave days.', score: 1 }];
const request = () => buildChatRequest('How many leave days do I have?', passages, 'en');

async function drain(stream: AsyncIterable<ChatDelta>): Promise<ChatDelta[]> {
  const out: ChatDelta[] = [];
  for await (const delta of stream) out.push(delta);
  return out;
}

describe('Anthropic provider', () => {
  let fake: FakeAnthropic;
  beforeEach(async () => {
    fake = await startFakeAnthropic();
  });
  afterEach(async () => {
    await fake.close();
  });

  const provider = (overrides: Partial<AnthropicProviderOptions> = {}) =>
    createAnthropicProvider({ apiKey: fake.apiKey, baseUrl: fake.baseUrl, model: 'claude-test', timeoutMs: 5000, maxRetries: 0, ...overrides });

  it('sends the system prompt apart, the turns as user/assistant, and reports model and usage', async () => {
    fake.enqueue({ kind: 'message', text: ' You have 25 days [1]. ', model: 'claude-test-20261001', usage: { input_tokens: 120, output_tokens: 9 } });

    const result = await provider({ maxOutputTokens: 300 }).complete(request());

    expect(result).toEqual({ text: 'You have 25 days [1].', provider: 'anthropic', model: 'claude-test-20261001', usedPassages: [1], usage: { inputTokens: 120, outputTokens: 9 } });
    const [sent] = fake.requests;
    expect(sent?.path).toBe('/v1/messages');
    expect(sent?.json).toStrictEqual({
      model: 'claude-test',
      max_tokens: 300,
      system: request().messages[0]?.content,
      messages: [{ role: 'user', content: request().messages[1]?.content }],
      stream: true,
    });
    expect(sent?.headers['anthropic-version']).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    expect(sent?.raw.toString()).not.toContain(fake.apiKey);
  });

  it('answers after the SDK waited out a 429 with Retry-After and retried', async () => {
    fake.enqueue({ kind: 'rate-limit', retryAfterSeconds: 1 }, { kind: 'message', text: 'Twenty-five [1].' });

    const result = await provider({ maxRetries: 1 }).complete(request());

    expect(result.text).toBe('Twenty-five [1].');
    expect(fake.requests).toHaveLength(2);
    expect(fake.requests[1]?.headers['x-stainless-retry-count']).toBe('1');
  });

  it('maps 529 overloaded and an overloaded error event to provider_unavailable', async () => {
    fake.enqueue({ kind: 'overloaded' }, { kind: 'stream-error', type: 'overloaded_error', message: 'Overloaded' });
    const anthropic = provider();

    const overloaded = await kluisRejection(anthropic.complete(request()));
    const midStream = await kluisRejection(drain(anthropic.stream(request())));

    expect(overloaded.id).toBe('provider_unavailable');
    expect(overloaded.message).toContain('HTTP 529');
    expect(midStream.id).toBe('provider_unavailable');
    expect(midStream.message).toContain('inside the stream');
  });

  it('maps a stream that stops before message_stop to provider_stream_invalid, after the text it did send', async () => {
    fake.enqueue({ kind: 'truncated-stream', text: 'You have' });
    const seen: string[] = [];

    const error = await kluisRejection(
      (async () => {
        for await (const delta of provider().stream(request())) if (delta.type === 'text') seen.push(delta.text);
      })(),
    );

    expect(seen).toEqual(['You have']);
    expect(error.id).toBe('provider_stream_invalid');
  });

  it('maps a 400 to provider_rejected and a wrong key to provider_auth_failed, never echoing the key', async () => {
    fake.enqueue({ kind: 'error', status: 400, type: 'invalid_request_error', message: 'prompt is too long: 210000 tokens > 200000 maximum' });
    const rejected = await kluisRejection(provider().complete(request()));
    const wrongKey = 'sk-ant-wrong-0123456789abcdef';
    const denied = await kluisRejection(provider({ apiKey: wrongKey }).complete(request()));

    expect(rejected.id).toBe('provider_rejected');
    expect(rejected.message).toContain('invalid_request_error');
    expect(denied.id).toBe('provider_auth_failed');
    expect(everythingSaidAbout(denied)).not.toContain(wrongKey);
  });

  it('maps a reply that never comes to provider_unavailable after timeoutMs', async () => {
    fake.enqueue({ kind: 'hang' });
    const error = await kluisRejection(provider({ timeoutMs: 200 }).complete(request()));
    expect(error.id).toBe('provider_unavailable');
    expect(error.message).toContain('200 ms');
  });

  it('refuses settings it cannot honour', () => {
    expect(() => provider({ apiKey: '' })).toThrow(expect.objectContaining({ id: 'config_invalid' }));
    expect(() => provider({ maxOutputTokens: 0 })).toThrow(expect.objectContaining({ id: 'config_invalid' }));
    expect(() => provider({ baseUrl: 'ftp://example.org' })).toThrow(expect.objectContaining({ id: 'config_invalid' }));
  });
});
