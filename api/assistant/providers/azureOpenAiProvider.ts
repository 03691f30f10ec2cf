/**
 * The Azure OpenAI adapter: Chat Completions on an Azure OpenAI resource through the `openai` SDK's
 * AzureOpenAI client. Requests go to `{endpoint}/openai/deployments/{deployment}/chat/completions`
 * with the `api-version` query and the key in an `api-key` header; the model is whatever the
 * deployment serves, so `model` names the deployment. The endpoint is the organisation's own
 * resource (e.g. in Sweden Central or West Europe), which keeps the data in the EU.
 * Wire handling, retries and error mapping: chatCompletions.ts.
 */
import { AzureOpenAI } from 'openai';
import { fail } from '../../errors';
import type { ChatProvider } from '../ports';
import { createChatCompletionsProvider } from './chatCompletions';
import { checkSettings, type RemoteProviderSettings } from './providerKit';

export interface AzureOpenAiProviderOptions extends RemoteProviderSettings {
  /** The resource endpoint, e.g. https://kluis-eu.openai.azure.com (required: Azure has no default). */
  baseUrl: string;
  /** The deployment name; Azure routes by it, and it is sent as the request's model. */
  model: string;
  apiVersion: string;
}

export function createAzureOpenAiProvider(options: AzureOpenAiProviderOptions): ChatProvider {
  checkSettings('Azure OpenAI', options);
  if (!/^\d{4}-\d{2}-\d{2}(-preview)?$/.test(options.apiVersion)) {
    fail('config_invalid', `Azure OpenAI provider: apiVersion must look like 2024-10-21, got ${options.apiVersion}`);
  }
  const client = new AzureOpenAI({
    apiKey: options.apiKey,
    endpoint: options.baseUrl.replace(/\/+$/, ''),
    deployment: options.model,
    apiVersion: options.apiVersion,
    timeout: options.timeoutMs,
    maxRetries: options.maxRetries,
  });
  return createChatCompletionsProvider({
    name: 'azure-openai',
    label: 'Azure OpenAI',
    client,
    model: options.model,
    timeoutMs: options.timeoutMs,
    maxRetries: options.maxRetries,
    logger: options.logger,
    streamUsage: true,
  });
}
