/**
 * GraphDriveClient on the Microsoft Graph JavaScript SDK (@microsoft/microsoft-graph-client).
 *
 * The SDK's default middleware chain is not used, for two reasons:
 * - its AuthenticationHandler attaches the token only to https URLs on Graph's own host names (or
 *   `customHosts`) and strips it from everything else, and its request builder parses absolute
 *   links only when they start with https://. A configurable service root (a national cloud, a
 *   reverse proxy, a local fake in tests) is therefore served by our own bearer middleware, which
 *   attaches the token exactly to requests on the configured service root's origin, and by turning
 *   every nextLink / deltaLink / Location into a path below that root (a link elsewhere is refused:
 *   the token must never travel to a host that is not Graph).
 * - its RetryHandler retries 429/503/504 only and not a dropped connection. "Throttling" and "Scan
 *   guidance" ask clients to wait as long as Retry-After says on 429 and 503 before calling again
 *   (apps that do not are blocked); other transient failures deserve an exponential back-off. Our
 *   retry middleware does both, a bounded number of times.
 * The chain is: retry -> bearer -> the SDK's RedirectHandler -> the SDK's HTTPMessageHandler (the
 * global fetch). The RedirectHandler follows the 302 that `/content` answers with ("Download the
 * contents of a driveItem": a pre-authenticated download URL) and drops the Authorization header when
 * the redirect leaves the origin, so the download host never sees the token.
 *
 * Errors become catalogued ones: 401 `graph_unauthenticated`, 403 `graph_access_denied`, 404 `not_found`, 429/5xx and network
 * failures after the last retry `graph_unavailable` (with Retry-After when Graph sent one), anything
 * else `graph_rejected`. 410 Gone on a delta request is not an error but `resyncRequired`.
 */
import { randomUUID } from 'node:crypto';
import { Client, GraphError, HTTPMessageHandler, RedirectHandler, ResponseType, type Context, type Middleware } from '@microsoft/microsoft-graph-client';
import { fail, isKluisError, KluisError, type ErrorId } from '../../errors';
import type { DeltaRequest, DeltaResult, DriveItem, GraphDriveClient, Permission } from './ports';

export const GRAPH_SERVICE_ROOT = 'https://graph.microsoft.com';

/**
 * Retries and timeouts for a Graph call a user waits on (the asking user's group memberships):
 * one quick retry, short Retry-After only, a few seconds per attempt. The defaults below are for
 * syncs, which may wait minutes.
 */
export const INTERACTIVE_GRAPH_BUDGET = { maxRetries: 1, baseDelayMs: 200, maxDelayMs: 1000, maxRetryAfterSeconds: 2, attemptTimeoutMs: 3000 } as const;

export interface GraphDriveClientOptions {
  /** A Graph access token for the user (or app) the sync runs as; called before every attempt. */
  getToken: () => Promise<string>;
  /** Graph's service root without the version: a national cloud's, or a local fake's. */
  baseUrl?: string;
  /** Default v1.0. */
  version?: string;
  /** Larger downloads are refused (`file_too_large`) without reading them further. */
  maxDownloadBytes: number;
  /** Retries after the first attempt. Default 4. */
  maxRetries?: number;
  /** First back-off for failures without Retry-After; doubled per retry, with jitter. Default 1 s. */
  baseDelayMs?: number;
  /** Upper bound of one back-off. Default 30 s. */
  maxDelayMs?: number;
  /**
   * A Retry-After longer than this is not waited for in-process: the call fails with
   * `graph_unavailable` carrying it, and the caller's next sync resumes from the saved link. Default 120.
   */
  maxRetryAfterSeconds?: number;
  /** One attempt (headers and body) may take this long. Default 120 s. */
  attemptTimeoutMs?: number;
  /** For tests. */
  sleep?: (ms: number) => Promise<void>;
}

/** Pages of permissions followed for one item (Graph rarely pages them at all). */
const MAX_PERMISSION_PAGES = 20;

export function createGraphDriveClient(options: GraphDriveClientOptions): GraphDriveClient {
  const root = parseServiceRoot(options.baseUrl ?? GRAPH_SERVICE_ROOT);
  const version = options.version ?? 'v1.0';
  if (!/^[A-Za-z0-9.]+$/.test(version)) fail('config_invalid', `Graph version ${JSON.stringify(version)} is not valid`);
  if (!(options.maxDownloadBytes > 0)) fail('config_invalid', 'Graph: maxDownloadBytes must be positive');
  const versionRoot = `${root.href}${version}/`;

  const client = Client.initWithMiddleware({
    baseUrl: root.href,
    defaultVersion: version,
    middleware: [
      new RetryMiddleware({
        maxRetries: options.maxRetries ?? 4,
        baseDelayMs: options.baseDelayMs ?? 1000,
        maxDelayMs: options.maxDelayMs ?? 30_000,
        maxRetryAfterSeconds: options.maxRetryAfterSeconds ?? 120,
        attemptTimeoutMs: options.attemptTimeoutMs ?? 120_000,
        sleep: options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms))),
      }),
      new BearerMiddleware(root.origin, options.getToken),
      new RedirectHandler(),
      new HTTPMessageHandler(),
    ],
  });

  /** A link Graph returned, as a path below the service root; anything else is refused. */
  function pathOf(link: string): string {
    let url: URL;
    try {
      url = new URL(link);
    } catch {
      fail('graph_rejected', 'Graph returned a link that is not a URL');
    }
    if (!url.href.startsWith(versionRoot)) fail('graph_rejected', `Graph returned a link outside the service root ${versionRoot}`);
    return `/${url.href.slice(versionRoot.length)}`;
  }

  const drivePath = (driveId: string, itemId?: string) => `/drives/${segment(driveId)}${itemId === undefined ? '' : `/items/${segment(itemId)}`}`;

  return {
    async delta(request: DeltaRequest): Promise<DeltaResult> {
      const path = typeof request === 'string' ? pathOf(request) : `${drivePath(request.driveId)}/root/delta`;
      let body: unknown;
      try {
        body = await client.api(path).get();
      } catch (error) {
        if (error instanceof GraphError && error.statusCode === 410) {
          return { kind: 'resyncRequired', code: error.code ?? undefined, location: error.headers?.get('location') ?? undefined };
        }
        throw asKluisError(error, 'delta');
      }
      const page = body as { value?: unknown; '@odata.nextLink'?: unknown; '@odata.deltaLink'?: unknown } | null;
      if (!page || !Array.isArray(page.value)) fail('graph_rejected', 'delta: the answer has no value array');
      const value = page.value.filter((item): item is DriveItem => typeof item === 'object' && item !== null && typeof (item as DriveItem).id === 'string');
      return {
        kind: 'page',
        value,
        nextLink: typeof page['@odata.nextLink'] === 'string' ? page['@odata.nextLink'] : undefined,
        deltaLink: typeof page['@odata.deltaLink'] === 'string' ? page['@odata.deltaLink'] : undefined,
      };
    },

    async download(driveId, itemId) {
      let response: Response;
      try {
        response = (await client.api(`${drivePath(driveId, itemId)}/content`).responseType(ResponseType.RAW).get()) as Response;
      } catch (error) {
        throw asKluisError(error, 'download');
      }
      if (!response.ok) {
        const code = await errorCode(response);
        throw statusError(response.status, response.headers, code, 'download');
      }
      return readCapped(response, options.maxDownloadBytes);
    },

    async permissions(driveId, itemId) {
      const all: Permission[] = [];
      let path: string | undefined = `${drivePath(driveId, itemId)}/permissions`;
      for (let page = 0; path !== undefined && page < MAX_PERMISSION_PAGES; page++) {
        let body: { value?: unknown; '@odata.nextLink'?: unknown } | null;
        try {
          body = await client.api(path).get();
        } catch (error) {
          throw asKluisError(error, 'permissions');
        }
        if (!body || !Array.isArray(body.value)) fail('graph_rejected', 'permissions: the answer has no value array');
        all.push(...(body.value as Permission[]));
        path = typeof body['@odata.nextLink'] === 'string' ? pathOf(body['@odata.nextLink']) : undefined;
      }
      if (path !== undefined) fail('graph_rejected', `permissions: more than ${MAX_PERMISSION_PAGES} pages`);
      return all;
    },

    // "List a user's transitive memberships" (groups only): needs GroupMember.Read.All.
    async groupsOf(userObjectId) {
      const ids: string[] = [];
      let path: string | undefined = `/users/${segment(userObjectId)}/transitiveMemberOf/microsoft.graph.group?$select=id&$top=999`;
      for (let page = 0; path !== undefined && page < MAX_PERMISSION_PAGES; page++) {
        let body: { value?: unknown; '@odata.nextLink'?: unknown } | null;
        try {
          body = await client.api(path).get();
        } catch (error) {
          throw asKluisError(error, 'groups');
        }
        if (!body || !Array.isArray(body.value)) fail('graph_rejected', 'groups: the answer has no value array');
        for (const g of body.value as Array<{ id?: unknown }>) if (typeof g.id === 'string') ids.push(g.id);
        path = typeof body['@odata.nextLink'] === 'string' ? pathOf(body['@odata.nextLink']) : undefined;
      }
      return ids;
    },
  };
}

export function parseServiceRoot(baseUrl: string): URL {
  let url: URL;
  try {
    url = new URL(baseUrl);
  } catch {
    fail('config_invalid', 'Graph base URL is not a URL');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') fail('config_invalid', 'Graph base URL must be http(s)');
  if (url.search || url.hash || url.username || url.password) fail('config_invalid', 'Graph base URL must not carry a query, fragment or credentials');
  if (!url.pathname.endsWith('/')) url.pathname += '/';
  return url;
}

/** Ids reach the path: Graph's ids never contain `/`, but nothing should be trusted to be well-formed. */
function segment(id: string): string {
  if (id === '' || id === '.' || id === '..') fail('request_malformed', 'empty or relative Graph id');
  return encodeURIComponent(id);
}

async function readCapped(response: Response, maxBytes: number): Promise<Buffer> {
  const declared = Number(response.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > maxBytes) {
    await response.body?.cancel().catch(() => undefined);
    fail('file_too_large', `larger than ${maxBytes} bytes (${declared})`);
  }
  if (!response.body) return Buffer.alloc(0);
  const reader = response.body.getReader();
  const chunks: Buffer[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel().catch(() => undefined);
      fail('file_too_large', `larger than ${maxBytes} bytes`);
    }
    chunks.push(Buffer.from(value));
  }
  return Buffer.concat(chunks);
}

async function errorCode(response: Response): Promise<string | undefined> {
  try {
    const body = (await response.json()) as { error?: { code?: unknown } };
    return typeof body.error?.code === 'string' ? body.error.code : undefined;
  } catch {
    return undefined;
  }
}

function asKluisError(error: unknown, what: string): Error {
  if (isKluisError(error)) return error;
  if (error instanceof GraphError) {
    // statusCode -1: no answer at all (a dropped connection, a timeout), after the last retry.
    if (error.statusCode === -1) return kluis('graph_unavailable', `${what}: Graph did not answer (${error.message || error.code || 'network error'})`, error);
    return statusError(error.statusCode, error.headers, error.code ?? undefined, what, error);
  }
  return kluis('graph_unavailable', `${what}: ${(error as Error)?.message ?? String(error)}`, error);
}

function statusError(status: number, headers: Headers | undefined, code: string | undefined, what: string, cause?: unknown): Error {
  const detail = `${what}: Graph answered ${status}${code ? ` ${code}` : ''}`;
  if (status === 401) return kluis('graph_unauthenticated', detail, cause);
  if (status === 403) return kluis('graph_access_denied', detail, cause);
  if (status === 404) return kluis('not_found', detail, cause);
  if (status === 429 || status >= 500) return kluis('graph_unavailable', detail, cause, retryAfterSeconds(headers?.get('retry-after') ?? null));
  return kluis('graph_rejected', detail, cause);
}

function kluis(id: ErrorId, detail: string, cause?: unknown, retryAfter?: number): KluisError {
  return new KluisError(id, detail, { cause, retryAfterSeconds: retryAfter });
}

/** Retry-After as seconds: an integer, or an HTTP date ("Throttling" uses seconds; RFC 9110 allows both). */
export function retryAfterSeconds(value: string | null, now: number = Date.now()): number | undefined {
  if (value === null) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed);
  const at = Date.parse(trimmed);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, Math.ceil((at - now) / 1000));
}

type HeaderRecord = Record<string, string>;

/** Plain-object headers, as the SDK's GraphRequest builds them. */
function headersOf(context: Context): HeaderRecord {
  const options = context.options ?? (context.options = {});
  if (options.headers instanceof Headers) options.headers = Object.fromEntries(options.headers.entries());
  if (Array.isArray(options.headers)) options.headers = Object.fromEntries(options.headers);
  options.headers ??= {};
  return options.headers as HeaderRecord;
}

function requestUrl(context: Context): string {
  return typeof context.request === 'string' ? context.request : (context.request as Request).url;
}

/**
 * "Throttling": on 429 (and 503 with Retry-After) wait as long as Retry-After says, then retry; 500,
 * 502, 503, 504 and dropped connections back off exponentially. Every attempt starts from the
 * original request (a redirect of the previous attempt is followed afresh). Only requests that are
 * safe to repeat go through it: GETs, and `$batch` POSTs of GETs (graphOpenCheck.ts).
 */
export class RetryMiddleware implements Middleware {
  private next?: Middleware;

  constructor(
    private readonly settings: {
      maxRetries: number;
      baseDelayMs: number;
      maxDelayMs: number;
      maxRetryAfterSeconds: number;
      attemptTimeoutMs: number;
      sleep: (ms: number) => Promise<void>;
    },
  ) {}

  setNext(next: Middleware): void {
    this.next = next;
  }

  async execute(context: Context): Promise<void> {
    const next = this.next ?? fail('internal', 'Graph middleware chain is incomplete');
    const request = context.request;
    const options = { ...context.options };
    const headers = { ...headersOf(context) };
    for (let attempt = 0; ; attempt++) {
      context.request = request;
      context.options = { ...options, headers: { ...headers }, signal: AbortSignal.timeout(this.settings.attemptTimeoutMs) };
      context.response = undefined;
      const last = attempt >= this.settings.maxRetries;
      try {
        await next.execute(context);
      } catch (error) {
        if (last) throw error;
        await this.settings.sleep(this.backoff(attempt));
        continue;
      }
      const response = context.response as Response | undefined;
      if (!response || last) return;
      const status = response.status;
      if (status !== 429 && status !== 500 && status !== 502 && status !== 503 && status !== 504) return;
      const retryAfter = retryAfterSeconds(response.headers.get('retry-after'));
      // A long Retry-After is left to the caller: holding a sync for many minutes helps nobody.
      if (retryAfter !== undefined && retryAfter > this.settings.maxRetryAfterSeconds) return;
      await response.body?.cancel().catch(() => undefined);
      await this.settings.sleep(retryAfter !== undefined ? retryAfter * 1000 : this.backoff(attempt));
    }
  }

  private backoff(attempt: number): number {
    const ceiling = Math.min(this.settings.maxDelayMs, this.settings.baseDelayMs * 2 ** attempt);
    return Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
  }
}

/**
 * The token goes only to the configured service root's origin. The key is exactly "Authorization":
 * the SDK's RedirectHandler deletes that key when a redirect leaves the origin.
 */
export class BearerMiddleware implements Middleware {
  private next?: Middleware;

  constructor(
    private readonly origin: string,
    private readonly getToken: () => Promise<string>,
  ) {}

  setNext(next: Middleware): void {
    this.next = next;
  }

  async execute(context: Context): Promise<void> {
    const next = this.next ?? fail('internal', 'Graph middleware chain is incomplete');
    const headers = headersOf(context);
    for (const name of Object.keys(headers)) if (name.toLowerCase() === 'authorization') delete headers[name];
    if (new URL(requestUrl(context)).origin === this.origin) {
      const token = await this.getToken();
      if (!token) fail('graph_unauthenticated', 'no Graph token');
      headers['Authorization'] = `Bearer ${token}`;
      // Lets Microsoft support find a request in its logs ("Best practices for working with Microsoft Graph").
      headers['client-request-id'] ??= randomUUID();
    }
    await next.execute(context);
  }
}
