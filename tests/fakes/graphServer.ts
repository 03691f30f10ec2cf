/**
 * A local stand-in for the parts of Microsoft Graph the SharePoint source uses, over real HTTP so
 * the Graph SDK's middleware (headers, redirects) and the client's retries run as they would
 * against graph.microsoft.com.
 *
 * Wire format as documented:
 * - `GET /v1.0/drives/{driveId}/root/delta` ("driveItem: delta"). Without a token: a full
 *   enumeration of the drive (the root first, every folder before its children), `pageSize` items a
 *   page, every page but the last with `@odata.nextLink`, the last with `@odata.deltaLink`. With a
 *   delta token: every item changed since, once, in its latest state; deleted items with the
 *   `deleted` facet and without name (as OneDrive for Business sends them); first whatever
 *   `injectChange` queued (to script duplicates). As the Remarks say SharePoint does, items carry no
 *   `parentReference.path` and, unless `cTagInDelta`, no `cTag`. A delta token made stale by
 *   `expireDeltaTokens` answers 410 Gone (`resyncChangesApplyDifferences`) with a Location header
 *   holding a nextLink that starts a fresh enumeration.
 * - `GET /v1.0/drives/{driveId}/items/{itemId}/content` ("Download the contents of a driveItem"):
 *   302 Found to a pre-authenticated URL on a second server (another origin, no token needed), or the
 *   bytes themselves when `contentMode` is 'direct'.
 * - `GET /v1.0/drives/{driveId}/items/{itemId}/permissions` ("List sharing permissions on a
 *   driveItem"); an item without permissions of its own lists the site's default group.
 * - `POST /v1.0/$batch` ("Combine multiple HTTP requests using JSON batching"): `{ requests: [{ id,
 *   method, url }] }` with 1 to 20 requests and unique ids (400 otherwise), answered 200 with
 *   `{ responses: [{ id, status, headers, body }] }` in an order of the server's choosing (here:
 *   reversed, so a client that relies on order fails). Inside, `GET /drives/{d}/items/{i}` answers
 *   200 with the item, 404 for an unknown item, 403 accessDenied when the caller is a user who may
 *   not open it. `failBatchItem` scripts a request's own answer (429 with a Retry-After header, any
 *   status); `failNext('batch', ...)` fails the whole batch, `{ kind: 'malformed' }` with a body that
 *   is not a batch response.
 * Every Graph route requires `Authorization: Bearer <token>` (401 InvalidAuthenticationToken
 * otherwise) and errors carry Graph's body (`{ error: { code, message, innerError } }`). The app
 * token (`token`) sees everything; a user's delegated token (`userToken(oid)`) sees what that user
 * may open, decided from the item's permissions as SharePoint would: the user named, one of their
 * groups (`setMemberships`), a site group they are in (`setSiteGroupMembers`), an organisation or
 * anonymous link. Delta with a user token lists only the files that user may open.
 * Failures are scripted per route with `failNext` (429/503 with Retry-After, any status, a dropped
 * connection); `crashOnDeltaPage(k)` drops every request for page k of any listing until cleared.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';

export type GraphRoute = 'delta' | 'content' | 'permissions' | 'download' | 'batch' | 'memberships' | 'other';

export type GraphFailure =
  /** "Throttling": 429 (or 503) with Retry-After in seconds when given. */
  | { kind: 'throttle'; status?: 429 | 503; retryAfterSeconds?: number }
  /** Any status with a Graph error body. */
  | { kind: 'status'; status: number; code?: string }
  /** The connection is closed without an answer. */
  | { kind: 'crash' }
  /** The request is accepted and never answered (until close). */
  | { kind: 'hang' }
  /** 200 with a body that is not what the route promises (not JSON at all). */
  | { kind: 'malformed' };

/** A request's own answer inside a `$batch`. */
export type GraphBatchItemFailure = { status: number; retryAfterSeconds?: number; code?: string };

export interface GraphRecordedRequest {
  method: string;
  route: GraphRoute;
  /** Path and query as received. */
  url: string;
  authorization?: string;
  /** 0 when the connection was dropped. */
  status: number;
  /** For delta: the page of its listing this request asked for (1 = a listing's first page). */
  page?: number;
  /** For delta: true when the request carried a delta token (changes since an earlier set). */
  withDeltaToken?: boolean;
  /** The user whose delegated token made the request; undefined for the app token. */
  asUser?: string;
  /** For $batch: the requests' urls, in the order sent. */
  batch?: string[];
}

export interface FakeFile {
  name: string;
  content: Buffer | string;
  parentId?: string;
  permissions?: unknown[];
}

export interface FakeGraph {
  /** Graph's service root (no version), as the client's baseUrl. */
  baseUrl: string;
  downloadBaseUrl: string;
  /** The app token: every Graph route accepts it and it sees everything. */
  token: string;
  /** A delegated token for this user (the same one on every call), accepted until revoked. */
  userToken(userObjectId: string): string;
  /** Tokens of this user answer 401 from now on (an expired or revoked token). */
  revokeUserTokens(userObjectId: string): void;
  /** Who SharePoint counts in a site group (by its id, as in `grantedToV2.siteGroup.id`). */
  setSiteGroupMembers(siteGroupId: string, userObjectIds: string[]): void;
  /** Whether SharePoint lets this user open the item now. */
  mayOpen(driveId: string, itemId: string, userObjectId: string): boolean;
  /** The next request for this item inside a $batch gets this answer (queued per item). */
  failBatchItem(itemId: string, ...failures: GraphBatchItemFailure[]): void;
  requests: GraphRecordedRequest[];
  pageSize: number;
  contentMode: 'redirect' | 'direct';
  /** false: file bytes are sent chunked, without Content-Length, so a client cannot size them up front. */
  contentLength: boolean;
  cTagInDelta: boolean;
  addDrive(driveId?: string): { driveId: string; rootId: string };
  addFolder(driveId: string, name: string, parentId?: string): string;
  addFile(driveId: string, file: FakeFile): string;
  updateFile(driveId: string, itemId: string, content: Buffer | string): void;
  moveItem(driveId: string, itemId: string, to: { parentId?: string; name?: string }): void;
  /** Deletes the item (a folder with everything below it). */
  deleteItem(driveId: string, itemId: string): void;
  setPermissions(driveId: string, itemId: string, permissions: unknown[]): void;
  /** The Entra groups (transitively) a user belongs to; unknown users answer 404. */
  setMemberships(userObjectId: string, groupIds: string[]): void;
  /** The item as delta would list it now. */
  itemJson(driveId: string, itemId: string): Record<string, unknown>;
  /** Queues raw items to lead the next change set (a duplicate, an older version). */
  injectChange(driveId: string, ...items: Array<Record<string, unknown>>): void;
  failNext(route: GraphRoute, ...failures: GraphFailure[]): void;
  crashOnDeltaPage(page: number | undefined): void;
  /** Every delta token issued so far for this drive answers 410 Gone from now on. */
  expireDeltaTokens(driveId: string): void;
  close(): Promise<void>;
}

interface Item {
  id: string;
  name: string;
  parentId?: string;
  kind: 'root' | 'folder' | 'file';
  content: Buffer;
  guid: string;
  /** eTag version: any change. */
  version: number;
  /** cTag version: content changes only. */
  contentVersion: number;
  permissions?: unknown[];
  created: string;
  modified: string;
}

interface Drive {
  id: string;
  rootId: string;
  items: Map<string, Item>;
  /** Deleted item id -> its last parent, for the deleted facet's parentReference. */
  deleted: Map<string, string | undefined>;
  /** Item id -> sequence number of its last change. */
  changed: Map<string, number>;
  seq: number;
  injected: Array<Record<string, unknown>>;
}

interface Listing {
  driveId: string;
  entries: Array<Record<string, unknown>>;
  offset: number;
  page: number;
  /** The change sequence the set is complete up to: its deltaLink's starting point. */
  endSeq: number;
}

const MIME: Record<string, string> = {
  '.md': 'text/markdown',
  '.txt': 'text/plain',
  '.html': 'text/html',
  '.pdf': 'application/pdf',
  '.docx': 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
  '.xlsx': 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
  '.png': 'image/png',
};

const itemId = () => `01${randomBytes(20).toString('hex').toUpperCase().slice(0, 32)}`;
const opaque = () => randomBytes(24).toString('base64url');

/** Site members: what SharePoint lists for an item that inherits its site's permissions. */
export const SITE_MEMBERS_PERMISSION = { id: 'aTowIy5mfG1lbWJlcnNoaXB8', roles: ['write'], grantedToV2: { siteGroup: { id: '3', displayName: 'Kluis Members', loginName: 'Kluis Members' } } };
/** An organisation-wide sharing link ("People in your organisation with the link"). */
export const ORGANIZATION_LINK_PERMISSION = { id: 'b3JnbGluaw', roles: ['read'], link: { scope: 'organization', type: 'view', webUrl: 'https://contoso.sharepoint.com/:w:/s/kluis/org' } };

export async function startFakeGraph(options: { pageSize?: number; token?: string; defaultPermissions?: unknown[] } = {}): Promise<FakeGraph> {
  const token = options.token ?? `graph-${opaque()}`;
  const requests: GraphRecordedRequest[] = [];
  const drives = new Map<string, Drive>();
  const listings = new Map<string, Listing>();
  const deltaTokens = new Map<string, { driveId: string; seq: number; expired: boolean }>();
  const downloads = new Map<string, { driveId: string; itemId: string }>();
  const failures = new Map<GraphRoute, GraphFailure[]>();
  const memberships = new Map<string, string[]>();
  const siteGroupMembers = new Map<string, Set<string>>();
  const userTokens = new Map<string, { oid: string; revoked: boolean }>();
  const batchItemFailures = new Map<string, GraphBatchItemFailure[]>();
  let crashPage: number | undefined;
  let baseUrl = '';
  let downloadBaseUrl = '';

  const drive = (driveId: string) => drives.get(driveId) ?? raise(`no drive ${driveId}`);
  const item = (d: Drive, id: string) => d.items.get(id) ?? raise(`no item ${id}`);
  const touch = (d: Drive, id: string) => d.changed.set(id, ++d.seq);
  const now = () => new Date().toISOString();

  const READ_ROLES = new Set(['read', 'write', 'owner']);
  /** SharePoint's decision for a user: any permission with a reading role that includes them. */
  const userMayOpen = (it: Item, oid: string): boolean => {
    if (it.kind !== 'file') return true;
    const groups = new Set(memberships.get(oid) ?? []);
    const includes = (set: Record<string, { id?: string } | undefined> | undefined): boolean =>
      !!set && (set.user?.id === oid || (set.group?.id !== undefined && groups.has(set.group.id)) || (set.siteGroup?.id !== undefined && !!siteGroupMembers.get(set.siteGroup.id)?.has(oid)));
    const permissions = (it.permissions ?? options.defaultPermissions ?? [SITE_MEMBERS_PERMISSION]) as Array<{ roles?: string[]; link?: { scope?: string }; grantedToV2?: Record<string, { id?: string }>; grantedToIdentitiesV2?: Array<Record<string, { id?: string }>> }>;
    return permissions.some((p) => {
      if (!(p.roles ?? []).some((r) => READ_ROLES.has(r))) return false;
      if (p.link?.scope === 'organization' || p.link?.scope === 'anonymous') return true;
      return includes(p.grantedToV2) || (p.grantedToIdentitiesV2 ?? []).some(includes);
    });
  };

  const pathOf = (d: Drive, it: Item): string => {
    const names: string[] = [];
    for (let current: Item | undefined = it; current && current.kind !== 'root'; current = current.parentId ? d.items.get(current.parentId) : undefined) names.unshift(current.name);
    return names.join('/');
  };

  const json = (d: Drive, it: Item, forDelta: boolean): Record<string, unknown> => {
    const out: Record<string, unknown> = {
      id: it.id,
      name: it.name,
      eTag: `"{${it.guid}},${it.version}"`,
      createdDateTime: it.created,
      lastModifiedDateTime: it.modified,
      webUrl: `https://contoso.sharepoint.com/sites/kluis/Shared%20Documents${it.kind === 'root' ? '' : `/${pathOf(d, it).split('/').map(encodeURIComponent).join('/')}`}`,
      parentReference: it.parentId ? { driveType: 'documentLibrary', driveId: d.id, id: it.parentId } : { driveType: 'documentLibrary', driveId: d.id },
    };
    if (!forDelta || fake.cTagInDelta) out.cTag = `"c:{${it.guid}},${it.contentVersion}"`;
    if (it.kind === 'file') {
      out.size = it.content.length;
      out.file = { mimeType: MIME[path.extname(it.name).toLowerCase()] ?? 'application/octet-stream' };
    } else {
      out.size = 0;
      out.folder = { childCount: [...d.items.values()].filter((c) => c.parentId === it.id).length };
      if (it.kind === 'root') out.root = {};
    }
    return out;
  };

  const deletedJson = (d: Drive, id: string) => ({ id, deleted: { state: 'deleted' }, parentReference: { driveType: 'documentLibrary', driveId: d.id, ...(d.deleted.get(id) ? { id: d.deleted.get(id) } : {}) } });

  /** Root first, then each folder's children by name, folders before what they contain; for a user, only what they may open. */
  const enumerate = (d: Drive, asUser?: string): Array<Record<string, unknown>> => {
    const out: Array<Record<string, unknown>> = [];
    const walk = (it: Item) => {
      if (asUser === undefined || userMayOpen(it, asUser)) out.push(json(d, it, true));
      const children = [...d.items.values()].filter((c) => c.parentId === it.id).sort((a, b) => a.name.localeCompare(b.name));
      for (const child of children) walk(child);
    };
    walk(item(d, d.rootId));
    return out;
  };

  const newListing = (d: Drive, entries: Array<Record<string, unknown>>): string => {
    const id = opaque();
    listings.set(id, { driveId: d.id, entries, offset: 0, page: 1, endSeq: d.seq });
    return id;
  };

  const deltaUrl = (driveId: string, tokenValue: string) => `${baseUrl}/v1.0/drives/${encodeURIComponent(driveId)}/root/delta?token=${tokenValue}`;

  const graphError = (res: ServerResponse, record: GraphRecordedRequest, status: number, code: string, message: string, headers: Record<string, string> = {}) => {
    record.status = status;
    res
      .writeHead(status, { 'content-type': 'application/json', 'request-id': randomUUID(), ...headers })
      .end(JSON.stringify({ error: { code, message, innerError: { date: now(), 'request-id': randomUUID(), 'client-request-id': randomUUID() } } }));
  };
  const ok = (res: ServerResponse, record: GraphRecordedRequest, body: unknown) => {
    record.status = 200;
    res.writeHead(200, { 'content-type': 'application/json; odata.metadata=minimal' }).end(JSON.stringify(body));
  };

  const applyFailure = (failure: GraphFailure, req: IncomingMessage, res: ServerResponse, record: GraphRecordedRequest) => {
    if (failure.kind === 'crash') {
      record.status = 0;
      req.socket.destroy();
      return;
    }
    if (failure.kind === 'hang') {
      record.status = 0;
      return;
    }
    if (failure.kind === 'malformed') {
      record.status = 200;
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"responses": [{"id": "1", "status": 2');
      return;
    }
    if (failure.kind === 'throttle') {
      const status = failure.status ?? 429;
      const headers: Record<string, string> = failure.retryAfterSeconds === undefined ? {} : { 'retry-after': String(failure.retryAfterSeconds) };
      if (status === 429) graphError(res, record, 429, 'activityLimitReached', 'The request has been throttled', headers);
      else graphError(res, record, 503, 'serviceNotAvailable', 'The service is temporarily unavailable', headers);
      return;
    }
    graphError(res, record, failure.status, failure.code ?? 'generalException', `Scripted failure ${failure.status}`);
  };

  const sendBytes = (res: ServerResponse, record: GraphRecordedRequest, content: Buffer) => {
    record.status = 200;
    if (fake.contentLength) {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(content.length) }).end(content);
      return;
    }
    res.writeHead(200, { 'content-type': 'application/octet-stream' });
    const half = Math.floor(content.length / 2);
    res.write(content.subarray(0, half));
    res.end(content.subarray(half));
  };

  const serveListing = (res: ServerResponse, record: GraphRecordedRequest, listing: Listing) => {
    const d = drive(listing.driveId);
    const value = listing.entries.slice(listing.offset, listing.offset + fake.pageSize);
    const next = listing.offset + fake.pageSize;
    if (next < listing.entries.length) {
      const id = opaque();
      listings.set(id, { ...listing, offset: next, page: listing.page + 1 });
      ok(res, record, { '@odata.context': `${baseUrl}/v1.0/$metadata#Collection(driveItem)`, value, '@odata.nextLink': deltaUrl(d.id, id) });
      return;
    }
    const id = opaque();
    deltaTokens.set(id, { driveId: d.id, seq: listing.endSeq, expired: false });
    ok(res, record, { '@odata.context': `${baseUrl}/v1.0/$metadata#Collection(driveItem)`, value, '@odata.deltaLink': deltaUrl(d.id, id) });
  };

  const readBody = (req: IncomingMessage): Promise<string> =>
    new Promise((resolve) => {
      const parts: Buffer[] = [];
      req.on('data', (c: Buffer) => parts.push(c));
      req.on('end', () => resolve(Buffer.concat(parts).toString('utf8')));
      req.on('error', () => resolve(''));
    });

  const batchError = (status: number, code: string, message: string, headers: Record<string, string> = {}) => ({
    status,
    headers: { 'Content-Type': 'application/json', ...headers },
    body: { error: { code, message, innerError: { date: now(), 'request-id': randomUUID() } } },
  });

  /** One request inside a batch, answered as the route itself would answer it. */
  const batchItem = (request: { method?: unknown; url?: unknown }, asUser: string | undefined): { status: number; headers: Record<string, string>; body: unknown } => {
    if (request.method !== 'GET' || typeof request.url !== 'string') return batchError(400, 'BadRequest', 'Only GET of a relative url is supported here');
    // Relative to the version root ("/drives/..." means ".../v1.0/drives/...").
    const target = new URL(request.url.replace(/^\/+/, ''), `${baseUrl}/v1.0/`);
    const m = /^\/v1\.0\/drives\/([^/]+)\/items\/([^/]+)$/.exec(target.pathname);
    if (!m) return batchError(400, 'BadRequest', `Unsupported path ${target.pathname}`);
    const itemKey = decodeURIComponent(m[2]!);
    const scripted = batchItemFailures.get(itemKey)?.shift();
    if (scripted) {
      const headers: Record<string, string> = scripted.retryAfterSeconds === undefined ? {} : { 'Retry-After': String(scripted.retryAfterSeconds) };
      const code = scripted.code ?? (scripted.status === 429 ? 'TooManyRequests' : scripted.status === 503 ? 'serviceNotAvailable' : 'generalException');
      return batchError(scripted.status, code, `Scripted failure ${scripted.status}`, headers);
    }
    const d = drives.get(decodeURIComponent(m[1]!));
    const it = d?.items.get(itemKey);
    if (!d || !it) return batchError(404, 'itemNotFound', 'The resource could not be found.');
    if (asUser !== undefined && !userMayOpen(it, asUser)) return batchError(403, 'accessDenied', 'Access denied');
    const full = json(d, it, false);
    const select = target.searchParams.get('$select');
    const body = select ? Object.fromEntries(select.split(',').filter((k) => k in full).map((k) => [k, full[k]])) : full;
    return { status: 200, headers: { 'Content-Type': 'application/json' }, body };
  };

  const serveBatch = (res: ServerResponse, record: GraphRecordedRequest, raw: string, asUser: string | undefined) => {
    let parsed: { requests?: unknown } | undefined;
    try {
      parsed = JSON.parse(raw) as { requests?: unknown };
    } catch {
      return graphError(res, record, 400, 'BadRequest', 'Invalid batch payload format.');
    }
    const requests = parsed?.requests;
    if (!Array.isArray(requests) || requests.length === 0) return graphError(res, record, 400, 'BadRequest', 'Invalid batch payload format.');
    if (requests.length > 20) return graphError(res, record, 400, 'BadRequest', 'The number of batch requests exceeds the limit of 20.');
    const ids = requests.map((r: { id?: unknown }) => r?.id);
    if (ids.some((id) => typeof id !== 'string' || id === '') || new Set(ids).size !== ids.length) return graphError(res, record, 400, 'BadRequest', 'Batch request ids must be unique non-empty strings.');
    record.batch = requests.map((r: { url?: unknown }) => String(r.url));
    const responses = requests.map((r: { id: string; method?: unknown; url?: unknown }) => ({ id: r.id, ...batchItem(r, asUser) })).reverse();
    ok(res, record, { responses });
  };

  const graph = createServer((req, res) => {
    const url = new URL(req.url ?? '/', baseUrl);
    const delta = /^\/v1\.0\/drives\/([^/]+)\/root\/delta$/.exec(url.pathname);
    const itemRoute = /^\/v1\.0\/drives\/([^/]+)\/items\/([^/]+)\/(content|permissions)$/.exec(url.pathname);
    const memberOf = /^\/v1\.0\/users\/([^/]+)\/transitiveMemberOf\/microsoft\.graph\.group$/.exec(url.pathname);
    const route: GraphRoute = delta ? 'delta' : itemRoute ? (itemRoute[3] as 'content' | 'permissions') : url.pathname === '/v1.0/$batch' ? 'batch' : memberOf ? 'memberships' : 'other';
    const record: GraphRecordedRequest = { method: req.method ?? 'GET', route, url: req.url ?? '/', authorization: req.headers.authorization, status: 0 };
    requests.push(record);

    // Which listing page this is, before anything can fail, so a crash on page k is page k.
    const tokenValue = url.searchParams.get('token') ?? undefined;
    let listing: Listing | undefined;
    let changesFrom: { driveId: string; seq: number; expired: boolean } | undefined;
    if (delta) {
      if (tokenValue === undefined) record.page = 1;
      else if ((listing = listings.get(tokenValue))) record.page = listing.page;
      else if ((changesFrom = deltaTokens.get(tokenValue))) {
        record.page = 1;
        record.withDeltaToken = true;
      }
      if (crashPage !== undefined && record.page === crashPage) return applyFailure({ kind: 'crash' }, req, res, record);
    }
    const failure = failures.get(route)?.shift();
    if (failure) return applyFailure(failure, req, res, record);

    const presented = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    const user = presented === undefined ? undefined : userTokens.get(presented);
    if (presented !== token && (!user || user.revoked)) {
      return graphError(res, record, 401, 'InvalidAuthenticationToken', req.headers.authorization ? 'Access token validation failure.' : 'Access token is empty.');
    }
    const asUser = presented === token ? undefined : user?.oid;
    record.asUser = asUser;
    if (route === 'batch') {
      if (req.method !== 'POST') return graphError(res, record, 405, 'invalidRequest', 'Method not allowed');
      return void readBody(req).then((raw) => serveBatch(res, record, raw, asUser));
    }
    if (req.method !== 'GET') return graphError(res, record, 405, 'invalidRequest', 'Method not allowed');

    // "List a user's transitive memberships" cast to groups: GET /users/{id}/transitiveMemberOf/microsoft.graph.group
    if (memberOf) {
      const groups = memberships.get(decodeURIComponent(memberOf[1]!));
      if (!groups) return graphError(res, record, 404, 'Request_ResourceNotFound', 'Resource does not exist.');
      return ok(res, record, { '@odata.context': `${baseUrl}/v1.0/$metadata#groups(id)`, value: groups.map((id) => ({ '@odata.type': '#microsoft.graph.group', id })) });
    }

    if (delta) {
      const d = drives.get(decodeURIComponent(delta[1]!));
      if (!d) return graphError(res, record, 404, 'itemNotFound', 'The drive cannot be found');
      if (tokenValue === undefined) return serveListing(res, record, listings.get(newListing(d, enumerate(d, asUser))) as Listing);
      if (listing) return serveListing(res, record, listing);
      if (changesFrom) {
        if (changesFrom.expired) {
          const fresh = newListing(d, enumerate(d, asUser));
          return graphError(res, record, 410, 'resyncChangesApplyDifferences', 'Resync required. Replace any local items with the server version (including deletes).', { location: deltaUrl(d.id, fresh) });
        }
        const since = changesFrom.seq;
        const ids = [...d.changed.entries()].filter(([, seq]) => seq > since).sort((a, b) => a[1] - b[1]);
        const entries = [...d.injected.splice(0)];
        for (const [id] of ids) {
          const current = d.items.get(id);
          if (current && (asUser === undefined || userMayOpen(current, asUser))) entries.push(json(d, current, true));
          else if (d.deleted.has(id)) entries.push(deletedJson(d, id));
        }
        return serveListing(res, record, listings.get(newListing(d, entries)) as Listing);
      }
      return graphError(res, record, 400, 'invalidRequest', 'Invalid or unknown delta token');
    }

    if (itemRoute) {
      const d = drives.get(decodeURIComponent(itemRoute[1]!));
      const it = d?.items.get(decodeURIComponent(itemRoute[2]!));
      if (!d || !it) return graphError(res, record, 404, 'itemNotFound', 'The resource could not be found.');
      if (asUser !== undefined && !userMayOpen(it, asUser)) return graphError(res, record, 403, 'accessDenied', 'Access denied');
      if (route === 'permissions') {
        const permissions = it.permissions ?? options.defaultPermissions ?? [SITE_MEMBERS_PERMISSION];
        return ok(res, record, { '@odata.context': `${baseUrl}/v1.0/$metadata#drives('${d.id}')/items('${it.id}')/permissions`, value: permissions });
      }
      if (it.kind !== 'file') return graphError(res, record, 404, 'itemNotFound', 'The item is not a file.');
      if (fake.contentMode === 'direct') return sendBytes(res, record, it.content);
      const id = opaque();
      downloads.set(id, { driveId: d.id, itemId: it.id });
      record.status = 302;
      res.writeHead(302, { location: `${downloadBaseUrl}/download/${id}` }).end();
      return;
    }
    graphError(res, record, 400, 'invalidRequest', `Unsupported path ${url.pathname}`);
  });

  // The pre-authenticated download host: no token needed; it records whether one was sent anyway.
  const download = createServer((req, res) => {
    const record: GraphRecordedRequest = { method: req.method ?? 'GET', route: 'download', url: req.url ?? '/', authorization: req.headers.authorization, status: 0 };
    requests.push(record);
    const failure = failures.get('download')?.shift();
    if (failure) return applyFailure(failure, req, res, record);
    const target = downloads.get(/^\/download\/([A-Za-z0-9_-]+)$/.exec(req.url ?? '')?.[1] ?? '');
    const it = target ? drives.get(target.driveId)?.items.get(target.itemId) : undefined;
    if (!it) {
      record.status = 404;
      res.writeHead(404).end();
      return;
    }
    sendBytes(res, record, it.content);
  });

  await new Promise<void>((resolve) => graph.listen(0, '127.0.0.1', resolve));
  await new Promise<void>((resolve) => download.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(graph.address() as AddressInfo).port}`;
  downloadBaseUrl = `http://127.0.0.1:${(download.address() as AddressInfo).port}`;

  const addItem = (d: Drive, fields: Pick<Item, 'name' | 'parentId' | 'kind'> & { content?: Buffer; permissions?: unknown[] }) => {
    if (fields.parentId !== undefined) {
      const parent = item(d, fields.parentId);
      if (parent.kind === 'file') raise('a file cannot hold items');
    }
    const at = now();
    const it: Item = { id: itemId(), content: Buffer.alloc(0), guid: randomUUID().toUpperCase(), version: 1, contentVersion: 1, created: at, modified: at, ...fields };
    d.items.set(it.id, it);
    touch(d, it.id);
    if (it.parentId) touch(d, it.parentId);
    return it.id;
  };

  const fake: FakeGraph = {
    get baseUrl() {
      return baseUrl;
    },
    get downloadBaseUrl() {
      return downloadBaseUrl;
    },
    token,
    requests,
    pageSize: options.pageSize ?? 10,
    contentMode: 'redirect',
    contentLength: true,
    cTagInDelta: false,
    addDrive(driveId = `b!${randomBytes(48).toString('base64url')}`) {
      const d: Drive = { id: driveId, rootId: '', items: new Map(), deleted: new Map(), changed: new Map(), seq: 0, injected: [] };
      drives.set(driveId, d);
      d.rootId = addItem(d, { name: 'root', kind: 'root' });
      return { driveId, rootId: d.rootId };
    },
    addFolder(driveId, name, parentId) {
      const d = drive(driveId);
      return addItem(d, { name, kind: 'folder', parentId: parentId ?? d.rootId });
    },
    addFile(driveId, file) {
      const d = drive(driveId);
      return addItem(d, { name: file.name, kind: 'file', parentId: file.parentId ?? d.rootId, content: Buffer.from(file.content), permissions: file.permissions });
    },
    updateFile(driveId, id, content) {
      const d = drive(driveId);
      const it = item(d, id);
      it.content = Buffer.from(content);
      it.version++;
      it.contentVersion++;
      it.modified = now();
      touch(d, id);
    },
    moveItem(driveId, id, to) {
      const d = drive(driveId);
      const it = item(d, id);
      if (to.parentId !== undefined) it.parentId = to.parentId;
      if (to.name !== undefined) it.name = to.name;
      it.version++;
      // Like SharePoint, only the moved item itself shows up in delta, not what it contains.
      touch(d, id);
    },
    deleteItem(driveId, id) {
      const d = drive(driveId);
      const it = item(d, id);
      for (const child of [...d.items.values()].filter((c) => c.parentId === id)) fake.deleteItem(driveId, child.id);
      d.items.delete(id);
      d.deleted.set(id, it.parentId);
      touch(d, id);
    },
    setMemberships(userObjectId, groupIds) {
      memberships.set(userObjectId, [...groupIds]);
    },
    userToken(userObjectId) {
      for (const [value, entry] of userTokens) if (entry.oid === userObjectId && !entry.revoked) return value;
      const value = `user-${opaque()}`;
      userTokens.set(value, { oid: userObjectId, revoked: false });
      return value;
    },
    revokeUserTokens(userObjectId) {
      for (const entry of userTokens.values()) if (entry.oid === userObjectId) entry.revoked = true;
    },
    setSiteGroupMembers(siteGroupId, userObjectIds) {
      siteGroupMembers.set(siteGroupId, new Set(userObjectIds));
    },
    mayOpen(driveId, id, userObjectId) {
      return userMayOpen(item(drive(driveId), id), userObjectId);
    },
    failBatchItem(id, ...next) {
      batchItemFailures.set(id, [...(batchItemFailures.get(id) ?? []), ...next]);
    },
    setPermissions(driveId, id, permissions) {
      const d = drive(driveId);
      item(d, id).permissions = permissions;
      touch(d, id);
    },
    itemJson(driveId, id) {
      const d = drive(driveId);
      return json(d, item(d, id), true);
    },
    injectChange(driveId, ...items) {
      drive(driveId).injected.push(...items);
    },
    failNext(route, ...next) {
      failures.set(route, [...(failures.get(route) ?? []), ...next]);
    },
    crashOnDeltaPage(page) {
      crashPage = page;
    },
    expireDeltaTokens(driveId) {
      for (const entry of deltaTokens.values()) if (entry.driveId === driveId) entry.expired = true;
    },
    close: () =>
      Promise.all(
        [graph, download].map(
          (server) =>
            new Promise<void>((resolve) => {
              server.closeAllConnections();
              server.close(() => resolve());
            }),
        ),
      ).then(() => undefined),
  };
  return fake;
}

function raise(message: string): never {
  throw new Error(`fake Graph: ${message}`);
}
