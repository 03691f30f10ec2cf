/**
 * The Stability AI adapter for the image port: Stable Image Core,
 * `POST {baseUrl}/v2beta/stable-image/generate/core` with a multipart/form-data body (prompt,
 * negative_prompt, aspect_ratio, output_format, seed), `Authorization: Bearer`, and
 * `Accept: image/*`, so the image comes back as raw bytes with `finish-reason` and `seed` headers.
 * Stability publishes no Node SDK, so this speaks HTTP with Node's own fetch and FormData.
 *
 * Retries follow what the SDKs of the chat providers do: up to `maxRetries` more attempts on 429,
 * 5xx and timeouts, waiting for Retry-After when it is given and under 60 s, else backing off from
 * 0.5 s to 8 s. `timeoutMs` bounds each attempt. Then: 401/403 -> provider_auth_failed; the 403
 * `content_moderation` refusal of a prompt and a 200 with `finish-reason: CONTENT_FILTERED` ->
 * image_filtered (the blurred image is never returned); other 4xx -> provider_rejected; 429 ->
 * provider_unavailable with retryAfterSeconds; 5xx, timeouts, unreachable -> provider_unavailable;
 * a 200 that is not an image or is larger than maxImageBytes -> provider_stream_invalid.
 * Details carry status, Stability's error name and request id: never the key, never the prompt.
 */
import { fail, KluisError } from '../../errors';
import type { ImageProvider, ImageRequest, ImageResult } from '../ports';
import { retriesPhrase, retryAfterFrom, type ProviderLogger } from './providerKit';

export interface StabilityImageProviderOptions {
  apiKey: string;
  baseUrl?: string;
  timeoutMs: number;
  maxRetries: number;
  /** Refuse images larger than this (bytes). Default 20 MB. */
  maxImageBytes?: number;
  logger?: ProviderLogger;
  /** For tests and proxies; defaults to the global fetch. */
  fetch?: typeof fetch;
}

const DEFAULT_BASE_URL = 'https://api.stability.ai';
const MODEL = 'stable-image-core';
const MAX_PROMPT_CHARS = 10_000;
const ASPECT_RATIOS = ['1:1', '16:9', '21:9', '2:3', '3:2', '4:5', '5:4', '9:16', '9:21'];
const FORMATS = ['png', 'jpeg', 'webp'];
const MAX_WAIT_MS = 60_000;

export function createStabilityImageProvider(options: StabilityImageProviderOptions): ImageProvider {
  const { apiKey, timeoutMs, maxRetries, logger } = options;
  if (apiKey.trim() === '') fail('config_invalid', 'Stability provider: the API key is empty');
  if (!Number.isInteger(timeoutMs) || timeoutMs <= 0) fail('config_invalid', `Stability provider: timeoutMs must be a positive integer, got ${timeoutMs}`);
  if (!Number.isInteger(maxRetries) || maxRetries < 0) fail('config_invalid', `Stability provider: maxRetries must be a non-negative integer, got ${maxRetries}`);
  const baseUrl = (options.baseUrl ?? DEFAULT_BASE_URL).replace(/\/+$/, '');
  if (!/^https?:\/\/[^\s/]+/.test(baseUrl)) fail('config_invalid', 'Stability provider: baseUrl must be an http(s) URL');
  const maxImageBytes = options.maxImageBytes ?? 20 * 1024 * 1024;
  const doFetch = options.fetch ?? fetch;
  const url = `${baseUrl}/v2beta/stable-image/generate/core`;

  async function attempt(request: ImageRequest, signal: AbortSignal | undefined): Promise<Response> {
    const form = new FormData();
    form.append('prompt', request.prompt);
    if (request.negativePrompt) form.append('negative_prompt', request.negativePrompt);
    if (request.aspectRatio) form.append('aspect_ratio', request.aspectRatio);
    form.append('output_format', request.outputFormat ?? 'png');
    if (request.seed !== undefined) form.append('seed', String(request.seed));
    const timeout = AbortSignal.timeout(timeoutMs);
    return doFetch(url, {
      method: 'POST',
      headers: { authorization: `Bearer ${apiKey}`, accept: 'image/*' },
      body: form,
      signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
    });
  }

  return {
    name: 'stability',

    async generate(request: ImageRequest, signal?: AbortSignal): Promise<ImageResult> {
      signal?.throwIfAborted();
      checkRequest(request);
      const retried = retriesPhrase(maxRetries);

      for (let n = 0; ; n++) {
        let response: Response;
        try {
          response = await attempt(request, signal);
        } catch (error) {
          if (signal?.aborted) throw signal.reason;
          const timedOut = (error as { name?: unknown })?.name === 'TimeoutError';
          if (n < maxRetries) {
            await sleep(backoff(n), signal);
            continue;
          }
          throw logged(new KluisError('provider_unavailable', timedOut ? `Stability did not answer within ${timeoutMs} ms ${retried}` : `Stability could not be reached ${retried}`, { cause: error }));
        }

        if (response.ok) return readImage(response, request);

        const retryAfterSeconds = retryAfterFrom(response.headers);
        const retryable = response.status === 429 || response.status >= 500;
        if (retryable && n < maxRetries) {
          await response.body?.cancel();
          const wait = retryAfterSeconds !== undefined && retryAfterSeconds > 0 && retryAfterSeconds * 1000 <= MAX_WAIT_MS ? retryAfterSeconds * 1000 : backoff(n);
          await sleep(wait, signal);
          continue;
        }
        throw logged(await errorFrom(response, retried, retryAfterSeconds));
      }
    },
  };

  async function readImage(response: Response, request: ImageRequest): Promise<ImageResult> {
    const finishReason = response.headers.get('finish-reason');
    const contentType = (response.headers.get('content-type') ?? '').split(';')[0]!.trim();
    if (finishReason === 'CONTENT_FILTERED') {
      await response.body?.cancel();
      throw logged(new KluisError('image_filtered', 'Stability filtered the generated image (finish-reason CONTENT_FILTERED)'));
    }
    if (!contentType.startsWith('image/')) {
      await response.body?.cancel();
      throw logged(new KluisError('provider_stream_invalid', `Stability answered 200 with ${contentType || 'no content type'} instead of an image`));
    }
    const declared = Number(response.headers.get('content-length') ?? '0');
    if (declared > maxImageBytes) {
      await response.body?.cancel();
      throw logged(new KluisError('provider_stream_invalid', `Stability sent an image of ${declared} bytes, above the ${maxImageBytes} limit`));
    }
    const bytes = new Uint8Array(await response.arrayBuffer());
    if (bytes.byteLength === 0 || bytes.byteLength > maxImageBytes) {
      throw logged(new KluisError('provider_stream_invalid', `Stability sent an image of ${bytes.byteLength} bytes`));
    }
    const seed = Number(response.headers.get('seed'));
    const result: ImageResult = { bytes, contentType, provider: 'stability', model: MODEL };
    if (Number.isInteger(seed)) result.seed = seed;
    else if (request.seed !== undefined) result.seed = request.seed;
    return result;
  }

  function logged(error: KluisError): KluisError {
    logger?.warn({ provider: 'stability', model: MODEL, errorId: error.id, retryAfterSeconds: error.retryAfterSeconds, detail: error.message }, 'Stability call failed');
    return error;
  }
}

/** Stability's error body: `{ id, name, errors: [...] }`. Only the name and id go into details. */
async function errorFrom(response: Response, retried: string, retryAfterSeconds: number | undefined): Promise<KluisError> {
  let name = '';
  let id = '';
  try {
    const body = (await response.json()) as { name?: unknown; id?: unknown };
    if (typeof body.name === 'string') name = body.name.slice(0, 60);
    if (typeof body.id === 'string') id = body.id.slice(0, 60);
  } catch {
    // Not JSON (a proxy's page): the status says enough.
  }
  const facts = [`HTTP ${response.status}`, name ? `name ${name}` : '', id ? `id ${id}` : ''].filter(Boolean).join(', ');
  if (name === 'content_moderation') return new KluisError('image_filtered', `Stability declined the prompt (${facts})`);
  if (response.status === 429) return new KluisError('provider_unavailable', `Stability rate limit ${retried} (${facts})`, { retryAfterSeconds });
  if (response.status === 401 || response.status === 403) return new KluisError('provider_auth_failed', `Stability did not accept the credentials (${facts})`);
  if (response.status >= 500) return new KluisError('provider_unavailable', `Stability failed ${retried} (${facts})`);
  return new KluisError('provider_rejected', `Stability rejected the request (${facts})`);
}

function checkRequest(request: ImageRequest): void {
  if (typeof request.prompt !== 'string' || request.prompt.trim() === '') fail('request_malformed', 'image prompt is empty');
  if (request.prompt.length > MAX_PROMPT_CHARS) fail('request_malformed', `image prompt is longer than ${MAX_PROMPT_CHARS} characters`);
  if (request.negativePrompt !== undefined && (typeof request.negativePrompt !== 'string' || request.negativePrompt.length > MAX_PROMPT_CHARS)) fail('request_malformed', 'negative prompt is not text of at most 10000 characters');
  if (request.aspectRatio !== undefined && !ASPECT_RATIOS.includes(request.aspectRatio)) fail('request_malformed', `aspect ratio must be one of ${ASPECT_RATIOS.join(', ')}`);
  if (request.outputFormat !== undefined && !FORMATS.includes(request.outputFormat)) fail('request_malformed', `output format must be one of ${FORMATS.join(', ')}`);
  if (request.seed !== undefined && (!Number.isInteger(request.seed) || request.seed < 0 || request.seed > 4_294_967_294)) fail('request_malformed', 'seed must be an integer from 0 to 4294967294');
}

function backoff(n: number): number {
  return Math.min(8000, 500 * 2 ** n) * (1 - Math.random() * 0.25);
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
