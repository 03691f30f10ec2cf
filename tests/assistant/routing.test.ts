/**
 * Routing across real adapters: each provider's real SDK against its local wire-format server,
 * so fallback happens on the errors the SDKs really raise after their own retries (set to 0 here).
 */
import { buildChatRequest, buildPrompt, DEFAULT_PROMPT_LIMITS } from '../../api/assistant/prompt';
import type { ChatDelta, Passage } from '../../api/assistant/ports';
import { createAnthropicProvider } from '../../api/assistant/providers/anthropicProvider';
import { createExtractiveProvider } from '../../api/assistant/providers/extractiveProvider';
import { createGeminiProvider } from '../../api/assistant/providers/geminiProvider';
import { createOpenAiProvider } from '../../api/assistant/providers/openaiProvider';
import { createPerplexityProvider } from '../../api/assistant/providers/perplexityProvider';
import { candidatesFor, catalogueOf, createRouter, createWorkspaceRouting, parseRoutingPolicy, type ProviderName, type RoutingPolicy } from '../../api/assistant/routing';
import { chatProviderConformance } from '../conformance/chatProvider.suite';
import { startFakeAnthropic, type FakeAnthropic } from '../fakes/anthropicServer';
import { startFakeGemini, type FakeGemini } from '../fakes/geminiServer';
import { startFakeOpenAi, type FakeOpenAi } from '../fakes/openaiServer';
import { errorId, kluisRejection } from '../support/errors';

const passages: Passage[] = [{ number: 1, documentId: 'd1', title: 'Leave', sourceRef: 'leave.md', text: 'Everyone has 25 leave days.', score: 1 }];
const request = () => buildChatRequest('How many leave days do I have?', passages, 'en');

let openai: FakeOpenAi;
let perplexity: FakeOpenAi;
let anthropic: FakeAnthropic;
let gemini: FakeGemini;

beforeEach(async () => {
  [openai, perplexity, anthropic, gemini] = await Promise.all([startFakeOpenAi(), startFakeOpenAi({ flavour: 'perplexity' }), startFakeAnthropic(), startFakeGemini()]);
  openai.setDefault(() => 'OpenAI says 25 days [1].');
  perplexity.setDefault(() => 'Perplexity says 25 days [1].');
  anthropic.setDefault(() => 'Claude says 25 days [1].');
  gemini.setDefault(() => 'Gemini says 25 days [1].');
});
afterEach(async () => {
  await Promise.all([openai.close(), perplexity.close(), anthropic.close(), gemini.close()]);
});

const common = { timeoutMs: 5000, maxRetries: 0 };
/** Every provider has a key unless left out, as the composition root would build it. */
function catalogue(without: ProviderName[] = []) {
  const factories: Partial<Record<ProviderName, (model?: string) => ReturnType<typeof createExtractiveProvider>>> = {
    extractive: () => createExtractiveProvider(),
    openai: (model) => createOpenAiProvider({ ...common, apiKey: openai.apiKey, baseUrl: openai.baseUrl, model: model ?? 'gpt-test' }),
    perplexity: (model) => createPerplexityProvider({ ...common, apiKey: perplexity.apiKey, baseUrl: perplexity.baseUrl, model: model ?? 'sonar' }),
    anthropic: (model) => createAnthropicProvider({ ...common, apiKey: anthropic.apiKey, baseUrl: anthropic.baseUrl, model: model ?? 'claude-test' }),
    gemini: (model) =>
      createGeminiProvider({ ...common, apiKey: gemini.apiKey, baseUrl: gemini.baseUrl, model: model ?? 'gemini-test', fetch: (url, init) => fetch(url, init) }),
  };
  for (const name of without) delete factories[name];
  return catalogueOf(factories);
}

const policy = (overrides: Partial<RoutingPolicy> = {}): RoutingPolicy => ({ defaultProvider: 'openai', allowed: ['openai', 'anthropic', 'gemini'], rules: [], ...overrides });

async function drain(stream: AsyncIterable<ChatDelta>): Promise<ChatDelta[]> {
  const out: ChatDelta[] = [];
  for await (const delta of stream) out.push(delta);
  return out;
}

describe('router', () => {
  it('falls back in the allowed order on 500 and 429, and says who answered and whom it passed over', async () => {
    openai.enqueue({ kind: 'server-error' });
    anthropic.enqueue({ kind: 'rate-limit', retryAfterSeconds: 30 });

    const result = await createRouter(policy(), catalogue()).complete(request());

    expect(result.text).toBe('Gemini says 25 days [1].');
    expect(result.provider).toBe('gemini');
    expect(result.fellBackFrom).toEqual([
      { provider: 'openai', errorId: 'provider_unavailable' },
      { provider: 'anthropic', errorId: 'provider_unavailable' },
    ]);
    expect([openai.requests.length, anthropic.requests.length, gemini.requests.length]).toEqual([1, 1, 1]);
  });

  it('answers from the default without fellBackFrom when it is up', async () => {
    const result = await createRouter(policy(), catalogue()).complete(request());
    expect(result.provider).toBe('openai');
    expect(result.fellBackFrom).toBeUndefined();
    expect(anthropic.requests).toHaveLength(0);
  });

  it('does not fall back when the request is rejected (401, 400)', async () => {
    openai.enqueue({ kind: 'error', status: 401, message: 'Incorrect API key provided: sk-t****.', type: 'invalid_request_error', code: 'invalid_api_key' });
    const denied = await kluisRejection(createRouter(policy(), catalogue()).complete(request()));
    openai.enqueue({ kind: 'error', status: 400, message: "This model's maximum context length is 128000 tokens.", type: 'invalid_request_error', code: 'context_length_exceeded' });
    const rejected = await kluisRejection(createRouter(policy(), catalogue()).complete(request()));

    expect(denied.id).toBe('provider_auth_failed');
    expect(rejected.id).toBe('provider_rejected');
    expect(anthropic.requests).toHaveLength(0);
    expect(gemini.requests).toHaveLength(0);
  });

  it('stops at maxAttempts and reports the last provider’s error', async () => {
    openai.enqueue({ kind: 'server-error' });
    anthropic.enqueue({ kind: 'rate-limit', retryAfterSeconds: 30 });

    const error = await kluisRejection(createRouter(policy({ maxAttempts: 2 }), catalogue()).complete(request()));

    expect(error.id).toBe('provider_unavailable');
    expect(error.retryAfterSeconds).toBe(30);
    expect(gemini.requests).toHaveLength(0);
  });

  it('never offers a provider without a key, nor one the workspace does not allow', async () => {
    openai.enqueue({ kind: 'server-error' });

    const result = await createRouter(policy({ allowed: ['openai', 'anthropic', 'gemini'] }), catalogue(['anthropic'])).complete(request());

    expect(result.provider).toBe('gemini');
    expect(result.fellBackFrom).toEqual([{ provider: 'openai', errorId: 'provider_unavailable' }]);
    expect(anthropic.requests).toHaveLength(0);
    expect(perplexity.requests).toHaveLength(0);
  });

  it('fails with provider_not_configured when no allowed provider has a key', async () => {
    const error = await kluisRejection(createRouter(policy({ defaultProvider: 'anthropic', allowed: ['anthropic'] }), catalogue(['anthropic'])).complete(request()));
    expect(error.id).toBe('provider_not_configured');
  });

  it('sends web-grounded questions to the web rule’s provider, with its web citations, and long prompts to the long-context one', async () => {
    const routed = createRouter(
      policy({ allowed: ['openai', 'perplexity', 'gemini'], rules: [{ when: 'web', provider: 'perplexity' }, { when: 'long-context', minChars: 20_000, provider: 'gemini' }] }),
      catalogue(),
    );

    const web = await routed.complete({ ...request(), grounding: 'web' });
    // Long: six passages at the largest per-workspace passage size (the prompt builder cuts each one).
    const sixLong = Array.from({ length: 6 }, (_, i) => ({ ...passages[0]!, number: i + 1, text: 'x '.repeat(2_000) }));
    const long = await routed.complete(buildPrompt({ question: 'Summarise', language: 'en', passages: sixLong, limits: { ...DEFAULT_PROMPT_LIMITS, maxPassageChars: 4_000 } }));
    const plain = await routed.complete(request());

    expect(web.provider).toBe('perplexity');
    expect(web.webCitations?.map((c) => c.url)).toEqual(['https://www.rijksoverheid.nl/reisbeleid', 'https://example.org/london-hotels']);
    expect(long.provider).toBe('gemini');
    expect(plain.provider).toBe('openai');
  });

  it('uses the workspace’s model for a provider', async () => {
    await createRouter(policy({ models: { openai: 'gpt-workspace-choice' } }), catalogue()).complete(request());
    expect(openai.requests[0]?.body.model).toBe('gpt-workspace-choice');
  });

  it('falls back while streaming when the failure comes before any text', async () => {
    openai.enqueue({ kind: 'server-error' });

    const deltas = await drain(createRouter(policy(), catalogue()).stream(request()));

    const done = deltas[deltas.length - 1];
    expect(done?.type).toBe('done');
    if (done?.type !== 'done') throw new Error('no result');
    expect(done.result.provider).toBe('anthropic');
    expect(done.result.fellBackFrom).toEqual([{ provider: 'openai', errorId: 'provider_unavailable' }]);
    expect(deltas.filter((d) => d.type === 'text').map((d) => (d.type === 'text' ? d.text : '')).join('')).toBe('Claude says 25 days [1].');
  });

  it('does not fall back once text has been streamed: it cannot be taken back', async () => {
    openai.enqueue({ kind: 'malformed-stream' });
    const seen: string[] = [];

    const error = await kluisRejection(
      (async () => {
        for await (const delta of createRouter(policy(), catalogue()).stream(request())) if (delta.type === 'text') seen.push(delta.text);
      })(),
    );

    expect(error.id).toBe('provider_stream_invalid');
    expect(seen).toEqual(['Partial']);
    expect(anthropic.requests).toHaveLength(0);
  });

  it('does not fall back when the caller aborts', async () => {
    openai.enqueue({ kind: 'hang' });
    const controller = new AbortController();
    const call = createRouter(policy(), catalogue()).complete(request(), controller.signal);
    while (openai.requests.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    controller.abort(new Error('user left'));

    await expect(call).rejects.toBe(controller.signal.reason);
    expect(anthropic.requests).toHaveLength(0);
  });

  it('reads the policy per workspace', async () => {
    const policies: Record<string, RoutingPolicy> = { 'ws-a': policy(), 'ws-b': policy({ defaultProvider: 'anthropic' }) };
    const routing = createWorkspaceRouting({ policyFor: async (id) => policies[id] ?? policy() }, catalogue());

    const a = await (await routing.forWorkspace('ws-a')).complete(request());
    const b = await (await routing.forWorkspace('ws-b')).complete(request());

    expect([a.provider, b.provider]).toEqual(['openai', 'anthropic']);
  });

  it('reuses a workspace’s router until the cache time passes or the workspace is invalidated', async () => {
    let reads = 0;
    let clock = 0;
    let current = policy();
    const routing = createWorkspaceRouting({ policyFor: async () => (reads++, current) }, catalogue(), { cacheMs: 1000, now: () => clock });

    await routing.forWorkspace('ws-a');
    current = policy({ defaultProvider: 'anthropic' });
    const stale = await (await routing.forWorkspace('ws-a')).complete(request());
    routing.invalidate('ws-a');
    const fresh = await (await routing.forWorkspace('ws-a')).complete(request());
    current = policy({ defaultProvider: 'gemini' });
    clock = 1001;
    const expired = await (await routing.forWorkspace('ws-a')).complete(request());

    expect([stale.provider, fresh.provider, expired.provider]).toEqual(['openai', 'anthropic', 'gemini']);
    expect(reads).toBe(3);
  });

  it('never answers an image rule with a chat provider', () => {
    const order = candidatesFor(policy({ allowed: ['openai', 'anthropic', 'stability'], rules: [{ when: 'image', provider: 'stability' }] }), catalogue(), request());
    expect(order).toEqual(['openai', 'anthropic']);
  });

  it('orders candidates: rule, default, then the rest of allowed, without duplicates', () => {
    const order = candidatesFor(
      policy({ defaultProvider: 'anthropic', allowed: ['openai', 'perplexity', 'anthropic', 'gemini'], rules: [{ when: 'web', provider: 'perplexity' }] }),
      catalogue(),
      { ...request(), grounding: 'web' },
    );
    expect(order).toEqual(['perplexity', 'anthropic', 'openai', 'gemini']);
  });
});

describe('parseRoutingPolicy', () => {
  it('accepts a complete policy', () => {
    const input = { defaultProvider: 'openai', allowed: ['openai', 'perplexity'], rules: [{ when: 'web', provider: 'perplexity' }], models: { openai: 'gpt-4o-mini' }, maxAttempts: 2 };
    expect(parseRoutingPolicy(input)).toEqual(input);
  });

  it.each([
    ['not an object', 'openai'],
    ['null', null],
    ['no allowed', { defaultProvider: 'openai', allowed: [] }],
    ['unknown provider', { defaultProvider: 'openai', allowed: ['openai', 'skynet'] }],
    ['default not allowed', { defaultProvider: 'gemini', allowed: ['openai'] }],
    ['rule provider not allowed', { defaultProvider: 'openai', allowed: ['openai'], rules: [{ when: 'web', provider: 'perplexity' }] }],
    ['unknown rule', { defaultProvider: 'openai', allowed: ['openai'], rules: [{ when: 'always', provider: 'openai' }] }],
    ['bad minChars', { defaultProvider: 'openai', allowed: ['openai'], rules: [{ when: 'long-context', minChars: -5, provider: 'openai' }] }],
    ['duplicate allowed', { defaultProvider: 'openai', allowed: ['openai', 'openai'] }],
    ['oversized rules', { defaultProvider: 'openai', allowed: ['openai'], rules: Array.from({ length: 11 }, () => ({ when: 'web', provider: 'openai' })) }],
    ['hostile model name', { defaultProvider: 'openai', allowed: ['openai'], models: { openai: 'gpt"; DROP TABLE' } }],
    ['prototype key in models', JSON.parse('{"defaultProvider":"openai","allowed":["openai"],"models":{"__proto__":"x"}}')],
    ['unknown field', { defaultProvider: 'openai', allowed: ['openai'], apiKey: 'sk-sneaky' }],
    ['maxAttempts 0', { defaultProvider: 'openai', allowed: ['openai'], maxAttempts: 0 }],
  ])('rejects %s with request_malformed', (_why, input) => {
    expect(errorId(() => parseRoutingPolicy(input))).toBe('request_malformed');
  });
});

chatProviderConformance(
  'router (one allowed provider: openai against its local server)',
  async () => {
    const fake = await startFakeOpenAi({ apiKey: 'sk-router-conformance-0123' });
    fake.setDefault(() => 'London hotels are reimbursed up to EUR 185 per night [1].');
    const routed = catalogueOf({ openai: (model) => createOpenAiProvider({ ...common, apiKey: 'sk-router-conformance-0123', baseUrl: fake.baseUrl, model: model ?? 'gpt-test' }) });
    conformanceFake = fake;
    return createRouter({ defaultProvider: 'openai', allowed: ['openai'], rules: [] }, routed);
  },
  {
    expectedName: 'router',
    answeredBy: 'openai',
    fake: {
      apiKey: 'sk-router-conformance-0123',
      next: (failure) =>
        conformanceFake?.enqueue(
          failure === 'unauthorized'
            ? { kind: 'error', status: 401, message: 'Incorrect API key provided.', type: 'invalid_request_error', code: 'invalid_api_key' }
            : failure === 'rate-limit-1s'
              ? { kind: 'rate-limit', retryAfterSeconds: 1 }
              : failure === 'server-error'
                ? { kind: 'server-error' }
                : { kind: 'malformed-stream' },
        ),
    },
  },
);
let conformanceFake: FakeOpenAi | undefined;
afterAll(async () => {
  await conformanceFake?.close();
});
