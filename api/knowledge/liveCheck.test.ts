import { createKnowledge } from './knowledge';
import { keepOpenable, MAX_REFS_PER_ROUND, MAX_ROUNDS } from './liveCheck';
import type { DelegatedAccess, OpenVerdict, SearchHit, SearchIndex, SearchOptions } from './ports';
import type { Principal } from '../tenancy/principal';

type Access = SearchHit['access'];

const hit = (n: number, access: Access, sourceRef = `drive/item-${n}`): SearchHit => ({
  id: `doc-${n}:0`,
  documentId: `doc-${n}`,
  ordinal: 0,
  title: `Travel policy ${n}`,
  sourceRef,
  text: `Travel costs abroad, part ${n}.`,
  language: 'en',
  score: 100 - n,
  access,
});

/** A source that answers from a table and records every call. */
function source(verdict: (ref: string) => OpenVerdict | 'throw'): DelegatedAccess & { calls: string[][] } {
  const calls: string[][] = [];
  return {
    calls,
    async canOpen(refs) {
      calls.push([...refs]);
      const answer = new Map<string, OpenVerdict>();
      for (const ref of refs) {
        const v = verdict(ref);
        if (v === 'throw') throw new Error('source unreachable');
        answer.set(ref, v);
      }
      return answer;
    },
  };
}

describe('live re-check policy', () => {
  const matrix: Array<[Access, OpenVerdict, boolean]> = [
    ['workspace', true, true],
    ['workspace', false, true],
    ['workspace', undefined, true],
    ['acl', true, true],
    ['acl', false, false],
    ['acl', undefined, true],
    ['candidate', true, true],
    ['candidate', false, false],
    ['candidate', undefined, false],
  ];

  it.each(matrix)('a hit admitted by %s with verdict %s is kept: %s', async (access, verdict, kept) => {
    const s = source(() => verdict);
    const result = await keepOpenable([hit(1, access)], 5, s);
    expect(result.map((h) => h.id)).toEqual(kept ? ['doc-1:0'] : []);
    // Workspace-wide passages (local folder, uploads) are never sent to the source.
    expect(s.calls).toEqual(access === 'workspace' ? [] : [['drive/item-1']]);
  });

  it('treats a failed check as unknown: acl hits stay, candidates go, and the failure is reported', async () => {
    const failures: unknown[] = [];
    const result = await keepOpenable([hit(1, 'acl'), hit(2, 'candidate'), hit(3, 'workspace')], 5, source(() => 'throw'), (e) => failures.push(e));
    expect(result.map((h) => h.id)).toEqual(['doc-1:0', 'doc-3:0']);
    expect(failures).toHaveLength(1);
  });

  it('ignores a verdict that is not a boolean (a source answering "yes" opens nothing)', async () => {
    const sloppy: DelegatedAccess = { canOpen: async (refs) => new Map(refs.map((r) => [r, 'yes' as unknown as OpenVerdict])) };
    expect((await keepOpenable([hit(1, 'candidate'), hit(2, 'acl')], 5, sloppy)).map((h) => h.id)).toEqual(['doc-2:0']);
  });

  it('checks only the final hits: the top `limit` when all may be opened', async () => {
    const s = source(() => true);
    const hits = Array.from({ length: 12 }, (_, i) => hit(i, 'acl'));
    const result = await keepOpenable(hits, 3, s);
    expect(result.map((h) => h.id)).toEqual(['doc-0:0', 'doc-1:0', 'doc-2:0']);
    expect(s.calls).toEqual([['drive/item-0', 'drive/item-1', 'drive/item-2']]);
  });

  it('asks again for the next hits when some are refused, keeping rank order', async () => {
    const s = source((ref) => ref !== 'drive/item-1' && ref !== 'drive/item-2');
    const hits = Array.from({ length: 8 }, (_, i) => hit(i, i % 2 ? 'candidate' : 'acl'));
    const result = await keepOpenable(hits, 3, s);
    expect(result.map((h) => h.id)).toEqual(['doc-0:0', 'doc-3:0', 'doc-4:0']);
    expect(s.calls).toEqual([['drive/item-0', 'drive/item-1', 'drive/item-2'], ['drive/item-3', 'drive/item-4']]);
  });

  it('asks once per file, however many of its passages are among the hits', async () => {
    const s = source(() => true);
    const hits = [hit(1, 'acl', 'drive/a'), hit(2, 'acl', 'drive/a'), hit(3, 'candidate', 'drive/b'), hit(4, 'acl', 'drive/a')];
    expect(await keepOpenable(hits, 4, s)).toHaveLength(4);
    expect(s.calls).toEqual([['drive/a', 'drive/b']]);
  });

  it(`sends at most ${MAX_REFS_PER_ROUND} files in one call`, async () => {
    const s = source(() => true);
    const hits = Array.from({ length: 50 }, (_, i) => hit(i, 'acl'));
    const result = await keepOpenable(hits, 30, s);
    expect(result).toHaveLength(30);
    expect(s.calls.map((c) => c.length)).toEqual([MAX_REFS_PER_ROUND, 10]);
  });

  it(`makes at most ${MAX_ROUNDS} calls, and then keeps only what needs no call`, async () => {
    const s = source(() => false);
    const hits = [...Array.from({ length: 40 }, (_, i) => hit(i, i % 3 === 0 ? 'candidate' : 'acl')), hit(90, 'workspace'), hit(91, 'acl')];
    const result = await keepOpenable(hits, 5, s);
    expect(s.calls).toHaveLength(MAX_ROUNDS);
    // Every checked file was refused; the folder passage needs no check; item-91 was never checked and is not served unverified.
    expect(result.map((h) => h.id)).toEqual(['doc-90:0']);
  });

  it('keeps workspace passages between checked ones without spending a call on them', async () => {
    const s = source(() => undefined);
    const hits = [hit(1, 'workspace'), hit(2, 'candidate'), hit(3, 'workspace'), hit(4, 'acl')];
    expect((await keepOpenable(hits, 3, s)).map((h) => h.id)).toEqual(['doc-1:0', 'doc-3:0', 'doc-4:0']);
    expect(s.calls.flat()).toEqual(['drive/item-2', 'drive/item-4']);
  });
});

describe('knowledge.search with and without delegated access', () => {
  const principal: Principal = { workspaceId: 'ws-1', tenantId: 't', userId: 'u', roles: ['user'], authMethod: 'entra-token' };

  function index(hits: SearchHit[]): SearchIndex & { options: SearchOptions[] } {
    const options: SearchOptions[] = [];
    return {
      options,
      async search(_ws: string, _q: string, o: SearchOptions) {
        options.push(o);
        // As an adapter would: candidates only when asked for.
        return hits.filter((h) => o.candidates || h.access !== 'candidate').slice(0, o.limit);
      },
    } as unknown as SearchIndex & { options: SearchOptions[] };
  }

  const knowledgeOver = (idx: SearchIndex) => createKnowledge({ index: idx, readers: { readerFor: async () => ({ userId: '6f1d7c1e-0000-4000-8000-000000000001', groupIds: [] }) } }, { minCoverage: 0 });

  it('never asks for candidates without delegated access, and never returns one', async () => {
    const idx = index([hit(1, 'candidate'), hit(2, 'acl'), hit(3, 'workspace')]);
    const result = await knowledgeOver(idx).search(principal, 'travel costs', 5);
    expect(idx.options.map((o) => o.candidates)).toEqual([false]);
    expect(result.map((h) => h.access)).toEqual(['acl', 'workspace']);
  });

  it('with delegated access asks for candidates and keeps those the source confirms', async () => {
    const idx = index([hit(1, 'candidate'), hit(2, 'candidate'), hit(3, 'acl')]);
    const s = source((ref) => ref === 'drive/item-2');
    const result = await knowledgeOver(idx).search(principal, 'travel costs', 5, s);
    expect(idx.options.map((o) => o.candidates)).toEqual([true]);
    expect(result.map((h) => h.id)).toEqual(['doc-2:0']);
  });
});
