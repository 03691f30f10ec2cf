/**
 * DelegatedAccess on Microsoft Graph JSON batching ("Combine multiple HTTP requests using JSON
 * batching"): may the signed-in user open these SharePoint files now? One `POST /$batch` carries up
 * to 20 `GET /drives/{driveId}/items/{itemId}?$select=id`, sent with the USER's delegated token and
 * never an app token, so SharePoint answers for that user: 200 -> true; 403, 404 or 410 -> false
 * (no access, or the file is gone); anything else -> unknown.
 *
 * A user is waiting, so retries are few and short:
 * - the batch as a whole: a dropped connection, 5xx, or 429/503 with a Retry-After of at most
 *   `maxRetryAfterSeconds`, is sent once more; after that every file in it is unknown;
 * - a request inside the batch answered 429 or 503 (Graph throttles them one by one, each with its
 *   own Retry-After header): those are sent once more, in one batch, after the longest Retry-After
 *   when it is short enough; otherwise, and after that, they are unknown.
 * Nothing here throws for the caller: a failure is reported to `onFailure` and makes its files
 * unknown, so the stored acl decides (knowledge/liveCheck.ts).
 *
 * SharePoint sourceRefs are `driveId/itemId`; a ref of another shape is unknown and never sent.
 * Responses are matched to requests by id (Graph does not keep the order), and a response that
 * does not fit (an id never sent, a status that is not a number) counts for nothing.
 */
import { Client, HTTPMessageHandler, ResponseType } from '@microsoft/microsoft-graph-client';
import { fail, isKluisError, KluisError } from '../../errors';
import type { DelegatedAccess, OpenVerdict } from '../ports';
import { BearerMiddleware, GRAPH_SERVICE_ROOT, parseServiceRoot, retryAfterSeconds, RetryMiddleware } from './graphDriveClient';

/** Graph's limit of requests in one JSON batch. */
export const MAX_BATCH_REQUESTS = 20;

export interface GraphOpenCheckOptions {
  /** The signed-in user's delegated Graph token (OBO, or the bot's OAuth connection). */
  getToken: () => Promise<string>;
  /** Graph's service root without the version. */
  baseUrl?: string;
  version?: string;
  /** Longest Retry-After waited for, whole batch or single request. Default 2 s. */
  maxRetryAfterSeconds?: number;
  /** One attempt may take this long. Default 5 s. */
  attemptTimeoutMs?: number;
  /** A batch that failed as a whole, or answered something that is not a batch response. */
  onFailure?: (error: unknown) => void;
  /** For tests. */
  sleep?: (ms: number) => Promise<void>;
}

const GRAPH_ID = /^[A-Za-z0-9!._-]{1,255}$/;
const REFUSED = new Set([403, 404, 410]);

interface BatchResponse {
  id: string;
  status: number;
  headers?: Record<string, unknown>;
}

export function createGraphOpenCheck(options: GraphOpenCheckOptions): DelegatedAccess {
  const root = parseServiceRoot(options.baseUrl ?? GRAPH_SERVICE_ROOT);
  const version = options.version ?? 'v1.0';
  if (!/^[A-Za-z0-9.]+$/.test(version)) fail('config_invalid', `Graph version ${JSON.stringify(version)} is not valid`);
  const maxWait = options.maxRetryAfterSeconds ?? 2;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));

  // The SDK wraps what a middleware throws into a GraphError; the token's own failure (no consent,
  // an expired assertion) is kept here so it reaches onFailure under its catalogued id.
  let tokenFailure: unknown;
  const getToken = async () => {
    try {
      const token = await options.getToken();
      if (!token) fail('graph_unauthenticated', '$batch: no Graph token for the user');
      return token;
    } catch (error) {
      tokenFailure = error;
      throw error;
    }
  };

  const client = Client.initWithMiddleware({
    baseUrl: root.href,
    defaultVersion: version,
    middleware: [
      new RetryMiddleware({ maxRetries: 1, baseDelayMs: 200, maxDelayMs: 1000, maxRetryAfterSeconds: maxWait, attemptTimeoutMs: options.attemptTimeoutMs ?? 5000, sleep }),
      new BearerMiddleware(root.origin, getToken),
      new HTTPMessageHandler(),
    ],
  });

  /** One `$batch` call: the responses by request id, or a catalogued error for the whole batch. */
  async function send(items: Array<{ id: string; driveId: string; itemId: string }>): Promise<Map<string, BatchResponse>> {
    const body = {
      requests: items.map((it) => ({ id: it.id, method: 'GET', url: `/drives/${encodeURIComponent(it.driveId)}/items/${encodeURIComponent(it.itemId)}?$select=id` })),
    };
    let response: Response;
    tokenFailure = undefined;
    try {
      response = (await client.api('/$batch').responseType(ResponseType.RAW).header('Content-Type', 'application/json').post(body)) as Response;
    } catch (error) {
      if (tokenFailure !== undefined) throw tokenFailure;
      if (isKluisError(error)) throw error;
      throw new KluisError('graph_unavailable', `$batch: Graph did not answer (${(error as Error)?.message ?? 'network error'})`, { cause: error });
    }
    if (!response.ok) {
      await response.body?.cancel().catch(() => undefined);
      const id = response.status === 401 ? 'graph_unauthenticated' : response.status === 403 ? 'graph_access_denied' : response.status === 429 || response.status >= 500 ? 'graph_unavailable' : 'graph_rejected';
      throw new KluisError(id, `$batch: Graph answered ${response.status}`, { retryAfterSeconds: retryAfterSeconds(response.headers.get('retry-after')) });
    }
    let parsed: unknown;
    try {
      parsed = await response.json();
    } catch {
      fail('graph_rejected', '$batch: the answer is not JSON');
    }
    const responses = (parsed as { responses?: unknown } | null)?.responses;
    if (!Array.isArray(responses)) fail('graph_rejected', '$batch: the answer has no responses array');
    const sent = new Set(items.map((it) => it.id));
    const byId = new Map<string, BatchResponse>();
    for (const r of responses as unknown[]) {
      const candidate = r as Partial<BatchResponse> | null;
      if (!candidate || typeof candidate.id !== 'string' || !sent.has(candidate.id) || typeof candidate.status !== 'number' || byId.has(candidate.id)) continue;
      byId.set(candidate.id, { id: candidate.id, status: candidate.status, headers: typeof candidate.headers === 'object' && candidate.headers !== null ? candidate.headers : undefined });
    }
    return byId;
  }

  /** Verdicts for at most MAX_BATCH_REQUESTS files, throttled requests retried once. */
  async function check(items: Array<{ ref: string; driveId: string; itemId: string }>, verdicts: Map<string, OpenVerdict>): Promise<void> {
    let pending = items.map((it, i) => ({ ...it, id: String(i + 1) }));
    for (let attempt = 0; attempt < 2 && pending.length > 0; attempt++) {
      let answers: Map<string, BatchResponse>;
      try {
        answers = await send(pending);
      } catch (error) {
        options.onFailure?.(error);
        return;
      }
      const throttled: typeof pending = [];
      let wait = 0;
      for (const item of pending) {
        const answer = answers.get(item.id);
        if (!answer) continue;
        if (answer.status === 200) verdicts.set(item.ref, true);
        else if (REFUSED.has(answer.status)) verdicts.set(item.ref, false);
        else if (answer.status === 429 || answer.status === 503) {
          const seconds = retryAfterSeconds(headerValue(answer.headers, 'retry-after') ?? null) ?? 0;
          if (seconds <= maxWait) {
            throttled.push(item);
            wait = Math.max(wait, seconds);
          }
        }
      }
      pending = throttled;
      if (pending.length > 0 && attempt === 0) await sleep(wait * 1000);
    }
  }

  return {
    async canOpen(sourceRefs) {
      const verdicts = new Map<string, OpenVerdict>();
      const items: Array<{ ref: string; driveId: string; itemId: string }> = [];
      for (const ref of new Set(sourceRefs)) {
        verdicts.set(ref, undefined);
        const slash = typeof ref === 'string' ? ref.indexOf('/') : -1;
        const driveId = slash > 0 ? ref.slice(0, slash) : '';
        const itemId = slash > 0 ? ref.slice(slash + 1) : '';
        if (GRAPH_ID.test(driveId) && GRAPH_ID.test(itemId) && driveId !== '.' && driveId !== '..' && itemId !== '.' && itemId !== '..') items.push({ ref, driveId, itemId });
      }
      for (let start = 0; start < items.length; start += MAX_BATCH_REQUESTS) await check(items.slice(start, start + MAX_BATCH_REQUESTS), verdicts);
      return verdicts;
    },
  };
}

/** Graph's batch response headers are a JSON object whose names vary in case. */
function headerValue(headers: Record<string, unknown> | undefined, name: string): string | undefined {
  if (!headers) return undefined;
  for (const [key, value] of Object.entries(headers)) if (key.toLowerCase() === name && (typeof value === 'string' || typeof value === 'number')) return String(value);
  return undefined;
}
