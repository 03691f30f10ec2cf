/**
 * The Cohere adapter for the embedder port: `POST /v2/embed` through the official SDK (cohere-ai 8).
 *
 * Passages are sent with input_type `search_document` and questions with `search_query`, as
 * Cohere's v3 models require for retrieval; float embeddings only; at most 96 texts a call (the
 * API's limit), and `truncate: END` so an unusually long passage is cut rather than refused.
 *
 * Retries are the SDK's: on 408, 429 and 5xx it waits for Retry-After (seconds or an HTTP date,
 * at most 60 s) or X-RateLimit-Reset when the server sends one, otherwise backs off exponentially
 * from 1 s, up to `maxRetries` times. Only then are errors mapped onto the catalogue. What leaves
 * Kluis is the passage or question text and the model name; details in errors carry only status
 * and the provider's message, never the key or the texts.
 */
import { CohereClientV2, CohereError, CohereTimeoutError } from 'cohere-ai';
import { fail, KluisError } from '../../errors';
import { checkDimension, embedInBatches, retryAfterSeconds, type Embedder } from './embedder';

export interface CohereEmbedderOptions {
  apiKey: string;
  /** Defaults to Cohere's public API; set it for a regional endpoint or a gateway. */
  baseUrl?: string;
  model: string;
  /** embed-multilingual-v3.0 returns 1024. */
  dimension: number;
  timeoutMs: number;
  maxRetries: number;
}

export const DEFAULT_COHERE_BASE_URL = 'https://api.cohere.com';
/** Cohere's documented maximum of texts per embed call. */
export const COHERE_MAX_TEXTS = 96;

export function createCohereEmbedder(options: CohereEmbedderOptions): Embedder {
  const { apiKey, model, timeoutMs, maxRetries } = options;
  if (apiKey.trim() === '') fail('config_invalid', 'Cohere embedder: the API key is empty');
  if (model.trim() === '') fail('config_invalid', 'Cohere embedder: the model name is empty');
  const dimension = checkDimension(options.dimension, 'Cohere embedder');
  // Passing the token explicitly keeps the SDK from reading CO_API_KEY from the environment.
  const client = new CohereClientV2({ token: apiKey, baseUrl: options.baseUrl ?? DEFAULT_COHERE_BASE_URL, timeoutInSeconds: Math.max(1, Math.ceil(timeoutMs / 1000)), maxRetries });

  const embed = async (texts: string[], inputType: 'search_document' | 'search_query'): Promise<unknown> => {
    try {
      const response = await client.embed({ model, texts, inputType, embeddingTypes: ['float'], truncate: 'END' });
      return response.embeddings?.float;
    } catch (error) {
      throw toKluisError(error);
    }
  };

  return {
    id: `cohere:${model}`,
    dimension,
    async embedDocuments(texts) {
      return embedInBatches(texts, COHERE_MAX_TEXTS, dimension, (batch) => embed(batch, 'search_document'));
    },
    async embedQuery(text) {
      const [vector] = await embedInBatches([text], 1, dimension, (batch) => embed(batch, 'search_query'));
      return vector!;
    },
  };
}

function toKluisError(error: unknown): KluisError {
  if (error instanceof KluisError) return error;
  if (error instanceof CohereTimeoutError) return new KluisError('embedding_unavailable', 'Cohere embed timed out after the SDK retries.', { cause: error });
  if (error instanceof CohereError) {
    const status = error.statusCode;
    const message = providerMessage(error.body);
    if (status === undefined) return new KluisError('embedding_unavailable', `Cohere embed could not be reached: ${error.message.slice(0, 200)}`, { cause: error });
    // A 2xx the SDK could not read as JSON: the service answered, but not in its documented format.
    if (status >= 200 && status < 300) return new KluisError('embedding_invalid', `Cohere embed answered ${status} with a body that is not JSON.`);
    if (status === 408 || status === 429 || status >= 500) {
      const retryAfter = retryAfterSeconds(error.rawResponse?.headers?.get('retry-after'));
      return new KluisError('embedding_unavailable', `Cohere embed answered ${status} after the SDK retries${message}.`, { retryAfterSeconds: retryAfter });
    }
    return new KluisError('embedding_rejected', `Cohere embed answered ${status}${message}.`);
  }
  return new KluisError('embedding_unavailable', `Cohere embed failed: ${error instanceof Error ? error.name : typeof error}.`, { cause: error });
}

/** Cohere's error body is `{ "message": "..." }`; only a bounded piece of it reaches the log. */
function providerMessage(body: unknown): string {
  const message = body && typeof body === 'object' && 'message' in body ? (body as { message: unknown }).message : undefined;
  return typeof message === 'string' ? `: ${message.slice(0, 200)}` : '';
}
