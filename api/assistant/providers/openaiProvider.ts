/**
 * The OpenAI adapter for the provider port: Chat Completions through the official SDK, whole or
 * streamed. The wire handling, retries and error mapping live in chatCompletions.ts, shared with
 * Azure OpenAI and Perplexity; this file only builds the client for api.openai.com (or the
 * configured base URL, for EU endpoints, proxies and tests).
 */
import type { ChatProvider } from '../ports';
import { createChatCompletionsProvider, openAiCompatibleClient } from './chatCompletions';
import { checkSettings, type RemoteProviderSettings } from './providerKit';

export { citedPassages, retryAfterFrom } from './providerKit';

export type OpenAiProviderOptions = RemoteProviderSettings;

const DEFAULT_BASE_URL = 'https://api.openai.com/v1';

export function createOpenAiProvider(options: OpenAiProviderOptions): ChatProvider {
  checkSettings('OpenAI', options);
  const client = openAiCompatibleClient(options, DEFAULT_BASE_URL);
  return createChatCompletionsProvider({
    name: 'openai',
    label: 'OpenAI',
    client,
    model: options.model,
    timeoutMs: options.timeoutMs,
    maxRetries: options.maxRetries,
    logger: options.logger,
    streamUsage: true,
  });
}
