/**
 * The Anthropic adapter: Claude through the official `@anthropic-ai/sdk` Messages API
 * (`POST {baseUrl}/v1/messages`, `x-api-key`, `anthropic-version`). The system prompt goes in the
 * request's `system` field and the turns alternate user/assistant, as the API requires.
 *
 * Both `complete` and `stream` use a streamed request (message_start, content_block_delta text,
 * message_delta with stop_reason and output tokens, message_stop), so one code path reads every
 * answer and long answers never hit the SDK's limit on non-streamed requests.
 *
 * Retries are the SDK's: connection errors, timeouts, 408, 409, 429 and 5xx (also 529 overloaded),
 * honouring `retry-after-ms`/`Retry-After` and `x-should-retry`, up to `maxRetries`. After that:
 * 401/403 -> provider_auth_failed, other 4xx -> provider_rejected, 429 -> provider_unavailable with
 * retryAfterSeconds, 5xx/529/timeouts -> provider_unavailable; an `error` event inside the stream
 * -> provider_unavailable when Anthropic says it is overloaded or failing, else provider_stream_invalid;
 * events that are not JSON or a stream without message_stop -> provider_stream_invalid.
 * Details carry status, error type and request id only: never the key, never the conversation.
 * The SDK's own logger is off, as it would print unreadable stream data (answer text) on failure.
 */
import Anthropic from '@anthropic-ai/sdk';
import { fail, KluisError } from '../../errors';
import type { ChatDelta, ChatProvider, ChatRequest, ChatResult } from '../ports';
import { checkSettings, citedPassages, completeFromStream, retriesPhrase, retryAfterFrom, splitSystem, untilAborted, type RemoteProviderSettings, isJsonSyntaxError } from './providerKit';

export interface AnthropicProviderOptions extends RemoteProviderSettings {
  /** Upper bound on the answer's length in tokens (the API requires one). */
  maxOutputTokens?: number;
}

const DEFAULT_BASE_URL = 'https://api.anthropic.com';
const DEFAULT_MAX_OUTPUT_TOKENS = 1024;
const LABEL = 'Anthropic';

export function createAnthropicProvider(options: AnthropicProviderOptions): ChatProvider {
  checkSettings(LABEL, options);
  const maxTokens = options.maxOutputTokens ?? DEFAULT_MAX_OUTPUT_TOKENS;
  if (!Number.isInteger(maxTokens) || maxTokens < 1) fail('config_invalid', `Anthropic provider: maxOutputTokens must be a positive integer, got ${maxTokens}`);
  const { model, timeoutMs, maxRetries, logger } = options;

  const client = new Anthropic({
    apiKey: options.apiKey,
    // Explicit, so ANTHROPIC_BASE_URL in the environment cannot redirect the conversation.
    baseURL: options.baseUrl ?? DEFAULT_BASE_URL,
    timeout: timeoutMs,
    maxRetries,
    logLevel: 'off',
  });

  async function* stream(request: ChatRequest, signal?: AbortSignal): AsyncIterable<ChatDelta> {
    signal?.throwIfAborted();
    const { system, turns } = splitSystem(request.messages);

    let events: AsyncIterable<Anthropic.RawMessageStreamEvent>;
    try {
      events = await untilAborted(
        client.messages.create(
          { model, max_tokens: maxTokens, ...(system === undefined ? {} : { system }), messages: turns, stream: true },
          { signal },
        ),
        signal,
      );
    } catch (error) {
      throw signal?.aborted ? signal.reason : toKluisError(error);
    }

    let text = '';
    let answeringModel = model;
    let messageId = '';
    let stopReason: string | null = null;
    let stopped = false;
    let inputTokens: number | undefined;
    let outputTokens: number | undefined;
    try {
      for await (const event of events) {
        switch (event.type) {
          case 'message_start':
            answeringModel = event.message.model || answeringModel;
            messageId = event.message.id;
            inputTokens = event.message.usage?.input_tokens;
            outputTokens = event.message.usage?.output_tokens;
            break;
          case 'content_block_delta':
            if (event.delta.type === 'text_delta' && event.delta.text !== '') {
              text += event.delta.text;
              yield { type: 'text', text: event.delta.text };
            }
            break;
          case 'message_delta':
            stopReason = event.delta.stop_reason ?? stopReason;
            if (typeof event.usage?.output_tokens === 'number') outputTokens = event.usage.output_tokens;
            if (typeof event.usage?.input_tokens === 'number') inputTokens = event.usage.input_tokens;
            break;
          case 'message_stop':
            stopped = true;
            break;
          default:
            break;
        }
      }
    } catch (error) {
      throw signal?.aborted ? signal.reason : toKluisError(error);
    }

    if (!stopped) fail('provider_stream_invalid', `Anthropic stream ended before message_stop (model ${answeringModel}, id ${messageId || 'unknown'})`);
    const trimmed = text.trim();
    if (trimmed === '') fail('provider_unavailable', `Anthropic returned an empty answer (stop_reason ${stopReason}; model ${answeringModel})`);
    if (stopReason !== 'end_turn' && stopReason !== 'stop_sequence') {
      logger?.warn({ provider: 'anthropic', model: answeringModel, messageId, stopReason }, 'Anthropic answer did not finish normally');
    }
    const result: ChatResult = { text: trimmed, provider: 'anthropic', model: answeringModel, usedPassages: citedPassages(trimmed, request.passages.length) };
    if (inputTokens !== undefined && outputTokens !== undefined) result.usage = { inputTokens, outputTokens };
    yield { type: 'done', result };
  }

  function toKluisError(error: unknown): KluisError {
    const mapped = classify(error, timeoutMs, maxRetries);
    logger?.warn(
      {
        provider: 'anthropic',
        model,
        errorId: mapped.id,
        status: error instanceof Anthropic.APIError ? error.status : undefined,
        type: error instanceof Anthropic.APIError ? errorType(error) : undefined,
        requestId: error instanceof Anthropic.APIError ? error.requestID : undefined,
        retryAfterSeconds: mapped.retryAfterSeconds,
      },
      'Anthropic call failed',
    );
    return mapped;
  }

  return {
    name: 'anthropic',
    complete: (request, signal) => completeFromStream(stream(request, signal)),
    stream,
  };
}

/** Anthropic's error type from the body (`{ type: 'error', error: { type, message } }`). */
function errorType(error: InstanceType<typeof Anthropic.APIError>): string | undefined {
  const body = error.error as { error?: { type?: unknown } } | undefined;
  const type = body?.error?.type;
  return typeof type === 'string' ? type : undefined;
}

function classify(error: unknown, timeoutMs: number, maxRetries: number): KluisError {
  const retried = retriesPhrase(maxRetries);
  if (error instanceof Anthropic.APIConnectionTimeoutError) {
    return new KluisError('provider_unavailable', `Anthropic did not answer within ${timeoutMs} ms ${retried}`, { cause: error });
  }
  if (error instanceof Anthropic.APIConnectionError) {
    return new KluisError('provider_unavailable', `Anthropic could not be reached ${retried}`, { cause: error });
  }
  if (error instanceof Anthropic.APIError) {
    const type = errorType(error);
    const facts = [`HTTP ${error.status ?? 'none'}`, type ? `type ${type}` : '', error.requestID ? `request ${error.requestID}` : ''].filter(Boolean).join(', ');
    if (error.status === undefined) {
      // An `error` event after the 200: overload and internal failures are passing conditions.
      const passing = type === 'overloaded_error' || type === 'api_error' || type === 'rate_limit_error';
      return new KluisError(passing ? 'provider_unavailable' : 'provider_stream_invalid', `Anthropic reported an error inside the stream (${facts})`, { cause: error });
    }
    if (error.status === 429) {
      return new KluisError('provider_unavailable', `Anthropic rate limit ${retried} (${facts})`, { cause: error, retryAfterSeconds: retryAfterFrom(error.headers) });
    }
    if (error.status === 401 || error.status === 403) {
      return new KluisError('provider_auth_failed', `Anthropic did not accept the credentials (${facts})`, { cause: error });
    }
    if (error.status >= 500 || error.status === 408 || error.status === 409) {
      return new KluisError('provider_unavailable', `Anthropic failed ${retried} (${facts})`, { cause: error });
    }
    return new KluisError('provider_rejected', `Anthropic rejected the request (${facts})`, { cause: error });
  }
  if (isJsonSyntaxError(error)) {
    return new KluisError('provider_stream_invalid', 'Anthropic sent a stream event that is not JSON', { cause: error });
  }
  const kind = error instanceof Error ? error.name : typeof error;
  return new KluisError('provider_unavailable', `Anthropic call failed unexpectedly (${kind})`, { cause: error });
}
