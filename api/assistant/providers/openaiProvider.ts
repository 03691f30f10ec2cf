/**
 * The OpenAI adapter for the provider port: one Chat Completions call through the official SDK.
 *
 * Retries are left to the SDK (openai 4.x). It retries connection errors, timeouts, 408, 409, 429
 * and 5xx up to `maxRetries` times. Before a retry it waits for `retry-after-ms` or `Retry-After`
 * (seconds or an HTTP date) when the server sends a value above 0 and below 60 s; otherwise it
 * backs off exponentially from 0.5 s up to 8 s, with up to 25 % jitter. `timeoutMs` applies to each
 * attempt on its own, so one call can take up to (maxRetries + 1) x timeoutMs plus the waits in
 * between. Only once the SDK gives up do the errors below get mapped onto the catalogue.
 *
 * What leaves Kluis is `request.messages` as the prompt builder made it; this file adds nothing
 * to the conversation. The API key and message contents stay out of error details and logs:
 * details carry only status, error code/type/param and the provider's request id.
 */
import OpenAI from 'openai';
import { fail, KluisError } from '../../errors';
import type { ChatProvider, ChatRequest, ChatResult } from '../ports';

export interface OpenAiProviderOptions {
  apiKey: string;
  /** Defaults to the public API; set it for proxies or compatible gateways. */
  baseUrl?: string;
  model: string;
  /** Per attempt, in milliseconds. */
  timeoutMs: number;
  maxRetries: number;
  logger?: { warn(obj: object, msg: string): void };
}

const DEFAULT_BASE_URL = 'https://api.openai.com/v1';
/** Low, so answers stay close to the passages, yet not fully greedy. */
const TEMPERATURE = 0.2;

export function createOpenAiProvider(options: OpenAiProviderOptions): ChatProvider {
  const { apiKey, model, timeoutMs, maxRetries, logger } = options;
  if (apiKey.trim() === '') fail('config_invalid', 'OpenAI provider: the API key is empty');
  if (model.trim() === '') fail('config_invalid', 'OpenAI provider: the model name is empty');
  // The SDK rejects non-integers itself, but with an error that does not name our setting.
  if (!Number.isInteger(timeoutMs) || timeoutMs <= 0) {
    fail('config_invalid', `OpenAI provider: timeoutMs must be a positive integer, got ${timeoutMs}`);
  }
  if (!Number.isInteger(maxRetries) || maxRetries < 0) {
    fail('config_invalid', `OpenAI provider: maxRetries must be a non-negative integer, got ${maxRetries}`);
  }

  const client = new OpenAI({
    apiKey,
    // Explicit values, so the SDK does not quietly pick up OPENAI_BASE_URL, OPENAI_ORG_ID or
    // OPENAI_PROJECT_ID from the environment: Kluis' own configuration is the only source.
    baseURL: options.baseUrl ?? DEFAULT_BASE_URL,
    organization: null,
    project: null,
    timeout: timeoutMs,
    maxRetries,
  });

  return {
    name: 'openai',

    async complete(request: ChatRequest, signal?: AbortSignal): Promise<ChatResult> {
      signal?.throwIfAborted();

      let completion: OpenAI.ChatCompletion;
      try {
        completion = await untilAborted(
          client.chat.completions.create(
            {
              model,
              // Only role and content, so nothing beyond what the prompt builder wrote can ride along.
              messages: request.messages.map((message) => ({ role: message.role, content: message.content })),
              temperature: TEMPERATURE,
            },
            { signal },
          ),
          signal,
        );
      } catch (error) {
        // The caller cancelled: hand back its own reason rather than blaming the provider.
        if (signal?.aborted) throw signal.reason;
        throw toKluisError(error, { model, timeoutMs, maxRetries, logger });
      }

      const choice = completion.choices[0];
      if (choice === undefined) {
        fail('provider_unavailable', `OpenAI returned no choices (model ${completion.model}, id ${completion.id})`);
      }
      const text = (choice.message.content ?? '').trim();
      if (text === '') {
        const why = choice.message.refusal ? 'the model refused' : `finish_reason ${choice.finish_reason}`;
        fail('provider_unavailable', `OpenAI returned an empty answer (${why}; model ${completion.model}, id ${completion.id})`);
      }
      if (choice.finish_reason !== 'stop') {
        // The text is still usable, but a cut-off or filtered answer is worth noticing in the log.
        logger?.warn(
          { provider: 'openai', model: completion.model, completionId: completion.id, finishReason: choice.finish_reason },
          'OpenAI answer did not finish normally',
        );
      }

      const result: ChatResult = {
        text,
        provider: 'openai',
        // The response names the exact snapshot that answered (e.g. a dated version of the alias).
        model: completion.model || model,
        usedPassages: citedPassages(text, request.passages.length),
      };
      if (completion.usage) {
        result.usage = { inputTokens: completion.usage.prompt_tokens, outputTokens: completion.usage.completion_tokens };
      }
      return result;
    },
  };
}

/**
 * Passage numbers cited in the answer, distinct and in order of first appearance. Accepts [1],
 * [2][3] and [1, 3]; numbers outside 1..passageCount (years in brackets, invented sources) are dropped.
 */
export function citedPassages(text: string, passageCount: number): number[] {
  const found: number[] = [];
  for (const marker of text.matchAll(/\[\s*(\d+(?:\s*,\s*\d+)*)\s*\]/g)) {
    for (const part of (marker[1] ?? '').split(',')) {
      const n = Number(part.trim());
      if (Number.isInteger(n) && n >= 1 && n <= passageCount && !found.includes(n)) found.push(n);
    }
  }
  return found;
}

/**
 * Settles with `work`, or rejects as soon as `signal` aborts. The SDK checks the signal only while a
 * request is in flight, not while it sleeps before a retry (which can last up to a minute after a
 * Retry-After), so without this a cancelled call could linger.
 */
function untilAborted<T>(work: PromiseLike<T>, signal: AbortSignal | undefined): Promise<T> {
  const settled = Promise.resolve(work);
  if (signal === undefined) return settled;
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    settled.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

interface MappingContext {
  model: string;
  timeoutMs: number;
  maxRetries: number;
  logger?: OpenAiProviderOptions['logger'];
}

function toKluisError(error: unknown, context: MappingContext): KluisError {
  const mapped = classify(error, context);
  context.logger?.warn(
    {
      provider: 'openai',
      model: context.model,
      errorId: mapped.id,
      status: error instanceof OpenAI.APIError ? error.status : undefined,
      code: error instanceof OpenAI.APIError ? error.code : undefined,
      requestId: error instanceof OpenAI.APIError ? error.request_id : undefined,
      retryAfterSeconds: mapped.retryAfterSeconds,
    },
    'OpenAI call failed',
  );
  return mapped;
}

function classify(error: unknown, { timeoutMs, maxRetries }: MappingContext): KluisError {
  const retried = `after ${maxRetries} ${maxRetries === 1 ? 'retry' : 'retries'}`;

  // Connection errors carry no status; the timeout variant is a subclass, so it goes first.
  if (error instanceof OpenAI.APIConnectionTimeoutError) {
    return new KluisError('provider_unavailable', `OpenAI did not answer within ${timeoutMs} ms ${retried}`, { cause: error });
  }
  if (error instanceof OpenAI.APIConnectionError) {
    return new KluisError('provider_unavailable', `OpenAI could not be reached ${retried}`, { cause: error });
  }

  if (error instanceof OpenAI.APIError) {
    // Deliberately not error.message: OpenAI echoes part of the key in 401 messages.
    const facts = describe(error);
    if (error instanceof OpenAI.RateLimitError) {
      const retryAfterSeconds = retryAfterFrom(error.headers);
      return new KluisError('provider_unavailable', `OpenAI rate limit ${retried} (${facts})`, { cause: error, retryAfterSeconds });
    }
    if (
      error instanceof OpenAI.AuthenticationError ||
      error instanceof OpenAI.PermissionDeniedError ||
      error instanceof OpenAI.BadRequestError ||
      error instanceof OpenAI.NotFoundError ||
      error instanceof OpenAI.UnprocessableEntityError
    ) {
      return new KluisError('provider_rejected', `OpenAI rejected the request (${facts})`, { cause: error });
    }
    // 5xx, and the 408/409 the SDK also retries: a passing condition on their side.
    if (error.status === undefined || error.status >= 500 || error.status === 408 || error.status === 409) {
      return new KluisError('provider_unavailable', `OpenAI failed ${retried} (${facts})`, { cause: error });
    }
    return new KluisError('provider_rejected', `OpenAI rejected the request (${facts})`, { cause: error });
  }

  // Not from the SDK's HTTP layer, e.g. a 200 whose body is not JSON (a proxy's error page).
  // Only the class name: such messages may quote the body.
  const kind = error instanceof Error ? error.name : typeof error;
  return new KluisError('provider_unavailable', `OpenAI call failed unexpectedly (${kind})`, { cause: error });
}

function describe(error: InstanceType<typeof OpenAI.APIError>): string {
  const parts = [`HTTP ${error.status ?? 'unknown'}`];
  if (typeof error.code === 'string' && error.code) parts.push(`code ${error.code}`);
  if (typeof error.type === 'string' && error.type) parts.push(`type ${error.type}`);
  if (typeof error.param === 'string' && error.param) parts.push(`param ${error.param}`);
  if (typeof error.request_id === 'string' && error.request_id) parts.push(`request ${error.request_id}`);
  return parts.join(', ');
}

/**
 * Seconds to wait according to the last response, read the way the SDK reads it: `retry-after-ms`
 * first, then `Retry-After` as seconds or an HTTP date. Rounded up; undefined when absent or unreadable.
 */
export function retryAfterFrom(headers: Record<string, string | null | undefined> | undefined): number | undefined {
  const header = (name: string): string | undefined => {
    if (!headers) return undefined;
    const key = Object.keys(headers).find((candidate) => candidate.toLowerCase() === name);
    const value = key === undefined ? undefined : headers[key];
    return typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined;
  };

  const millis = header('retry-after-ms');
  if (millis !== undefined && /^\d+(\.\d+)?$/.test(millis)) return Math.ceil(Number(millis) / 1000);

  const value = header('retry-after');
  if (value === undefined) return undefined;
  if (/^\d+(\.\d+)?$/.test(value)) return Math.ceil(Number(value));
  const at = Date.parse(value);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, Math.ceil((at - Date.now()) / 1000));
}
