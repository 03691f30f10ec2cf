/**
 * A local stand-in for the OpenAI Chat Completions API, spoken over real HTTP so the official SDK
 * (its headers, retries, timeouts and error classes) runs exactly as it would against OpenAI.
 *
 * Wire format as documented by OpenAI: `POST /v1/chat/completions` with `Authorization: Bearer`,
 * a `chat.completion` object on success, `chat.completion.chunk` server-sent events for
 * `"stream": true`, and `{ error: { message, type, param, code } }` bodies on failure.
 * Replies are scripted with `enqueue`; when the queue is empty a default responder answers.
 *
 * Two more services speak the same format, and the `flavour` option turns the fake into them:
 * - 'azure': Azure OpenAI. `POST /openai/deployments/{deployment}/chat/completions?api-version=...`,
 *   the key in an `api-key` header, Azure's `{ error: { code: "401", message } }` bodies, and
 *   `retry-after-ms` next to `Retry-After` on 429.
 * - 'perplexity': `POST /chat/completions` at the API root, Bearer key, and the answer's web sources
 *   as top-level `citations` (URLs) and `search_results` ({ title, url, date }), also on every chunk.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type FakeReply =
  /** 200 with a chat.completion (or a stream of chunks when the request asked for one). */
  | {
      kind: 'completion';
      content: string | null;
      /** Defaults to the model the request named. */
      model?: string;
      refusal?: string | null;
      finishReason?: 'stop' | 'length' | 'content_filter';
      /** Defaults to a rough count of about four characters a token. */
      usage?: { prompt_tokens: number; completion_tokens: number };
      /** Streams only: a pause before each piece of text, as a model writing slowly. */
      chunkDelayMs?: number;
    }
  /** 429 with Retry-After (and, optionally, retry-after-ms as Azure OpenAI sends it). */
  | { kind: 'rate-limit'; retryAfterSeconds: number; retryAfterMs?: number }
  /** 500 with OpenAI's generic server error body. */
  | { kind: 'server-error' }
  /** Any other API error, e.g. 404 model_not_found or 400 context_length_exceeded. */
  | { kind: 'error'; status: number; message: string; type: string; code: string | null; param?: string | null }
  /** An arbitrary JSON reply, for shapes OpenAI should not send but a client must survive. */
  | { kind: 'json'; status: number; body: unknown }
  /** Never answers: the request stays open until the client gives up or the server closes. */
  | { kind: 'hang' }
  /** A 200 stream whose second event is not JSON. */
  | { kind: 'malformed-stream' }
  /** A 200 stream that stops after some text: no finish_reason, no [DONE]. */
  | { kind: 'truncated-stream'; content: string }
  /** A 200 stream that reports an error event part-way, as OpenAI does when a request fails mid-answer. */
  | { kind: 'stream-error'; message: string; type: string };

export type FakeFlavour = 'openai' | 'azure' | 'perplexity';

/** Web sources the Perplexity flavour returns unless a test sets others. */
export const DEFAULT_SEARCH_RESULTS = [
  { title: 'Reisbeleid 2026 - Rijksoverheid', url: 'https://www.rijksoverheid.nl/reisbeleid', date: '2026-01-15' },
  { title: 'Hotel rates in London', url: 'https://example.org/london-hotels', date: '2025-11-02' },
];

export interface RecordedRequest {
  method: string;
  path: string;
  /** Lower-case names; the authorization value is replaced so the key never lands in test output. */
  headers: Record<string, string>;
  /** The parsed JSON body, or null when it was not JSON. */
  body: any;
  /** The query string's parameters. */
  query: Record<string, string>;
}

export interface FakeOpenAi {
  /** Base URL as the SDK expects it: with `/v1` for OpenAI, the resource endpoint for Azure, the root for Perplexity. */
  baseUrl: string;
  apiKey: string;
  requests: RecordedRequest[];
  enqueue(...replies: FakeReply[]): void;
  /** Sets the answer text used when the queue is empty. */
  setDefault(responder: (body: any) => string): void;
  /** Perplexity flavour: the search results sent with every answer (their URLs are the `citations`). */
  setSearchResults(results: Array<{ title: string; url: string; date?: string }>): void;
  close(): Promise<void>;
}

const COMPLETIONS_PATH = '/v1/chat/completions';
export const DEFAULT_ANSWER = 'The handbook covers this [1].';

export async function startFakeOpenAi(options: { apiKey?: string; flavour?: FakeFlavour; deployment?: string } = {}): Promise<FakeOpenAi> {
  const flavour = options.flavour ?? 'openai';
  const deployment = options.deployment ?? 'kluis-gpt';
  const apiKey = options.apiKey ?? `sk-test-${randomBytes(16).toString('hex')}`;
  const requests: RecordedRequest[] = [];
  const queue: FakeReply[] = [];
  let responder: (body: any) => string = () => DEFAULT_ANSWER;
  let searchResults: Array<{ title: string; url: string; date?: string }> = DEFAULT_SEARCH_RESULTS;
  const completionsPath = flavour === 'azure' ? `/openai/deployments/${deployment}/chat/completions` : flavour === 'perplexity' ? '/chat/completions' : COMPLETIONS_PATH;
  const extras = (): Record<string, unknown> =>
    flavour === 'perplexity' ? { citations: searchResults.map((r) => r.url), search_results: searchResults } : {};

  const server = createServer((req, res) => {
    void handle(req, res).catch(() => {
      if (!res.headersSent) sendError(res, 500, 'The server had an error while processing your request.', 'server_error', null);
      else res.destroy();
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await readBody(req);
    const url = new URL(req.url ?? '/', 'http://fake');
    const path = url.pathname;
    const body = parseJson(raw);
    requests.push({ method: req.method ?? 'GET', path, headers: recordedHeaders(req), body, query: Object.fromEntries(url.searchParams) });

    if (flavour === 'azure') {
      // Azure answers a missing or wrong key alike, with its own error shape (code as a string).
      if (req.headers['api-key'] !== apiKey) {
        sendJson(res, 401, {
          error: {
            code: '401',
            message: 'Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an active subscription and use a correct regional API endpoint for your resource.',
          },
        });
        return;
      }
      if (req.method !== 'POST' || path !== completionsPath || !url.searchParams.get('api-version')) {
        sendJson(res, 404, { error: { code: '404', message: 'Resource not found' } });
        return;
      }
      if (body === null || typeof body !== 'object' || Array.isArray(body)) {
        sendError(res, 400, "We could not parse the JSON body of your request.", 'invalid_request_error', null);
        return;
      }
      const reply = queue.shift() ?? { kind: 'completion', content: responder(body) };
      respond(res, body, reply, url.searchParams.get('api-version') ?? '');
      return;
    }

    // Authentication comes first at OpenAI too: a bad key gets 401 whatever the body holds.
    const authorization = req.headers.authorization;
    if (authorization === undefined || !authorization.startsWith('Bearer ')) {
      sendError(
        res,
        401,
        "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the password field (with blank username) if you're accessing the API from your browser and are prompted for a username and password. You can obtain an API key from https://platform.openai.com/account/api-keys.",
        'invalid_request_error',
        null,
      );
      return;
    }
    const presented = authorization.slice('Bearer '.length).trim();
    if (presented !== apiKey) {
      sendError(
        res,
        401,
        `Incorrect API key provided: ${maskKey(presented)}. You can find your API key at https://platform.openai.com/account/api-keys.`,
        'invalid_request_error',
        'invalid_api_key',
      );
      return;
    }

    if (req.method !== 'POST' || path !== completionsPath) {
      sendError(res, 404, `Invalid URL (${req.method ?? 'GET'} ${path})`, 'invalid_request_error', null);
      return;
    }
    if (body === null || typeof body !== 'object' || Array.isArray(body)) {
      sendError(
        res,
        400,
        "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON. If you have trouble figuring out how to fix this, please contact us through our help center at help.openai.com.)",
        'invalid_request_error',
        null,
      );
      return;
    }

    const reply = queue.shift() ?? { kind: 'completion', content: responder(body) };
    respond(res, body, reply);
  }

  function respond(res: ServerResponse, body: any, reply: FakeReply, apiVersion = ''): void {
    const requestedModel = typeof body.model === 'string' ? body.model : 'gpt-4o-mini';
    switch (reply.kind) {
      case 'completion': {
        const model = reply.model ?? requestedModel;
        if (body.stream === true) {
          void streamCompletion(res, body, model, reply, extras(), flavour === 'perplexity').catch(() => res.destroy());
        } else {
          sendJson(res, 200, { ...completionObject(body, model, reply), ...extras() }, { 'openai-model': model, ...rateLimitHeaders(1, 0) });
        }
        return;
      }
      case 'rate-limit': {
        const headers: Record<string, string> = {
          'retry-after': String(reply.retryAfterSeconds),
          ...rateLimitHeaders(0, reply.retryAfterSeconds),
        };
        if (reply.retryAfterMs !== undefined) headers['retry-after-ms'] = String(reply.retryAfterMs);
        if (flavour === 'azure') {
          sendJson(
            res,
            429,
            {
              error: {
                code: '429',
                message: `Requests to the ChatCompletions_Create Operation under Azure OpenAI API version ${apiVersion} have exceeded token rate limit of your current OpenAI S0 pricing tier. Please retry after ${reply.retryAfterSeconds} seconds.`,
              },
            },
            headers,
          );
          return;
        }
        sendError(
          res,
          429,
          `Rate limit reached for ${requestedModel} in organization org-fake on requests per min (RPM): Limit 3, Used 3, Requested 1. Please try again in ${reply.retryAfterSeconds}s. Visit https://platform.openai.com/account/rate-limits to learn more.`,
          'requests',
          'rate_limit_exceeded',
          null,
          headers,
        );
        return;
      }
      case 'server-error':
        sendError(res, 500, 'The server had an error while processing your request.', 'server_error', null);
        return;
      case 'error':
        sendError(res, reply.status, reply.message, reply.type, reply.code, reply.param ?? null);
        return;
      case 'json':
        sendJson(res, reply.status, reply.body);
        return;
      case 'hang':
        // Leave the response open; close() or the client's own abort ends the socket.
        return;
      case 'malformed-stream': {
        res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8' });
        const first = { id: completionId(), object: 'chat.completion.chunk', created: 0, model: requestedModel, choices: [{ index: 0, delta: { role: 'assistant', content: 'Partial' }, finish_reason: null }] };
        res.write(`data: ${JSON.stringify(first)}\n\n`);
        res.end('data: {"id":"chatcmpl-broken","choices":[{"delta":{"content":\n\n');
        return;
      }
      case 'truncated-stream': {
        res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8' });
        const chunk = { id: completionId(), object: 'chat.completion.chunk', created: 0, model: requestedModel, choices: [{ index: 0, delta: { role: 'assistant', content: reply.content }, finish_reason: null }] };
        res.end(`data: ${JSON.stringify(chunk)}\n\n`);
        return;
      }
      case 'stream-error': {
        res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8' });
        const chunk = { id: completionId(), object: 'chat.completion.chunk', created: 0, model: requestedModel, choices: [{ index: 0, delta: { role: 'assistant', content: 'Partial' }, finish_reason: null }] };
        res.write(`data: ${JSON.stringify(chunk)}\n\n`);
        res.end(`data: ${JSON.stringify({ error: { message: reply.message, type: reply.type, param: null, code: null } })}\n\n`);
        return;
      }
    }
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;

  return {
    baseUrl: flavour === 'openai' ? `http://127.0.0.1:${port}/v1` : `http://127.0.0.1:${port}`,
    apiKey,
    requests,
    enqueue: (...replies) => {
      queue.push(...replies);
    },
    setDefault: (fn) => {
      responder = fn;
    },
    setSearchResults: (results) => {
      searchResults = results;
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        // Hanging requests and the SDK's keep-alive sockets would otherwise hold close() open.
        server.closeAllConnections();
      }),
  };
}

function completionObject(body: any, model: string, reply: Extract<FakeReply, { kind: 'completion' }>): object {
  return {
    id: completionId(),
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model,
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content: reply.content, refusal: reply.refusal ?? null },
        logprobs: null,
        finish_reason: reply.finishReason ?? 'stop',
      },
    ],
    usage: usageFor(body, reply.content ?? '', reply.usage),
    service_tier: 'default',
    system_fingerprint: 'fp_fake',
  };
}

async function streamCompletion(res: ServerResponse, body: any, model: string, reply: Extract<FakeReply, { kind: 'completion' }>, extras: Record<string, unknown>, alwaysUsage: boolean): Promise<void> {
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    'x-request-id': requestId(),
    'openai-model': model,
  });
  const id = completionId();
  const created = Math.floor(Date.now() / 1000);
  // Perplexity sends usage with its stream without being asked.
  const includeUsage = alwaysUsage || body.stream_options?.include_usage === true;
  const chunk = (choices: object[], usage: object | null = null): void => {
    const payload: Record<string, unknown> = { id, object: 'chat.completion.chunk', created, model, system_fingerprint: 'fp_fake', choices, ...extras };
    // With include_usage, every chunk carries `usage: null` and a final extra chunk has the totals.
    if (includeUsage) payload.usage = usage;
    res.write(`data: ${JSON.stringify(payload)}\n\n`);
  };

  chunk([{ index: 0, delta: { role: 'assistant', content: '', refusal: null }, logprobs: null, finish_reason: null }]);
  for (const piece of (reply.content ?? '').match(/\S+\s*|\s+/g) ?? []) {
    if (reply.chunkDelayMs) await new Promise((resolve) => setTimeout(resolve, reply.chunkDelayMs));
    chunk([{ index: 0, delta: { content: piece }, logprobs: null, finish_reason: null }]);
  }
  chunk([{ index: 0, delta: {}, logprobs: null, finish_reason: reply.finishReason ?? 'stop' }]);
  if (includeUsage) chunk([], usageFor(body, reply.content ?? '', reply.usage));
  res.end('data: [DONE]\n\n');
}

/** Scripted counts, or a rough deterministic estimate; real tokenisation does not matter to a fake. */
function usageFor(body: any, answer: string, scripted?: { prompt_tokens: number; completion_tokens: number }): object {
  const prompt =
    scripted?.prompt_tokens ??
    (Array.isArray(body.messages)
      ? body.messages.reduce((sum: number, message: any) => sum + 4 + tokens(typeof message?.content === 'string' ? message.content : ''), 3)
      : 0);
  const completion = scripted?.completion_tokens ?? tokens(answer);
  return {
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: prompt + completion,
    prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
    completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
  };
}

function tokens(text: string): number {
  return Math.ceil(text.length / 4);
}

function rateLimitHeaders(remainingRequests: number, resetSeconds: number): Record<string, string> {
  return {
    'x-ratelimit-limit-requests': '3',
    'x-ratelimit-remaining-requests': String(remainingRequests),
    'x-ratelimit-reset-requests': `${resetSeconds}s`,
    'x-ratelimit-limit-tokens': '40000',
    'x-ratelimit-remaining-tokens': '39000',
    'x-ratelimit-reset-tokens': '1.5s',
  };
}

function sendError(
  res: ServerResponse,
  status: number,
  message: string,
  type: string,
  code: string | null,
  param: string | null = null,
  headers: Record<string, string> = {},
): void {
  sendJson(res, status, { error: { message, type, param, code } }, headers);
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    'x-request-id': requestId(),
    'openai-version': '2020-10-01',
    'openai-processing-ms': '12',
    ...headers,
  });
  res.end(text);
}

/** Masked the way OpenAI masks it: enough to recognise the key, never the key itself. */
function maskKey(key: string): string {
  if (key.length <= 12) return '*'.repeat(key.length);
  return `${key.slice(0, 3)}${'*'.repeat(key.length - 7)}${key.slice(-4)}`;
}

function recordedHeaders(req: IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined) continue;
    headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  if (headers['api-key'] !== undefined) headers['api-key'] = '[redacted]';
  if (headers.authorization !== undefined) {
    headers.authorization = headers.authorization.startsWith('Bearer ') ? 'Bearer [redacted]' : '[redacted]';
  }
  return headers;
}

function parseJson(raw: string): any {
  try {
    return JSON.parse(raw);
  } catch {
    return null;
  }
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function completionId(): string {
  return `chatcmpl-${randomBytes(15).toString('base64url')}`;
}

function requestId(): string {
  return `req_${randomBytes(16).toString('hex')}`;
}
