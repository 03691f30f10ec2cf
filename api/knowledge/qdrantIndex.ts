/**
 * Search index on a Qdrant server: one collection for every workspace, each point carrying its
 * workspace_id and every query, count and delete filtered by it (Qdrant's payload-based
 * multitenancy; the workspace_id index is marked `is_tenant` so Qdrant keeps a tenant's points
 * together on disk).
 *
 * Each point has a sparse lexical vector ("text", term frequencies; Qdrant applies IDF) and, when
 * an embedder is configured, a dense vector ("dense", cosine). A search runs both as prefetches,
 * each with the workspace filter, and fuses them with reciprocal rank fusion; without an embedder
 * it is one sparse query. The filter goes into every prefetch and the outer query alike: a
 * prefetch without it would rank, and could return, other workspaces' points.
 *
 * Each point also carries its acl as a keyword list of principals (api/knowledge/acl.ts, with a
 * keyword payload index), and every search filter requires one of the reader's principals, in the
 * prefetches as in the outer query: Qdrant applies a filter while it searches, so passages the
 * reader may not see never take places from the ones they may.
 *
 * The collection's metadata records which embedder built it (api/knowledge/indexBuild.ts: its id
 * and dimension, or none) and how its sparse term ids are made. A collection opened with another
 * embedder, another dimension, with none after one (or the other way round), with the other term
 * scheme, or without a record (built before records) is deleted and created again empty, as the
 * LanceDB index drops its table: vectors of two models cannot be compared, and keyed and unkeyed
 * term ids never match, so mixing them would rank nonsense. The sources then index every document
 * again. A record without the term scheme was written before keyed ids, so it names unkeyed ones.
 *
 * With data keys the passage in the payload (text, title, heading, url, source) is sealed with its
 * workspace's key (api/privacy/dataKeysText.ts) and opened for the hits a search returns. With
 * token keys the sparse term ids of a workspace's passages and questions are keyed hashes under its
 * token key (api/knowledge/sparseVector.ts, `keyedTermId`), fetched once per write and per search;
 * without the key an id says nothing about its word, and once the data key is destroyed a write or
 * search of the workspace fails with `data_key_destroyed` before any request, as in the LanceDB
 * index. Without token keys the ids are unkeyed hashes anyone can compute, so the words could be
 * recovered by trying a dictionary; see README, "Workspace data keys".
 *
 * Keyed ids also part the tenants' term statistics: Qdrant's IDF counts, per id, the points that
 * hold it across the whole collection, and one workspace's ids are (but for rare 32-bit collisions)
 * no other's, so a term's document frequency is effectively counted within its workspace. Only the
 * number of points, common to every term, still spans the collection. Unkeyed, every workspace's
 * passages share ids, and one tenant's documents shift another's ranking.
 */
import { createHash } from 'node:crypto';
import { QdrantClient, type Schemas } from '@qdrant/js-client-rest';
import { fail, isKluisError } from '../errors';
import { passageSealer } from '../privacy/dataKeysText';
import type { SearchTokenKeys, WorkspaceDataKeys } from '../privacy/ports';
import { admission, principalsOf, readerPrincipals, type Admission } from './acl';
import type { Embedder } from './embedding/embedder';
import { KEYED_SPARSE_TERMS, sameBuild, type IndexBuild } from './indexBuild';
import type { ChunkRecord, SearchHit, SearchIndex, SearchOptions } from './ports';
import { documentVector, queryVector, words } from './sparseVector';

export type { Embedder };

export interface QdrantIndexOptions {
  /** `http(s)://host[:port][/prefix]`; credentials go in `apiKey`, never in the URL. */
  url: string;
  /** Overrides a port missing from `url`; without either Qdrant's 6333 is used, also for https. */
  port?: number;
  /** Sent as the `api-key` header. */
  apiKey?: string;
  /** Path in front of Qdrant's routes, for a server behind a reverse proxy (or the path of `url`). */
  prefix?: string;
  /** Defaults to `kluis_chunks`. */
  collection?: string;
  /** Adds dense vectors and hybrid search; its dimension fixes the collection's vector size. */
  embedder?: Embedder;
  /** Told when the collection was built otherwise (another embedder, none, the other term scheme, or no record) and was re-created empty. */
  onRebuild?: (previous: IndexBuild | undefined, current: IndexBuild) => void;
  /** Seals each passage's stored text with its workspace's data key (the vectors are not sealed; see `tokenKeys`). */
  dataKeys?: WorkspaceDataKeys;
  /**
   * Keys each workspace's sparse term ids (passages and questions alike) with its token key, so no
   * stored id can be tied to a word without the key, and none at all once the data key is
   * destroyed. Absent, the ids are unkeyed hashes of the words. Switching either way rebuilds the
   * collection.
   */
  tokenKeys?: SearchTokenKeys;
}

export const DEFAULT_COLLECTION = 'kluis_chunks';
const SPARSE_VECTOR = 'text';
const DENSE_VECTOR = 'dense';
const ACL_FIELD = 'acl_principals';
/** The key of the build record in the collection's metadata. */
const BUILD_KEY = 'kluis_index';
const QDRANT_DEFAULT_PORT = 6333;
/** Points per upsert request (and texts per embedding call): keeps bodies far below Qdrant's 32 MB cap. */
const UPSERT_BATCH = 128;
/** The client's own default is five minutes; a search that slow is an outage, not a result. */
const REQUEST_TIMEOUT_MS = 30_000;
/** Questions are short; a pasted document is searched by its beginning, as the LanceDB index does. */
const MAX_QUERY_CHARS = 2000;
/** No question needs more passages than this, and the answer travels in one response. */
const MAX_LIMIT = 1000;
/** Fixed namespace of the name-based point ids; changing it orphans every stored point. */
const POINT_ID_NAMESPACE = Buffer.from('5f1c8a3e9b7d4e21a6c40d2f8e9b1a37', 'hex');

/**
 * Ids reach filters, the point-id hash and log lines, so only this alphabet is accepted (the same
 * as the LanceDB adapter). It has no '/', which keeps `${workspace}/${chunk}` unambiguous.
 */
function identifier(id: string): string {
  if (typeof id !== 'string' || !/^[A-Za-z0-9_.:-]{1,128}$/.test(id)) fail('request_malformed', `Identifier not allowed in an index filter: ${JSON.stringify(String(id).slice(0, 40))}`);
  return id;
}

/**
 * A name-based (version 5 style) UUID, as Qdrant accepts only unsigned integers and UUIDs as
 * point ids. The workspace is part of the name so that no write for one workspace can overwrite
 * a point of another, even when both hold a chunk with the same id.
 */
export function pointId(workspaceId: string, chunkId: string): string {
  const hash = createHash('sha1').update(POINT_ID_NAMESPACE).update(`${workspaceId}/${chunkId}`, 'utf8').digest();
  hash[6] = (hash[6]! & 0x0f) | 0x50;
  hash[8] = (hash[8]! & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** The one way a filter is built here: the workspace always, the document when given. */
function tenantFilter(workspaceId: string, documentId?: string): Schemas['Filter'] & { must: Schemas['Condition'][] } {
  const must: Schemas['Condition'][] = [{ key: 'workspace_id', match: { value: workspaceId } }];
  if (documentId !== undefined) must.push({ key: 'document_id', match: { value: documentId } });
  return { must };
}

/** A search's filter: the workspace, and one of the reader's principals in the point's acl. */
function searchFilter(workspaceId: string, principals: string[]): Schemas['Filter'] {
  const filter = tenantFilter(workspaceId);
  filter.must.push({ key: ACL_FIELD, match: { any: principals } });
  return filter;
}

interface Endpoint {
  url: string;
  port: number;
  prefix?: string;
}

/**
 * Normalises the connection settings, because the client quietly drops a URL's path unless it is
 * passed as `prefix`, and reads a default port (`:80`, `:443`, which URL parsing erases) as "no
 * port", falling back to 6333.
 */
export function resolveEndpoint(options: Pick<QdrantIndexOptions, 'url' | 'port' | 'prefix'>): Endpoint {
  let parsed: URL;
  try {
    parsed = new URL(options.url);
  } catch {
    fail('config_invalid', 'The Qdrant URL is not a valid URL.');
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') fail('config_invalid', 'The Qdrant URL must start with http:// or https://.');
  if (parsed.username || parsed.password) fail('config_invalid', 'The Qdrant URL must not carry credentials; set the API key separately.');
  if (parsed.search || parsed.hash) fail('config_invalid', 'The Qdrant URL must not have a query or fragment.');

  const authority = /^[a-z][a-z0-9+.-]*:\/\/([^/?#]*)/i.exec(options.url)?.[1] ?? '';
  const written = /:(\d+)$/.exec(authority)?.[1];
  const urlPort = written === undefined ? undefined : Number(written);
  if (options.port !== undefined && urlPort !== undefined && options.port !== urlPort) fail('config_invalid', `The Qdrant URL names port ${urlPort} but the port setting is ${options.port}.`);
  const port = options.port ?? urlPort ?? QDRANT_DEFAULT_PORT;
  if (!Number.isInteger(port) || port < 1 || port > 65535) fail('config_invalid', `The Qdrant port ${String(port)} is not a valid port.`);

  const trim = (p: string) => p.replace(/\/+$/, '');
  const urlPrefix = trim(parsed.pathname);
  const optionPrefix = options.prefix === undefined ? '' : trim(options.prefix.startsWith('/') ? options.prefix : `/${options.prefix}`);
  if (urlPrefix && optionPrefix && urlPrefix !== optionPrefix) fail('config_invalid', 'The Qdrant path is set both in the URL and as a prefix, differently.');
  const prefix = optionPrefix || urlPrefix;
  if (prefix && !/^(\/[A-Za-z0-9._~-]+)+$/.test(prefix)) fail('config_invalid', 'The Qdrant path prefix may only hold letters, digits and . _ ~ - between slashes.');

  return { url: `${parsed.protocol}//${parsed.hostname}`, port, prefix: prefix || undefined };
}

/** What a failed client call was, for the log: status and Qdrant's own message, never headers. */
function describeFailure(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const e = error as Error & { status?: unknown; data?: unknown; cause?: unknown };
  const parts: string[] = [];
  if (typeof e.status === 'number') parts.push(`HTTP ${e.status}`);
  const serverMessage = (e.data as { status?: { error?: unknown } } | undefined)?.status?.error;
  parts.push(typeof serverMessage === 'string' ? serverMessage : e.message);
  const code = (e.cause as { code?: unknown } | undefined)?.code;
  if (typeof code === 'string') parts.push(code);
  return parts.filter(Boolean).join(': ').slice(0, 500);
}

function httpStatus(error: unknown): number | undefined {
  const status = (error as { status?: unknown } | null)?.status;
  return typeof status === 'number' ? status : undefined;
}

/** Every failure of the server or the way to it is one outage to Kluis. */
function unavailable(operation: string, error: unknown): never {
  if (isKluisError(error)) throw error;
  fail('store_unavailable', `Qdrant ${operation} failed: ${describeFailure(error)}`, { cause: error });
}

async function call<T>(operation: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    unavailable(operation, error);
  }
}

function checkVector(vector: unknown, dimension: number, what: string): number[] {
  if (!Array.isArray(vector) || vector.length !== dimension || !vector.every((x) => typeof x === 'number' && Number.isFinite(x))) {
    fail('embedding_invalid', `${what}: expected ${dimension} finite numbers, got ${Array.isArray(vector) ? `${vector.length} values` : typeof vector}.`);
  }
  return vector as number[];
}

/** Title and heading are searched with the passage, as the LanceDB index does. */
function searchableText(c: ChunkRecord): string {
  return [c.title, c.heading, c.text].filter(Boolean).join('\n');
}

function toPayload(workspaceId: string, documentId: string, c: ChunkRecord, principals: string[]): Record<string, unknown> {
  const payload: Record<string, unknown> = {
    workspace_id: workspaceId,
    document_id: documentId,
    chunk_id: c.id,
    ordinal: c.ordinal,
    title: c.title,
    source_ref: c.sourceRef,
    language: c.language,
    text: c.text,
    [ACL_FIELD]: principals,
  };
  if (c.url !== undefined) payload.url = c.url;
  if (c.heading !== undefined) payload.heading = c.heading;
  return payload;
}

function toHit(point: Schemas['ScoredPoint'], access: Admission): SearchHit | undefined {
  const p = (point.payload ?? {}) as Record<string, unknown>;
  const text = (key: string) => (typeof p[key] === 'string' ? (p[key] as string) : undefined);
  const id = text('chunk_id');
  const documentId = text('document_id');
  if (id === undefined || documentId === undefined || typeof p.ordinal !== 'number') return undefined;
  return {
    id,
    documentId,
    ordinal: p.ordinal,
    title: text('title') ?? '',
    sourceRef: text('source_ref') ?? '',
    url: text('url'),
    heading: text('heading'),
    language: p.language === 'nl' ? 'nl' : 'en',
    text: text('text') ?? '',
    score: point.score,
    access,
  };
}

/** Opens (and on first use creates) the collection; safe to call from several processes at once. */
export async function createQdrantIndex(options: QdrantIndexOptions): Promise<SearchIndex> {
  const collection = options.collection ?? DEFAULT_COLLECTION;
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(collection)) fail('config_invalid', `Qdrant collection name not allowed: ${JSON.stringify(collection.slice(0, 70))}`);
  const embedder = options.embedder;
  const dimension = embedder?.dimension;
  if (dimension !== undefined && (!Number.isInteger(dimension) || dimension < 1 || dimension > 65536)) fail('config_invalid', `Embedding dimension ${String(dimension)} is not valid.`);
  const endpoint = resolveEndpoint(options);

  const client = new QdrantClient({
    url: endpoint.url,
    port: endpoint.port,
    prefix: endpoint.prefix,
    apiKey: options.apiKey || undefined,
    timeout: REQUEST_TIMEOUT_MS,
    // The check is a request fired at construction and never awaited: its failure would only warn.
    checkCompatibility: false,
  });

  const tokenKeys = options.tokenKeys;
  const current: IndexBuild = { embedder: embedder?.id ?? null, dimension: dimension ?? null, ...(tokenKeys ? { sparseTerms: KEYED_SPARSE_TERMS } : {}) };
  const sealer = passageSealer(options.dataKeys);
  const rebuilt = await ensureCollection(client, collection, current);
  if (rebuilt) options.onRebuild?.(rebuilt.previous, current);

  // One writer per process: a replace is an upsert then a delete of what it left over, and two of
  // them interleaving (or a workspace delete between them) would keep or drop the wrong points.
  let writes: Promise<unknown> = Promise.resolve();
  const serialise = <T>(work: () => Promise<T>): Promise<T> => {
    const next = writes.then(work, work);
    writes = next.catch(() => undefined);
    return next;
  };
  let closed = false;
  const usable = () => {
    if (closed) fail('internal', 'The Qdrant index was used after close().');
  };

  /** The workspace's token key with token keys, else undefined (unkeyed ids); fails once the data key is destroyed. */
  const termKey = async (workspaceId: string): Promise<Buffer | undefined> => (tokenKeys ? tokenKeys.tokenKey(workspaceId) : undefined);

  async function pointsFor(workspaceId: string, documentId: string, chunks: ChunkRecord[]): Promise<Schemas['PointStruct'][]> {
    const points: Schemas['PointStruct'][] = [];
    // Every acl is checked before anything is embedded, so a malformed one costs nothing.
    const principals = chunks.map((c) => principalsOf(c.acl));
    // The key too: a workspace whose data key is destroyed has nothing embedded or sent.
    const key = chunks.length > 0 ? await termKey(workspaceId) : undefined;
    for (let start = 0; start < chunks.length; start += UPSERT_BATCH) {
      const batch = chunks.slice(start, start + UPSERT_BATCH);
      const texts = batch.map(searchableText);
      const dense = embedder ? await embedder.embedDocuments(texts) : undefined;
      if (dense && (!Array.isArray(dense) || dense.length !== batch.length)) fail('embedding_invalid', `Asked for ${batch.length} document embeddings, got ${Array.isArray(dense) ? dense.length : typeof dense}.`);
      const stored = await Promise.all(batch.map((chunk) => sealer.seal(workspaceId, chunk.id, chunk)));
      batch.forEach((chunk, i) => {
        const vector: Record<string, Schemas['Vector']> = { [SPARSE_VECTOR]: documentVector(texts[i]!, key) };
        if (dense && dimension !== undefined) vector[DENSE_VECTOR] = checkVector(dense[i], dimension, 'Document embedding');
        points.push({ id: pointId(workspaceId, chunk.id), vector, payload: toPayload(workspaceId, documentId, stored[i]!, principals[start + i]!) });
      });
    }
    return points;
  }

  // Every method is async, so a refused identifier arrives as a rejected promise, as the port
  // promises, and it is refused before anything is embedded or sent.
  const index: SearchIndex = {
    async replaceDocument(workspaceId, documentId, chunks) {
      usable();
      const ws = identifier(workspaceId);
      const doc = identifier(documentId);
      // Embedding is slow and touches no stored point, so it happens outside the write queue.
      const points = await pointsFor(ws, doc, chunks);
      return serialise(async () => {
        // New points first, then the document's points that are not among them: a failure half
        // way leaves the old passages searchable rather than none.
        for (let start = 0; start < points.length; start += UPSERT_BATCH) {
          const batch = points.slice(start, start + UPSERT_BATCH);
          await call('upsert', () => client.upsert(collection, { wait: true, points: batch }));
        }
        const leftovers = tenantFilter(ws, doc);
        if (points.length > 0) leftovers.must_not = [{ has_id: points.map((p) => p.id) }];
        await call('delete', () => client.delete(collection, { wait: true, filter: leftovers }));
      });
    },

    async deleteDocument(workspaceId, documentId) {
      usable();
      const filter = tenantFilter(identifier(workspaceId), identifier(documentId));
      return serialise(async () => {
        await call('delete', () => client.delete(collection, { wait: true, filter }));
      });
    },

    async deleteWorkspace(workspaceId) {
      usable();
      const filter = tenantFilter(identifier(workspaceId));
      return serialise(async () => {
        await call('delete', () => client.delete(collection, { wait: true, filter }));
      });
    },

    async search(workspaceId, query, options: SearchOptions) {
      usable();
      const ws = identifier(workspaceId);
      const principals = readerPrincipals(options.reader, options.candidates ?? false);
      const text = query.slice(0, MAX_QUERY_CHARS);
      const limit = Math.min(Math.floor(options.limit), MAX_LIMIT);
      // Nothing word-like (empty, blanks, punctuation) asks nothing; a dense vector of it would
      // still have nearest neighbours, which is not an answer.
      if (!(limit >= 1) || words(text).length === 0) return [];

      const filter = searchFilter(ws, principals);
      // Before the query is embedded or sent: an erased workspace fails here, as in the LanceDB index.
      const sparse = queryVector(text, await termKey(ws));
      let points: Schemas['ScoredPoint'][];
      if (!embedder || dimension === undefined) {
        if (sparse.indices.length === 0) return [];
        const response = await call('query', () => client.query(collection, { query: sparse, using: SPARSE_VECTOR, filter, limit, with_payload: true }));
        // Only passages sharing a term with the question count; a zero score shares none.
        points = response.points.filter((p) => p.score > 0);
      } else {
        const dense = checkVector(await embedder.embedQuery(text), dimension, 'Query embedding');
        // Fusion ranks by position in each list, so each list needs more than the final few.
        const candidates = Math.max(limit * 4, 50);
        const prefetch: Schemas['Prefetch'][] = [];
        // A question of stop words only has no lexical part; the dense one still carries it.
        if (sparse.indices.length > 0) prefetch.push({ query: sparse, using: SPARSE_VECTOR, filter, limit: candidates });
        prefetch.push({ query: dense, using: DENSE_VECTOR, filter, limit: candidates });
        const response = await call('query', () => client.query(collection, { prefetch, query: { fusion: 'rrf' }, filter, limit, with_payload: true }));
        points = response.points;
      }
      // Belt and braces: the filters above are the guarantee; this makes a regression loud in tests.
      const allowed = new Set(principals);
      const hits = points.flatMap((p) => {
        const payload = p.payload as Record<string, unknown> | null | undefined;
        const access = payload?.workspace_id === ws ? admission(payload[ACL_FIELD], allowed) : undefined;
        return (access && toHit(p, access)) || [];
      });
      return Promise.all(hits.map((hit) => sealer.open(ws, hit.id, hit)));
    },

    async countChunks(workspaceId, documentId) {
      usable();
      const filter = tenantFilter(identifier(workspaceId), documentId === undefined ? undefined : identifier(documentId));
      const result = await call('count', () => client.count(collection, { filter, exact: true }));
      return result.count;
    },

    async ping() {
      usable();
      await call('collection info', () => client.getCollection(collection));
    },

    async close() {
      closed = true;
      await writes;
    },
  };
  return index;
}

/** The build record in a collection's metadata, or undefined without one; a malformed one counts as another build. */
export function recordedBuild(info: Schemas['CollectionInfo']): IndexBuild | undefined {
  const metadata = info.config.metadata as Record<string, unknown> | null | undefined;
  const record = metadata?.[BUILD_KEY] as Partial<IndexBuild> | null | undefined;
  if (record === undefined || record === null) return undefined;
  if (typeof record !== 'object') return { embedder: 'unreadable', dimension: null };
  const build: IndexBuild = { embedder: typeof record.embedder === 'string' ? record.embedder : null, dimension: typeof record.dimension === 'number' ? record.dimension : null };
  // Absent: written before keyed term ids, so the ids are unkeyed, as they are without token keys.
  if (record.sparseTerms !== undefined) build.sparseTerms = typeof record.sparseTerms === 'string' ? record.sparseTerms : 'unreadable';
  return build;
}

/** The record as stored in the collection's metadata: the term scheme only when it is not the unkeyed one. */
function buildRecord(build: IndexBuild): Record<string, unknown> {
  return { embedder: build.embedder, dimension: build.dimension, ...(build.sparseTerms === undefined ? {} : { sparseTerms: build.sparseTerms }) };
}

/**
 * Opens the collection built by `build`: creates it (with the record in its metadata) and its
 * payload indexes when missing, deletes and re-creates it when its record differs or is missing,
 * and refuses one whose record matches but whose vectors do not fit (searching it would fail on
 * every query, or silently rank without IDF). Answers what was there when it re-created one.
 */
async function ensureCollection(client: QdrantClient, collection: string, build: IndexBuild): Promise<{ previous: IndexBuild | undefined } | undefined> {
  const dimension = build.dimension ?? undefined;
  const info = async (): Promise<Schemas['CollectionInfo'] | undefined> => {
    try {
      return await client.getCollection(collection);
    } catch (error) {
      if (httpStatus(error) === 404) return undefined;
      unavailable('collection info', error);
    }
  };

  let existing = await info();
  let rebuilt: { previous: IndexBuild | undefined } | undefined;
  if (existing) {
    const previous = recordedBuild(existing);
    if (!previous || !sameBuild(previous, build)) {
      await call('delete collection', () => client.deleteCollection(collection));
      rebuilt = { previous };
      existing = undefined;
    }
  }
  const created = !existing;
  if (!existing) {
    try {
      await client.createCollection(collection, {
        vectors: dimension === undefined ? {} : { [DENSE_VECTOR]: { size: dimension, distance: 'Cosine' } },
        sparse_vectors: { [SPARSE_VECTOR]: { modifier: 'idf' } },
        // Every dense search is filtered by workspace, so Qdrant's advice for payload-based
        // multitenancy applies: no graph across all tenants (m: 0), one per tenant (payload_m).
        ...(dimension === undefined ? {} : { hnsw_config: { m: 0, payload_m: 16 } }),
        metadata: { [BUILD_KEY]: buildRecord(build) },
      });
    } catch (error) {
      // Another process may have created it between the two calls; it is read back below.
      if (!(await info())) unavailable('create collection', error);
    }
    // Read back: a server that drops metadata would otherwise have every start rebuild the index,
    // and another process may have created it first, with another embedder.
    existing = await info();
    if (!existing) fail('store_unavailable', `Qdrant collection ${collection} is missing right after its creation.`);
    const kept = recordedBuild(existing);
    if (!kept || !sameBuild(kept, build)) {
      fail('config_invalid', `Qdrant collection ${collection} does not hold the record of the embedder that built it (${kept ? `it names ${kept.embedder ?? 'none'}${kept.sparseTerms === undefined ? '' : ` with ${kept.sparseTerms} term ids`}` : 'the server keeps no collection metadata; a Qdrant version with collection metadata is needed'}).`);
    }
  }
  checkCollection(collection, existing, dimension);

  const schema = existing.payload_schema ?? {};
  const tenant = schema.workspace_id;
  const tenantParams = tenant?.params as { is_tenant?: boolean | null } | null | undefined;
  if (tenant?.data_type !== 'keyword' || tenantParams?.is_tenant !== true) {
    await call('create index', () => client.createPayloadIndex(collection, { wait: true, field_name: 'workspace_id', field_schema: { type: 'keyword', is_tenant: true } }));
  }
  if (schema.document_id?.data_type !== 'keyword') {
    await call('create index', () => client.createPayloadIndex(collection, { wait: true, field_name: 'document_id', field_schema: 'keyword' }));
  }
  if (schema[ACL_FIELD]?.data_type !== 'keyword') {
    // A collection from before points carried their acl: its points have no principals, so every
    // search would skip them while countChunks still counted them, and no source would ever index
    // them again. They are deleted once, here, before the index that marks the collection as
    // upgraded; the sources re-index documents whose chunks are missing on their next sync. The
    // filter matches only points without principals, whatever their workspace.
    if (!created) await call('delete', () => client.delete(collection, { wait: true, filter: { must: [{ is_empty: { key: ACL_FIELD } }] } }));
    await call('create index', () => client.createPayloadIndex(collection, { wait: true, field_name: ACL_FIELD, field_schema: 'keyword' }));
  }
  return rebuilt;
}

function checkCollection(collection: string, info: Schemas['CollectionInfo'], dimension: number | undefined): void {
  const params = info.config.params;
  const sparse = params.sparse_vectors?.[SPARSE_VECTOR];
  if (!sparse || sparse.modifier !== 'idf') fail('config_invalid', `Qdrant collection ${collection} has no sparse vector "${SPARSE_VECTOR}" with the idf modifier although its record names this embedder; delete it so that it is created again.`);
  if (dimension === undefined) return;
  const vectors = params.vectors as Record<string, { size?: unknown; distance?: unknown } | undefined> | undefined;
  const dense = vectors && typeof vectors.size !== 'number' ? vectors[DENSE_VECTOR] : undefined;
  if (!dense || dense.size !== dimension || dense.distance !== 'Cosine') {
    fail('config_invalid', `Qdrant collection ${collection} has no ${dimension}-dimensional cosine vector "${DENSE_VECTOR}" (the embedder's) although its record names this embedder; delete it so that it is created again.`);
  }
}
