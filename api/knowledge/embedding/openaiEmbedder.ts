/**
 * The OpenAI and Azure OpenAI adapters for the embedder port: `POST /embeddings` through the
 * official SDK (openai 4). Azure differs only in the client: `AzureOpenAI` sends the key as the
 * `api-key` header, adds `?api-version=` and puts `/openai/deployments/{deployment}` in the path.
 *
 * Documents and questions are embedded alike (these models have no input type). Float encoding
 * is asked for explicitly; `dimensions` is sent, so a text-embedding-3 model shortens its
 * vectors to the configured size. At most 128 texts go in one call, far below the API's 2,048
 * inputs and its token budget per request for passages of Kluis's chunk size.
 *
 * Retries are the SDK's: connection errors, timeouts, 408, 409, 429 and 5xx, up to `maxRetries`
 * times, waiting for `retry-after-ms` or `Retry-After` when below 60 s, otherwise backing off
 * exponentially from 0.5 s to 8 s. Only then are errors mapped onto the catalogue. What leaves
 * Kluis is the passage or question text, the model (or deployment) name and the dimension.
 */
import OpenAI, { AzureOpenAI } from 'openai';
import { fail, KluisError } from '../../errors';
import { checkDimension, embedInBatches, retryAfterSeconds, type Embedder } from './embedder';

interface CommonOptions {
  apiKey: string;
  dimension: number;
  /** Per attempt, in milliseconds. */
  timeoutMs: number;
  maxRetries: number;
}

export interface OpenAiEmbedderOptions extends CommonOptions {
  /** Defaults to the public API (`https://api.openai.com/v1`). */
  baseUrl?: string;
  /** e.g. text-embedding-3-small. */
  model: string;
}

export interface AzureOpenAiEmbedderOptions extends CommonOptions {
  /** `https://<resource>.openai.azure.com` */
  endpoint: string;
  deployment: string;
  apiVersion: string;
}

export const DEFAULT_OPENAI_BASE_URL = 'https://api.openai.com/v1';
const BATCH_SIZE = 128;

export function createOpenAiEmbedder(options: OpenAiEmbedderOptions): Embedder {
  checkCommon(options, 'OpenAI embedder');
  if (options.model.trim() === '') fail('config_invalid', 'OpenAI embedder: the model name is empty');
  // Explicit values, so the SDK does not pick up OPENAI_* settings from the environment.
  const client = new OpenAI({ apiKey: options.apiKey, baseURL: options.baseUrl ?? DEFAULT_OPENAI_BASE_URL, organization: null, project: null, timeout: options.timeoutMs, maxRetries: options.maxRetries });
  return embedderOn(client, options.model, `openai:${options.model}`, options.dimension, 'OpenAI');
}

export function createAzureOpenAiEmbedder(options: AzureOpenAiEmbedderOptions): Embedder {
  checkCommon(options, 'Azure OpenAI embedder');
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(options.deployment)) fail('config_invalid', 'Azure OpenAI embedder: the deployment name must be 1-64 letters, digits, dots, dashes or underscores');
  if (options.apiVersion.trim() === '') fail('config_invalid', 'Azure OpenAI embedder: the api-version is empty');
  const client = new AzureOpenAI({
    apiKey: options.apiKey,
    // baseURL rather than `endpoint`: the SDK would otherwise also read OPENAI_BASE_URL and
    // AZURE_OPENAI_ENDPOINT from the environment.
    baseURL: `${options.endpoint.replace(/\/+$/, '')}/openai`,
    deployment: options.deployment,
    apiVersion: options.apiVersion,
    timeout: options.timeoutMs,
    maxRetries: options.maxRetries,
  });
  return embedderOn(client, options.deployment, `azure-openai:${options.deployment}`, options.dimension, 'Azure OpenAI');
}

function checkCommon(options: CommonOptions, who: string): void {
  if (options.apiKey.trim() === '') fail('config_invalid', `${who}: the API key is empty`);
  checkDimension(options.dimension, who);
  if (!Number.isInteger(options.timeoutMs) || options.timeoutMs <= 0) fail('config_invalid', `${who}: timeoutMs must be a positive integer, got ${options.timeoutMs}`);
  if (!Number.isInteger(options.maxRetries) || options.maxRetries < 0) fail('config_invalid', `${who}: maxRetries must be a non-negative integer, got ${options.maxRetries}`);
}

function embedderOn(client: OpenAI, model: string, id: string, dimension: number, service: string): Embedder {
  const embed = async (input: string[]): Promise<unknown> => {
    let response: OpenAI.CreateEmbeddingResponse;
    try {
      response = await client.embeddings.create({ model, input, dimensions: dimension, encoding_format: 'float' });
    } catch (error) {
      throw toKluisError(error, service);
    }
    const data: unknown = (response as { data?: unknown }).data;
    if (!Array.isArray(data)) fail('embedding_invalid', `${service} answered without a data list.`);
    // The API documents one item per input with its `index`; order by it rather than trust the list order.
    const vectors = new Array<unknown>(input.length);
    for (const item of data as Array<{ index?: unknown; embedding?: unknown }>) {
      if (!Number.isInteger(item?.index) || (item.index as number) < 0 || (item.index as number) >= input.length) fail('embedding_invalid', `${service} answered with an embedding index outside the request.`);
      vectors[item.index as number] = item.embedding;
    }
    return data.length === input.length ? vectors : data;
  };
  return {
    id,
    dimension,
    async embedDocuments(texts) {
      return embedInBatches(texts, BATCH_SIZE, dimension, embed);
    },
    async embedQuery(text) {
      const [vector] = await embedInBatches([text], 1, dimension, embed);
      return vector!;
    },
  };
}

function toKluisError(error: unknown, service: string): KluisError {
  if (error instanceof KluisError) return error;
  if (error instanceof OpenAI.APIConnectionError) return new KluisError('embedding_unavailable', `${service} embeddings could not be reached after the SDK retries (${error.name}).`, { cause: error });
  if (error instanceof OpenAI.APIError && error.status !== undefined) {
    const status = error.status;
    const what = [error.code, error.type].filter(Boolean).join('/');
    const detail = `${service} embeddings answered ${status}${what ? ` (${what})` : ''}${error.request_id ? `, request ${error.request_id}` : ''}`;
    if (status === 408 || status === 409 || status === 429 || status >= 500) {
      const headers = error.headers as Record<string, string | undefined> | undefined;
      return new KluisError('embedding_unavailable', `${detail} after the SDK retries.`, { retryAfterSeconds: retryAfterSeconds(headers?.['retry-after']) });
    }
    return new KluisError('embedding_rejected', `${detail}.`);
  }
  // A 200 whose body is not JSON: the SDK's fetch (node-fetch) fails with type invalid-json, a
  // native fetch with a SyntaxError (told by name: it may come from another realm).
  if (error instanceof Error && (error.name === 'SyntaxError' || (error as { type?: unknown }).type === 'invalid-json')) return new KluisError('embedding_invalid', `${service} embeddings answered with a body that is not JSON.`);
  return new KluisError('embedding_unavailable', `${service} embeddings failed: ${error instanceof Error ? error.name : typeof error}.`, { cause: error });
}
