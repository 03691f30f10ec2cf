/**
 * Every ChatProvider adapter passes the port's conformance suite, each remote one through its real
 * SDK against a local server that speaks its provider's documented wire format.
 */
import { createAnthropicProvider } from '../../api/assistant/providers/anthropicProvider';
import { createAzureOpenAiProvider } from '../../api/assistant/providers/azureOpenAiProvider';
import { createExtractiveProvider } from '../../api/assistant/providers/extractiveProvider';
import { createGeminiProvider } from '../../api/assistant/providers/geminiProvider';
import { createOpenAiProvider } from '../../api/assistant/providers/openaiProvider';
import { createPerplexityProvider } from '../../api/assistant/providers/perplexityProvider';
import { chatProviderConformance, type ScriptedFailure } from '../conformance/chatProvider.suite';
import { startFakeAnthropic, type FakeAnthropic } from '../fakes/anthropicServer';
import { startFakeGemini, type FakeGemini } from '../fakes/geminiServer';
import { startFakeOpenAi, type FakeOpenAi, type FakeReply } from '../fakes/openaiServer';

const ANSWER = 'London hotels are reimbursed up to EUR 185 per night [1]; see also [7].';
const fakes: FakeOpenAi[] = [];
const closers: Array<() => Promise<void>> = [];
afterAll(async () => {
  await Promise.all([...fakes.map((f) => f.close()), ...closers.map((close) => close())]);
});

function chatCompletionsFailure(failure: ScriptedFailure): FakeReply {
  switch (failure) {
    case 'unauthorized':
      return { kind: 'error', status: 401, message: 'Incorrect API key provided: sk-c********ance.', type: 'invalid_request_error', code: 'invalid_api_key' };
    case 'rate-limit-1s':
      return { kind: 'rate-limit', retryAfterSeconds: 1 };
    case 'server-error':
      return { kind: 'server-error' };
    case 'malformed-stream':
      return { kind: 'malformed-stream' };
  }
}

async function chatCompletionsFake(apiKey: string, flavour: 'openai' | 'azure' | 'perplexity'): Promise<FakeOpenAi> {
  const fake = await startFakeOpenAi({ apiKey, flavour });
  fake.setDefault(() => ANSWER);
  fakes.push(fake);
  return fake;
}

chatProviderConformance('extractive', async () => createExtractiveProvider(), { expectedName: 'extractive' });

for (const flavour of ['openai', 'azure', 'perplexity'] as const) {
  const apiKey = `sk-conformance-${flavour}-0123456789`;
  let fake: FakeOpenAi;
  chatProviderConformance(
    `${flavour} (real openai SDK against a local Chat Completions server)`,
    async () => {
      fake = await chatCompletionsFake(apiKey, flavour);
      const common = { apiKey, baseUrl: fake.baseUrl, timeoutMs: 5000, maxRetries: 0 };
      if (flavour === 'azure') return createAzureOpenAiProvider({ ...common, model: 'kluis-gpt', apiVersion: '2024-10-21' });
      if (flavour === 'perplexity') return createPerplexityProvider({ ...common, model: 'sonar' });
      return createOpenAiProvider({ ...common, model: 'gpt-test' });
    },
    {
      expectedName: flavour === 'azure' ? 'azure-openai' : flavour,
      fake: { apiKey, next: (failure) => fake.enqueue(chatCompletionsFailure(failure)) },
    },
  );
}

{
  const apiKey = 'sk-ant-conformance-0123456789';
  let fake: FakeAnthropic;
  chatProviderConformance(
    'anthropic (real @anthropic-ai/sdk against a local Messages API server)',
    async () => {
      fake = await startFakeAnthropic({ apiKey });
      fake.setDefault(() => ANSWER);
      closers.push(() => fake.close());
      return createAnthropicProvider({ apiKey, baseUrl: fake.baseUrl, model: 'claude-test', timeoutMs: 5000, maxRetries: 0 });
    },
    {
      expectedName: 'anthropic',
      fake: {
        apiKey,
        next: (failure) =>
          fake.enqueue(
            failure === 'unauthorized'
              ? { kind: 'error', status: 401, type: 'authentication_error', message: 'invalid x-api-key' }
              : failure === 'rate-limit-1s'
                ? { kind: 'rate-limit', retryAfterSeconds: 1 }
                : failure === 'server-error'
                  ? { kind: 'server-error' }
                  : { kind: 'malformed-stream' },
          ),
      },
    },
  );
}

{
  const apiKey = 'AIza-conformance-0123456789';
  let fake: FakeGemini;
  chatProviderConformance(
    'gemini (real @google/genai against a local Gemini API server)',
    async () => {
      fake = await startFakeGemini({ apiKey });
      fake.setDefault(() => ANSWER);
      closers.push(() => fake.close());
      // The test realm has no global Undici dispatcher for the SDK's own fetch set-up; see GeminiProviderOptions.fetch.
      return createGeminiProvider({ apiKey, baseUrl: fake.baseUrl, model: 'gemini-test', timeoutMs: 5000, maxRetries: 0, fetch: (url, init) => fetch(url, init) });
    },
    {
      expectedName: 'gemini',
      fake: {
        apiKey,
        next: (failure) =>
          fake.enqueue(
            failure === 'unauthorized'
              ? { kind: 'invalid-key' }
              : failure === 'rate-limit-1s'
                ? { kind: 'rate-limit', retryDelaySeconds: 1 }
                : failure === 'server-error'
                  ? { kind: 'server-error' }
                  : { kind: 'malformed-stream' },
          ),
      },
    },
  );
}
