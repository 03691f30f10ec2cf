/**
 * A local stand-in for Anthropic's Messages API, over real HTTP, so `@anthropic-ai/sdk` runs its own
 * headers, retries, timeouts, stream parser and error classes exactly as against Anthropic.
 *
 * Wire format as documented by Anthropic: `POST /v1/messages` with `anthropic-version` and the key
 * as `Authorization: Bearer` (API version 2026-10-21, which the SDK 1.x sends) or `x-api-key` (older versions); a `message` object on success; for `"stream": true` server-sent events
 * message_start, content_block_start, ping, content_block_delta (text_delta), content_block_stop,
 * message_delta (stop_reason, output tokens), message_stop, and an `error` event when the request
 * fails mid-stream; errors as `{ type: "error", error: { type, message }, request_id }` with a
 * `request-id` header, 429 with `retry-after`, 529 overloaded_error.
 */
import { randomBytes } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { credentialsFor, sendJson, startEventStream, startFakeHttpService, type FakeHttpService, type RecordedHttpRequest } from './fakeHttpService';

export type AnthropicReply =
  | { kind: 'message'; text: string; model?: string; stopReason?: 'end_turn' | 'max_tokens' | 'stop_sequence' | 'refusal'; usage?: { input_tokens: number; output_tokens: number } }
  | { kind: 'error'; status: number; type: string; message: string; retryAfterSeconds?: number }
  | { kind: 'rate-limit'; retryAfterSeconds: number }
  | { kind: 'server-error' }
  | { kind: 'overloaded' }
  /** 200 stream whose second event's data is not JSON. */
  | { kind: 'malformed-stream' }
  /** 200 stream that stops after some text, without message_delta and message_stop. */
  | { kind: 'truncated-stream'; text: string }
  /** 200 stream with an `error` event after the first text, as the documented overload case. */
  | { kind: 'stream-error'; type: string; message: string }
  | { kind: 'hang' };

export interface FakeAnthropic {
  /** The API root the SDK's `baseURL` expects (it appends /v1/messages). */
  baseUrl: string;
  apiKey: string;
  requests: RecordedHttpRequest[];
  enqueue(...replies: AnthropicReply[]): void;
  setDefault(responder: (body: any) => string): void;
  close(): Promise<void>;
}

export async function startFakeAnthropic(options: { apiKey?: string } = {}): Promise<FakeAnthropic> {
  const apiKey = options.apiKey ?? `sk-ant-test-${randomBytes(16).toString('hex')}`;
  let responder: (body: any) => string = () => 'The handbook covers this [1].';

  const service: FakeHttpService<AnthropicReply> = await startFakeHttpService<AnthropicReply>((request, res, self) => {
    const presented = credentialsFor(request);
    const key = presented.bearer ?? presented.headers['x-api-key'];
    if (key === undefined) return sendError(res, 401, 'authentication_error', 'x-api-key header is required');
    if (key !== apiKey) return sendError(res, 401, 'authentication_error', 'invalid x-api-key');
    if (request.method !== 'POST' || request.path !== '/v1/messages') return sendError(res, 404, 'not_found_error', 'Not Found');
    if (!request.headers['anthropic-version']) return sendError(res, 400, 'invalid_request_error', 'anthropic-version: header is required');
    const body = request.json;
    if (body === null || typeof body !== 'object' || Array.isArray(body)) return sendError(res, 400, 'invalid_request_error', 'There was an error parsing the body of your request.');
    if (typeof body.model !== 'string') return sendError(res, 400, 'invalid_request_error', 'model: Field required');
    if (!Number.isInteger(body.max_tokens)) return sendError(res, 400, 'invalid_request_error', 'max_tokens: Field required');
    if (!Array.isArray(body.messages) || body.messages.length === 0) return sendError(res, 400, 'invalid_request_error', 'messages: at least one message is required');
    if (body.messages.some((m: any) => m?.role !== 'user' && m?.role !== 'assistant')) {
      return sendError(res, 400, 'invalid_request_error', 'messages: roles must be "user" or "assistant" (use the top-level system parameter for system prompts)');
    }
    if (body.messages[0].role !== 'user') return sendError(res, 400, 'invalid_request_error', 'messages: first message must use the "user" role');

    const reply = self.next() ?? { kind: 'message', text: responder(body) };
    respond(res, body, reply);
  });

  return {
    baseUrl: service.origin,
    apiKey,
    requests: service.requests,
    enqueue: (...replies) => service.enqueue(...replies),
    setDefault: (fn) => {
      responder = fn;
    },
    close: () => service.close(),
  };
}

function respond(res: ServerResponse, body: any, reply: AnthropicReply): void {
  const model = body.model as string;
  switch (reply.kind) {
    case 'message': {
      const usage = reply.usage ?? { input_tokens: inputTokens(body), output_tokens: Math.ceil(reply.text.length / 4) };
      const answeringModel = reply.model ?? model;
      if (body.stream === true) return streamMessage(res, answeringModel, reply.text, reply.stopReason ?? 'end_turn', usage);
      return sendJson(
        res,
        200,
        { id: messageId(), type: 'message', role: 'assistant', model: answeringModel, content: [{ type: 'text', text: reply.text }], stop_reason: reply.stopReason ?? 'end_turn', stop_sequence: null, usage },
        { 'request-id': requestId() },
      );
    }
    case 'error':
      return sendError(res, reply.status, reply.type, reply.message, reply.retryAfterSeconds === undefined ? {} : { 'retry-after': String(reply.retryAfterSeconds) });
    case 'rate-limit':
      return sendError(res, 429, 'rate_limit_error', 'Number of request tokens has exceeded your per-minute rate limit (https://docs.anthropic.com/en/api/rate-limits); see the response headers for current usage.', {
        'retry-after': String(reply.retryAfterSeconds),
        'anthropic-ratelimit-requests-remaining': '0',
      });
    case 'server-error':
      return sendError(res, 500, 'api_error', 'Internal server error');
    case 'overloaded':
      return sendError(res, 529, 'overloaded_error', 'Overloaded');
    case 'malformed-stream': {
      const sse = startEventStream(res, { 'request-id': requestId() });
      sse.event('message_start', messageStart(model, inputTokens(body)));
      sse.event('content_block_delta', '{"type":"content_block_delta","index":0,"delta":{"type":"text_');
      return sse.end();
    }
    case 'truncated-stream': {
      const sse = startEventStream(res, { 'request-id': requestId() });
      sse.event('message_start', messageStart(model, inputTokens(body)));
      sse.event('content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } });
      sse.event('content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: reply.text } });
      return sse.end();
    }
    case 'stream-error': {
      const sse = startEventStream(res, { 'request-id': requestId() });
      sse.event('message_start', messageStart(model, inputTokens(body)));
      sse.event('content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } });
      sse.event('content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'Partial' } });
      sse.event('error', { type: 'error', error: { type: reply.type, message: reply.message } });
      return sse.end();
    }
    case 'hang':
      return;
  }
}

function streamMessage(res: ServerResponse, model: string, text: string, stopReason: string, usage: { input_tokens: number; output_tokens: number }): void {
  const sse = startEventStream(res, { 'request-id': requestId() });
  sse.event('message_start', messageStart(model, usage.input_tokens));
  sse.event('content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } });
  sse.event('ping', { type: 'ping' });
  for (const piece of text.match(/\S+\s*|\s+/g) ?? []) {
    sse.event('content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: piece } });
  }
  sse.event('content_block_stop', { type: 'content_block_stop', index: 0 });
  sse.event('message_delta', { type: 'message_delta', delta: { stop_reason: stopReason, stop_sequence: null }, usage: { output_tokens: usage.output_tokens } });
  sse.event('message_stop', { type: 'message_stop' });
  sse.end();
}

function messageStart(model: string, input: number): object {
  return {
    type: 'message_start',
    message: { id: messageId(), type: 'message', role: 'assistant', content: [], model, stop_reason: null, stop_sequence: null, usage: { input_tokens: input, output_tokens: 1 } },
  };
}

function sendError(res: ServerResponse, status: number, type: string, message: string, headers: Record<string, string> = {}): void {
  const id = requestId();
  sendJson(res, status, { type: 'error', error: { type, message }, request_id: id }, { 'request-id': id, ...headers });
}

function inputTokens(body: any): number {
  const text = `${typeof body.system === 'string' ? body.system : ''}${(body.messages ?? []).map((m: any) => (typeof m?.content === 'string' ? m.content : '')).join('')}`;
  return Math.ceil(text.length / 4);
}

function messageId(): string {
  return `msg_${randomBytes(12).toString('hex')}`;
}

function requestId(): string {
  return `req_${randomBytes(12).toString('hex')}`;
}
