/**
 * A local stand-in for the Gemini Developer API, over real HTTP, so `@google/genai` runs its own
 * URL building, headers, retries and SSE parsing exactly as against Google.
 *
 * Wire format as documented by Google: `POST /v1beta/models/{model}:generateContent` and
 * `:streamGenerateContent?alt=sse` (each event a whole GenerateContentResponse: candidates[].content
 * .parts[].text, finishReason on the last, usageMetadata, modelVersion, responseId), the key in
 * `x-goog-api-key` (or `?key=`); errors as `{ error: { code, message, status, details } }`:
 * a wrong key is 400 INVALID_ARGUMENT with reason API_KEY_INVALID, a missing one 403
 * PERMISSION_DENIED, quota 429 RESOURCE_EXHAUSTED with a google.rpc.RetryInfo retryDelay, 500 INTERNAL,
 * 503 UNAVAILABLE.
 */
import { randomBytes } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { credentialsFor, sendJson, startEventStream, startFakeHttpService, type RecordedHttpRequest } from './fakeHttpService';

export type GeminiReply =
  | { kind: 'answer'; text: string; modelVersion?: string; finishReason?: string; usage?: { promptTokenCount: number; candidatesTokenCount: number } }
  | { kind: 'error'; code: number; status: string; message: string; details?: object[] }
  | { kind: 'rate-limit'; retryDelaySeconds: number }
  | { kind: 'server-error' }
  | { kind: 'overloaded' }
  | { kind: 'invalid-key' }
  /** A 200 stream whose second event is not JSON. */
  | { kind: 'malformed-stream' }
  /** A 200 stream with text but no finishReason. */
  | { kind: 'truncated-stream'; text: string }
  | { kind: 'hang' };

export interface FakeGemini {
  /** The API root, as the SDK's `httpOptions.baseUrl` expects (it appends /v1beta/models/...). */
  baseUrl: string;
  apiKey: string;
  requests: RecordedHttpRequest[];
  enqueue(...replies: GeminiReply[]): void;
  setDefault(responder: (body: any) => string): void;
  close(): Promise<void>;
}

const ROUTE = /^\/v1(?:beta)?\/models\/([A-Za-z0-9._-]+):(generateContent|streamGenerateContent)$/;

export async function startFakeGemini(options: { apiKey?: string } = {}): Promise<FakeGemini> {
  const apiKey = options.apiKey ?? `AIza-test-${randomBytes(12).toString('hex')}`;
  let responder: (body: any) => string = () => 'The handbook covers this [1].';

  const service = await startFakeHttpService<GeminiReply>((request, res, self) => {
    const presented = credentialsFor(request);
    const key = presented.headers['x-goog-api-key'] ?? presented.queryKey;
    if (key === undefined) {
      return sendError(res, 403, 'PERMISSION_DENIED', "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.");
    }
    if (key !== apiKey) return respond(res, request, '', { kind: 'invalid-key' });
    const route = ROUTE.exec(request.path);
    if (request.method !== 'POST' || route === null) return sendError(res, 404, 'NOT_FOUND', `Requested entity was not found.`);
    const [, model = '', method] = route;
    const body = request.json;
    if (body === null || typeof body !== 'object' || !Array.isArray(body.contents) || body.contents.length === 0) {
      return sendError(res, 400, 'INVALID_ARGUMENT', '* GenerateContentRequest.contents: contents is not specified');
    }
    if (body.contents.some((c: any) => c?.role !== 'user' && c?.role !== 'model')) {
      return sendError(res, 400, 'INVALID_ARGUMENT', 'Please use a valid role: user, model.');
    }
    if (method === 'streamGenerateContent' && request.query.alt !== 'sse') {
      return sendError(res, 400, 'INVALID_ARGUMENT', 'This fake streams only as server-sent events (alt=sse).');
    }
    const reply = self.next() ?? { kind: 'answer', text: responder(body) };
    respond(res, request, model, reply, method === 'streamGenerateContent');
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

function respond(res: ServerResponse, request: RecordedHttpRequest, model: string, reply: GeminiReply, streaming = false): void {
  switch (reply.kind) {
    case 'answer': {
      const modelVersion = reply.modelVersion ?? model;
      const responseId = randomBytes(9).toString('base64url');
      const usage = reply.usage ?? { promptTokenCount: Math.ceil(request.raw.length / 4), candidatesTokenCount: Math.ceil(reply.text.length / 4) };
      const usageMetadata = { ...usage, totalTokenCount: usage.promptTokenCount + usage.candidatesTokenCount };
      if (!streaming) {
        return sendJson(res, 200, {
          candidates: [{ content: { parts: [{ text: reply.text }], role: 'model' }, finishReason: reply.finishReason ?? 'STOP', index: 0 }],
          usageMetadata,
          modelVersion,
          responseId,
        });
      }
      const sse = startEventStream(res);
      const pieces = reply.text.match(/\S+\s*|\s+/g) ?? [''];
      pieces.forEach((piece, i) => {
        const last = i === pieces.length - 1;
        sse.event(undefined, {
          candidates: [{ content: { parts: [{ text: piece }], role: 'model' }, ...(last ? { finishReason: reply.finishReason ?? 'STOP' } : {}), index: 0 }],
          usageMetadata: last ? usageMetadata : { promptTokenCount: usage.promptTokenCount, totalTokenCount: usage.promptTokenCount },
          modelVersion,
          responseId,
        });
      });
      return sse.end();
    }
    case 'error':
      return sendError(res, reply.code, reply.status, reply.message, reply.details);
    case 'invalid-key':
      return sendError(res, 400, 'INVALID_ARGUMENT', 'API key not valid. Please pass a valid API key.', [
        { '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'API_KEY_INVALID', domain: 'googleapis.com', metadata: { service: 'generativelanguage.googleapis.com' } },
        { '@type': 'type.googleapis.com/google.rpc.LocalizedMessage', locale: 'en-US', message: 'API key not valid. Please pass a valid API key.' },
      ]);
    case 'rate-limit':
      return sendError(res, 429, 'RESOURCE_EXHAUSTED', 'You exceeded your current quota, please check your plan and billing details.', [
        { '@type': 'type.googleapis.com/google.rpc.QuotaFailure', violations: [{ quotaMetric: 'generativelanguage.googleapis.com/generate_content_free_tier_requests', quotaId: 'GenerateRequestsPerMinutePerProjectPerModel-FreeTier' }] },
        { '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: `${reply.retryDelaySeconds}s` },
      ]);
    case 'server-error':
      return sendError(res, 500, 'INTERNAL', 'An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting');
    case 'overloaded':
      return sendError(res, 503, 'UNAVAILABLE', 'The model is overloaded. Please try again later.');
    case 'malformed-stream': {
      const sse = startEventStream(res);
      sse.event(undefined, { candidates: [{ content: { parts: [{ text: 'Partial' }], role: 'model' }, index: 0 }], modelVersion: model });
      sse.event(undefined, '{"candidates": [{"content": {"parts": [{"text": "brok');
      return sse.end();
    }
    case 'truncated-stream': {
      const sse = startEventStream(res);
      sse.event(undefined, { candidates: [{ content: { parts: [{ text: reply.text }], role: 'model' }, index: 0 }], modelVersion: model });
      return sse.end();
    }
    case 'hang':
      return;
  }
}

function sendError(res: ServerResponse, code: number, status: string, message: string, details?: object[]): void {
  sendJson(res, code, { error: { code, message, status, ...(details ? { details } : {}) } });
}
