/**
 * A local stand-in for Stability AI's Stable Image Core endpoint, over real HTTP.
 *
 * Wire format as documented by Stability: `POST /v2beta/stable-image/generate/core`,
 * `Authorization: Bearer`, a multipart/form-data body (prompt required, at most 10,000
 * characters; negative_prompt, aspect_ratio, output_format png|jpeg|webp, seed). With
 * `Accept: image/*` the image comes back as bytes with `finish-reason` (SUCCESS or
 * CONTENT_FILTERED) and `seed` headers; with `Accept: application/json` as `{ image (base64),
 * finish_reason, seed }`. Errors are `{ id, name, errors: [...] }`: 400 bad_request, 401
 * unauthorized, 403 content_moderation, 429 rate_limit_exceeded (with Retry-After here), 500 internal_error.
 */
import { randomBytes } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { credentialsFor, sendJson, startFakeHttpService, type RecordedHttpRequest } from './fakeHttpService';

/** The eight-byte PNG signature plus a little: enough to be recognisably a PNG. */
export const FAKE_PNG = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.from('fake image data')]);

export type StabilityReply =
  | { kind: 'image'; bytes?: Buffer; seed?: number }
  /** 200, but the output was filtered: Stability sends a blurred image with finish-reason CONTENT_FILTERED. */
  | { kind: 'filtered' }
  /** 403 content_moderation: the prompt itself was flagged. */
  | { kind: 'moderation' }
  | { kind: 'rate-limit'; retryAfterSeconds: number }
  | { kind: 'server-error' }
  | { kind: 'error'; status: number; name: string; errors: string[] }
  /** 200 with an HTML page, as a misconfigured proxy would send. */
  | { kind: 'not-an-image' }
  | { kind: 'hang' };

export interface FakeStability {
  baseUrl: string;
  apiKey: string;
  requests: RecordedHttpRequest[];
  /** The form fields of each request, parsed from its multipart body. */
  forms: Array<Record<string, string>>;
  enqueue(...replies: StabilityReply[]): void;
  close(): Promise<void>;
}

export async function startFakeStability(options: { apiKey?: string } = {}): Promise<FakeStability> {
  const apiKey = options.apiKey ?? `sk-stab-${randomBytes(16).toString('hex')}`;
  const forms: Array<Record<string, string>> = [];

  const service = await startFakeHttpService<StabilityReply>(async (request, res, self) => {
    const key = credentialsFor(request).bearer;
    if (key !== apiKey) return sendError(res, 401, 'unauthorized', [key === undefined ? 'authorization: Required' : 'authorization: invalid or expired API key']);
    if (request.method !== 'POST' || request.path !== '/v2beta/stable-image/generate/core') return sendError(res, 404, 'not_found', ['Not found']);
    const contentType = request.headers['content-type'] ?? '';
    if (!contentType.startsWith('multipart/form-data')) return sendError(res, 400, 'bad_request', ['content-type: must be multipart/form-data']);
    const form: Record<string, string> = {};
    try {
      const parsed = await new Response(request.raw, { headers: { 'content-type': contentType } }).formData();
      for (const [name, value] of parsed.entries()) if (typeof value === 'string') form[name] = value;
    } catch {
      return sendError(res, 400, 'bad_request', ['body: could not parse multipart/form-data']);
    }
    forms.push(form);
    if (!form.prompt) return sendError(res, 400, 'bad_request', ['prompt: cannot be empty']);
    if (form.prompt.length > 10_000) return sendError(res, 400, 'bad_request', ['prompt: must be at most 10000 characters']);
    const accept = request.headers.accept ?? '';
    if (accept !== 'image/*' && accept !== 'application/json') return sendError(res, 400, 'bad_request', ['accept: must be image/* or application/json']);

    const reply = self.next() ?? { kind: 'image' };
    respond(res, reply, accept, form);
  });

  return {
    baseUrl: service.origin,
    apiKey,
    requests: service.requests,
    forms,
    enqueue: (...replies) => service.enqueue(...replies),
    close: () => service.close(),
  };
}

function respond(res: ServerResponse, reply: StabilityReply, accept: string, form: Record<string, string>): void {
  const format = form.output_format ?? 'png';
  switch (reply.kind) {
    case 'image':
    case 'filtered': {
      const bytes = reply.kind === 'image' ? (reply.bytes ?? FAKE_PNG) : Buffer.from('blurred');
      const seed = String(reply.kind === 'image' && reply.seed !== undefined ? reply.seed : Number(form.seed ?? 1234));
      const finishReason = reply.kind === 'filtered' ? 'CONTENT_FILTERED' : 'SUCCESS';
      if (accept === 'application/json') return sendJson(res, 200, { image: bytes.toString('base64'), finish_reason: finishReason, seed: Number(seed) });
      res.writeHead(200, { 'content-type': `image/${format}`, 'content-length': bytes.length, 'finish-reason': finishReason, seed });
      res.end(bytes);
      return;
    }
    case 'moderation':
      return sendError(res, 403, 'content_moderation', ['Your request was flagged by our content moderation system, as a result your request was denied and you were not charged.']);
    case 'rate-limit':
      return sendError(res, 429, 'rate_limit_exceeded', ['You have exceeded the rate limit of 150 requests within a 10 second period, and have been timed out for 60 seconds.'], { 'retry-after': String(reply.retryAfterSeconds) });
    case 'server-error':
      return sendError(res, 500, 'internal_error', ['An unexpected server error has occurred, please try again later.']);
    case 'error':
      return sendError(res, reply.status, reply.name, reply.errors);
    case 'not-an-image':
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<html><body>Gateway login</body></html>');
      return;
    case 'hang':
      return;
  }
}

function sendError(res: ServerResponse, status: number, name: string, errors: string[], headers: Record<string, string> = {}): void {
  sendJson(res, status, { id: randomBytes(16).toString('hex'), name, errors }, headers);
}
