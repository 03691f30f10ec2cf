/**
 * The Qdrant adapter's wire contract, checked without a Qdrant server: a local HTTP stand-in
 * records every request the official client sends and answers with Qdrant's REST shapes
 * (`{ result, status: 'ok', time }`, and `{ status: { error } }` with 404 for a missing
 * collection). The stand-in evaluates only the filter shapes the adapter is meant to send and
 * answers 400 to anything else, so an unexpected filter fails loudly here.
 *
 * What this proves is what the adapter asks for: the workspace filter on every read, count and
 * delete (and in every prefetch), the reader's principals in every search and every prefetch, no
 * delete of the whole collection, the tenant and acl indexes, the IDF modifier, refusal of hostile
 * identifiers and readers before any request, the API key header and the URL, and with token keys
 * the sparse ids of passages and questions keyed per workspace (none sent once a key is destroyed)
 * and the one-time rebuild of a collection of unkeyed ids.
 * Whether Qdrant then answers correctly is the shared conformance suite's job
 * (tests/knowledge/qdrantIndex.test.ts, against a real server).
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isKluisError } from '../errors';
import { MAX_READER_GROUPS } from './acl';
import type { Acl, ChunkRecord, Reader, SearchIndex } from './ports';
import { createQdrantIndex, DEFAULT_COLLECTION, pointId, resolveEndpoint, type Embedder, type QdrantIndexOptions } from './qdrantIndex';
import { KEYED_SPARSE_TERMS } from './indexBuild';
import { documentVector, keyedTermId, queryVector, termId, terms } from './sparseVector';
import { memoryDataKeys } from '../../tests/support/dataKeys';

interface RecordedRequest {
  method: string;
  /** Path without the query string, prefix included. */
  path: string;
  query: URLSearchParams;
  headers: Record<string, string | string[] | undefined>;
  body: any;
}

interface StoredPoint {
  id: string;
  vector: Record<string, any>;
  payload: Record<string, any>;
}

interface FakeCollection {
  params: { vectors: any; sparse_vectors: any };
  hnsw: any;
  /** The collection's metadata, as Qdrant keeps it (absent when none was given). */
  metadata?: Record<string, any>;
  payloadSchema: Record<string, { data_type: string; params?: any; points: number }>;
  points: Map<string, StoredPoint>;
}

interface FakeQdrant {
  port: number;
  url: string;
  requests: RecordedRequest[];
  collections: Map<string, FakeCollection>;
  /** Answer every request under /collections with this status (a server in trouble). */
  failWith?: number;
  /** Ignore the filter on queries, as a broken server or proxy might. */
  leakOnQuery?: boolean;
  close(): Promise<void>;
}

const ok = (result: unknown) => ({ result, status: 'ok', time: 0.001 });
const completed = (id: number) => ok({ operation_id: id, status: 'completed' });

class UnsupportedFilter extends Error {}

/**
 * The filter shapes the adapter may send: `must` field matches (a value, or any of a list, which
 * an array field meets when one of its entries is in the list, as in Qdrant), `must` is_empty
 * (a field missing, null or []) and `must_not` has_id.
 */
function matches(filter: any, point: StoredPoint): boolean {
  if (filter === undefined || filter === null) throw new UnsupportedFilter('no filter');
  for (const key of Object.keys(filter)) if (key !== 'must' && key !== 'must_not') throw new UnsupportedFilter(`filter clause ${key}`);
  const must: any[] = Array.isArray(filter.must) ? filter.must : [];
  const mustNot: any[] = filter.must_not === undefined ? [] : filter.must_not;
  for (const condition of must) {
    if (typeof condition?.is_empty?.key === 'string') {
      const value = point.payload[condition.is_empty.key];
      if (!(value === undefined || value === null || (Array.isArray(value) && value.length === 0))) return false;
      continue;
    }
    if (typeof condition?.key !== 'string') throw new UnsupportedFilter(JSON.stringify(condition));
    const value = point.payload[condition.key];
    const values: unknown[] = Array.isArray(value) ? value : [value];
    if (Array.isArray(condition.match?.any)) {
      if (!values.some((v) => condition.match.any.includes(v))) return false;
      continue;
    }
    if (condition.match?.value === undefined) throw new UnsupportedFilter(JSON.stringify(condition));
    if (!values.includes(condition.match.value)) return false;
  }
  for (const condition of mustNot) {
    if (!Array.isArray(condition?.has_id)) throw new UnsupportedFilter(JSON.stringify(condition));
    if (condition.has_id.includes(point.id)) return false;
  }
  return true;
}

function sparseScore(query: { indices: number[]; values: number[] }, stored: { indices: number[]; values: number[] } | undefined): number {
  if (!stored) return 0;
  let score = 0;
  query.indices.forEach((index, i) => {
    const at = stored.indices.indexOf(index);
    if (at >= 0) score += query.values[i]! * stored.values[at]!;
  });
  return score;
}

async function readJson(req: IncomingMessage): Promise<any> {
  const parts: Buffer[] = [];
  for await (const part of req) parts.push(part as Buffer);
  const raw = Buffer.concat(parts).toString('utf8');
  return raw ? JSON.parse(raw) : undefined;
}

async function startFakeQdrant(prefix = ''): Promise<FakeQdrant> {
  let operation = 0;
  const fake: FakeQdrant = { port: 0, url: '', requests: [], collections: new Map(), close: async () => undefined };

  function route(method: string, path: string, body: any): { status: number; body: unknown } {
    if (fake.failWith !== undefined) return { status: fake.failWith, body: { status: { error: 'Service internal error: simulated' }, time: 0 } };
    const match = /^\/collections\/([^/]+)(\/.*)?$/.exec(path);
    if (!match) return { status: 404, body: { status: { error: `Unknown route ${path}` }, time: 0 } };
    const name = decodeURIComponent(match[1]!);
    const rest = match[2] ?? '';
    const collection = fake.collections.get(name);
    const missing = { status: 404, body: { status: { error: `Not found: Collection \`${name}\` doesn't exist!` }, time: 0 } };

    if (rest === '' && method === 'PUT') {
      if (collection) return { status: 409, body: { status: { error: `Wrong input: Collection \`${name}\` already exists!` }, time: 0 } };
      fake.collections.set(name, { params: { vectors: body.vectors, sparse_vectors: body.sparse_vectors }, hnsw: body.hnsw_config, metadata: body.metadata ?? undefined, payloadSchema: {}, points: new Map() });
      return { status: 200, body: ok(true) };
    }
    if (rest === '' && method === 'DELETE') {
      // Qdrant answers true when it deleted the collection and false when there was none.
      return { status: 200, body: ok(fake.collections.delete(name)) };
    }
    if (!collection) return missing;
    if (rest === '' && method === 'GET') {
      return {
        status: 200,
        body: ok({
          status: 'green',
          optimizer_status: 'ok',
          segments_count: 1,
          points_count: collection.points.size,
          config: {
            params: collection.params,
            hnsw_config: collection.hnsw ?? { m: 16, ef_construct: 100, full_scan_threshold: 10000 },
            optimizer_config: {},
            ...(collection.metadata === undefined ? {} : { metadata: collection.metadata }),
          },
          payload_schema: collection.payloadSchema,
        }),
      };
    }
    if (rest === '/index' && method === 'PUT') {
      const schema = body.field_schema;
      collection.payloadSchema[body.field_name] = typeof schema === 'string' ? { data_type: schema, points: 0 } : { data_type: schema.type, params: schema, points: 0 };
      return { status: 200, body: completed(++operation) };
    }
    if (rest === '/points' && method === 'PUT') {
      for (const point of body.points) collection.points.set(point.id, { id: point.id, vector: point.vector, payload: point.payload });
      return { status: 200, body: completed(++operation) };
    }
    if (rest === '/points/delete' && method === 'POST') {
      if (body.points !== undefined) return { status: 400, body: { status: { error: 'this fake accepts deletes by filter only' }, time: 0 } };
      for (const point of [...collection.points.values()]) if (matches(body.filter, point)) collection.points.delete(point.id);
      return { status: 200, body: completed(++operation) };
    }
    if (rest === '/points/count' && method === 'POST') {
      return { status: 200, body: ok({ count: [...collection.points.values()].filter((p) => matches(body.filter, p)).length }) };
    }
    if (rest === '/points/query' && method === 'POST') {
      const candidates = [...collection.points.values()].filter((p) => fake.leakOnQuery || matches(body.filter, p));
      for (const prefetch of body.prefetch ?? []) for (const p of collection.points.values()) matches(prefetch.filter, p);
      const sparse = body.using === 'text' ? body.query : body.prefetch?.find((p: any) => p.using === 'text')?.query;
      const scored = candidates
        .map((p) => ({ p, score: sparse ? sparseScore(sparse, p.vector.text) : 1 }))
        .filter((s) => fake.leakOnQuery || s.score > 0)
        .sort((a, b) => b.score - a.score)
        .slice(0, body.limit ?? 10);
      return { status: 200, body: ok({ points: scored.map(({ p, score }) => ({ id: p.id, version: 1, score: score || 0.5, payload: p.payload })) }) };
    }
    return { status: 404, body: { status: { error: `Unknown route ${method} ${path}` }, time: 0 } };
  }

  const server: Server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://fake');
      const body = await readJson(req);
      const method = req.method ?? 'GET';
      fake.requests.push({ method, path: url.pathname, query: url.searchParams, headers: req.headers, body });
      let reply: { status: number; body: unknown };
      if (prefix && !url.pathname.startsWith(`${prefix}/`)) reply = { status: 404, body: { status: { error: 'outside the prefix' }, time: 0 } };
      else {
        try {
          reply = route(method, url.pathname.slice(prefix.length), body);
        } catch (error) {
          reply = { status: 400, body: { status: { error: `Bad request: ${(error as Error).message}` }, time: 0 } };
        }
      }
      res.writeHead(reply.status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(reply.body));
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  fake.port = (server.address() as AddressInfo).port;
  fake.url = `http://127.0.0.1:${fake.port}${prefix}`;
  fake.close = async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return fake;
}

function chunk(documentId: string, ordinal: number, text: string, extra: Partial<ChunkRecord> = {}): ChunkRecord {
  return { id: `${documentId}:${ordinal}`, documentId, ordinal, title: `Title of ${documentId}`, sourceRef: `${documentId}.md`, text, language: 'en', ...extra };
}

/** A deterministic stand-in for an embedding model: word counts folded into a few dimensions. */
function fakeEmbedder(dimension = 4): Embedder & { calls: string[][] } {
  const embed = (text: string) => {
    const v = new Array<number>(dimension).fill(0);
    for (const t of terms(text)) v[termId(t) % dimension]! += 1;
    v[0]! += 0.001;
    return v;
  };
  const calls: string[][] = [];
  return {
    id: `test:hashing-${dimension}`,
    dimension,
    calls,
    async embedDocuments(texts) {
      calls.push(texts);
      return texts.map(embed);
    },
    async embedQuery(text) {
      calls.push([text]);
      return embed(text);
    },
  };
}

const isPointsRead = (r: RecordedRequest) => /\/points\/(query|count|search|scroll)$/.test(r.path);
const isDelete = (r: RecordedRequest) => /\/points\/delete$/.test(r.path) || r.method === 'DELETE';

const mustOf = (filter: any): any[] => (Array.isArray(filter?.must) ? filter.must : filter?.must ? [filter.must] : []);

/** The workspace a filter restricts to, only if it does so as a must-match on workspace_id. */
function mustWorkspace(filter: any): string[] {
  return mustOf(filter)
    .filter((c) => c?.key === 'workspace_id' && typeof c.match?.value === 'string')
    .map((c) => c.match.value);
}

/** The principal lists a filter requires one of, only as must-match-any on acl_principals. */
function mustPrincipals(filter: any): string[][] {
  return mustOf(filter)
    .filter((c) => c?.key === 'acl_principals' && Array.isArray(c.match?.any))
    .map((c) => c.match.any);
}

/** Any condition on acl_principals, whatever its shape (to show counts and deletes have none). */
const aclConditions = (filter: any): any[] => JSON.stringify(filter ?? {}).match(/acl_principals/g) ?? [];

const isSearch = (r: RecordedRequest) => /\/points\/(query|search)$/.test(r.path);

/** Every filter a request carries: its own and each prefetch's, nested prefetches included. */
function filtersOf(body: any): Array<{ where: string; filter: any }> {
  const out: Array<{ where: string; filter: any }> = [{ where: 'request', filter: body?.filter }];
  const walk = (prefetch: any, where: string) => {
    const list = prefetch === undefined || prefetch === null ? [] : Array.isArray(prefetch) ? prefetch : [prefetch];
    list.forEach((p: any, i: number) => {
      out.push({ where: `${where}[${i}]`, filter: p.filter });
      walk(p.prefetch, `${where}[${i}].prefetch`);
    });
  };
  walk(body?.prefetch, 'prefetch');
  return out;
}

/**
 * Every read, count and delete of `requests` is scoped to the workspace; every search (and each
 * of its prefetches) also to exactly these principals, while counts and deletes ignore the acl.
 */
function expectScopedTo(requests: RecordedRequest[], workspaceId: string, principals: string[] = ['*']): void {
  for (const r of requests) {
    if (isPointsRead(r) || isDelete(r)) {
      for (const { where, filter } of filtersOf(r.body)) {
        expect({ path: r.path, where, workspaces: mustWorkspace(filter) }).toEqual({ path: r.path, where, workspaces: [workspaceId] });
        if (isSearch(r)) expect({ path: r.path, where, principals: mustPrincipals(filter) }).toEqual({ path: r.path, where, principals: [principals] });
        else expect({ path: r.path, where, acl: aclConditions(filter) }).toEqual({ path: r.path, where, acl: [] });
      }
    }
    if (r.method === 'PUT' && r.path.endsWith('/points')) {
      for (const p of r.body.points) {
        expect(p.payload.workspace_id).toBe(workspaceId);
        expect(p.id).toBe(pointId(workspaceId, p.payload.chunk_id));
      }
    }
  }
}

async function failure(work: () => Promise<unknown>): Promise<unknown> {
  try {
    await work();
  } catch (error) {
    return error;
  }
  return undefined;
}

describe('Qdrant index wire contract', () => {
  let fake: FakeQdrant;
  const opened: SearchIndex[] = [];

  async function open(options: Partial<QdrantIndexOptions> = {}): Promise<SearchIndex> {
    const index = await createQdrantIndex({ url: fake.url, ...options });
    opened.push(index);
    return index;
  }

  /** The requests `work` sends, and only those. */
  async function sent(work: () => Promise<unknown>): Promise<RecordedRequest[]> {
    const before = fake.requests.length;
    await work();
    return fake.requests.slice(before);
  }

  beforeEach(async () => {
    fake = await startFakeQdrant();
  });

  afterEach(async () => {
    for (const index of opened.splice(0)) await index.close();
    await fake.close();
  });

  describe('opening', () => {
    it('creates the collection with a sparse idf vector and a tenant index on first open, and only reads it afterwards', async () => {
      const first = await sent(() => open());

      // The collection is read back after its creation, to see that the server kept the build
      // record in its metadata (a server that dropped it would have every start rebuild).
      expect(first.map((r) => `${r.method} ${r.path}`)).toEqual([
        `GET /collections/${DEFAULT_COLLECTION}`,
        `PUT /collections/${DEFAULT_COLLECTION}`,
        `GET /collections/${DEFAULT_COLLECTION}`,
        `PUT /collections/${DEFAULT_COLLECTION}/index`,
        `PUT /collections/${DEFAULT_COLLECTION}/index`,
        `PUT /collections/${DEFAULT_COLLECTION}/index`,
      ]);
      const create = first[1]!.body;
      expect(create.sparse_vectors).toEqual({ text: { modifier: 'idf' } });
      expect(create.vectors).toEqual({});
      expect(create.metadata).toEqual({ kluis_index: { embedder: null, dimension: null } });
      expect(first[3]!.body).toEqual({ field_name: 'workspace_id', field_schema: { type: 'keyword', is_tenant: true } });
      expect(first[4]!.body).toEqual({ field_name: 'document_id', field_schema: 'keyword' });
      expect(first[5]!.body).toEqual({ field_name: 'acl_principals', field_schema: 'keyword' });
      expect(first[3]!.query.get('wait')).toBe('true');

      const second = await sent(() => open());
      expect(second.map((r) => `${r.method} ${r.path}`)).toEqual([`GET /collections/${DEFAULT_COLLECTION}`]);
    });

    it('adds a cosine dense vector sized by the embedder, with per-tenant graphs only', async () => {
      const requests = await sent(() => open({ embedder: fakeEmbedder(8), collection: 'hybrid' }));

      const create = requests.find((r) => r.method === 'PUT' && r.path === '/collections/hybrid')!.body;
      expect(create.vectors).toEqual({ dense: { size: 8, distance: 'Cosine' } });
      expect(create.sparse_vectors).toEqual({ text: { modifier: 'idf' } });
      expect(create.hnsw_config).toEqual({ m: 0, payload_m: 16 });
    });

    describe('build record', () => {
      const INDEXES = [
        { field_name: 'workspace_id', field_schema: { type: 'keyword', is_tenant: true } },
        { field_name: 'document_id', field_schema: 'keyword' },
        { field_name: 'acl_principals', field_schema: 'keyword' },
      ];
      /** An embedder with the given id and dimension (the fake's vectors, whatever its name). */
      const named = (id: string, dimension: number): Embedder => ({ ...fakeEmbedder(dimension), id });

      async function openWithWarning(options: Partial<QdrantIndexOptions>) {
        const rebuilds: Array<{ previous: unknown; current: unknown }> = [];
        const requests = await sent(() => open({ ...options, onRebuild: (previous, current) => rebuilds.push({ previous, current }) }));
        return { requests, rebuilds };
      }

      /** Opening deleted the collection, created it with `vectors` and `record`, and its indexes. */
      function expectRecreated(requests: RecordedRequest[], vectors: unknown, record: unknown) {
        expect(requests.map((r) => `${r.method} ${r.path}`)).toEqual([
          `GET /collections/${DEFAULT_COLLECTION}`,
          `DELETE /collections/${DEFAULT_COLLECTION}`,
          `PUT /collections/${DEFAULT_COLLECTION}`,
          `GET /collections/${DEFAULT_COLLECTION}`,
          `PUT /collections/${DEFAULT_COLLECTION}/index`,
          `PUT /collections/${DEFAULT_COLLECTION}/index`,
          `PUT /collections/${DEFAULT_COLLECTION}/index`,
        ]);
        expect(requests[2]!.body.vectors).toEqual(vectors);
        expect(requests[2]!.body.sparse_vectors).toEqual({ text: { modifier: 'idf' } });
        expect(requests[2]!.body.metadata).toEqual({ kluis_index: record });
        expect(requests.slice(4).map((r) => r.body)).toEqual(INDEXES);
        // No acl-upgrade delete of points: the collection is new and empty.
        expect(requests.some((r) => r.path.endsWith('/points/delete'))).toBe(false);
      }

      async function indexedOnce(options: Partial<QdrantIndexOptions>) {
        const index = await open(options);
        await index.replaceDocument('ws-1', 'doc', [chunk('doc', 0, 'Holiday rules for staff')]);
        expect(await index.countChunks('ws-1')).toBe(1);
      }

      it('gives a fresh collection the record of its embedder and warns of no rebuild', async () => {
        const { requests, rebuilds } = await openWithWarning({ embedder: named('cohere:embed-multilingual-v3.0', 4) });

        expect(requests[1]!.body.metadata).toEqual({ kluis_index: { embedder: 'cohere:embed-multilingual-v3.0', dimension: 4 } });
        expect(fake.collections.get(DEFAULT_COLLECTION)!.metadata).toEqual({ kluis_index: { embedder: 'cohere:embed-multilingual-v3.0', dimension: 4 } });
        expect(rebuilds).toEqual([]);
      });

      it('opens a collection whose record matches with one read, keeping its points', async () => {
        await indexedOnce({ embedder: named('openai:text-embedding-3-small', 4) });

        const { requests, rebuilds } = await openWithWarning({ embedder: named('openai:text-embedding-3-small', 4) });

        expect(requests.map((r) => `${r.method} ${r.path}`)).toEqual([`GET /collections/${DEFAULT_COLLECTION}`]);
        expect(rebuilds).toEqual([]);
        expect(fake.collections.get(DEFAULT_COLLECTION)!.points.size).toBe(1);
      });

      it('re-creates the collection for another embedder of the same dimension, and reports it', async () => {
        await indexedOnce({ embedder: named('cohere:embed-multilingual-v3.0', 4) });

        const { requests, rebuilds } = await openWithWarning({ embedder: named('openai:text-embedding-3-small', 4) });

        expectRecreated(requests, { dense: { size: 4, distance: 'Cosine' } }, { embedder: 'openai:text-embedding-3-small', dimension: 4 });
        expect(rebuilds).toEqual([{ previous: { embedder: 'cohere:embed-multilingual-v3.0', dimension: 4 }, current: { embedder: 'openai:text-embedding-3-small', dimension: 4 } }]);
        // The sources see the chunks missing and index every document again.
        expect(fake.collections.get(DEFAULT_COLLECTION)!.points.size).toBe(0);
      });

      it('re-creates the collection for another dimension of the same model', async () => {
        await indexedOnce({ embedder: named('openai:text-embedding-3-large', 4) });

        const { requests, rebuilds } = await openWithWarning({ embedder: named('openai:text-embedding-3-large', 8) });

        expectRecreated(requests, { dense: { size: 8, distance: 'Cosine' } }, { embedder: 'openai:text-embedding-3-large', dimension: 8 });
        expect(requests[2]!.body.hnsw_config).toEqual({ m: 0, payload_m: 16 });
        expect(rebuilds).toHaveLength(1);
      });

      it('re-creates the collection when vectors are switched off, and on again', async () => {
        await indexedOnce({ embedder: named('cohere:embed-multilingual-v3.0', 4) });

        const off = await openWithWarning({});
        expectRecreated(off.requests, {}, { embedder: null, dimension: null });
        expect(off.rebuilds).toEqual([{ previous: { embedder: 'cohere:embed-multilingual-v3.0', dimension: 4 }, current: { embedder: null, dimension: null } }]);

        const on = await openWithWarning({ embedder: named('cohere:embed-multilingual-v3.0', 4) });
        expectRecreated(on.requests, { dense: { size: 4, distance: 'Cosine' } }, { embedder: 'cohere:embed-multilingual-v3.0', dimension: 4 });
        expect(on.rebuilds).toEqual([{ previous: { embedder: null, dimension: null }, current: { embedder: 'cohere:embed-multilingual-v3.0', dimension: 4 } }]);
      });

      it('re-creates a collection without a record (built before records) or with a malformed one', async () => {
        await indexedOnce({});
        delete fake.collections.get(DEFAULT_COLLECTION)!.metadata;

        const unrecorded = await openWithWarning({});
        expectRecreated(unrecorded.requests, {}, { embedder: null, dimension: null });
        expect(unrecorded.rebuilds).toEqual([{ previous: undefined, current: { embedder: null, dimension: null } }]);

        fake.collections.get(DEFAULT_COLLECTION)!.metadata = { kluis_index: 'not a record', owner: 'someone' };
        const malformed = await openWithWarning({});
        expectRecreated(malformed.requests, {}, { embedder: null, dimension: null });
        expect(malformed.rebuilds).toEqual([{ previous: { embedder: 'unreadable', dimension: null }, current: { embedder: null, dimension: null } }]);
      });

      it('re-creates a collection of unkeyed term ids (a record without the term scheme) once when token keys are given, and reports it', async () => {
        const tokenKeys = memoryDataKeys();
        await indexedOnce({ embedder: named('cohere:embed-multilingual-v3.0', 4) });
        // As an earlier release wrote it: embedder and dimension only.
        expect(fake.collections.get(DEFAULT_COLLECTION)!.metadata).toEqual({ kluis_index: { embedder: 'cohere:embed-multilingual-v3.0', dimension: 4 } });

        const keyed = await openWithWarning({ embedder: named('cohere:embed-multilingual-v3.0', 4), tokenKeys });

        const record = { embedder: 'cohere:embed-multilingual-v3.0', dimension: 4, sparseTerms: KEYED_SPARSE_TERMS };
        expectRecreated(keyed.requests, { dense: { size: 4, distance: 'Cosine' } }, record);
        expect(keyed.rebuilds).toEqual([{ previous: { embedder: 'cohere:embed-multilingual-v3.0', dimension: 4 }, current: record }]);
        expect(keyed.rebuilds[0]!.previous).not.toHaveProperty('sparseTerms');
        expect(fake.collections.get(DEFAULT_COLLECTION)!.points.size).toBe(0);

        // Once rebuilt, the keyed collection is opened with one read and keeps what is indexed into it.
        await indexedOnce({ embedder: named('cohere:embed-multilingual-v3.0', 4), tokenKeys });
        const again = await openWithWarning({ embedder: named('cohere:embed-multilingual-v3.0', 4), tokenKeys });
        expect(again.requests.map((r) => `${r.method} ${r.path}`)).toEqual([`GET /collections/${DEFAULT_COLLECTION}`]);
        expect(again.rebuilds).toEqual([]);
        expect(fake.collections.get(DEFAULT_COLLECTION)!.points.size).toBe(1);
      });

      it('re-creates a keyed collection opened without token keys, and one whose term scheme is unknown or malformed', async () => {
        const tokenKeys = memoryDataKeys();
        await indexedOnce({ tokenKeys });
        expect(fake.collections.get(DEFAULT_COLLECTION)!.metadata).toEqual({ kluis_index: { embedder: null, dimension: null, sparseTerms: KEYED_SPARSE_TERMS } });

        const unkeyed = await openWithWarning({});
        expectRecreated(unkeyed.requests, {}, { embedder: null, dimension: null });
        expect(unkeyed.rebuilds).toEqual([{ previous: { embedder: null, dimension: null, sparseTerms: KEYED_SPARSE_TERMS }, current: { embedder: null, dimension: null } }]);

        fake.collections.get(DEFAULT_COLLECTION)!.metadata = { kluis_index: { embedder: null, dimension: null, sparseTerms: 'hmac-sha512-64' } };
        const unknown = await openWithWarning({ tokenKeys });
        expectRecreated(unknown.requests, {}, { embedder: null, dimension: null, sparseTerms: KEYED_SPARSE_TERMS });
        expect(unknown.rebuilds[0]!.previous).toEqual({ embedder: null, dimension: null, sparseTerms: 'hmac-sha512-64' });

        fake.collections.get(DEFAULT_COLLECTION)!.metadata = { kluis_index: { embedder: null, dimension: null, sparseTerms: 7 } };
        const malformed = await openWithWarning({ tokenKeys });
        expectRecreated(malformed.requests, {}, { embedder: null, dimension: null, sparseTerms: KEYED_SPARSE_TERMS });
        expect(malformed.rebuilds[0]!.previous).toEqual({ embedder: null, dimension: null, sparseTerms: 'unreadable' });
      });

      it('refuses to start, as config_invalid, on a server that does not keep collection metadata', async () => {
        const original = fake.collections.set.bind(fake.collections);
        // As a Qdrant from before collection metadata: the field is accepted and forgotten.
        fake.collections.set = (name: string, collection: FakeCollection) => original(name, { ...collection, metadata: undefined });

        const error = await failure(() => open());

        expect(isKluisError(error, 'config_invalid')).toBe(true);
        expect((error as Error).message).toContain('metadata');
        // Created, read back, refused: no payload index, no point written.
        expect(fake.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
          `GET /collections/${DEFAULT_COLLECTION}`,
          `PUT /collections/${DEFAULT_COLLECTION}`,
          `GET /collections/${DEFAULT_COLLECTION}`,
        ]);
      });

      it('stays out of every search, count and workspace delete, which keep their workspace filter', async () => {
        const index = await open({ embedder: named('cohere:embed-multilingual-v3.0', 4) });
        const requests = await sent(async () => {
          await index.replaceDocument('ws-1', 'doc', [chunk('doc', 0, 'Holiday rules for staff')]);
          expect((await index.search('ws-1', 'holiday', { limit: 5 })).map((h) => h.id)).toEqual(['doc:0']);
          expect(await index.countChunks('ws-1')).toBe(1);
          await index.deleteWorkspace('ws-1');
          expect(await index.countChunks('ws-1')).toBe(0);
        });

        expectScopedTo(requests, 'ws-1');
        // The record lives in the collection's metadata, not in a point: nothing to filter out or delete.
        expect(fake.collections.get(DEFAULT_COLLECTION)!.points.size).toBe(0);
        expect(fake.collections.get(DEFAULT_COLLECTION)!.metadata).toEqual({ kluis_index: { embedder: 'cohere:embed-multilingual-v3.0', dimension: 4 } });
        expect((await sent(() => open({ embedder: named('cohere:embed-multilingual-v3.0', 4) }))).map((r) => r.method)).toEqual(['GET']);
      });
    });

    it('creates only the payload indexes an existing collection lacks', async () => {
      await open();
      const collection = fake.collections.get(DEFAULT_COLLECTION)!;
      delete collection.payloadSchema.document_id;
      collection.payloadSchema.workspace_id = { data_type: 'keyword', points: 0 };

      const requests = await sent(() => open());

      expect(requests.filter((r) => r.path.endsWith('/index')).map((r) => r.body)).toEqual([
        { field_name: 'workspace_id', field_schema: { type: 'keyword', is_tenant: true } },
        { field_name: 'document_id', field_schema: 'keyword' },
      ]);
    });

    it('deletes the points of a collection from before acls once, only those without principals, before marking it upgraded with the acl index', async () => {
      const index = await open();
      const user = randomUUID();
      await index.replaceDocument('ws-new', 'doc', [chunk('doc', 0, 'Written with principals', { acl: { users: [user], groups: [], everyoneInTenant: false } })]);
      const collection = fake.collections.get(DEFAULT_COLLECTION)!;
      // As the release before acls left it: no acl index, points without principals in two workspaces.
      delete collection.payloadSchema.acl_principals;
      for (const ws of ['ws-old-1', 'ws-old-2']) {
        const payload = { workspace_id: ws, document_id: 'old', chunk_id: 'old:0', ordinal: 0, title: 'Old', source_ref: 'old.md', language: 'en', text: 'Old passage' };
        collection.points.set(pointId(ws, 'old:0'), { id: pointId(ws, 'old:0'), vector: { text: documentVector('Old passage') }, payload });
      }

      const requests = await sent(() => open());

      expect(requests.map((r) => `${r.method} ${r.path}`)).toEqual([`GET /collections/${DEFAULT_COLLECTION}`, `POST /collections/${DEFAULT_COLLECTION}/points/delete`, `PUT /collections/${DEFAULT_COLLECTION}/index`]);
      expect(requests[1]!.body).toEqual({ filter: { must: [{ is_empty: { key: 'acl_principals' } }] } });
      expect(requests[1]!.query.get('wait')).toBe('true');
      expect(requests[2]!.body).toEqual({ field_name: 'acl_principals', field_schema: 'keyword' });
      expect([...collection.points.values()].map((p) => p.payload.workspace_id)).toEqual(['ws-new']);
      // The sources see the chunks missing and index those documents again.
      expect(await index.countChunks('ws-old-1')).toBe(0);

      const again = await sent(() => open());
      expect(again.map((r) => `${r.method} ${r.path}`)).toEqual([`GET /collections/${DEFAULT_COLLECTION}`]);
    });

    it('survives another process creating the collection between its check and its create', async () => {
      const original = fake.collections.get.bind(fake.collections);
      let reads = 0;
      // The first lookup misses; by the create the collection exists, as if another process made it.
      fake.collections.get = (name: string) => {
        if (reads++ === 0) {
          fake.collections.set(name, { params: { vectors: {}, sparse_vectors: { text: { modifier: 'idf' } } }, hnsw: undefined, metadata: { kluis_index: { embedder: null, dimension: null } }, payloadSchema: {}, points: new Map() });
          return undefined;
        }
        return original(name);
      };

      const requests = await sent(() => open());

      expect(requests.map((r) => r.method + ' ' + r.path)).toContain(`PUT /collections/${DEFAULT_COLLECTION}`);
      expect(requests.filter((r) => r.path.endsWith('/index'))).toHaveLength(3);
    });

    // A collection whose record names a different embedder is rebuilt (below); one whose record
    // names this embedder but whose vectors do not fit was changed by hand, and is refused.
    it('refuses a collection whose record matches but which lacks the idf modifier or a dense vector of the embedder size', async () => {
      const record = (embedder: Embedder | undefined) => ({ kluis_index: { embedder: embedder?.id ?? null, dimension: embedder?.dimension ?? null } });
      fake.collections.set('plain', { params: { vectors: {}, sparse_vectors: { text: {} } }, hnsw: undefined, metadata: record(undefined), payloadSchema: {}, points: new Map() });
      const noIdf = await failure(() => open({ collection: 'plain' }));
      expect(isKluisError(noIdf, 'config_invalid')).toBe(true);

      const embedder = fakeEmbedder(8);
      fake.collections.set('small', { params: { vectors: { dense: { size: 4, distance: 'Cosine' } }, sparse_vectors: { text: { modifier: 'idf' } } }, hnsw: undefined, metadata: record(embedder), payloadSchema: {}, points: new Map() });
      const wrongSize = await failure(() => open({ collection: 'small', embedder }));
      expect(isKluisError(wrongSize, 'config_invalid')).toBe(true);

      fake.collections.set('sparse-only', { params: { vectors: {}, sparse_vectors: { text: { modifier: 'idf' } } }, hnsw: undefined, metadata: record(embedder), payloadSchema: {}, points: new Map() });
      const noDense = await failure(() => open({ collection: 'sparse-only', embedder }));
      expect(isKluisError(noDense, 'config_invalid')).toBe(true);
      // Refused, never deleted.
      expect(fake.requests.filter((r) => r.method === 'DELETE')).toEqual([]);
    });

    it('refuses a collection name or embedding dimension it cannot use, before any request', async () => {
      for (const options of [{ collection: '../admin' }, { collection: 'a b' }, { collection: '' }, { embedder: { ...fakeEmbedder(), dimension: 0 } }, { embedder: { ...fakeEmbedder(), dimension: 1.5 } }]) {
        const error = await failure(() => open(options));
        expect(isKluisError(error, 'config_invalid')).toBe(true);
      }
      expect(fake.requests).toEqual([]);
    });
  });

  describe('workspace scoping', () => {
    const A = `ws-a-${randomUUID()}`;
    const B = `ws-b-${randomUUID()}`;

    async function driveEveryMethod(index: SearchIndex) {
      const perWorkspace = new Map<string, RecordedRequest[]>([
        [A, []],
        [B, []],
      ]);
      const as = async (workspace: string, work: () => Promise<unknown>) => perWorkspace.get(workspace)!.push(...(await sent(work)));
      for (const ws of [A, B]) {
        await as(ws, () => index.replaceDocument(ws, 'handbook', [chunk('handbook', 0, `Expense rules of ${ws}`), chunk('handbook', 1, 'Receipts are required for expenses')]));
        await as(ws, () => index.replaceDocument(ws, 'handbook', [chunk('handbook', 0, `Revised expense rules of ${ws}`)]));
        await as(ws, () => index.replaceDocument(ws, 'memo', [chunk('memo', 0, 'Parking permits at reception')]));
        await as(ws, () => index.search(ws, 'expense rules', { limit: 5 }));
        await as(ws, () => index.countChunks(ws));
        await as(ws, () => index.countChunks(ws, 'handbook'));
        await as(ws, () => index.deleteDocument(ws, 'memo'));
        await as(ws, () => index.replaceDocument(ws, 'handbook', []));
      }
      await as(A, () => index.deleteWorkspace(A));
      await as(B, () => index.deleteWorkspace(B));
      return perWorkspace;
    }

    it.each([
      ['sparse only', undefined],
      ['hybrid', fakeEmbedder(4)],
    ])('%s: every read, count and delete carries a must-filter on the calling workspace, and every search the acl condition, prefetches included', async (_mode, embedder) => {
      const index = await open({ embedder });
      const perWorkspace = await driveEveryMethod(index);

      for (const [workspace, requests] of perWorkspace) {
        expect(requests.some(isPointsRead)).toBe(true);
        expect(requests.some(isDelete)).toBe(true);
        expectScopedTo(requests, workspace);
      }
      if (embedder) {
        const queries = [...perWorkspace.values()].flat().filter((r) => r.path.endsWith('/points/query'));
        for (const q of queries) {
          expect(q.body.query).toEqual({ fusion: 'rrf' });
          expect(q.body.prefetch.map((p: any) => p.using).sort()).toEqual(['dense', 'text']);
        }
      }
    });

    it('sends a single filtered sparse query without an embedder', async () => {
      const index = await open();
      await index.replaceDocument(A, 'doc', [chunk('doc', 0, 'Holiday allowance is paid in May')]);

      const [query] = await sent(() => index.search(A, 'When is the holiday allowance paid?', { limit: 3 }));

      expect(query!.path).toBe(`/collections/${DEFAULT_COLLECTION}/points/query`);
      expect(query!.body).toEqual({
        query: queryVector('When is the holiday allowance paid?'),
        using: 'text',
        filter: {
          must: [
            { key: 'workspace_id', match: { value: A } },
            { key: 'acl_principals', match: { any: ['*'] } },
          ],
        },
        limit: 3,
        with_payload: true,
      });
    });

    it('never deletes by point list or the whole collection, and names the document in every document delete', async () => {
      const index = await open({ embedder: fakeEmbedder() });
      await driveEveryMethod(index);

      const deletes = fake.requests.filter(isDelete);
      expect(deletes.length).toBeGreaterThan(0);
      expect(fake.requests.filter((r) => r.method === 'DELETE')).toEqual([]);
      for (const d of deletes) {
        expect(d.method).toBe('POST');
        expect(d.body.points).toBeUndefined();
        expect(mustWorkspace(d.body.filter)).toHaveLength(1);
        expect(d.query.get('wait')).toBe('true');
      }
    });

    it('replaces a document by upserting first, then deleting only its points that are not among the new ones', async () => {
      const index = await open();
      await index.replaceDocument(A, 'doc', [chunk('doc', 0, 'one'), chunk('doc', 1, 'two'), chunk('doc', 2, 'three')]);

      const requests = await sent(() => index.replaceDocument(A, 'doc', [chunk('doc', 0, 'uno'), chunk('doc', 1, 'dos')]));

      expect(requests.map((r) => r.path.split('/').slice(3).join('/'))).toEqual(['points', 'points/delete']);
      expect(requests[1]!.body.filter).toEqual({
        must: [
          { key: 'workspace_id', match: { value: A } },
          { key: 'document_id', match: { value: 'doc' } },
        ],
        must_not: [{ has_id: [pointId(A, 'doc:0'), pointId(A, 'doc:1')] }],
      });
      expect(await index.countChunks(A, 'doc')).toBe(2);
    });

    it('writes the passage fields, a term-frequency sparse vector and the dense vector to each point', async () => {
      const embedder = fakeEmbedder(4);
      const index = await open({ embedder });
      const c = chunk('policy', 0, 'Travel travel costs', { heading: 'Abroad', url: 'https://example.test/policy', language: 'nl' });

      const [upsert] = await sent(() => index.replaceDocument(A, 'policy', [c]));

      const [point] = upsert!.body.points;
      expect(point.payload).toEqual({ workspace_id: A, document_id: 'policy', chunk_id: 'policy:0', ordinal: 0, title: 'Title of policy', source_ref: 'policy.md', url: 'https://example.test/policy', heading: 'Abroad', language: 'nl', text: 'Travel travel costs', acl_principals: ['*'] });
      expect(point.vector.text).toEqual(documentVector('Title of policy\nAbroad\nTravel travel costs'));
      expect(point.vector.text.values[point.vector.text.indices.indexOf(termId('travel'))]).toBe(2);
      expect(point.vector.dense).toHaveLength(4);
      expect(embedder.calls).toEqual([['Title of policy\nAbroad\nTravel travel costs']]);
    });

    it('derives point ids from workspace and chunk id, so one chunk id in two workspaces is two points', async () => {
      expect(pointId(A, 'doc:0')).toBe(pointId(A, 'doc:0'));
      expect(pointId(A, 'doc:0')).not.toBe(pointId(B, 'doc:0'));
      expect(pointId(A, 'doc:0')).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);

      const index = await open();
      await index.replaceDocument(A, 'doc', [chunk('doc', 0, 'shared id')]);
      await index.replaceDocument(B, 'doc', [chunk('doc', 0, 'shared id')]);
      expect(fake.collections.get(DEFAULT_COLLECTION)!.points.size).toBe(2);
    });

    it('returns passages as they were indexed, and drops any point of another workspace a server might return', async () => {
      const index = await open();
      const mine = chunk('doc', 0, 'Canteen opens at eight', { heading: 'Facilities' });
      await index.replaceDocument(A, 'doc', [mine]);
      await index.replaceDocument(B, 'other', [chunk('other', 0, 'Canteen of B opens at nine')]);

      fake.leakOnQuery = true;
      const hits = await index.search(A, 'canteen opens', { limit: 10 });

      expect(hits.map(({ score: _score, ...passage }) => passage)).toEqual([{ ...mine, url: undefined, access: 'workspace' }]);
    });

    it('sends nothing for a query without words or a limit below one', async () => {
      const index = await open({ embedder: fakeEmbedder() });
      const requests = await sent(async () => {
        for (const q of ['', '   \n', '!?.,;:\'"()[]{}', "'''"]) expect(await index.search(A, q, { limit: 5 })).toEqual([]);
        expect(await index.search(A, 'canteen', { limit: 0 })).toEqual([]);
      });
      expect(requests).toEqual([]);
    });
  });

  describe('reader access', () => {
    const A = `ws-a-${randomUUID()}`;
    const B = `ws-b-${randomUUID()}`;
    const onlyUser = (user: string): Acl => ({ users: [user], groups: [], everyoneInTenant: false });

    it.each([
      ['sparse only', undefined],
      ['hybrid', fakeEmbedder(4)],
    ])("%s: every search and every prefetch requires the workspace and exactly the reader's principals; counts and deletes ignore the acl", async (_mode, embedder) => {
      const index = await open({ embedder });
      const user = randomUUID();
      const groups = [randomUUID(), randomUUID()];
      await index.replaceDocument(A, 'doc', [chunk('doc', 0, 'Expense rules', { acl: onlyUser(user) }), chunk('doc', 1, 'Expense receipts')]);

      const cases: Array<[Reader | undefined, string[]]> = [
        [undefined, ['*']],
        [{ userId: user, groupIds: [] }, ['*', `u:${user}`]],
        [{ userId: user.toUpperCase(), groupIds: groups.map((g) => g.toUpperCase()) }, ['*', `u:${user}`, ...groups.map((g) => `g:${g}`)]],
        [{ userId: user, groupIds: [groups[0]!, groups[0]!] }, ['*', `u:${user}`, `g:${groups[0]}`]],
      ];
      const withCandidates: Array<[Reader | undefined, string[]]> = [
        [undefined, ['*', 'live']],
        [{ userId: user, groupIds: [groups[0]!] }, ['*', `u:${user}`, `g:${groups[0]}`, 'live']],
      ];
      for (const [reader, principals, candidates] of [...cases.map(([r, p]) => [r, p, false] as const), ...withCandidates.map(([r, p]) => [r, p, true] as const)]) {
        const requests = await sent(() => index.search(A, 'expense rules', { limit: 5, reader, candidates }));
        expect(requests.filter(isSearch)).toHaveLength(1);
        if (embedder) expect(filtersOf(requests[0]!.body).map((f) => f.where)).toEqual(['request', 'prefetch[0]', 'prefetch[1]']);
        expectScopedTo(requests, A, principals);
      }
      expectScopedTo(
        await sent(async () => {
          await index.countChunks(A);
          await index.countChunks(A, 'doc');
          await index.replaceDocument(A, 'doc', [chunk('doc', 0, 'Expense rules', { acl: onlyUser(randomUUID()) })]);
          await index.deleteDocument(A, 'doc');
        }),
        A,
      );
    });

    it('writes the principals of each chunk to its point: "*" for workspace-wide ("tenant" beside it from an acl), "live" for a live check, else lower-cased GUID entries only', async () => {
      const index = await open();
      const user = randomUUID();
      const group = randomUUID();

      const [upsert] = await sent(() =>
        index.replaceDocument(A, 'doc', [
          chunk('doc', 0, 'no acl'),
          chunk('doc', 1, 'tenant', { acl: { users: [user], groups: [], everyoneInTenant: true } }),
          chunk('doc', 2, 'named', { acl: { users: [user.toUpperCase(), '*', 'siteGroup:3'], groups: [group], everyoneInTenant: false } }),
          chunk('doc', 3, 'nobody', { acl: { users: [], groups: [], everyoneInTenant: false } }),
          chunk('doc', 4, 'site group', { acl: { users: [], groups: ['siteGroup:3'], everyoneInTenant: false, liveCheck: true } }),
        ]),
      );

      expect(upsert!.body.points.map((p: any) => p.payload.acl_principals)).toEqual([['*'], ['*', 'tenant'], [`g:${group}`, `u:${user}`].sort(), [], ['live']]);
    });

    it('gives a reader the passages shared with them and no others (as Qdrant evaluates match-any on a list)', async () => {
      const index = await open({ embedder: fakeEmbedder() });
      const [u1, u2, group] = [randomUUID(), randomUUID(), randomUUID()];
      await index.replaceDocument(A, 'doc', [
        chunk('doc', 0, 'Canteen menu for everyone'),
        chunk('doc', 1, 'Canteen budget for one user', { acl: onlyUser(u1) }),
        chunk('doc', 2, 'Canteen contract for a group', { acl: { users: [], groups: [group], everyoneInTenant: false } }),
      ]);
      const found = async (reader?: Reader) => (await index.search(A, 'canteen', { limit: 10, reader })).map((h) => h.id).sort();

      expect(await found()).toEqual(['doc:0']);
      expect(await found({ userId: u1, groupIds: [] })).toEqual(['doc:0', 'doc:1']);
      expect(await found({ userId: u2, groupIds: [group] })).toEqual(['doc:0', 'doc:2']);
      expect(await found({ userId: u2, groupIds: [] })).toEqual(['doc:0']);
    });

    it('returns a candidate for a live check only to a search that asks for candidates, marked as such, and never across workspaces', async () => {
      const index = await open({ embedder: fakeEmbedder() });
      const [u1, u2] = [randomUUID(), randomUUID()];
      const siteGroup: Acl = { users: [u1], groups: ['siteGroup:3'], everyoneInTenant: false, liveCheck: true };
      await index.replaceDocument(A, 'doc', [chunk('doc', 0, 'Canteen menu for everyone'), chunk('doc', 1, 'Canteen rota of the site members', { acl: siteGroup }), chunk('doc', 2, 'Canteen link', { acl: { users: [], groups: [], everyoneInTenant: true } })]);
      await index.replaceDocument(B, 'doc', [chunk('doc', 3, 'Canteen of B for its site members', { acl: siteGroup })]);
      const found = async (workspaceId: string, reader: Reader | undefined, candidates?: boolean) =>
        (await index.search(workspaceId, 'canteen', { limit: 10, reader, candidates })).map((h) => `${h.id}=${h.access}`).sort();

      expect(await found(A, { userId: u2, groupIds: [] })).toEqual(['doc:0=workspace', 'doc:2=acl']);
      expect(await found(A, undefined)).toEqual(['doc:0=workspace', 'doc:2=acl']);
      expect(await found(A, { userId: u2, groupIds: [] }, true)).toEqual(['doc:0=workspace', 'doc:1=candidate', 'doc:2=acl']);
      // The acl names u1: for them the file is admitted by its acl, not a mere candidate.
      expect(await found(A, { userId: u1, groupIds: [] }, true)).toEqual(['doc:0=workspace', 'doc:1=acl', 'doc:2=acl']);
      fake.leakOnQuery = true;
      expect(await found(A, { userId: u2, groupIds: [] })).toEqual(['doc:0=workspace', 'doc:2=acl']);
      expect(await found(A, { userId: u2, groupIds: [] }, true)).toEqual(['doc:0=workspace', 'doc:1=candidate', 'doc:2=acl']);
    });

    it('drops any point the reader may not read that a server might return', async () => {
      const index = await open();
      const [u1, u2] = [randomUUID(), randomUUID()];
      await index.replaceDocument(A, 'doc', [chunk('doc', 0, 'Canteen opens at eight'), chunk('doc', 1, 'Canteen budget of u2', { acl: onlyUser(u2) })]);
      await index.replaceDocument(B, 'doc', [chunk('doc', 0, 'Canteen of B', { acl: onlyUser(u1) })]);

      fake.leakOnQuery = true;

      expect((await index.search(A, 'canteen', { limit: 10, reader: { userId: u1, groupIds: [] } })).map((h) => h.text)).toEqual(['Canteen opens at eight']);
      expect((await index.search(A, 'canteen', { limit: 10 })).map((h) => h.text)).toEqual(['Canteen opens at eight']);
      expect((await index.search(A, 'canteen', { limit: 10, reader: { userId: u2, groupIds: [] } })).map((h) => h.text).sort()).toEqual(['Canteen budget of u2', 'Canteen opens at eight']);
    });

    const hostileReaders: Array<[string, unknown]> = [
      ['a SQL tautology as user id', { userId: "' OR 1=1 --", groupIds: [] }],
      ["the everyone principal '*' as user id", { userId: '*', groupIds: [] }],
      ['a non-GUID user id', { userId: 'alice@contoso.example', groupIds: [] }],
      ['a filter object as group id', { userId: randomUUID(), groupIds: [{ key: 'workspace_id', match: { except: [] } }] }],
      ["the everyone principal '*' as group id", { userId: randomUUID(), groupIds: ['*'] }],
      ["the live-check principal 'live' as user id", { userId: 'live', groupIds: [] }],
      ["the tenant-wide marker 'tenant' as group id", { userId: randomUUID(), groupIds: ['tenant'] }],
      [`${MAX_READER_GROUPS + 1} groups`, { userId: randomUUID(), groupIds: Array.from({ length: MAX_READER_GROUPS + 1 }, () => randomUUID()) }],
      ['null', null],
    ];

    it.each(hostileReaders)('refuses a reader with %s as request_malformed before any request is sent or anything embedded', async (_label, reader) => {
      const embedder = fakeEmbedder();
      const index = await open({ embedder });
      const before = fake.requests.length;

      const error = await failure(() => index.search(A, 'anything at all', { limit: 5, reader: reader as Reader }));

      expect(isKluisError(error, 'request_malformed')).toBe(true);
      expect(fake.requests.length).toBe(before);
      expect(embedder.calls).toEqual([]);
    });

    it('refuses a malformed acl as request_malformed before anything is embedded or sent', async () => {
      const embedder = fakeEmbedder();
      const index = await open({ embedder });
      const before = fake.requests.length;

      for (const acl of [null, 'everyone', { users: [] }, { users: [], groups: [], everyoneInTenant: 1 }, { users: [], groups: [], everyoneInTenant: false, liveCheck: 'yes' }]) {
        const error = await failure(() => index.replaceDocument(A, 'doc', [chunk('doc', 0, 'fine'), chunk('doc', 1, 'broken', { acl: acl as unknown as Acl })]));
        expect(isKluisError(error, 'request_malformed')).toBe(true);
      }
      expect(fake.requests.length).toBe(before);
      expect(embedder.calls).toEqual([]);
    });
  });

  describe('hostile identifiers', () => {
    const hostile = ["w1' OR '1'='1", 'w1 OR 1=1', "'", 'a b', "x' --", 'w1"; DROP TABLE chunks; --', '', 'a/b', '../x', 'x'.repeat(129), 'ws\u0000'];

    it.each(hostile)('refuses %j as workspace or document id with request_malformed before any request is sent', async (id) => {
      const embedder = fakeEmbedder();
      const index = await open({ embedder });
      const before = fake.requests.length;
      const calls: Array<() => Promise<unknown>> = [
        () => index.search(id, 'anything', { limit: 5 }),
        () => index.countChunks(id),
        () => index.deleteDocument(id, 'doc'),
        () => index.deleteWorkspace(id),
        () => index.replaceDocument(id, 'doc', [chunk('doc', 0, 'overwritten')]),
        () => index.countChunks('ws-ok', id),
        () => index.deleteDocument('ws-ok', id),
        () => index.replaceDocument('ws-ok', id, [chunk('doc', 0, 'overwritten')]),
      ];
      for (const call of calls) {
        let promise: Promise<unknown> | undefined;
        expect(() => {
          promise = call();
        }).not.toThrow();
        const error = await failure(() => promise!);
        expect(isKluisError(error, 'request_malformed')).toBe(true);
      }
      expect(fake.requests.length).toBe(before);
      // Refused before the embedding model saw the text, too.
      expect(embedder.calls).toEqual([]);
    });
  });

  describe('connection settings', () => {
    it('sends the API key as the api-key header on every request, and no such header without one', async () => {
      const warn = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
      try {
        const key = `key-${randomUUID()}`;
        const index = await open({ apiKey: key });
        await index.replaceDocument('ws-1', 'doc', [chunk('doc', 0, 'text')]);
        await index.search('ws-1', 'text', { limit: 1 });
        await index.ping();
        expect(fake.requests.length).toBeGreaterThan(4);
        for (const r of fake.requests) expect(r.headers['api-key']).toBe(key);
        // The client warns that the key travels over plain http, which is what this test does.
        expect(warn).toHaveBeenCalledWith(expect.stringContaining('unsecure'));

        const before = fake.requests.length;
        await (await open()).ping();
        for (const r of fake.requests.slice(before)) expect(r.headers['api-key']).toBeUndefined();
      } finally {
        warn.mockRestore();
      }
    });

    it('reaches the server through the port and prefix options', async () => {
      const proxied = await startFakeQdrant('/qdrant');
      try {
        const index = await createQdrantIndex({ url: 'http://127.0.0.1', port: proxied.port, prefix: 'qdrant/', collection: 'behind_proxy' });
        await index.countChunks('ws-1');
        await index.close();
        expect(proxied.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
          'GET /qdrant/collections/behind_proxy',
          'PUT /qdrant/collections/behind_proxy',
          // Read back after creation, for the build record.
          'GET /qdrant/collections/behind_proxy',
          'PUT /qdrant/collections/behind_proxy/index',
          'PUT /qdrant/collections/behind_proxy/index',
          'PUT /qdrant/collections/behind_proxy/index',
          'POST /qdrant/collections/behind_proxy/points/count',
        ]);

        // The same, written as one URL (the client alone would drop the path).
        const before = proxied.requests.length;
        const viaUrl = await createQdrantIndex({ url: `http://127.0.0.1:${proxied.port}/qdrant/`, collection: 'behind_proxy' });
        await viaUrl.ping();
        await viaUrl.close();
        expect(proxied.requests.slice(before).map((r) => `${r.method} ${r.path}`)).toEqual(['GET /qdrant/collections/behind_proxy', 'GET /qdrant/collections/behind_proxy']);
      } finally {
        await proxied.close();
      }
    });

    it('resolves ports and prefixes as a developer would read the URL', () => {
      expect(resolveEndpoint({ url: 'http://127.0.0.1:6333' })).toEqual({ url: 'http://127.0.0.1', port: 6333, prefix: undefined });
      // No port anywhere: Qdrant's own default, also for https (as every Qdrant client does).
      expect(resolveEndpoint({ url: 'https://qdrant.example.test' })).toEqual({ url: 'https://qdrant.example.test', port: 6333, prefix: undefined });
      // A written default port is kept, although URL parsing erases it.
      expect(resolveEndpoint({ url: 'https://qdrant.example.test:443' }).port).toBe(443);
      expect(resolveEndpoint({ url: 'http://qdrant.example.test:80/' }).port).toBe(80);
      expect(resolveEndpoint({ url: 'https://qdrant.example.test', port: 443 }).port).toBe(443);
      expect(resolveEndpoint({ url: 'http://[::1]:7000/a/b' })).toEqual({ url: 'http://[::1]', port: 7000, prefix: '/a/b' });
      expect(resolveEndpoint({ url: 'http://h:6333/x', prefix: '/x/' }).prefix).toBe('/x');
    });

    it.each([
      ['a relative URL', { url: 'qdrant:6333' }],
      ['another scheme', { url: 'ftp://qdrant' }],
      ['credentials in the URL', { url: 'https://user:secret@qdrant.example.test' }],
      ['a query string', { url: 'https://qdrant.example.test/?api-key=x' }],
      ['two different ports', { url: 'http://h:6333', port: 6334 }],
      ['two different prefixes', { url: 'http://h/a', prefix: '/b' }],
      ['a port out of range', { url: 'http://h', port: 70000 }],
      ['an odd prefix', { url: 'http://h', prefix: '/a b' }],
    ])('refuses %s as config_invalid', (_label, options) => {
      let error: unknown;
      try {
        resolveEndpoint(options);
      } catch (e) {
        error = e;
      }
      expect(isKluisError(error, 'config_invalid')).toBe(true);
    });
  });

  describe('sealed passage text', () => {
    it('sends and stores the passage text only sealed with the workspace key, and a search returns it opened', async () => {
      const dataKeys = memoryDataKeys();
      const index = await open({ dataKeys });
      const canary = `canary${randomUUID().replace(/-/g, '')}`;

      const requests = await sent(() => index.replaceDocument('ws-sealed', 'payroll', [chunk('payroll', 0, `The payroll code is ${canary} this year`)]));

      expect(JSON.stringify(requests.map((r) => r.body))).not.toContain(canary);
      const stored = [...fake.collections.values()].flatMap((c) => [...c.points.values()]);
      expect(stored.length).toBe(1);
      expect(stored[0]!.payload.text).toMatch(/^sealed:v1:/);
      // Title, heading, url and source are sealed with the text (a title is often the first line).
      expect(stored[0]!.payload).toMatchObject({ title: '', source_ref: '' });
      expect(stored[0]!.payload.heading).toBeUndefined();
      const hits = await index.search('ws-sealed', `payroll code ${canary}`, { limit: 3 });
      expect(hits.map((h) => [h.text, h.title, h.sourceRef])).toEqual([[`The payroll code is ${canary} this year`, 'Title of payroll', 'payroll.md']]);
    });

    it('fails a search with data_key_destroyed once the workspace key is destroyed', async () => {
      const dataKeys = memoryDataKeys();
      const index = await open({ dataKeys });
      await index.replaceDocument('ws-erased', 'memo', [chunk('memo', 0, 'Reorganisation plans for next spring')]);

      await dataKeys.destroy('ws-erased');

      expect(isKluisError(await failure(() => index.search('ws-erased', 'reorganisation plans', { limit: 3 })), 'data_key_destroyed')).toBe(true);
    });
  });

  describe('keyed term ids', () => {
    const A = `ws-a-${randomUUID()}`;
    const B = `ws-b-${randomUUID()}`;
    const searchable = (c: ChunkRecord) => [c.title, c.heading, c.text].filter(Boolean).join('\n');
    const upserted = (requests: RecordedRequest[]) => requests.filter((r) => r.method === 'PUT' && r.path.endsWith('/points')).flatMap((r) => r.body.points);

    it('upserts the term ids keyed with the workspace token key, sharing none with the unkeyed ids', async () => {
      const tokenKeys = memoryDataKeys();
      const index = await open({ tokenKeys });
      const c = chunk('policy', 0, 'Travel travel costs abroad', { heading: 'Abroad' });

      const [point] = upserted(await sent(() => index.replaceDocument(A, 'policy', [c])));

      const key = await tokenKeys.tokenKey(A);
      expect(point.vector.text).toEqual(documentVector(searchable(c), key));
      expect(point.vector.text.values[point.vector.text.indices.indexOf(keyedTermId('travel', key))]).toBe(2);
      const unkeyed = documentVector(searchable(c)).indices;
      expect(point.vector.text.indices.filter((i: number) => unkeyed.includes(i))).toEqual([]);
      expect(point.vector.text.indices).not.toContain(termId('travel'));
    });

    it('gives the same word different ids in two workspaces, and each search finds only its own passage by them', async () => {
      const tokenKeys = memoryDataKeys();
      const index = await open({ tokenKeys });
      const text = 'Holiday allowance is paid in May';

      const [inA] = upserted(await sent(() => index.replaceDocument(A, 'doc', [chunk('doc', 0, text)])));
      const [inB] = upserted(await sent(() => index.replaceDocument(B, 'doc', [chunk('doc', 0, text)])));

      const [keyA, keyB] = [await tokenKeys.tokenKey(A), await tokenKeys.tokenKey(B)];
      expect(keyA.equals(keyB)).toBe(false);
      expect(inA.vector.text.indices).toContain(keyedTermId('holiday', keyA));
      expect(inB.vector.text.indices).toContain(keyedTermId('holiday', keyB));
      expect(keyedTermId('holiday', keyA)).not.toBe(keyedTermId('holiday', keyB));
      expect(inA.vector.text.indices.filter((i: number) => inB.vector.text.indices.includes(i))).toEqual([]);

      // A server ignoring the filter would still match nothing of B with A's ids.
      fake.leakOnQuery = true;
      const points = [...fake.collections.get(DEFAULT_COLLECTION)!.points.values()];
      const queryA = queryVector('holiday allowance', keyA);
      expect(points.map((p) => [p.payload.workspace_id, sparseScore(queryA, p.vector.text) > 0])).toEqual([
        [A, true],
        [B, false],
      ]);
    });

    it.each([
      ['sparse only', undefined],
      ['hybrid', fakeEmbedder(4)],
    ])("%s: a search sends the question's ids keyed with the asking workspace's key, and finds the passage", async (_mode, embedder) => {
      const tokenKeys = memoryDataKeys();
      const index = await open({ tokenKeys, embedder });
      await index.replaceDocument(A, 'doc', [chunk('doc', 0, 'Holiday allowance is paid in May')]);
      await index.replaceDocument(B, 'doc', [chunk('doc', 0, 'Holiday allowance is paid in June')]);

      let hits: Awaited<ReturnType<SearchIndex['search']>> = [];
      const [query] = await sent(async () => (hits = await index.search(B, 'When is the holiday allowance paid?', { limit: 3 })));

      const expected = queryVector('When is the holiday allowance paid?', await tokenKeys.tokenKey(B));
      const sparse = embedder ? query!.body.prefetch.find((p: any) => p.using === 'text')?.query : query!.body.query;
      expect(sparse).toEqual(expected);
      expect(sparse).not.toEqual(queryVector('When is the holiday allowance paid?', await tokenKeys.tokenKey(A)));
      expect(sparse).not.toEqual(queryVector('When is the holiday allowance paid?'));
      expect(hits.map((h) => h.text)).toEqual(['Holiday allowance is paid in June']);
      expectScopedTo([query!], B);
    });

    it('fails a write or search of a workspace whose data key is destroyed with data_key_destroyed, sending and embedding nothing; its points can still be deleted', async () => {
      const tokenKeys = memoryDataKeys();
      const embedder = fakeEmbedder(4);
      const index = await open({ tokenKeys, embedder });
      await index.replaceDocument(A, 'memo', [chunk('memo', 0, 'Reorganisation plans for next spring')]);
      await index.replaceDocument(B, 'memo', [chunk('memo', 0, 'Reorganisation plans for next spring')]);
      await tokenKeys.destroy(A);
      embedder.calls.length = 0;

      const refused = await sent(async () => {
        expect(isKluisError(await failure(() => index.search(A, 'reorganisation plans', { limit: 3 })), 'data_key_destroyed')).toBe(true);
        // A question of stop words only would still have needed the key, as in the LanceDB index.
        expect(isKluisError(await failure(() => index.search(A, 'what is it', { limit: 3 })), 'data_key_destroyed')).toBe(true);
        expect(isKluisError(await failure(() => index.replaceDocument(A, 'memo', [chunk('memo', 0, 'New plans')])), 'data_key_destroyed')).toBe(true);
      });
      expect(refused).toEqual([]);
      expect(embedder.calls).toEqual([]);

      // The other workspace is untouched, and the erasure can remove the erased one's points.
      expect((await index.search(B, 'reorganisation plans', { limit: 3 })).map((h) => h.id)).toEqual(['memo:0']);
      expect(await index.countChunks(A)).toBe(1);
      await index.deleteWorkspace(A);
      expect(await index.countChunks(A)).toBe(0);
      expect(await index.countChunks(B)).toBe(1);
    });
  });

  describe('failures', () => {
    it('maps server errors to store_unavailable without repeating the API key', async () => {
      const warn = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
      try {
        const key = `key-${randomUUID()}`;
        const index = await open({ apiKey: key });
        fake.failWith = 500;
        for (const call of [() => index.search('ws-1', 'text', { limit: 1 }), () => index.countChunks('ws-1'), () => index.replaceDocument('ws-1', 'doc', [chunk('doc', 0, 'x')]), () => index.deleteWorkspace('ws-1'), () => index.ping()]) {
          const error = await failure(call);
          expect(isKluisError(error, 'store_unavailable')).toBe(true);
          expect((error as Error).message).toContain('HTTP 500');
          expect(JSON.stringify({ message: (error as Error).message, stack: (error as Error).stack })).not.toContain(key);
        }
      } finally {
        warn.mockRestore();
      }
    });

    it('maps an unreachable server to store_unavailable, on open and afterwards', async () => {
      const index = await open();
      await fake.close();

      expect(isKluisError(await failure(() => index.ping()), 'store_unavailable')).toBe(true);
      expect(isKluisError(await failure(() => index.search('ws-1', 'text', { limit: 1 })), 'store_unavailable')).toBe(true);
      expect(isKluisError(await failure(() => createQdrantIndex({ url: fake.url })), 'store_unavailable')).toBe(true);
      fake = await startFakeQdrant();
    });

    it('refuses embeddings of the wrong size or count as embedding_invalid, and sends nothing', async () => {
      const embedder = fakeEmbedder(4);
      const index = await open({ embedder });
      const before = fake.requests.length;

      embedder.embedDocuments = async (texts) => texts.map(() => [1, 2, 3]);
      expect(isKluisError(await failure(() => index.replaceDocument('ws-1', 'doc', [chunk('doc', 0, 'x')])), 'embedding_invalid')).toBe(true);
      embedder.embedDocuments = async () => [];
      expect(isKluisError(await failure(() => index.replaceDocument('ws-1', 'doc', [chunk('doc', 0, 'x')])), 'embedding_invalid')).toBe(true);
      embedder.embedQuery = async () => [Number.NaN, 0, 0, 0];
      expect(isKluisError(await failure(() => index.search('ws-1', 'x y z', { limit: 1 })), 'embedding_invalid')).toBe(true);

      expect(fake.requests.length).toBe(before);
    });
  });
});

describe('sparse vectors', () => {
  it('folds case and accents and drops stop words of all four languages', () => {
    expect(terms('Ærø Überstunden, façade and the Straße — le café de la gare; der Preis für het Öl')).toEqual(['aero', 'uberstunden', 'facade', 'strasse', 'cafe', 'gare', 'preis', 'ol']);
  });

  it("keeps digits, drops lone letters left by elisions, and caps very long words", () => {
    expect(terms("l'entreprise d'été auto's 185 euro 7")).toEqual(['entreprise', 'ete', 'auto', '185', 'euro', '7']);
    expect(terms('x'.repeat(300))).toEqual(['x'.repeat(40)]);
  });

  it('counts term frequency in passages and each distinct term once in questions', () => {
    const doc = documentVector('Leave leave LEAVE days');
    expect(doc.values[doc.indices.indexOf(termId('leave'))]).toBe(3);
    expect(doc.values[doc.indices.indexOf(termId('days'))]).toBe(1);
    const q = queryVector('leave leave days');
    expect(q.values).toEqual([1, 1]);
  });

  it('gives stable unsigned 32-bit term ids, sorted and unique per vector', () => {
    // FNV-1a reference values: a change here changes every stored vector.
    expect(termId('')).toBe(0x811c9dc5);
    expect(termId('a')).toBe(0xe40c292c);
    expect(termId('foobar')).toBe(0xbf9cf968);
    const v = documentVector('b a c a b d e f g h i j k');
    expect([...v.indices].sort((x, y) => x - y)).toEqual(v.indices);
    expect(new Set(v.indices).size).toBe(v.indices.length);
    for (const i of v.indices) expect(i >>> 0).toBe(i);
  });

  it('yields no terms for text without words', () => {
    expect(queryVector('!?.,;: 🔒 \u0000')).toEqual({ indices: [], values: [] });
  });
});
