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
 *
 * Access control: a chunk with an acl is returned only to a reader the acl allows, a chunk
 * without one to every reader of its workspace, and a search without a reader returns only
 * workspace-wide chunks (it fails closed). A chunk whose acl asks for a live check comes back to
 * other readers only when the search asks for candidates, marked `access: 'candidate'`.
 */
import { randomUUID } from 'node:crypto';
import { isKluisError } from '../../api/errors';
import { MAX_READER_GROUPS } from '../../api/knowledge/acl';
import type { Acl, ChunkRecord, Reader, SearchHit, SearchIndex } from '../../api/knowledge/ports';

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
    ...(part.acl === undefined ? {} : { acl: part.acl }),
  }));
}

/** What the port promises about one chunk and one reader, written out as plainly as possible. */
export function mayRead(acl: Acl | undefined, reader: Reader | undefined): boolean {
  if (acl === undefined || acl.everyoneInTenant) return true;
  if (reader === undefined) return false;
  const user = reader.userId.toLowerCase();
  const groups = new Set(reader.groupIds.map((g) => g.toLowerCase()));
  return acl.users.some((u) => u.toLowerCase() === user) || acl.groups.some((g) => groups.has(g.toLowerCase()));
}

/** How the port promises a chunk is admitted for a reader, or undefined when it is not. */
export function admittedAs(acl: Acl | undefined, reader: Reader | undefined, candidates: boolean): SearchHit['access'] | undefined {
  if (acl === undefined) return 'workspace';
  if (mayRead(acl, reader)) return 'acl';
  return candidates && acl.liveCheck === true ? 'candidate' : undefined;
}

/** A small seeded generator (mulberry32), so a failing property run can be told by its seed. */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
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
        const { score, access, ...passage } = hits[0]!;
        expect(passage).toEqual(chunk);
        expect(access).toBe('workspace');
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

    describe('access control', () => {
      const reader = (userId: string = randomUUID(), groupIds: string[] = []): Reader => ({ userId, groupIds });
      const find = async (workspaceId: string, query: string, who: Reader | undefined, limit = 20) => ids(await index.search(workspaceId, query, { limit, reader: who })).sort();
      const onlyUsers = (...users: string[]): Acl => ({ users, groups: [], everyoneInTenant: false });
      const onlyGroups = (...groups: string[]): Acl => ({ users: [], groups, everyoneInTenant: false });

      it('a user the file is not shared with does not get its passages', async () => {
        const word = uniqueWord();
        const u1 = randomUUID();
        await index.replaceDocument(workspaceA, 'private', chunksOf('private', [{ text: `Salary review ${word}.`, acl: onlyUsers(u1) }]));

        expect(await find(workspaceA, word, reader(u1))).toEqual(['private:0']);
        expect(await find(workspaceA, word, reader())).toEqual([]);
        expect(await find(workspaceA, word, reader(randomUUID(), [randomUUID(), randomUUID()]))).toEqual([]);
      });

      it('a user who lost access stops getting its passages', async () => {
        const word = uniqueWord();
        const [u1, u2] = [randomUUID(), randomUUID()];
        await index.replaceDocument(workspaceA, 'plan', chunksOf('plan', [{ text: `Reorganisation ${word}.`, acl: onlyUsers(u1, u2) }, { text: `Appendix ${word}.`, acl: onlyUsers(u1, u2) }]));
        expect(await find(workspaceA, word, reader(u1))).toEqual(['plan:0', 'plan:1']);

        // The next sync writes the file's new permissions, without u1.
        await index.replaceDocument(workspaceA, 'plan', chunksOf('plan', [{ text: `Reorganisation ${word}.`, acl: onlyUsers(u2) }, { text: `Appendix ${word}.`, acl: onlyUsers(u2) }]));

        expect(await find(workspaceA, word, reader(u1))).toEqual([]);
        expect(await find(workspaceA, word, reader(u2))).toEqual(['plan:0', 'plan:1']);
      });

      it('a non-member of the group the file is shared with does not get its passages', async () => {
        const word = uniqueWord();
        const group = randomUUID();
        await index.replaceDocument(workspaceA, 'finance', chunksOf('finance', [{ text: `Budget ${word}.`, acl: onlyGroups(group) }]));

        expect(await find(workspaceA, word, reader(randomUUID(), [randomUUID(), group]))).toEqual(['finance:0']);
        expect(await find(workspaceA, word, reader(randomUUID(), [randomUUID()]))).toEqual([]);
        expect(await find(workspaceA, word, reader())).toEqual([]);
        // A group id passed as a user id is not membership.
        expect(await find(workspaceA, word, reader(group))).toEqual([]);
      });

      it('a file shared with everyone in the tenant is found by any reader', async () => {
        const word = uniqueWord();
        await index.replaceDocument(workspaceA, 'canteen', chunksOf('canteen', [{ text: `Menu ${word}.`, acl: { users: [], groups: [], everyoneInTenant: true } }]));

        expect(await find(workspaceA, word, reader())).toEqual(['canteen:0']);
        expect(await find(workspaceA, word, reader(randomUUID(), [randomUUID()]))).toEqual(['canteen:0']);
      });

      it('a caller that forgot the reader gets only workspace-wide passages (fails closed)', async () => {
        const word = uniqueWord();
        const user = randomUUID();
        const group = randomUUID();
        await index.replaceDocument(
          workspaceA,
          'mixed',
          chunksOf('mixed', [
            { text: `Folder file ${word}.` },
            { text: `Organisation-wide link ${word}.`, acl: { users: [], groups: [], everyoneInTenant: true } },
            { text: `Shared with one user ${word}.`, acl: onlyUsers(user) },
            { text: `Shared with one group ${word}.`, acl: onlyGroups(group) },
          ]),
        );

        expect(await find(workspaceA, word, undefined)).toEqual(['mixed:0', 'mixed:1']);
        expect(await find(workspaceA, word, reader())).toEqual(['mixed:0', 'mixed:1']);
        expect(await find(workspaceA, word, reader(user))).toEqual(['mixed:0', 'mixed:1', 'mixed:2']);
        expect(await find(workspaceA, word, reader(randomUUID(), [group]))).toEqual(['mixed:0', 'mixed:1', 'mixed:3']);
        expect(await find(workspaceA, word, reader(user, [group]))).toEqual(['mixed:0', 'mixed:1', 'mixed:2', 'mixed:3']);
      });

      it("an acl entry that is not a GUID (a '*', a site group, an injection) opens the file to nobody", async () => {
        const word = uniqueWord();
        await index.replaceDocument(
          workspaceA,
          'odd',
          chunksOf('odd', [
            { text: `Nobody at all ${word}.`, acl: { users: [], groups: [], everyoneInTenant: false } },
            { text: `Odd entries ${word}.`, acl: { users: ['*', "' OR 1=1 --", 'u:*'], groups: ['siteGroup:3', '*', "x') OR true OR ('"], everyoneInTenant: false } },
          ]),
        );

        expect(await find(workspaceA, word, undefined)).toEqual([]);
        expect(await find(workspaceA, word, reader())).toEqual([]);
        expect(await index.countChunks(workspaceA, 'odd')).toBe(2);
      });

      it('matches user and group ids whatever their case', async () => {
        const word = uniqueWord();
        const user = randomUUID();
        const group = randomUUID();
        await index.replaceDocument(workspaceA, 'upper', chunksOf('upper', [{ text: `Case ${word}.`, acl: { users: [user.toUpperCase()], groups: [group.toUpperCase()], everyoneInTenant: false } }]));

        expect(await find(workspaceA, word, reader(user))).toEqual(['upper:0']);
        expect(await find(workspaceA, word, reader(randomUUID(), [group]))).toEqual(['upper:0']);
        expect(await find(workspaceA, word, reader(user.toUpperCase()))).toEqual(['upper:0']);
      });

      it("a reader of workspace A never gets workspace B's passages, even when B's acl names that reader", async () => {
        const word = uniqueWord();
        const user = randomUUID();
        const group = randomUUID();
        const acl: Acl = { users: [user], groups: [group], everyoneInTenant: false };
        await index.replaceDocument(workspaceB, 'b-secret', chunksOf('b-secret', [{ text: `Merger ${word}.`, acl }, { text: `Merger ${word} for all.`, acl: { ...acl, everyoneInTenant: true } }, { text: `Merger ${word} workspace-wide.` }]));

        expect(await find(workspaceA, word, reader(user, [group]))).toEqual([]);
        expect(await find(workspaceA, word, undefined)).toEqual([]);
        expect(await find(workspaceB, word, reader(user))).toEqual(['b-secret:0', 'b-secret:1', 'b-secret:2']);
      });

      it('passages the reader may not see do not crowd out the ones they may (the acl filters before the limit)', async () => {
        const word = uniqueWord();
        const [mine, theirs] = [randomUUID(), randomUUID()];
        // Thirty better-matching passages of someone else, then one weaker passage of the reader's.
        const parts = Array.from({ length: 30 }, () => ({ text: `${word} ${word} ${word} ${word}`, acl: onlyUsers(theirs) }));
        parts.push({ text: `${word} filler filler filler`, acl: onlyUsers(mine) });
        await index.replaceDocument(workspaceA, 'crowd', chunksOf('crowd', parts));

        expect(await find(workspaceA, word, reader(mine), 1)).toEqual(['crowd:30']);
        expect(await find(workspaceA, word, reader(mine), 5)).toEqual(['crowd:30']);
      });

      it('counts chunks whatever their acl, as sources rely on to find missing chunks', async () => {
        await index.replaceDocument(workspaceA, 'doc', chunksOf('doc', [{ text: 'one' }, { text: 'two', acl: onlyUsers(randomUUID()) }, { text: 'three', acl: { users: [], groups: [], everyoneInTenant: false } }]));

        expect(await index.countChunks(workspaceA)).toBe(3);
        expect(await index.countChunks(workspaceA, 'doc')).toBe(3);
      });

      it("does not hand out the acl with a passage (who else may read a file is not the reader's business)", async () => {
        const word = uniqueWord();
        const user = randomUUID();
        const [chunk] = chunksOf('shared', [{ text: `Shared ${word}.`, heading: 'H', url: 'https://example.test/shared', acl: { users: [user, randomUUID()], groups: [randomUUID()], everyoneInTenant: false } }]);
        await index.replaceDocument(workspaceA, 'shared', [chunk!]);

        const [hit] = await index.search(workspaceA, word, { limit: 5, reader: reader(user) });

        const { acl: _acl, ...passage } = chunk!;
        const { score: _score, access, ...found } = hit!;
        expect(found).toEqual(passage);
        expect(access).toBe('acl');
        expect(Object.keys(hit!)).not.toContain('acl');
        expect(JSON.stringify(hit)).not.toContain(user);
      });

      it(`searches a reader in ${MAX_READER_GROUPS} groups with every one of them`, async () => {
        const word = uniqueWord();
        const groups = Array.from({ length: MAX_READER_GROUPS }, () => randomUUID());
        await index.replaceDocument(workspaceA, 'last-group', chunksOf('last-group', [{ text: `Deep group ${word}.`, acl: onlyGroups(groups[MAX_READER_GROUPS - 1]!) }]));

        expect(await find(workspaceA, word, reader(randomUUID(), groups))).toEqual(['last-group:0']);
      });

      it('hands every reader only passages of their own workspace that they may read (200 random queries)', async () => {
        const seed = Math.floor(Math.random() * 2 ** 32);
        const random = seededRandom(seed);
        const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
        const some = <T>(items: readonly T[]): T[] => items.filter(() => random() < 0.4);
        const vocabulary = ['kestrel', 'marmot', 'quokka', 'tapir', 'okapi', 'gecko', 'lemur', 'bison', 'heron', 'otter', 'walrus', 'ibis'];
        const users = Array.from({ length: 4 }, () => randomUUID());
        const groups = Array.from({ length: 3 }, () => randomUUID());
        const acls: Array<() => Acl | undefined> = [
          () => undefined,
          () => ({ users: [], groups: [], everyoneInTenant: true }),
          () => onlyUsers(pick(users)),
          () => onlyUsers(...some(users)),
          () => onlyGroups(pick(groups)),
          () => ({ users: some(users), groups: some(groups), everyoneInTenant: false }),
          () => ({ users: [], groups: [], everyoneInTenant: false }),
          () => ({ users: [], groups: [], everyoneInTenant: false, liveCheck: true }),
          () => ({ users: some(users), groups: some(groups), everyoneInTenant: false, liveCheck: true }),
        ];

        // Each workspace's documents get their own ids, so a hit's id tells its workspace.
        const corpus = new Map<string, { workspaceId: string; acl: Acl | undefined; words: Set<string> }>();
        for (const [workspaceId, tag] of [
          [workspaceA, 'a'],
          [workspaceB, 'b'],
        ] as const) {
          for (let d = 0; d < 6; d++) {
            const documentId = `${tag}-doc-${d}`;
            const parts = Array.from({ length: 6 }, () => ({ words: Array.from({ length: 3 + Math.floor(random() * 4) }, () => pick(vocabulary)), acl: pick(acls)() }));
            const chunks = chunksOf(documentId, parts.map((p) => ({ text: p.words.join(' '), acl: p.acl })));
            chunks.forEach((c, i) => corpus.set(c.id, { workspaceId, acl: parts[i]!.acl, words: new Set(parts[i]!.words) }));
            await index.replaceDocument(workspaceId, documentId, chunks);
          }
        }

        const readers: Array<() => Reader | undefined> = [() => undefined, () => reader(), () => reader(pick(users), some(groups)), () => reader(pick(users)), () => reader(randomUUID(), some(groups))];
        const violations: unknown[] = [];
        let returned = 0;
        let restrictedReturned = 0;
        let candidatesReturned = 0;
        for (let q = 0; q < 200; q++) {
          const workspaceId = pick([workspaceA, workspaceB]);
          const who = pick(readers)();
          const words = Array.from({ length: 1 + Math.floor(random() * 3) }, () => pick(vocabulary));
          const candidates = random() < 0.3;
          const hits = await index.search(workspaceId, words.join(' '), { limit: 100, reader: who, candidates });
          returned += hits.length;
          for (const hit of hits) {
            const stored = corpus.get(hit.id);
            const expected = stored && admittedAs(stored.acl, who, candidates);
            if (!stored || stored.workspaceId !== workspaceId || expected !== hit.access) violations.push({ q, workspaceId, who, candidates, words, hit: hit.id, access: hit.access, stored });
            else if (stored.acl && !stored.acl.everyoneInTenant) restrictedReturned++;
            if (hit.access === 'candidate') candidatesReturned++;
          }
          // And nothing readable that matches a word is withheld.
          const found = new Set(ids(hits));
          for (const [id, stored] of corpus) {
            if (stored.workspaceId === workspaceId && admittedAs(stored.acl, who, candidates) && words.some((w) => stored.words.has(w)) && !found.has(id)) violations.push({ q, missing: id, who, candidates, words });
          }
        }

        expect({ seed, violations: violations.slice(0, 5) }).toEqual({ seed, violations: [] });
        // The run proved something: passages came back, restricted ones among them.
        expect(returned).toBeGreaterThan(200);
        expect(restrictedReturned).toBeGreaterThan(0);
        expect(candidatesReturned).toBeGreaterThan(0);
      });

      const hostileReaders: Array<[string, Reader]> = [
        ['a SQL tautology as user id', { userId: "' OR 1=1 --", groupIds: [] }],
        ['a quoted tautology as user id', { userId: "x') OR true OR ('", groupIds: [] }],
        ['a GUID followed by an injection', { userId: `${randomUUID()}' OR '1'='1`, groupIds: [] }],
        ["the everyone principal '*' as user id", { userId: '*', groupIds: [] }],
        ['a user principal as user id', { userId: `u:${randomUUID()}`, groupIds: [] }],
        ['an email address as user id', { userId: 'alice@contoso.example', groupIds: [] }],
        ['an empty user id', { userId: '', groupIds: [] }],
        ['a GUID with a line break', { userId: `${randomUUID()}\n`, groupIds: [] }],
        ['a SQL tautology as group id', { userId: randomUUID(), groupIds: [randomUUID(), "' OR 1=1 --"] }],
        ["the everyone principal '*' as group id", { userId: randomUUID(), groupIds: ['*'] }],
        ['a SharePoint site group as group id', { userId: randomUUID(), groupIds: ['siteGroup:3'] }],
        ["the live-check principal 'live' as user id", { userId: 'live', groupIds: [] }],
        ["the tenant-wide marker 'tenant' as group id", { userId: randomUUID(), groupIds: ['tenant'] }],
        ['a live-check principal as group id', { userId: randomUUID(), groupIds: ['live'] }],
        [`${MAX_READER_GROUPS + 1} groups`, { userId: randomUUID(), groupIds: Array.from({ length: MAX_READER_GROUPS + 1 }, () => randomUUID()) }],
        ['group ids that are not a list', { userId: randomUUID(), groupIds: "' OR 1=1" as unknown as string[] }],
        ['a user id that is not a string', { userId: { toString: () => randomUUID() } as unknown as string, groupIds: [] }],
      ];

      it.each(hostileReaders)('refuses a reader with %s (request_malformed), whatever the query', async (_label, hostile) => {
        const word = uniqueWord();
        await index.replaceDocument(workspaceA, 'doc', chunksOf('doc', [{ text: `Open ${word}.` }, { text: `Closed ${word}.`, acl: onlyUsers(randomUUID()) }]));

        for (const query of [word, '']) {
          const error = await rejection(() => index.search(workspaceA, query, { limit: 10, reader: hostile }));
          expect(isKluisError(error, 'request_malformed')).toBe(true);
        }
        expect(await index.countChunks(workspaceA)).toBe(2);
      });
    });

    describe('candidates for a live check (files shared with groups Kluis cannot list)', () => {
      const reader = (userId: string = randomUUID(), groupIds: string[] = []): Reader => ({ userId, groupIds });
      const siteGroupOnly: Acl = { users: [], groups: ['siteGroup:3'], everyoneInTenant: false, liveCheck: true };
      const search = (workspaceId: string, query: string, who: Reader | undefined, candidates?: boolean) => index.search(workspaceId, query, { limit: 20, reader: who, candidates });
      const admitted = (hits: SearchHit[]) => hits.map((h) => [h.id, h.access]).sort();

      it('never returns a candidate to a search that did not ask for candidates (fails closed)', async () => {
        const word = uniqueWord();
        await index.replaceDocument(workspaceA, 'members', chunksOf('members', [{ text: `Site members only ${word}.`, acl: siteGroupOnly }]));

        expect(await search(workspaceA, word, undefined)).toEqual([]);
        expect(await search(workspaceA, word, reader())).toEqual([]);
        expect(await search(workspaceA, word, reader(), false)).toEqual([]);
        expect(await index.countChunks(workspaceA, 'members')).toBe(1);
      });

      it("returns it as a candidate, to any reader of its workspace, when the search asks for candidates", async () => {
        const word = uniqueWord();
        await index.replaceDocument(workspaceA, 'members', chunksOf('members', [{ text: `Site members only ${word}.`, acl: siteGroupOnly }]));

        expect(admitted(await search(workspaceA, word, reader(), true))).toEqual([['members:0', 'candidate']]);
        expect(admitted(await search(workspaceA, word, undefined, true))).toEqual([['members:0', 'candidate']]);
      });

      it("never returns workspace B's candidate to a search of workspace A", async () => {
        const word = uniqueWord();
        await index.replaceDocument(workspaceB, 'members', chunksOf('members', [{ text: `Site members only ${word}.`, acl: siteGroupOnly }]));

        expect(await search(workspaceA, word, reader(), true)).toEqual([]);
        expect(await search(workspaceA, word, undefined, true)).toEqual([]);
        expect(admitted(await search(workspaceB, word, reader(), true))).toEqual([['members:0', 'candidate']]);
      });

      it('says how every hit was admitted: workspace, acl (tenant-wide included) or candidate', async () => {
        const word = uniqueWord();
        const user = randomUUID();
        await index.replaceDocument(
          workspaceA,
          'mixed',
          chunksOf('mixed', [
            { text: `Folder file ${word}.` },
            { text: `Organisation link ${word}.`, acl: { users: [], groups: [], everyoneInTenant: true } },
            { text: `Shared with the user ${word}.`, acl: { users: [user], groups: [], everyoneInTenant: false } },
            { text: `Shared with the user and a site group ${word}.`, acl: { users: [user], groups: ['siteGroup:4'], everyoneInTenant: false, liveCheck: true } },
            { text: `Site group only ${word}.`, acl: siteGroupOnly },
          ]),
        );

        expect(admitted(await search(workspaceA, word, reader(user), true))).toEqual([
          ['mixed:0', 'workspace'],
          ['mixed:1', 'acl'],
          ['mixed:2', 'acl'],
          ['mixed:3', 'acl'],
          ['mixed:4', 'candidate'],
        ]);
        expect(admitted(await search(workspaceA, word, reader(), true))).toEqual([
          ['mixed:0', 'workspace'],
          ['mixed:1', 'acl'],
          ['mixed:3', 'candidate'],
          ['mixed:4', 'candidate'],
        ]);
        expect(admitted(await search(workspaceA, word, reader()))).toEqual([
          ['mixed:0', 'workspace'],
          ['mixed:1', 'acl'],
        ]);
      });

      it('refuses a candidates option that is not a boolean (request_malformed)', async () => {
        const error = await rejection(() => index.search(workspaceA, 'anything', { limit: 5, candidates: 'yes' as unknown as boolean }));
        expect(isKluisError(error, 'request_malformed')).toBe(true);
      });

      it('refuses an acl whose liveCheck is not a boolean (request_malformed)', async () => {
        const error = await rejection(() => index.replaceDocument(workspaceA, 'odd', chunksOf('odd', [{ text: 'odd', acl: { users: [], groups: [], everyoneInTenant: false, liveCheck: 'true' as unknown as boolean } }])));
        expect(isKluisError(error, 'request_malformed')).toBe(true);
        expect(await index.countChunks(workspaceA, 'odd')).toBe(0);
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
