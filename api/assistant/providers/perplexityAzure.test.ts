/**
 * What Perplexity and Azure OpenAI add to the shared Chat Completions path: Perplexity's web
 * sources passed through (and hostile ones dropped), Azure's deployment URL, api-version and
 * api-key header, and its retry-after-ms.
 */
import { buildChatRequest } from '../prompt';
import type { ChatDelta, Passage } from '../ports';
import { startFakeOpenAi, type FakeOpenAi } from '../../../tests/fakes/openaiServer';
import { kluisRejection } from '../../../tests/support/errors';
import { createAzureOpenAiProvider } from './azureOpenAiProvider';
import { createPerplexityProvider, perplexityWebCitations } from './perplexityProvider';

const passages: Passage[] = [{ number: 1, documentId: 'd1', title: 'Travel', sourceRef: 'travel.md', text: 'Trains for trips under five hours.', score: 1 }];
const request = () => ({ ...buildChatRequest('Is there a train strike in Belgium this week?', passages, 'en'), grounding: 'web' as const });

describe('Perplexity provider', () => {
  let fake: FakeOpenAi;
  beforeEach(async () => {
    fake = await startFakeOpenAi({ flavour: 'perplexity' });
  });
  afterEach(async () => {
    await fake.close();
  });
  const provider = () => createPerplexityProvider({ apiKey: fake.apiKey, baseUrl: fake.baseUrl, model: 'sonar', timeoutMs: 5000, maxRetries: 0 });

  it('passes search_results through as web citations, whole and streamed, from POST /chat/completions', async () => {
    fake.setSearchResults([
      { title: 'NMBS strike notice', url: 'https://www.belgiantrain.be/en/strike', date: '2026-11-20' },
      { title: 'News', url: 'https://news.example.be/strike' },
    ]);
    const whole = await provider().complete(request());
    const deltas: ChatDelta[] = [];
    for await (const delta of provider().stream(request())) deltas.push(delta);
    const done = deltas[deltas.length - 1];

    const expected = [
      { number: 1, url: 'https://www.belgiantrain.be/en/strike', title: 'NMBS strike notice', date: '2026-11-20' },
      { number: 2, url: 'https://news.example.be/strike', title: 'News' },
    ];
    expect(whole.webCitations).toEqual(expected);
    expect(done?.type === 'done' && done.result.webCitations).toEqual(expected);
    expect(whole.usage?.inputTokens).toBeGreaterThan(0);
    expect(done?.type === 'done' && done.result.usage?.outputTokens).toBeGreaterThan(0);
    expect(fake.requests.map((r) => r.path)).toEqual(['/chat/completions', '/chat/completions']);
  });

  it('drops hostile or malformed web sources and caps their number', () => {
    expect(
      perplexityWebCitations({
        search_results: [
          { url: 'javascript:alert(1)', title: 'x' },
          { url: 'https://ok.example/a', title: 'y'.repeat(1000), date: 42 },
          null,
          'https://not-an-object.example',
          { url: `https://long.example/${'a'.repeat(3000)}` },
        ],
      }),
    ).toEqual([{ number: 2, url: 'https://ok.example/a', title: 'y'.repeat(300) }]);
    expect(perplexityWebCitations({ citations: Array.from({ length: 50 }, (_, i) => `https://s${i}.example`) })).toHaveLength(20);
    expect(perplexityWebCitations({ citations: ['file:///etc/passwd', 'https://fine.example'] })).toEqual([{ number: 2, url: 'https://fine.example' }]);
    expect(perplexityWebCitations({ choices: [] })).toBeUndefined();
    expect(perplexityWebCitations('nonsense')).toBeUndefined();
  });
});

describe('Azure OpenAI provider', () => {
  let fake: FakeOpenAi;
  beforeEach(async () => {
    fake = await startFakeOpenAi({ flavour: 'azure', deployment: 'kluis-gpt' });
  });
  afterEach(async () => {
    await fake.close();
  });
  const provider = (overrides: { maxRetries?: number; apiKey?: string } = {}) =>
    createAzureOpenAiProvider({ apiKey: overrides.apiKey ?? fake.apiKey, baseUrl: fake.baseUrl, model: 'kluis-gpt', apiVersion: '2024-10-21', timeoutMs: 5000, maxRetries: overrides.maxRetries ?? 0 });

  it('calls the deployment with api-version and the key in api-key', async () => {
    const result = await provider().complete(request());
    expect(result.provider).toBe('azure-openai');
    const [sent] = fake.requests;
    expect(sent?.path).toBe('/openai/deployments/kluis-gpt/chat/completions');
    expect(sent?.query).toEqual({ 'api-version': '2024-10-21' });
    expect(sent?.headers['api-key']).toBe('[redacted]');
    expect(sent?.headers.authorization).toBeUndefined();
  });

  it('waits out an Azure 429 (retry-after-ms) and retries; a wrong key is provider_auth_failed', async () => {
    fake.enqueue({ kind: 'rate-limit', retryAfterSeconds: 1, retryAfterMs: 300 }, { kind: 'completion', content: 'Trains [1].' });
    const result = await provider({ maxRetries: 1 }).complete(request());
    expect(result.text).toBe('Trains [1].');
    expect(fake.requests).toHaveLength(2);

    const denied = await kluisRejection(provider({ apiKey: 'wrong-azure-key-0123456789' }).complete(request()));
    expect(denied.id).toBe('provider_auth_failed');
    expect(denied.message).not.toContain('wrong-azure-key');
  });

  it('refuses a malformed api version', () => {
    expect(() => createAzureOpenAiProvider({ apiKey: 'k', baseUrl: fake.baseUrl, model: 'd', apiVersion: 'latest', timeoutMs: 5000, maxRetries: 0 })).toThrow(
      expect.objectContaining({ id: 'config_invalid' }),
    );
  });
});
