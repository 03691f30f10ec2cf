/**
 * The Qdrant index against a real server: the shared SearchIndex conformance suite, plus what only
 * hybrid search can get wrong (a dense prefetch always has nearest neighbours, so a missing
 * workspace filter there would hand out other workspaces' passages at once).
 *
 * A real server is used only when QDRANT_URL names one (QDRANT_API_KEY if it needs a key), e.g.
 *   docker run --rm -p 6333:6333 qdrant/qdrant
 *   QDRANT_URL=http://127.0.0.1:6333 npm test -- --runTestsByPath tests/knowledge/qdrantIndex.test.ts
 * Each run works in its own collections and drops them afterwards. The conformance suite and the
 * hybrid checks run with token keys, as Kluis runs (sparse term ids keyed per workspace); the
 * conformance suite runs once more with unkeyed ids.
 *
 * No Qdrant can be assumed on a developer machine or in CI, and a conformance run against a
 * stand-in would prove the stand-in, not Qdrant. So without QDRANT_URL this file registers the
 * wire contract (a recording HTTP stand-in, imported below; it runs in both modes) and one test
 * whose name says that the conformance suite did not run.
 */
import { randomUUID } from 'node:crypto';
import { QdrantClient } from '@qdrant/js-client-rest';
import '../../api/knowledge/qdrantIndex.contract.test';
import { isKluisError } from '../../api/errors';
import { KEYED_SPARSE_TERMS } from '../../api/knowledge/indexBuild';
import { createQdrantIndex, resolveEndpoint, type Embedder } from '../../api/knowledge/qdrantIndex';
import type { SearchIndex } from '../../api/knowledge/ports';
import { termId, terms } from '../../api/knowledge/sparseVector';
import { chunksOf, searchIndexConformance, uniqueWord } from '../conformance/searchIndex.suite';
import { memoryDataKeys } from '../support/dataKeys';

const qdrantUrl = process.env.QDRANT_URL || undefined;
const qdrantApiKey = process.env.QDRANT_API_KEY || undefined;

/** A deterministic stand-in for an embedding model: hashed word counts, so equal words point alike. */
function hashingEmbedder(dimension: number): Embedder {
  const embed = (text: string) => {
    const v = new Array<number>(dimension).fill(0);
    for (const t of terms(text)) v[termId(t) % dimension]! += 1;
    // Never the zero vector, which has no cosine.
    v[0]! += 0.001;
    return v;
  };
  return {
    id: `test:hashing-${dimension}`,
    dimension,
    embedDocuments: async (texts) => texts.map(embed),
    embedQuery: async (text) => embed(text),
  };
}

if (qdrantUrl) {
  const run = randomUUID().replace(/-/g, '').slice(0, 12);
  const collections = { lexical: `kluis_conformance_${run}`, unkeyed: `kluis_conformance_unkeyed_${run}`, hybrid: `kluis_conformance_hybrid_${run}`, migrated: `kluis_conformance_migrated_${run}` };
  const connection = { url: qdrantUrl, apiKey: qdrantApiKey };
  // One key service for every open(), so reopened indexes hash with the keys they wrote with.
  const tokenKeys = memoryDataKeys();

  afterAll(async () => {
    const endpoint = resolveEndpoint(connection);
    const client = new QdrantClient({ ...endpoint, apiKey: qdrantApiKey, checkCompatibility: false });
    for (const name of Object.values(collections)) await client.deleteCollection(name).catch(() => undefined);
  });

  // Every open() reaches the same collection, which is what the persistence case relies on.
  searchIndexConformance('Qdrant (sparse, keyed term ids, server)', () => createQdrantIndex({ ...connection, collection: collections.lexical, tokenKeys }));
  searchIndexConformance('Qdrant (sparse, unkeyed term ids, server)', () => createQdrantIndex({ ...connection, collection: collections.unkeyed }));

  describe('Qdrant keyed term ids (server)', () => {
    it('re-creates a collection of unkeyed ids once, and then finds passages by keyed ids', async () => {
      const workspace = randomUUID();
      const word = uniqueWord();
      const unkeyed = await createQdrantIndex({ ...connection, collection: collections.migrated });
      await unkeyed.replaceDocument(workspace, 'a', chunksOf('a', [{ text: `The ${word} rules of workspace A.` }]));
      await unkeyed.close();

      const rebuilds: unknown[] = [];
      const keyed = await createQdrantIndex({ ...connection, collection: collections.migrated, tokenKeys, onRebuild: (previous, current) => rebuilds.push({ previous, current }) });
      try {
        expect(rebuilds).toEqual([{ previous: { embedder: null, dimension: null }, current: { embedder: null, dimension: null, sparseTerms: KEYED_SPARSE_TERMS } }]);
        expect(await keyed.countChunks(workspace)).toBe(0);
        await keyed.replaceDocument(workspace, 'a', chunksOf('a', [{ text: `The ${word} rules of workspace A.` }]));
        expect((await keyed.search(workspace, `${word} rules`, { limit: 5 })).map((h) => h.id)).toEqual(['a:0']);
      } finally {
        await keyed.close();
      }
      const reopened = await createQdrantIndex({ ...connection, collection: collections.migrated, tokenKeys, onRebuild: (previous, current) => rebuilds.push({ previous, current }) });
      expect(rebuilds).toHaveLength(1);
      expect(await reopened.countChunks(workspace)).toBe(1);
      await reopened.deleteWorkspace(workspace);
      await reopened.close();
    });

    it("fails a search of a workspace whose data key is destroyed with data_key_destroyed, and still deletes its points", async () => {
      const keys = memoryDataKeys();
      const index = await createQdrantIndex({ ...connection, collection: collections.lexical, tokenKeys: keys });
      const [erased, kept] = [randomUUID(), randomUUID()];
      try {
        await index.replaceDocument(erased, 'memo', chunksOf('memo', [{ text: 'Reorganisation plans for next spring.' }]));
        await index.replaceDocument(kept, 'memo', chunksOf('memo', [{ text: 'Reorganisation plans for next spring.' }]));
        await keys.destroy(erased);

        expect(isKluisError(await index.search(erased, 'reorganisation plans', { limit: 3 }).catch((e: unknown) => e), 'data_key_destroyed')).toBe(true);
        expect((await index.search(kept, 'reorganisation plans', { limit: 3 })).map((h) => h.id)).toEqual(['memo:0']);
        await index.deleteWorkspace(erased);
        expect(await index.countChunks(erased)).toBe(0);
      } finally {
        await index.deleteWorkspace(kept);
        await index.close();
      }
    });
  });

  describe('Qdrant hybrid search (server)', () => {
    const embedder = hashingEmbedder(64);
    let index: SearchIndex;
    let workspaceA: string;
    let workspaceB: string;

    beforeEach(async () => {
      index = await createQdrantIndex({ ...connection, collection: collections.hybrid, embedder, tokenKeys });
      workspaceA = randomUUID();
      workspaceB = randomUUID();
    });

    afterEach(async () => {
      await index.deleteWorkspace(workspaceA);
      await index.deleteWorkspace(workspaceB);
      await index.close();
    });

    it("never returns workspace A's passage to B, even when it is the nearest neighbour of B's question", async () => {
      const secret = uniqueWord('secret');
      const question = `Acquisition code name ${secret}`;
      await index.replaceDocument(workspaceA, 'doc-a', chunksOf('doc-a', [{ text: question }]));
      await index.replaceDocument(workspaceB, 'doc-b', chunksOf('doc-b', [{ text: 'Canteen opening hours and parking rules.' }, { text: 'Bicycle allowance is paid monthly.' }]));

      const hits = await index.search(workspaceB, question, { limit: 10 });

      // Dense search has no "no match": B gets its own nearest passages, never A's.
      expect(hits.length).toBeGreaterThan(0);
      expect(hits.every((h) => h.documentId === 'doc-b')).toBe(true);
      expect((await index.search(workspaceA, question, { limit: 10 }))[0]?.id).toBe('doc-a:0');
    });

    it('ranks the passage that matches both lexically and densely first, scores descending', async () => {
      const word = uniqueWord();
      await index.replaceDocument(
        workspaceA,
        'mixed',
        chunksOf('mixed', [{ text: 'Permits are issued by reception.' }, { text: `The ${word} procedure for parking permits.` }, { text: 'Holiday allowance is paid in May.' }]),
      );

      const hits = await index.search(workspaceA, `${word} parking permits`, { limit: 3 });

      expect(hits[0]?.id).toBe('mixed:1');
      for (let i = 1; i < hits.length; i++) expect(hits[i - 1]!.score).toBeGreaterThanOrEqual(hits[i]!.score);
    });

    it('answers a question of stop words only through the dense prefetch, within the workspace', async () => {
      await index.replaceDocument(workspaceA, 'a', chunksOf('a', [{ text: 'Passage of workspace A.' }]));
      await index.replaceDocument(workspaceB, 'b', chunksOf('b', [{ text: 'Passage of workspace B.' }]));

      const hits = await index.search(workspaceA, 'what is the', { limit: 5 });

      expect(hits.map((h) => h.id)).toEqual(['a:0']);
    });

    it('re-creates the collection, empty, when reopened with another model of the same dimension or another dimension', async () => {
      await index.replaceDocument(workspaceA, 'a', chunksOf('a', [{ text: 'Passage of workspace A.' }]));
      const rebuilds: unknown[] = [];
      const onRebuild = (previous: unknown, current: unknown) => rebuilds.push({ previous, current });

      const sameSize = await createQdrantIndex({ ...connection, collection: collections.hybrid, embedder: { ...hashingEmbedder(64), id: 'test:another-model-64' }, tokenKeys, onRebuild });
      expect(await sameSize.countChunks(workspaceA)).toBe(0);
      await sameSize.close();

      const otherSize = await createQdrantIndex({ ...connection, collection: collections.hybrid, embedder: hashingEmbedder(8), tokenKeys, onRebuild });
      expect(await otherSize.countChunks(workspaceA)).toBe(0);
      await otherSize.replaceDocument(workspaceA, 'a', chunksOf('a', [{ text: 'Passage of workspace A.' }]));
      expect((await otherSize.search(workspaceA, 'passage', { limit: 5 })).map((h) => h.id)).toEqual(['a:0']);
      await otherSize.close();

      expect(rebuilds).toEqual([
        { previous: { embedder: 'test:hashing-64', dimension: 64, sparseTerms: KEYED_SPARSE_TERMS }, current: { embedder: 'test:another-model-64', dimension: 64, sparseTerms: KEYED_SPARSE_TERMS } },
        { previous: { embedder: 'test:another-model-64', dimension: 64, sparseTerms: KEYED_SPARSE_TERMS }, current: { embedder: 'test:hashing-8', dimension: 8, sparseTerms: KEYED_SPARSE_TERMS } },
      ]);
    });
  });
}

// Exactly one of these is registered, so the run itself reports which mode it was.
if (qdrantUrl) {
  it('mode: ran the SearchIndex conformance suite and the hybrid checks against the Qdrant server in QDRANT_URL', () => {
    expect(qdrantUrl).toMatch(/^https?:\/\//);
  });
} else {
  it('mode: QDRANT_URL is not set, so only the wire contract ran here; the conformance suite needs a real Qdrant', () => {
    expect(process.env.QDRANT_URL || undefined).toBeUndefined();
  });
}
