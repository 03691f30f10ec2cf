/**
 * The Google Gemini adapter: the Gemini Developer API through the official `@google/genai` SDK
 * (`POST {baseUrl}/v1beta/models/{model}:streamGenerateContent?alt=sse`, key in `x-goog-api-key`).
 * The system prompt travels as `systemInstruction`, the turns as `contents` with roles user/model.
 * Both `complete` and `stream` read the SSE stream, so one code path reads every answer.
 *
 * Retries are the SDK's (`httpOptions.retryOptions`, p-retry): up to `maxRetries` more attempts on
 * 408, 429 and 5xx with exponential backoff from 1 s; the SDK does not read Retry-After, but Google
 * states the wait in the 429 body (`google.rpc.RetryInfo.retryDelay`), which becomes
 * retryAfterSeconds. `timeoutMs` bounds each attempt. Mapping once the SDK gives up: 401/403 and the
 * 400 API_KEY_INVALID Google sends for a wrong key -> provider_auth_failed, other 4xx ->
 * provider_rejected, 429 -> provider_unavailable with retryAfterSeconds, 5xx/timeouts/unreachable ->
 * provider_unavailable, a stream that is not JSON or ends without a finishReason ->
 * provider_stream_invalid. Details carry status and Google's status/reason only, never the key
 * (Google's error messages do not echo it, and the SDK's URL never carries it as a query parameter).
 */
import { ApiError, GoogleGenAI, type GenerateContentResponse } from '@google/genai';
import { fail, KluisError } from '../../errors';
import type { ChatDelta, ChatProvider, ChatRequest, ChatResult } from '../ports';
import { checkSettings, citedPassages, completeFromStream, retriesPhrase, splitSystem, untilAborted, type RemoteProviderSettings, errorName, isJsonSyntaxError } from './providerKit';

export interface GeminiProviderOptions extends RemoteProviderSettings {
  maxOutputTokens?: number;
  /**
   * The fetch to use instead of the SDK's own. Leave it unset in production: the SDK then hands
   * Node's fetch a dispatcher without Undici's 300 s header/body limits. It needs Node's global
   * Undici dispatcher, which a sandboxed module realm (the Jest test environment) does not expose,
   * so tests pass the realm's fetch here.
   */
  fetch?: typeof fetch;
}

const DEFAULT_BASE_URL = 'https://generativelanguage.googleapis.com';
const DEFAULT_MAX_OUTPUT_TOKENS = 1024;
const TEMPERATURE = 0.2;
/** Finish reasons of an answer that is complete and usable as it is. */
const NORMAL_FINISH = new Set(['STOP']);

export function createGeminiProvider(options: GeminiProviderOptions): ChatProvider {
  checkSettings('Gemini', options);
  const maxOutputTokens = options.maxOutputTokens ?? DEFAULT_MAX_OUTPUT_TOKENS;
  if (!Number.isInteger(maxOutputTokens) || maxOutputTokens < 1) fail('config_invalid', `Gemini provider: maxOutputTokens must be a positive integer, got ${maxOutputTokens}`);
  const { model, timeoutMs, maxRetries, logger } = options;

  const client = new GoogleGenAI({
    apiKey: options.apiKey,
    // Explicit, so GOOGLE_GENAI_USE_VERTEXAI or GOOGLE_GEMINI_BASE_URL in the environment change nothing.
    vertexai: false,
    httpOptions: {
      baseUrl: options.baseUrl ?? DEFAULT_BASE_URL,
      timeout: timeoutMs,
      retryOptions: { attempts: maxRetries + 1 },
      ...(options.fetch ? { fetch: options.fetch } : {}),
    },
  });

  async function* stream(request: ChatRequest, signal?: AbortSignal): AsyncIterable<ChatDelta> {
    signal?.throwIfAborted();
    const { system, turns } = splitSystem(request.messages);

    let chunks: AsyncGenerator<GenerateContentResponse>;
    try {
      chunks = await untilAborted(
        client.models.generateContentStream({
          model,
          contents: turns.map((turn) => ({ role: turn.role === 'assistant' ? 'model' : 'user', parts: [{ text: turn.content }] })),
          config: { ...(system === undefined ? {} : { systemInstruction: system }), temperature: TEMPERATURE, maxOutputTokens, abortSignal: signal },
        }),
        signal,
      );
    } catch (error) {
      throw signal?.aborted ? signal.reason : toKluisError(error);
    }

    let text = '';
    let answeringModel = model;
    let finishReason: string | undefined;
    let responseId = '';
    let usage: ChatResult['usage'];
    try {
      for await (const chunk of chunks) {
        answeringModel = chunk.modelVersion || answeringModel;
        responseId = chunk.responseId || responseId;
        const candidate = chunk.candidates?.[0];
        if (candidate?.finishReason) finishReason = candidate.finishReason;
        const meta = chunk.usageMetadata;
        if (meta?.promptTokenCount !== undefined) usage = { inputTokens: meta.promptTokenCount, outputTokens: meta.candidatesTokenCount ?? 0 };
        for (const part of candidate?.content?.parts ?? []) {
          // Thought summaries are the model's working, not the answer.
          if (typeof part.text === 'string' && part.text !== '' && part.thought !== true) {
            text += part.text;
            yield { type: 'text', text: part.text };
          }
        }
      }
    } catch (error) {
      throw signal?.aborted ? signal.reason : toKluisError(error);
    }

    if (finishReason === undefined) fail('provider_stream_invalid', `Gemini stream ended without a finishReason (model ${answeringModel}, id ${responseId || 'unknown'})`);
    const trimmed = text.trim();
    if (trimmed === '') fail('provider_unavailable', `Gemini returned an empty answer (finishReason ${finishReason}; model ${answeringModel})`);
    if (!NORMAL_FINISH.has(finishReason)) logger?.warn({ provider: 'gemini', model: answeringModel, responseId, finishReason }, 'Gemini answer did not finish normally');
    const result: ChatResult = { text: trimmed, provider: 'gemini', model: answeringModel, usedPassages: citedPassages(trimmed, request.passages.length) };
    if (usage) result.usage = usage;
    yield { type: 'done', result };
  }

  function toKluisError(error: unknown): KluisError {
    const mapped = classifyGeminiError(error, timeoutMs, maxRetries);
    logger?.warn(
      { provider: 'gemini', model, errorId: mapped.id, status: error instanceof ApiError ? error.status : undefined, retryAfterSeconds: mapped.retryAfterSeconds },
      'Gemini call failed',
    );
    return mapped;
  }

  return {
    name: 'gemini',
    complete: (request, signal) => completeFromStream(stream(request, signal)),
    stream,
  };
}

/** Google's error body as the SDK puts it in ApiError.message (JSON, sometimes after a prefix). */
interface GoogleError {
  code?: number;
  status?: string;
  details?: Array<{ '@type'?: string; reason?: string; retryDelay?: string }>;
}

export function googleErrorOf(message: string): GoogleError | undefined {
  const start = message.indexOf('{');
  if (start < 0) return undefined;
  try {
    const parsed = JSON.parse(message.slice(start)) as { error?: GoogleError };
    return parsed.error && typeof parsed.error === 'object' ? parsed.error : undefined;
  } catch {
    return undefined;
  }
}

export function classifyGeminiError(error: unknown, timeoutMs: number, maxRetries: number): KluisError {
  const retried = retriesPhrase(maxRetries);
  if (error instanceof ApiError) {
    const google = googleErrorOf(error.message);
    const reasons = (google?.details ?? []).map((d) => d.reason).filter((r): r is string => typeof r === 'string');
    const facts = [`HTTP ${error.status}`, google?.status ? `status ${google.status}` : '', reasons.length ? `reason ${reasons.join('/')}` : ''].filter(Boolean).join(', ');
    if (error.status === 429) {
      const delay = google?.details?.find((d) => typeof d.retryDelay === 'string')?.retryDelay;
      const seconds = delay && /^\d+(\.\d+)?s$/.test(delay) ? Math.ceil(Number(delay.slice(0, -1))) : undefined;
      return new KluisError('provider_unavailable', `Gemini rate limit ${retried} (${facts})`, { cause: error, retryAfterSeconds: seconds });
    }
    if (error.status === 401 || error.status === 403 || reasons.includes('API_KEY_INVALID')) {
      return new KluisError('provider_auth_failed', `Gemini did not accept the credentials (${facts})`, { cause: error });
    }
    if (error.status >= 500 || error.status === 408) return new KluisError('provider_unavailable', `Gemini failed ${retried} (${facts})`, { cause: error });
    return new KluisError('provider_rejected', `Gemini rejected the request (${facts})`, { cause: error });
  }
  const name = errorName(error);
  const message = typeof (error as { message?: unknown })?.message === 'string' ? (error as { message: string }).message : '';
  // The SDK aborts an attempt on timeout with a bare abort (the caller's own abort is handled before).
  if (endedByAbort(error)) {
    return new KluisError('provider_unavailable', `Gemini did not answer within ${timeoutMs} ms ${retried}`, { cause: error });
  }
  if (isJsonSyntaxError(error) || /Incomplete JSON segment/.test(message)) {
    return new KluisError('provider_stream_invalid', 'Gemini sent a stream that is not JSON server-sent events', { cause: error });
  }
  if (name === 'TypeError') return new KluisError('provider_unavailable', `Gemini could not be reached ${retried}`, { cause: error });
  return new KluisError('provider_unavailable', `Gemini call failed unexpectedly (${name})`, { cause: error });
}

/**
 * Whether the SDK's per-attempt timer aborted the request. Checks the cause chain, and the text
 * p-retry writes when it re-wraps an abort from another realm (a test sandbox) as a TypeError.
 */
function endedByAbort(error: unknown): boolean {
  let current: unknown = error;
  for (let depth = 0; depth < 4 && typeof current === 'object' && current !== null; depth++) {
    const name = errorName(current);
    const message = (current as { message?: unknown }).message;
    if (name === 'AbortError' || name === 'TimeoutError') return true;
    if (typeof message === 'string' && /^Non-error was thrown: "(AbortError|TimeoutError)\b/.test(message)) return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}
