/**
 * The Chat Completions wire format through the official `openai` SDK, shared by three adapters:
 * OpenAI itself, Azure OpenAI (the SDK's AzureOpenAI client) and Perplexity (an OpenAI-compatible
 * API that adds its web `citations` and `search_results`). Each adapter builds its own client and
 * hands it here with its name.
 *
 * Retries are left to the SDK (openai 4.x). It retries connection errors, timeouts, 408, 409, 429
 * and 5xx up to `maxRetries` times. Before a retry it waits for `retry-after-ms` or `Retry-After`
 * (seconds or an HTTP date) when the server sends a value above 0 and below 60 s; otherwise it
 * backs off exponentially from 0.5 s up to 8 s, with up to 25 % jitter. `timeoutMs` applies to each
 * attempt on its own. Only once the SDK gives up do errors get mapped onto the catalogue:
 * 401/403 -> provider_auth_failed, other 4xx -> provider_rejected, 429 -> provider_unavailable with
 * retryAfterSeconds, 5xx/timeouts/unreachable -> provider_unavailable, a stream that breaks off or
 * is not JSON -> provider_stream_invalid.
 *
 * What leaves Kluis is `request.messages` as the prompt builder made it, role and content only.
 * The API key and message contents stay out of error details and logs: details carry only status,
 * error code/type/param and the provider's request id (providers echo part of a key in 401 messages).
 */
import OpenAI from 'openai';
import { fail, KluisError } from '../../errors';
import type { ChatDelta, ChatProvider, ChatRequest, ChatResult, WebCitation } from '../ports';
import { citedPassages, retriesPhrase, retryAfterFrom, untilAborted, type ProviderLogger, isJsonSyntaxError } from './providerKit';

export interface ChatCompletionsAdapter {
  /** The provider's name in results, logs and routing policies, e.g. 'azure-openai'. */
  name: string;
  /** How people call it in log details, e.g. 'Azure OpenAI'. */
  label: string;
  client: OpenAI;
  model: string;
  timeoutMs: number;
  maxRetries: number;
  logger?: ProviderLogger;
  /** Whether to ask for token usage in the last chunk (`stream_options.include_usage`). */
  streamUsage: boolean;
  /** Reads provider-specific web sources from a completion or chunk (Perplexity). */
  webCitations?: (raw: unknown) => WebCitation[] | undefined;
}

/** Low, so answers stay close to the passages, yet not fully greedy. */
const TEMPERATURE = 0.2;

/**
 * An `openai` SDK client for an OpenAI-compatible API. Every value is explicit, so the SDK does not
 * quietly pick up OPENAI_BASE_URL, OPENAI_ORG_ID or OPENAI_PROJECT_ID from the environment: Kluis'
 * own configuration is the only source.
 */
export function openAiCompatibleClient(options: { apiKey: string; baseUrl?: string; timeoutMs: number; maxRetries: number }, defaultBaseUrl: string): OpenAI {
  return new OpenAI({ apiKey: options.apiKey, baseURL: options.baseUrl ?? defaultBaseUrl, organization: null, project: null, timeout: options.timeoutMs, maxRetries: options.maxRetries });
}

export function createChatCompletionsProvider(adapter: ChatCompletionsAdapter): ChatProvider {
  const { name, label, client, model, logger } = adapter;

  const body = (request: ChatRequest) => ({
    model,
    // Only role and content, so nothing beyond what the prompt builder wrote can ride along.
    messages: request.messages.map((message) => ({ role: message.role, content: message.content })),
    temperature: TEMPERATURE,
  });

  const failure = (error: unknown, signal: AbortSignal | undefined): unknown => {
    // The caller cancelled: hand back its own reason rather than blaming the provider.
    if (signal?.aborted) return signal.reason;
    return toKluisError(error, adapter);
  };

  const noteUnfinished = (answeringModel: string, id: string, finishReason: string): void => {
    // The text is still usable, but a cut-off or filtered answer is worth noticing in the log.
    logger?.warn({ provider: name, model: answeringModel, completionId: id, finishReason }, `${label} answer did not finish normally`);
  };

  return {
    name,

    async complete(request: ChatRequest, signal?: AbortSignal): Promise<ChatResult> {
      signal?.throwIfAborted();

      let completion: OpenAI.ChatCompletion;
      try {
        completion = await untilAborted(client.chat.completions.create(body(request), { signal }), signal);
      } catch (error) {
        throw failure(error, signal);
      }

      const choice = completion.choices[0];
      if (choice === undefined) {
        fail('provider_unavailable', `${label} returned no choices (model ${completion.model}, id ${completion.id})`);
      }
      const text = (choice.message.content ?? '').trim();
      if (text === '') {
        const why = choice.message.refusal ? 'the model refused' : `finish_reason ${choice.finish_reason}`;
        fail('provider_unavailable', `${label} returned an empty answer (${why}; model ${completion.model}, id ${completion.id})`);
      }
      if (choice.finish_reason !== 'stop') noteUnfinished(completion.model, completion.id, choice.finish_reason);

      const result: ChatResult = {
        text,
        provider: name,
        // The response names the exact snapshot that answered (e.g. a dated version of the alias).
        model: completion.model || model,
        usedPassages: citedPassages(text, request.passages.length),
      };
      if (completion.usage) {
        result.usage = { inputTokens: completion.usage.prompt_tokens, outputTokens: completion.usage.completion_tokens };
      }
      const web = adapter.webCitations?.(completion);
      if (web && web.length > 0) result.webCitations = web;
      return result;
    },

    async *stream(request: ChatRequest, signal?: AbortSignal): AsyncIterable<ChatDelta> {
      signal?.throwIfAborted();

      let chunks: AsyncIterable<OpenAI.ChatCompletionChunk>;
      try {
        chunks = await untilAborted(
          client.chat.completions.create(
            { ...body(request), stream: true, ...(adapter.streamUsage ? { stream_options: { include_usage: true } } : {}) },
            { signal },
          ),
          signal,
        );
      } catch (error) {
        throw failure(error, signal);
      }

      let text = '';
      let answeringModel = model;
      let id = '';
      let finishReason: string | undefined;
      let usage: ChatResult['usage'];
      let web: WebCitation[] | undefined;
      try {
        for await (const chunk of chunks) {
          answeringModel = chunk.model || answeringModel;
          id = chunk.id || id;
          if (chunk.usage) usage = { inputTokens: chunk.usage.prompt_tokens, outputTokens: chunk.usage.completion_tokens };
          web = adapter.webCitations?.(chunk) ?? web;
          const choice = chunk.choices?.[0];
          if (choice?.finish_reason) finishReason = choice.finish_reason;
          const piece = choice?.delta?.content;
          if (typeof piece === 'string' && piece !== '') {
            text += piece;
            yield { type: 'text', text: piece };
          }
        }
      } catch (error) {
        throw failure(error, signal);
      }

      // Without a finish_reason the stream broke off (or was never a Chat Completions stream).
      if (finishReason === undefined) {
        fail('provider_stream_invalid', `${label} stream ended before the answer finished (model ${answeringModel}, id ${id || 'unknown'})`);
      }
      const trimmed = text.trim();
      if (trimmed === '') fail('provider_unavailable', `${label} returned an empty answer (finish_reason ${finishReason}; model ${answeringModel})`);
      if (finishReason !== 'stop') noteUnfinished(answeringModel, id, finishReason);

      const result: ChatResult = { text: trimmed, provider: name, model: answeringModel, usedPassages: citedPassages(trimmed, request.passages.length) };
      if (usage) result.usage = usage;
      if (web && web.length > 0) result.webCitations = web;
      yield { type: 'done', result };
    },
  };
}

function toKluisError(error: unknown, adapter: ChatCompletionsAdapter): KluisError {
  const mapped = classify(error, adapter);
  adapter.logger?.warn(
    {
      provider: adapter.name,
      model: adapter.model,
      errorId: mapped.id,
      status: error instanceof OpenAI.APIError ? error.status : undefined,
      code: error instanceof OpenAI.APIError ? error.code : undefined,
      requestId: error instanceof OpenAI.APIError ? error.request_id : undefined,
      retryAfterSeconds: mapped.retryAfterSeconds,
    },
    `${adapter.label} call failed`,
  );
  return mapped;
}

function classify(error: unknown, { label, timeoutMs, maxRetries }: ChatCompletionsAdapter): KluisError {
  const retried = retriesPhrase(maxRetries);

  // Connection errors carry no status; the timeout variant is a subclass, so it goes first.
  if (error instanceof OpenAI.APIConnectionTimeoutError) {
    return new KluisError('provider_unavailable', `${label} did not answer within ${timeoutMs} ms ${retried}`, { cause: error });
  }
  if (error instanceof OpenAI.APIConnectionError) {
    return new KluisError('provider_unavailable', `${label} could not be reached ${retried}`, { cause: error });
  }

  if (error instanceof OpenAI.APIError) {
    // Deliberately not error.message: providers echo part of the key in 401 messages.
    const facts = describe(error);
    if (error instanceof OpenAI.RateLimitError) {
      const retryAfterSeconds = retryAfterFrom(error.headers);
      return new KluisError('provider_unavailable', `${label} rate limit ${retried} (${facts})`, { cause: error, retryAfterSeconds });
    }
    if (error instanceof OpenAI.AuthenticationError || error instanceof OpenAI.PermissionDeniedError) {
      return new KluisError('provider_auth_failed', `${label} did not accept the credentials (${facts})`, { cause: error });
    }
    // An error event inside a 200 stream has no status: the provider failed while answering.
    if (error.status === undefined) {
      return new KluisError('provider_stream_invalid', `${label} reported an error inside the stream (${facts})`, { cause: error });
    }
    // 5xx, and the 408/409 the SDK also retries: a passing condition on their side.
    if (error.status >= 500 || error.status === 408 || error.status === 409) {
      return new KluisError('provider_unavailable', `${label} failed ${retried} (${facts})`, { cause: error });
    }
    return new KluisError('provider_rejected', `${label} rejected the request (${facts})`, { cause: error });
  }

  // The SDK parses each event with JSON.parse: a SyntaxError means the stream is not what was promised.
  if (isJsonSyntaxError(error)) {
    return new KluisError('provider_stream_invalid', `${label} sent a stream event that is not JSON`, { cause: error });
  }
  // Not from the SDK's HTTP layer, e.g. a 200 whose body is not JSON (a proxy's error page).
  // Only the class name: such messages may quote the body.
  const kind = error instanceof Error ? error.name : typeof error;
  return new KluisError('provider_unavailable', `${label} call failed unexpectedly (${kind})`, { cause: error });
}

function describe(error: InstanceType<typeof OpenAI.APIError>): string {
  const parts = [`HTTP ${error.status ?? 'none'}`];
  if ((typeof error.code === 'string' || typeof error.code === 'number') && error.code !== '') parts.push(`code ${String(error.code)}`);
  if (typeof error.type === 'string' && error.type) parts.push(`type ${error.type}`);
  if (typeof error.param === 'string' && error.param) parts.push(`param ${error.param}`);
  if (typeof error.request_id === 'string' && error.request_id) parts.push(`request ${error.request_id}`);
  return parts.join(', ');
}
