/**
 * The OpenAI adapter against a local server that speaks the Chat Completions wire format, so the
 * real SDK does the HTTP, the retries and the timeouts. Waits are kept short: Retry-After of 1 s
 * at most, and a 200 ms timeout for the hanging reply.
 */
import OpenAI from 'openai';
import type { ChatRequest, Passage } from '../ports';
import { startFakeOpenAi, DEFAULT_ANSWER, type FakeOpenAi } from '../../../tests/fakes/openaiServer';
import { citedPassages, createOpenAiProvider, retryAfterFrom, type OpenAiProviderOptions } from './openaiProvider';
import { rejectionOf, kluisRejection, everythingSaidAbout } from '../../../tests/support/errors';

const MODEL = 'gpt-4o-mini';

function passage(number: number): Passage {
  return { number, documentId: `doc-${number}`, title: `Document ${number}`, sourceRef: `doc-${number}#p1`, text: `Passage ${number} text.`, score: 0.9 };
}

function chatRequest(passageCount = 2): ChatRequest {
  const passages = Array.from({ length: passageCount }, (_, i) => passage(i + 1));
  return {
    messages: [
      { role: 'system', content: 'Answer only from the numbered passages and cite them like [1].' },
      { role: 'user', content: `Passages:\n${passages.map((p) => `[${p.number}] ${p.text}`).join('\n')}\n\nQuestion: How many leave days do I have?` },
    ],
    question: 'How many leave days do I have?',
    passages,
    language: 'en',
  };
}

describe('OpenAI provider', () => {
  let fake: FakeOpenAi;

  beforeEach(async () => {
    fake = await startFakeOpenAi();
  });

  afterEach(async () => {
    await fake.close();
  });

  function provider(overrides: Partial<OpenAiProviderOptions> = {}) {
    return createOpenAiProvider({ apiKey: fake.apiKey, baseUrl: fake.baseUrl, model: MODEL, timeoutMs: 5000, maxRetries: 2, ...overrides });
  }

  it('returns the answer, the answering model, token usage and the passages it cites', async () => {
    fake.enqueue({
      kind: 'completion',
      content: '  You have 25 days [2]. Carry-over is limited [1, 3], see [2][1]; the [2019] policy and [0] do not count.  ',
      model: 'gpt-4o-mini-2024-07-18',
      usage: { prompt_tokens: 321, completion_tokens: 45 },
    });

    const result = await provider().complete(chatRequest(2));

    expect(result).toEqual({
      text: 'You have 25 days [2]. Carry-over is limited [1, 3], see [2][1]; the [2019] policy and [0] do not count.',
      provider: 'openai',
      model: 'gpt-4o-mini-2024-07-18',
      usedPassages: [2, 1],
      usage: { inputTokens: 321, outputTokens: 45 },
    });
  });

  it('sends exactly the request messages, plus only model and temperature', async () => {
    const request = chatRequest(2);
    // A stray property must not leave Kluis just because it sits on a message object at runtime.
    const sneaky = { ...request.messages[0], tenantSecret: 'do-not-send' } as (typeof request.messages)[number];
    const expectedMessages = request.messages.map((m) => ({ role: m.role, content: m.content }));
    request.messages = [sneaky, ...request.messages.slice(1)];

    const result = await provider().complete(request);

    expect(result.text).toBe(DEFAULT_ANSWER);
    expect(result.usedPassages).toEqual([1]);
    expect(fake.requests).toHaveLength(1);
    const [sent] = fake.requests;
    expect(sent?.method).toBe('POST');
    expect(sent?.path).toBe('/v1/chat/completions');
    expect(sent?.headers.authorization).toBe('Bearer [redacted]');
    expect(sent?.body).toStrictEqual({ model: MODEL, messages: expectedMessages, temperature: 0.2 });
  });

  it('maps a wrong key (401) to provider_auth_failed without revealing the key', async () => {
    const wrongKey = 'sk-wrong-0123456789abcdef0123456789abcdef';
    const error = await kluisRejection(provider({ apiKey: wrongKey }).complete(chatRequest()));

    expect(error.id).toBe('provider_auth_failed');
    expect(error.message).toContain('HTTP 401');
    expect(error.message).toContain('invalid_api_key');
    expect(everythingSaidAbout(error)).not.toContain(wrongKey);
    expect(everythingSaidAbout(error)).not.toContain(fake.apiKey);
    // Not retried: a wrong key stays wrong.
    expect(fake.requests).toHaveLength(1);
  });

  it('maps an unknown model (404) to provider_rejected', async () => {
    fake.enqueue({ kind: 'error', status: 404, message: 'The model `gpt-nope` does not exist or you do not have access to it.', type: 'invalid_request_error', code: 'model_not_found' });

    const error = await kluisRejection(provider().complete(chatRequest()));

    expect(error.id).toBe('provider_rejected');
    expect(error.message).toContain('model_not_found');
    expect(fake.requests).toHaveLength(1);
  });

  // The SDK would only notice the abort after its 2 s wait; the 1.5 s test timeout proves it need not.
  // It runs before the slow retry tests so the SDK's leftover wait ends while they run, not after the file.
  it('rejects promptly when aborted while the SDK waits to retry', async () => {
    fake.enqueue({ kind: 'rate-limit', retryAfterSeconds: 2 });
    const controller = new AbortController();

    const call = provider({ maxRetries: 1 }).complete(chatRequest(), controller.signal);
    await waitFor(() => fake.requests.length === 1);
    controller.abort();

    await expect(call).rejects.toBe(controller.signal.reason);
    expect(fake.requests).toHaveLength(1);
  }, 1500);

  it('answers after the SDK waited out a 429 with Retry-After and retried', async () => {
    fake.enqueue({ kind: 'rate-limit', retryAfterSeconds: 1 }, { kind: 'completion', content: 'Twenty-five days [1].' });

    const result = await provider({ maxRetries: 2 }).complete(chatRequest());

    expect(result.text).toBe('Twenty-five days [1].');
    expect(fake.requests).toHaveLength(2);
    expect(fake.requests[1]?.headers['x-stainless-retry-count']).toBe('1');
    expect(fake.requests[1]?.body).toStrictEqual(fake.requests[0]?.body);
  });

  it('maps a 429 that outlasts the retries to provider_unavailable with retryAfterSeconds', async () => {
    fake.enqueue({ kind: 'rate-limit', retryAfterSeconds: 1 }, { kind: 'rate-limit', retryAfterSeconds: 1 }, { kind: 'completion', content: 'too late [1]' });

    const error = await kluisRejection(provider({ maxRetries: 1 }).complete(chatRequest()));

    expect(error.id).toBe('provider_unavailable');
    expect(error.retryAfterSeconds).toBe(1);
    expect(error.message).toContain('rate_limit_exceeded');
    expect(fake.requests).toHaveLength(2);
  });

  it('maps repeated 500s to provider_unavailable once the retries are spent', async () => {
    fake.enqueue({ kind: 'server-error' }, { kind: 'server-error' }, { kind: 'completion', content: 'too late [1]' });

    const error = await kluisRejection(provider({ maxRetries: 1 }).complete(chatRequest()));

    expect(error.id).toBe('provider_unavailable');
    expect(error.message).toContain('HTTP 500');
    expect(error.retryAfterSeconds).toBeUndefined();
    expect(fake.requests).toHaveLength(2);
  });

  it('maps a request that never gets an answer to provider_unavailable after timeoutMs', async () => {
    fake.enqueue({ kind: 'hang' });

    const error = await kluisRejection(provider({ timeoutMs: 200, maxRetries: 0 }).complete(chatRequest()));

    expect(error.id).toBe('provider_unavailable');
    expect(error.message).toContain('200 ms');
    expect(error.cause).toBeInstanceOf(OpenAI.APIConnectionTimeoutError);
  });

  it('maps an unreachable server to provider_unavailable', async () => {
    const { baseUrl } = fake;
    await fake.close();
    fake = await startFakeOpenAi();

    const error = await kluisRejection(provider({ baseUrl, maxRetries: 0 }).complete(chatRequest()));

    expect(error.id).toBe('provider_unavailable');
    expect(error.cause).toBeInstanceOf(OpenAI.APIConnectionError);
  });

  it('maps empty content and missing choices to provider_unavailable', async () => {
    fake.enqueue(
      { kind: 'completion', content: '   ' },
      { kind: 'completion', content: null, refusal: 'I cannot help with that.' },
      { kind: 'json', status: 200, body: { id: 'chatcmpl-empty', object: 'chat.completion', created: 0, model: MODEL, choices: [] } },
    );
    const openai = provider();

    const blank = await kluisRejection(openai.complete(chatRequest()));
    const refused = await kluisRejection(openai.complete(chatRequest()));
    const noChoices = await kluisRejection(openai.complete(chatRequest()));

    expect(blank.id).toBe('provider_unavailable');
    expect(blank.message).toContain('empty answer');
    expect(refused.id).toBe('provider_unavailable');
    expect(refused.message).toContain('refused');
    expect(refused.message).not.toContain('I cannot help');
    expect(noChoices.id).toBe('provider_unavailable');
    expect(noChoices.message).toContain('no choices');
  });

  it('rejects with the caller’s reason when the signal aborts mid-request', async () => {
    fake.enqueue({ kind: 'hang' });
    const controller = new AbortController();
    const reason = new Error('caller gave up');

    const call = provider({ timeoutMs: 10_000, maxRetries: 0 }).complete(chatRequest(), controller.signal);
    await waitFor(() => fake.requests.length === 1);
    controller.abort(reason);

    await expect(call).rejects.toBe(reason);
  });

  it('rejects without calling OpenAI when the signal is already aborted', async () => {
    const controller = new AbortController();
    controller.abort();

    const error = await rejectionOf(provider().complete(chatRequest(), controller.signal));

    expect(error).toBe(controller.signal.reason);
    expect(fake.requests).toHaveLength(0);
  });

  it('logs failures and unfinished answers without the key or the conversation', async () => {
    const warn = jest.fn();
    const request = chatRequest();
    fake.enqueue({ kind: 'completion', content: 'Partial answer [1] that was cut', finishReason: 'length' });

    const partial = await provider({ logger: { warn } }).complete(request);
    await kluisRejection(provider({ apiKey: 'sk-wrong-key-with-enough-length-0000', logger: { warn } }).complete(request));

    expect(partial.text).toBe('Partial answer [1] that was cut');
    expect(warn).toHaveBeenCalledTimes(2);
    expect(warn.mock.calls[0]?.[0]).toMatchObject({ provider: 'openai', finishReason: 'length' });
    expect(warn.mock.calls[1]?.[0]).toMatchObject({ provider: 'openai', errorId: 'provider_auth_failed', status: 401, code: 'invalid_api_key' });
    const logged = JSON.stringify(warn.mock.calls);
    expect(logged).not.toContain('sk-wrong-key-with-enough-length-0000');
    expect(logged).not.toContain(fake.apiKey);
    for (const message of request.messages) expect(logged).not.toContain(message.content);
    expect(logged).not.toContain('Partial answer');
  });

  it('refuses settings the SDK cannot honour', () => {
    expect(() => provider({ apiKey: ' ' })).toThrow(expect.objectContaining({ id: 'config_invalid' }));
    expect(() => provider({ timeoutMs: 1.5 })).toThrow(expect.objectContaining({ id: 'config_invalid' }));
    expect(() => provider({ maxRetries: -1 })).toThrow(expect.objectContaining({ id: 'config_invalid' }));
  });
});

describe('citedPassages', () => {
  it('keeps distinct in-range numbers in order of first appearance', () => {
    expect(citedPassages('a [3] b [1][3] c [ 2 , 4 ] d [9] [0] [x] [1-2]', 3)).toEqual([3, 1, 2]);
    expect(citedPassages('no markers here', 3)).toEqual([]);
    expect(citedPassages('[1]', 0)).toEqual([]);
  });
});

describe('retryAfterFrom', () => {
  it('reads retry-after-ms before Retry-After, as the SDK does, and rounds up to whole seconds', () => {
    expect(retryAfterFrom({ 'retry-after-ms': '1500', 'retry-after': '9' })).toBe(2);
    expect(retryAfterFrom({ 'retry-after': '20' })).toBe(20);
    expect(retryAfterFrom({ 'retry-after': '0.2' })).toBe(1);
    expect(retryAfterFrom({ 'retry-after': new Date(Date.now() + 30_000).toUTCString() })).toBeGreaterThanOrEqual(29);
    expect(retryAfterFrom({ 'retry-after': 'soon' })).toBeUndefined();
    expect(retryAfterFrom({})).toBeUndefined();
    expect(retryAfterFrom(undefined)).toBeUndefined();
  });
});

describe('fake OpenAI server', () => {
  let fake: FakeOpenAi;

  beforeEach(async () => {
    fake = await startFakeOpenAi();
  });

  afterEach(async () => {
    await fake.close();
  });

  it('answers 400 to a body that is not JSON and 401 to a missing key, with OpenAI error bodies', async () => {
    const notJson = await fetch(`${fake.baseUrl}/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${fake.apiKey}`, 'content-type': 'application/json' },
      body: '{not json',
    });
    const noKey = await fetch(`${fake.baseUrl}/chat/completions`, { method: 'POST', body: '{}' });

    expect(notJson.status).toBe(400);
    expect(await notJson.json()).toMatchObject({ error: { type: 'invalid_request_error', param: null, code: null } });
    expect(noKey.status).toBe(401);
    expect(await noKey.json()).toMatchObject({ error: { type: 'invalid_request_error' } });
    expect(fake.requests.map((r) => r.body)).toEqual([null, {}]);
  });

  it('streams chat.completion.chunk events that the SDK reassembles', async () => {
    fake.setDefault((body) => `Echo of ${body.messages.length} messages [1].`);
    const client = new OpenAI({ apiKey: fake.apiKey, baseURL: fake.baseUrl, maxRetries: 0 });

    const stream = await client.chat.completions.create({
      model: MODEL,
      messages: [{ role: 'user', content: 'hi' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    let usage: OpenAI.CompletionUsage | null | undefined;
    for await (const chunk of stream) {
      expect(chunk.object).toBe('chat.completion.chunk');
      text += chunk.choices[0]?.delta.content ?? '';
      usage = chunk.usage ?? usage;
    }

    expect(text).toBe('Echo of 1 messages [1].');
    expect(usage?.completion_tokens).toBeGreaterThan(0);
  });
});

async function waitFor(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 10));
  if (!condition()) throw new Error('condition not met in time');
}
