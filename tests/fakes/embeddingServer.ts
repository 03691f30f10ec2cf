/**
 * A local stand-in for three embedding APIs, spoken over real HTTP so the official SDKs (their
 * headers, retries and error classes) run exactly as they would against the real services.
 *
 * Wire formats as documented by each provider:
 * - Cohere: `POST /v2/embed` with `Authorization: Bearer`, body `{ model, texts, input_type,
 *   embedding_types, truncate }`, at most 96 texts; answers `{ id, embeddings: { float: [...] },
 *   texts, meta, response_type: "embeddings_by_type" }`, errors as `{ message }`.
 * - OpenAI: `POST /v1/embeddings` with `Authorization: Bearer`, body `{ model, input, dimensions,
 *   encoding_format }`; answers `{ object: "list", data: [{ object: "embedding", index, embedding }],
 *   model, usage }`, errors as `{ error: { message, type, param, code } }`.
 * - Azure OpenAI: `POST /openai/deployments/{deployment}/embeddings?api-version=...` with the
 *   `api-key` header; OpenAI's body and answer; an unknown deployment is 404 DeploymentNotFound,
 *   a missing api-version 404, a 429 carries both `retry-after` and `retry-after-ms`.
 *
 * Embeddings are deterministic: a hashed bag of words, normalised, so texts sharing words point
 * alike and a question lands near the passages that answer it. `latencyMs` delays every answer,
 * for benchmarks that need a provider's round trip without the network.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type EmbeddingFlavour = 'cohere' | 'openai' | 'azure-openai';

export type EmbeddingFakeReply =
  /** 429 with Retry-After in seconds (Azure also gets retry-after-ms). */
  | { kind: 'rate-limit'; retryAfterSeconds: number }
  | { kind: 'server-error' }
  /** 200 with a body that is not JSON. */
  | { kind: 'malformed' }
  /** 200 with vectors one value short of the asked dimension. */
  | { kind: 'wrong-dimension' }
  /** 200 with one vector fewer than texts. */
  | { kind: 'missing-vector' };

export interface RecordedEmbeddingRequest {
  path: string;
  query: string;
  /** Lower-case names; key values are replaced so they never land in test output. */
  headers: Record<string, string>;
  body: any;
}

export interface FakeEmbeddingService {
  flavour: EmbeddingFlavour;
  /** What the adapter takes as base URL (Cohere: origin; OpenAI: origin + /v1; Azure: endpoint). */
  baseUrl: string;
  apiKey: string;
  /** Azure only: the one deployment that exists. */
  deployment: string;
  apiVersion: string;
  requests: RecordedEmbeddingRequest[];
  enqueue(...replies: EmbeddingFakeReply[]): void;
  setLatency(ms: number): void;
  close(): Promise<void>;
}

export const COHERE_DIMENSION = 1024;
const COHERE_MAX_TEXTS = 96;
const OPENAI_DEFAULT_DIMENSION = 1536;

/** Hashed bag of words, L2-normalised; never the zero vector (which has no cosine). */
export function fakeEmbedding(text: string, dimension: number): number[] {
  const v = new Array<number>(dimension).fill(0);
  for (const word of text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []) {
    const h = createHash('sha1').update(word).digest();
    const slot = h.readUInt32BE(0) % dimension;
    v[slot]! += h[4]! & 1 ? 1 : -1;
  }
  v[0]! += 0.01;
  const norm = Math.sqrt(v.reduce((s, x) => s + x * x, 0));
  return v.map((x) => x / norm);
}

export async function startFakeEmbeddingService(flavour: EmbeddingFlavour, options: { latencyMs?: number; apiKey?: string } = {}): Promise<FakeEmbeddingService> {
  const apiKey = options.apiKey ?? `key-${randomBytes(16).toString('hex')}`;
  const deployment = 'kluis-embeddings';
  const apiVersion = '2024-10-21';
  const requests: RecordedEmbeddingRequest[] = [];
  const queue: EmbeddingFakeReply[] = [];
  let latencyMs = options.latencyMs ?? 0;

  const server = createServer((req, res) => {
    void handle(req, res).catch(() => {
      if (!res.headersSent) send(res, 500, errorBody(500, 'internal error', 'server_error'));
      else res.destroy();
    });
  });

  function errorBody(status: number, message: string, code: string | null, type = 'invalid_request_error'): unknown {
    if (flavour === 'cohere') return { id: randomBytes(8).toString('hex'), message };
    if (flavour === 'azure-openai') return { error: { code: code ?? String(status), message } };
    return { error: { message, type, param: null, code } };
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await readBody(req);
    const [path = '/', query = ''] = (req.url ?? '/').split('?');
    let body: any = null;
    try {
      body = JSON.parse(raw);
    } catch {
      body = null;
    }
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(req.headers)) headers[name] = name === 'authorization' || name === 'api-key' ? '[redacted]' : String(value);
    requests.push({ path, query, headers, body });
    if (latencyMs > 0) await new Promise((resolve) => setTimeout(resolve, latencyMs));

    const expectedPath = flavour === 'cohere' ? '/v2/embed' : flavour === 'openai' ? '/v1/embeddings' : `/openai/deployments/${deployment}/embeddings`;
    if (req.method !== 'POST') return send(res, 405, errorBody(405, 'method not allowed', null));
    if (flavour === 'azure-openai') {
      if (new URLSearchParams(query).get('api-version') === null) return send(res, 404, errorBody(404, 'Resource not found', '404'));
      if (req.headers['api-key'] !== apiKey) return send(res, 401, errorBody(401, 'Access denied due to invalid subscription key or wrong API endpoint.', '401'));
      if (path !== expectedPath) {
        return send(res, 404, errorBody(404, 'The API deployment for this resource does not exist.', 'DeploymentNotFound'));
      }
    } else {
      if (req.headers.authorization !== `Bearer ${apiKey}`) {
        return send(res, 401, flavour === 'cohere' ? errorBody(401, 'invalid api token', null) : errorBody(401, 'Incorrect API key provided.', 'invalid_api_key'));
      }
      if (path !== expectedPath) return send(res, 404, errorBody(404, `Invalid URL (POST ${path})`, null));
    }

    const texts: unknown = flavour === 'cohere' ? body?.texts : body?.input;
    const model: unknown = body?.model;
    if (!Array.isArray(texts) || texts.length === 0 || !texts.every((t) => typeof t === 'string') || (flavour !== 'azure-openai' && typeof model !== 'string')) {
      return send(res, 400, errorBody(400, "invalid request: 'texts' must be a non-empty list of strings", null));
    }
    if (flavour === 'cohere') {
      if (texts.length > COHERE_MAX_TEXTS) return send(res, 400, errorBody(400, `invalid request: total number of texts must be at most ${COHERE_MAX_TEXTS} - received ${texts.length}`, null));
      if (!['search_document', 'search_query', 'classification', 'clustering'].includes(body?.input_type)) return send(res, 400, errorBody(400, 'invalid request: input_type is required for v3 models', null));
    } else if (texts.some((t: string) => t.length === 0)) {
      return send(res, 400, errorBody(400, "'$.input' is invalid.", null));
    }

    const reply = queue.shift();
    if (reply?.kind === 'rate-limit') {
      const extra: Record<string, string> = { 'retry-after': String(reply.retryAfterSeconds) };
      if (flavour === 'azure-openai') extra['retry-after-ms'] = String(reply.retryAfterSeconds * 1000);
      return send(res, 429, errorBody(429, 'Rate limit reached. Please retry after the time given in Retry-After.', flavour === 'openai' ? 'rate_limit_exceeded' : '429', 'requests'), extra);
    }
    if (reply?.kind === 'server-error') return send(res, 500, errorBody(500, 'The server had an error while processing your request.', null, 'server_error'));
    if (reply?.kind === 'malformed') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"embeddings": [0.1, 0.2');
      return;
    }

    const dimension = flavour === 'cohere' ? COHERE_DIMENSION : Number.isInteger(body?.dimensions) && body.dimensions > 0 ? body.dimensions : OPENAI_DEFAULT_DIMENSION;
    let vectors = (texts as string[]).map((t) => fakeEmbedding(t, dimension));
    if (reply?.kind === 'wrong-dimension') vectors = vectors.map((v) => v.slice(1));
    if (reply?.kind === 'missing-vector') vectors = vectors.slice(1);
    const tokens = (texts as string[]).reduce((n, t) => n + Math.ceil(t.length / 4), 0);
    if (flavour === 'cohere') {
      return send(res, 200, { id: randomBytes(8).toString('hex'), response_type: 'embeddings_by_type', embeddings: { float: vectors }, texts, meta: { api_version: { version: '2' }, billed_units: { input_tokens: tokens } } });
    }
    return send(res, 200, {
      object: 'list',
      data: vectors.map((embedding, index) => ({ object: 'embedding', index, embedding })),
      model: flavour === 'openai' ? model : 'text-embedding-3-small',
      usage: { prompt_tokens: tokens, total_tokens: tokens },
    });
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    flavour,
    baseUrl: flavour === 'openai' ? `${origin}/v1` : origin,
    apiKey,
    deployment,
    apiVersion,
    requests,
    enqueue: (...replies) => queue.push(...replies),
    setLatency: (ms) => {
      latencyMs = ms;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    req.on('data', (part: Buffer) => parts.push(part));
    req.on('end', () => resolve(Buffer.concat(parts).toString('utf8')));
    req.on('error', reject);
  });
}
