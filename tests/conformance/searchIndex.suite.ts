/**
 * The SearchIndex conformance suite: the rules every search-index adapter must keep, above all
 * that no call made for one workspace can read, change or delete another workspace's rows.
 * Each adapter's test file calls `searchIndexConformance` once; a new adapter is done when it
 * passes this suite unchanged.
 *
 * `open` must return a fresh handle on the SAME underlying data every time it is called (the same
 * directory, server or collection), so the persistence case can close one handle and read through
 * another. Every case uses its own random workspace ids, so cases never see each other's rows even
 * though they share that data.
 */
import { randomUUID } from 'node:crypto';
import type { ChunkRecord, SearchHit, SearchIndex } from '../../api/knowledge/ports';

type ChunkInput = Partial<ChunkRecord> & { text: string };

/** Chunks of one document, ids built as the indexer builds them (`${documentId}:${ordinal}`). */
export function chunksOf(documentId: string, parts: ChunkInput[]): ChunkRecord[] {
  return parts.map((part, ordinal) => ({
    id: `${documentId}:${ordinal}`,
    documentId,
    ordinal,
    title: part.title ?? `Document ${documentId}`,
    sourceRef: part.sourceRef ?? `${documentId}.md`,
    url: part.url,
    heading: part.heading,
    text: part.text,
    language: part.language ?? 'en',
  }));
}

/** A word no analyser stems into anything else and no other row contains. */
export function uniqueWord(prefix = 'zq'): string {
  return `${prefix}${randomUUID().replace(/[^a-f]/g, '').slice(0, 10)}x`;
}

async function rejection(work: () => Promise<unknown>): Promise<unknown> {
  // A synchronous throw is caught too, but reported as such: the port promises a rejected promise.
  let promise: Promise<unknown>;
  try {
    promise = work();
  } catch (error) {
    return { thrownSynchronously: error };
  }
  try {
    await promise;
  } catch (error) {
    return error;
  }
  return undefined;
}

const ENGLISH_PASSAGE = 'Hotel costs abroad are reimbursed up to a maximum of 185 euro per night in Paris and London.';
const DUTCH_PASSAGE = 'Een voltijdse medewerker heeft recht op twintig wettelijke vakantiedagen per kalenderjaar.';

export function searchIndexConformance(name: string, open: () => Promise<SearchIndex>): void {
  describe(`SearchIndex conformance: ${name}`, () => {
    let index: SearchIndex;
    let workspaceA: string;
    let workspaceB: string;

    beforeEach(async () => {
      index = await open();
      workspaceA = randomUUID();
      workspaceB = randomUUID();
    });

    afterEach(async () => {
      await index.deleteWorkspace(workspaceA);
      await index.deleteWorkspace(workspaceB);
      await index.close();
    });

    const ids = (hits: SearchHit[]) => hits.map((h) => h.id);

    describe('indexing and search', () => {
      it('finds a replaced document and round-trips every field of the passage', async () => {
        const word = uniqueWord();
        const [chunk] = chunksOf('doc-1', [
          { text: `The ${word} procedure is described here.`, title: 'Procedures', heading: 'Section 2', sourceRef: 'policies/procedures.md', url: 'https://example.test/procedures', language: 'en' },
        ]);
        await index.replaceDocument(workspaceA, 'doc-1', [chunk!]);

        const hits = await index.search(workspaceA, word, { limit: 5 });

        expect(hits).toHaveLength(1);
        const { score, ...passage } = hits[0]!;
        expect(passage).toEqual(chunk);
        expect(typeof score).toBe('number');
        expect(Number.isFinite(score)).toBe(true);
      });

      it('returns absent url and heading as undefined, and keeps the nl language tag', async () => {
        const word = uniqueWord();
        await index.replaceDocument(workspaceA, 'doc-nl', chunksOf('doc-nl', [{ text: `Het ${word} staat in dit document.`, language: 'nl' }]));

        const [hit] = await index.search(workspaceA, word, { limit: 5 });

        expect(hit?.url).toBeUndefined();
        expect(hit?.heading).toBeUndefined();
        expect(hit?.language).toBe('nl');
      });

      it('answers a Dutch question from a Dutch passage', async () => {
        await index.replaceDocument(workspaceA, 'leave', chunksOf('leave', [{ text: DUTCH_PASSAGE, language: 'nl' }]));
        await index.replaceDocument(workspaceA, 'travel', chunksOf('travel', [{ text: ENGLISH_PASSAGE, language: 'en' }]));

        const hits = await index.search(workspaceA, 'Hoeveel vakantiedagen krijg ik?', { limit: 5 });

        expect(hits[0]?.id).toBe('leave:0');
      });

      it('answers an English question from an English passage', async () => {
        await index.replaceDocument(workspaceA, 'leave', chunksOf('leave', [{ text: DUTCH_PASSAGE, language: 'nl' }]));
        await index.replaceDocument(workspaceA, 'travel', chunksOf('travel', [{ text: ENGLISH_PASSAGE, language: 'en' }]));

        const hits = await index.search(workspaceA, 'How much are hotel costs reimbursed per night?', { limit: 5 });

        expect(hits[0]?.id).toBe('travel:0');
      });

      it('replaces all chunks of a document on a second replaceDocument', async () => {
        const oldWord = uniqueWord('old');
        const newWord = uniqueWord('new');
        await index.replaceDocument(workspaceA, 'doc', chunksOf('doc', [{ text: `first ${oldWord}` }, { text: `second ${oldWord}` }, { text: `third ${oldWord}` }]));
        expect(await index.countChunks(workspaceA)).toBe(3);

        await index.replaceDocument(workspaceA, 'doc', chunksOf('doc', [{ text: `only ${newWord}` }, { text: `and ${newWord} again` }]));

        expect(await index.search(workspaceA, oldWord, { limit: 10 })).toEqual([]);
        expect(ids(await index.search(workspaceA, newWord, { limit: 10 })).sort()).toEqual(['doc:0', 'doc:1']);
        expect(await index.countChunks(workspaceA)).toBe(2);
        expect(await index.countChunks(workspaceA, 'doc')).toBe(2);
      });

      it('replaceDocument with no chunks empties the document', async () => {
        const word = uniqueWord();
        await index.replaceDocument(workspaceA, 'doc', chunksOf('doc', [{ text: word }]));

        await index.replaceDocument(workspaceA, 'doc', []);

        expect(await index.search(workspaceA, word, { limit: 5 })).toEqual([]);
        expect(await index.countChunks(workspaceA)).toBe(0);
      });

      it('deleteDocument removes only that document', async () => {
        const gone = uniqueWord('gone');
        const kept = uniqueWord('kept');
        await index.replaceDocument(workspaceA, 'doc-gone', chunksOf('doc-gone', [{ text: gone }, { text: `${gone} twice` }]));
        await index.replaceDocument(workspaceA, 'doc-kept', chunksOf('doc-kept', [{ text: kept }]));

        await index.deleteDocument(workspaceA, 'doc-gone');

        expect(await index.search(workspaceA, gone, { limit: 5 })).toEqual([]);
        expect(ids(await index.search(workspaceA, kept, { limit: 5 }))).toEqual(['doc-kept:0']);
        expect(await index.countChunks(workspaceA)).toBe(1);
        expect(await index.countChunks(workspaceA, 'doc-gone')).toBe(0);
        expect(await index.countChunks(workspaceA, 'doc-kept')).toBe(1);
      });

      it('orders results by descending score and respects the limit', async () => {
        const word = uniqueWord();
        // More occurrences in a passage of the same length should rank it higher.
        const parts = [1, 5, 2, 4, 3, 1, 2, 6].map((n) => ({ text: `${Array(n).fill(word).join(' ')} ${Array(8 - n + 1).fill('filler').join(' ')}` }));
        await index.replaceDocument(workspaceA, 'ranked', chunksOf('ranked', parts));

        const all = await index.search(workspaceA, word, { limit: 20 });
        const top3 = await index.search(workspaceA, word, { limit: 3 });
        const one = await index.search(workspaceA, word, { limit: 1 });

        expect(all).toHaveLength(8);
        for (let i = 1; i < all.length; i++) expect(all[i - 1]!.score).toBeGreaterThanOrEqual(all[i]!.score);
        expect(top3).toHaveLength(3);
        for (let i = 1; i < top3.length; i++) expect(top3[i - 1]!.score).toBeGreaterThanOrEqual(top3[i]!.score);
        expect(top3[0]!.id).toBe('ranked:7');
        expect(one).toHaveLength(1);
        expect(one[0]!.id).toBe('ranked:7');
      });

      it('ping resolves', async () => {
        await expect(index.ping()).resolves.toBeUndefined();
      });

      it('keeps rows across close and a new open of the same data', async () => {
        const word = uniqueWord();
        await index.replaceDocument(workspaceA, 'durable', chunksOf('durable', [{ text: `The ${word} survives a restart.` }, { text: 'A second passage.' }]));
        await index.close();

        index = await open();

        expect(await index.countChunks(workspaceA)).toBe(2);
        expect(ids(await index.search(workspaceA, word, { limit: 5 }))).toEqual(['durable:0']);
      });
    });

    describe('cross-tenant isolation', () => {
      it("stops workspace B from finding workspace A's passages", async () => {
        const secret = uniqueWord('secret');
        await index.replaceDocument(workspaceA, 'doc-a', chunksOf('doc-a', [{ text: `The acquisition code name is ${secret}.` }]));
        await index.replaceDocument(workspaceB, 'doc-b', chunksOf('doc-b', [{ text: 'Workspace B has its own acquisition plans.' }]));

        expect(await index.search(workspaceB, secret, { limit: 10 })).toEqual([]);
        const shared = await index.search(workspaceB, 'acquisition code name', { limit: 10 });
        expect(ids(shared)).toEqual(['doc-b:0']);
      });

      it('counts chunks per workspace', async () => {
        await index.replaceDocument(workspaceA, 'doc', chunksOf('doc', [{ text: 'one' }, { text: 'two' }, { text: 'three' }]));
        await index.replaceDocument(workspaceB, 'doc', chunksOf('doc', [{ text: 'one' }]));

        expect(await index.countChunks(workspaceA)).toBe(3);
        expect(await index.countChunks(workspaceB)).toBe(1);
        expect(await index.countChunks(randomUUID())).toBe(0);
        expect(await index.countChunks(workspaceB, 'doc')).toBe(1);
      });

      it("stops deleteDocument with workspace B's id from deleting workspace A's document", async () => {
        const word = uniqueWord();
        await index.replaceDocument(workspaceA, 'doc-a', chunksOf('doc-a', [{ text: word }]));

        await index.deleteDocument(workspaceB, 'doc-a');

        expect(await index.countChunks(workspaceA)).toBe(1);
        expect(ids(await index.search(workspaceA, word, { limit: 5 }))).toEqual(['doc-a:0']);
      });

      it("stops deleteWorkspace of workspace B from deleting workspace A's rows", async () => {
        await index.replaceDocument(workspaceA, 'doc-a', chunksOf('doc-a', [{ text: 'alpha' }, { text: 'beta' }]));
        await index.replaceDocument(workspaceB, 'doc-b', chunksOf('doc-b', [{ text: 'gamma' }]));

        await index.deleteWorkspace(workspaceB);

        expect(await index.countChunks(workspaceB)).toBe(0);
        expect(await index.countChunks(workspaceA)).toBe(2);
      });

      it('keeps the same document id in two workspaces apart', async () => {
        const wordA = uniqueWord('ws');
        const wordB = uniqueWord('ws');
        await index.replaceDocument(workspaceA, 'handbook', chunksOf('handbook', [{ text: `Handbook of A mentions ${wordA}.` }, { text: 'More of A.' }]));
        await index.replaceDocument(workspaceB, 'handbook', chunksOf('handbook', [{ text: `Handbook of B mentions ${wordB}.` }]));

        // Replacing B's copy must not touch A's copy with the same id.
        await index.replaceDocument(workspaceB, 'handbook', chunksOf('handbook', [{ text: `Handbook of B, revised, mentions ${wordB}.` }]));
        expect(await index.countChunks(workspaceA, 'handbook')).toBe(2);
        expect(ids(await index.search(workspaceA, wordA, { limit: 5 }))).toEqual(['handbook:0']);
        expect(await index.search(workspaceA, wordB, { limit: 5 })).toEqual([]);
        expect((await index.search(workspaceB, wordB, { limit: 5 }))[0]?.text).toContain('revised');
        expect(await index.search(workspaceB, wordA, { limit: 5 })).toEqual([]);

        // Deleting B's copy must leave A's.
        await index.deleteDocument(workspaceB, 'handbook');
        expect(await index.countChunks(workspaceB)).toBe(0);
        expect(await index.countChunks(workspaceA)).toBe(2);
      });
    });

    describe('hostile input', () => {
      const hostileQueries: Array<[string, string]> = [
        ['a SQL tautology', "' OR 1=1 --"],
        ['a filter-breaking tautology', "x' OR workspace_id != '' OR 'a'='a"],
        ['double quotes', '"secret" "plans"'],
        ['backslashes', 'C:\\Users\\admin\\ \\\' \\"'],
        ['SQL keywords', 'SELECT * FROM chunks WHERE 1=1; DROP TABLE chunks; DELETE FROM chunks'],
        ['query-syntax operators', 'title:secret AND (plans OR merger) NOT +x -y ~2 ^3 * ? [a TO z] {}'],
        ['a 10,000-character query', `plans ${'merger '.repeat(1428)}`.slice(0, 10_000)],
        ['emoji', '🔒🕵️‍♀️ secret plans 💣'],
        ['control characters', 'plans\u0000\u0001\n\r\t merger'],
      ];
      const emptyQueries: Array<[string, string]> = [
        ['an empty query', ''],
        ['a whitespace-only query', '   \n\t '],
        ['a punctuation-only query', '!?.,;:\'"()[]{}<>-_=+*/\\|@#$%^&~`'],
        ['a quote-only query', "'''"],
      ];

      async function seed(): Promise<Set<string>> {
        // Workspace B holds every word the hostile queries use, so a leak would show.
        await index.replaceDocument(
          workspaceB,
          'b-secrets',
          chunksOf('b-secrets', [
            { text: 'Secret plans for the merger. SELECT chunks where workspace title admin users drop delete.' },
            { text: 'secret plans merger secret plans merger x y' },
          ]),
        );
        await index.replaceDocument(workspaceA, 'a-public', chunksOf('a-public', [{ text: 'Public plans for the merger announcement.' }]));
        return new Set(['a-public:0']);
      }

      it.each(hostileQueries)('searching with %s does not throw and returns only own rows', async (_label, query) => {
        const own = await seed();

        const hits = await index.search(workspaceA, query, { limit: 50 });

        for (const hit of hits) expect(own.has(hit.id)).toBe(true);
        expect(hits.every((h) => h.documentId === 'a-public')).toBe(true);
        // Nothing was dropped or deleted along the way.
        expect(await index.countChunks(workspaceA)).toBe(1);
        expect(await index.countChunks(workspaceB)).toBe(2);
      });

      it.each(emptyQueries)('searching with %s returns nothing', async (_label, query) => {
        await seed();

        await expect(index.search(workspaceA, query, { limit: 10 })).resolves.toEqual([]);
      });

      const hostileIds = ["w1' OR '1'='1", 'w1 OR 1=1', "'", 'a b', "x' --", "') OR ('1'='1", 'w1"; DROP TABLE chunks; --', ''];

      it.each(hostileIds)('rejects the injected workspace id %j everywhere and deletes nothing', async (hostile) => {
        await index.replaceDocument(workspaceA, 'doc-a', chunksOf('doc-a', [{ text: 'kept alpha' }, { text: 'kept beta' }]));
        await index.replaceDocument(workspaceB, 'doc-b', chunksOf('doc-b', [{ text: 'kept gamma' }]));

        for (const call of [
          () => index.search(hostile, 'kept', { limit: 10 }),
          () => index.countChunks(hostile),
          () => index.deleteDocument(hostile, 'doc-a'),
          () => index.deleteWorkspace(hostile),
          () => index.replaceDocument(hostile, 'doc-a', chunksOf('doc-a', [{ text: 'overwritten' }])),
        ]) {
          const error = await rejection(call);
          expect(error).toBeInstanceOf(Error);
        }

        expect(await index.countChunks(workspaceA)).toBe(2);
        expect(await index.countChunks(workspaceB)).toBe(1);
      });

      it.each(hostileIds.filter(Boolean))('rejects the injected document id %j and deletes nothing', async (hostile) => {
        await index.replaceDocument(workspaceA, 'doc-a', chunksOf('doc-a', [{ text: 'kept alpha' }, { text: 'kept beta' }]));
        await index.replaceDocument(workspaceB, 'doc-b', chunksOf('doc-b', [{ text: 'kept gamma' }]));

        expect(await rejection(() => index.deleteDocument(workspaceA, hostile))).toBeInstanceOf(Error);
        expect(await rejection(() => index.countChunks(workspaceA, hostile))).toBeInstanceOf(Error);
        expect(await rejection(() => index.replaceDocument(workspaceA, hostile, []))).toBeInstanceOf(Error);

        expect(await index.countChunks(workspaceA)).toBe(2);
        expect(await index.countChunks(workspaceB)).toBe(1);
      });
    });
  });
}
