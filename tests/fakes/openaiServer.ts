/**
 * A local stand-in for the OpenAI Chat Completions API, spoken over real HTTP so the official SDK
 * (its headers, retries, timeouts and error classes) runs exactly as it would against OpenAI.
 *
 * Wire format as documented by OpenAI: `POST /v1/chat/completions` with `Authorization: Bearer`,
 * a `chat.completion` object on success, `chat.completion.chunk` server-sent events for
 * `"stream": true`, and `{ error: { message, type, param, code } }` bodies on failure.
 * Replies are scripted with `enqueue`; when the queue is empty a default responder answers.
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
  | { kind: 'hang' };

export interface RecordedRequest {
  method: string;
  path: string;
  /** Lower-case names; the authorization value is replaced so the key never lands in test output. */
  headers: Record<string, string>;
  /** The parsed JSON body, or null when it was not JSON. */
  body: any;
}

export interface FakeOpenAi {
  /** Base URL including `/v1`, as the SDK's `baseURL` expects. */
  baseUrl: string;
  apiKey: string;
  requests: RecordedRequest[];
  enqueue(...replies: FakeReply[]): void;
  /** Sets the answer text used when the queue is empty. */
  setDefault(responder: (body: any) => string): void;
  close(): Promise<void>;
}

const COMPLETIONS_PATH = '/v1/chat/completions';
export const DEFAULT_ANSWER = 'The handbook covers this [1].';

export async function startFakeOpenAi(options: { apiKey?: string } = {}): Promise<FakeOpenAi> {
  const apiKey = options.apiKey ?? `sk-test-${randomBytes(16).toString('hex')}`;
  const requests: RecordedRequest[] = [];
  const queue: FakeReply[] = [];
  let responder: (body: any) => string = () => DEFAULT_ANSWER;

  const server = createServer((req, res) => {
    void handle(req, res).catch(() => {
      if (!res.headersSent) sendError(res, 500, 'The server had an error while processing your request.', 'server_error', null);
      else res.destroy();
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await readBody(req);
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const body = parseJson(raw);
    requests.push({ method: req.method ?? 'GET', path, headers: recordedHeaders(req), body });

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

    if (req.method !== 'POST' || path !== COMPLETIONS_PATH) {
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

  function respond(res: ServerResponse, body: any, reply: FakeReply): void {
    const requestedModel = typeof body.model === 'string' ? body.model : 'gpt-4o-mini';
    switch (reply.kind) {
      case 'completion': {
        const model = reply.model ?? requestedModel;
        if (body.stream === true) {
          streamCompletion(res, body, model, reply);
        } else {
          sendJson(res, 200, completionObject(body, model, reply), { 'openai-model': model, ...rateLimitHeaders(1, 0) });
        }
        return;
      }
      case 'rate-limit': {
        const headers: Record<string, string> = {
          'retry-after': String(reply.retryAfterSeconds),
          ...rateLimitHeaders(0, reply.retryAfterSeconds),
        };
        if (reply.retryAfterMs !== undefined) headers['retry-after-ms'] = String(reply.retryAfterMs);
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
    baseUrl: `http://127.0.0.1:${port}/v1`,
    apiKey,
    requests,
    enqueue: (...replies) => {
      queue.push(...replies);
    },
    setDefault: (fn) => {
      responder = fn;
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

function streamCompletion(res: ServerResponse, body: any, model: string, reply: Extract<FakeReply, { kind: 'completion' }>): void {
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    'x-request-id': requestId(),
    'openai-model': model,
  });
  const id = completionId();
  const created = Math.floor(Date.now() / 1000);
  const includeUsage = body.stream_options?.include_usage === true;
  const chunk = (choices: object[], usage: object | null = null): void => {
    const payload: Record<string, unknown> = { id, object: 'chat.completion.chunk', created, model, system_fingerprint: 'fp_fake', choices };
    // With include_usage, every chunk carries `usage: null` and a final extra chunk has the totals.
    if (includeUsage) payload.usage = usage;
    res.write(`data: ${JSON.stringify(payload)}\n\n`);
  };

  chunk([{ index: 0, delta: { role: 'assistant', content: '', refusal: null }, logprobs: null, finish_reason: null }]);
  for (const piece of (reply.content ?? '').match(/\S+\s*|\s+/g) ?? []) {
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
