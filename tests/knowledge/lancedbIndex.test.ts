/**
 * The embedded LanceDB index: the shared SearchIndex conformance suite, plus what only this adapter
 * can get wrong — rows written after the full-text index was built (searched flat until the index
 * is optimised), a large workspace sharing the one table with small ones, and an index folder
 * written before rows carried their acl.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as lancedb from '@lancedb/lancedb';
import { Field, Int32, Schema, Utf8 } from 'apache-arrow';
import { isKluisError } from '../../api/errors';
import { createCohereEmbedder } from '../../api/knowledge/embedding/cohereEmbedder';
import type { Embedder } from '../../api/knowledge/embedding/embedder';
import { openLanceDbIndex } from '../../api/knowledge/lancedbIndex';
import type { SearchIndex } from '../../api/knowledge/ports';
import { chunksOf, searchIndexConformance, uniqueWord } from '../conformance/searchIndex.suite';
import { COHERE_DIMENSION, startFakeEmbeddingService, type FakeEmbeddingService } from '../fakes/embeddingServer';

let conformanceDir: string;

beforeAll(() => {
  conformanceDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kluis-lancedb-conformance-'));
});

afterAll(() => {
  fs.rmSync(conformanceDir, { recursive: true, force: true });
});

// Every open() reads the same directory, which is what the persistence case relies on.
searchIndexConformance('LanceDB (embedded)', () => openLanceDbIndex(conformanceDir));

// The same suite with vectors: hybrid search (cosine + BM25, fused by rank), the embeddings coming
// through the Cohere adapter and its SDK from the wire-format stand-in.
let hybridDir: string;
let cohere: FakeEmbeddingService;
let embedder: Embedder;
beforeAll(async () => {
  hybridDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kluis-lancedb-hybrid-'));
  cohere = await startFakeEmbeddingService('cohere');
  embedder = createCohereEmbedder({ apiKey: cohere.apiKey, baseUrl: cohere.baseUrl, model: 'embed-multilingual-v3.0', dimension: COHERE_DIMENSION, timeoutMs: 10_000, maxRetries: 1 });
});
afterAll(async () => {
  await cohere.close();
  fs.rmSync(hybridDir, { recursive: true, force: true });
});
searchIndexConformance('LanceDB (embedded, hybrid with Cohere vectors)', () => openLanceDbIndex(hybridDir, { embedder }));

/** What LanceDB reports about the full-text indexes of the adapter's table. */
async function ftsStats(directory: string): Promise<Array<{ numIndexedRows: number; numUnindexedRows: number }>> {
  const connection = await lancedb.connect(directory);
  try {
    const table = await connection.openTable('chunks');
    try {
      const indices = await table.listIndices();
      const stats = [];
      for (const i of indices) {
        const s = await table.indexStats(i.name);
        if (s) stats.push({ numIndexedRows: s.numIndexedRows, numUnindexedRows: s.numUnindexedRows });
      }
      return stats;
    } finally {
      table.close();
    }
  } finally {
    connection.close();
  }
}

/** The table as an index folder of the release before acls holds it: no acl_principals column. */
async function writeTableWithoutAcls(directory: string, workspaceId: string): Promise<void> {
  const text = (name: string, nullable = false) => new Field(name, new Utf8(), nullable);
  const schema = new Schema([
    text('id'),
    text('workspace_id'),
    text('document_id'),
    new Field('ordinal', new Int32(), false),
    text('title'),
    text('source_ref'),
    text('url', true),
    text('heading', true),
    text('language'),
    text('text'),
    text('search_en'),
    text('search_nl'),
  ]);
  const connection = await lancedb.connect(directory);
  const table = await connection.createEmptyTable('chunks', schema);
  const passage = 'The old handbook says the canteen opens at eight.';
  await table.add([
    { id: 'old:0', workspace_id: workspaceId, document_id: 'old', ordinal: 0, title: 'Handbook', source_ref: 'old.md', url: null, heading: null, language: 'en', text: passage, search_en: passage, search_nl: passage },
  ]);
  await table.createIndex('search_en', { config: lancedb.Index.fts({ language: 'English', stem: true }) });
  table.close();
  connection.close();
}

/** Every row's stored principals, by chunk id. */
async function storedPrincipals(directory: string): Promise<Record<string, string[]>> {
  const connection = await lancedb.connect(directory);
  const table = await connection.openTable('chunks');
  try {
    const rows = (await table.query().select(['id', 'acl_principals']).toArray()) as Array<{ id: string; acl_principals: Iterable<string> }>;
    return Object.fromEntries(rows.map((r) => [r.id, [...r.acl_principals]]));
  } finally {
    table.close();
    connection.close();
  }
}

async function optimizeTable(directory: string): Promise<void> {
  const connection = await lancedb.connect(directory);
  const table = await connection.openTable('chunks');
  await table.optimize();
  table.close();
  connection.close();
}

describe('LanceDB index specifics', () => {
  let dir: string;
  let index: SearchIndex;

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kluis-lancedb-'));
    index = await openLanceDbIndex(dir);
  });

  afterEach(async () => {
    await index.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('finds rows added after the full-text index was built, before any optimize', async () => {
    const workspace = randomUUID();
    // The first write builds both full-text indexes over what is there.
    await index.replaceDocument(workspace, 'first', chunksOf('first', [{ text: 'The canteen opens at eight in the morning.' }]));
    const word = uniqueWord('late');
    await index.replaceDocument(workspace, 'late-en', chunksOf('late-en', [{ text: `Parking permits for the ${word} garage are issued by reception.` }]));
    await index.replaceDocument(workspace, 'late-nl', chunksOf('late-nl', [{ text: 'Fietsvergoedingen worden maandelijks uitbetaald via de loonstrook.', language: 'nl' }]));

    // The case is only meaningful while the new rows are outside the index.
    const stats = await ftsStats(dir);
    expect(stats).toHaveLength(2);
    for (const s of stats) expect(s.numUnindexedRows).toBeGreaterThan(0);

    expect((await index.search(workspace, word, { limit: 5 })).map((h) => h.id)).toEqual(['late-en:0']);
    expect((await index.search(workspace, 'parking permit', { limit: 5 }))[0]?.id).toBe('late-en:0');
    expect((await index.search(workspace, 'Wanneer wordt de fietsvergoeding uitbetaald?', { limit: 5 }))[0]?.id).toBe('late-nl:0');
  });

  it("a 2,000-chunk workspace among others returns only its own rows, and others still find theirs", async () => {
    const big = randomUUID();
    const small = randomUUID();
    const other = randomUUID();
    // Every workspace uses the same vocabulary, so only the workspace filter tells rows apart.
    const passage = (tag: string, i: number) => `Expense policy receipt rules, section ${i}. Receipts and expense claims for ${tag}.`;
    await index.replaceDocument(small, 'small-doc', chunksOf('small-doc', [{ text: passage('small workspace', 0) }]));
    await index.replaceDocument(other, 'other-doc', chunksOf('other-doc', Array.from({ length: 30 }, (_, i) => ({ text: passage('other workspace', i) }))));
    for (let d = 0; d < 20; d++) {
      const documentId = `big-${d}`;
      await index.replaceDocument(big, documentId, chunksOf(documentId, Array.from({ length: 100 }, (_, i) => ({ text: passage('big workspace', d * 100 + i) }))));
    }

    const check = async () => {
      expect(await index.countChunks(big)).toBe(2000);
      expect(await index.countChunks(small)).toBe(1);
      expect(await index.countChunks(other)).toBe(30);

      const bigHits = await index.search(big, 'expense receipt rules', { limit: 100 });
      expect(bigHits).toHaveLength(100);
      expect(bigHits.every((h) => h.documentId.startsWith('big-'))).toBe(true);

      // The big workspace's many better-or-equal matches must not crowd out the small one's row.
      expect((await index.search(small, 'expense receipt rules', { limit: 5 })).map((h) => h.id)).toEqual(['small-doc:0']);
      const otherHits = await index.search(other, 'expense receipt rules', { limit: 50 });
      expect(otherHits).toHaveLength(30);
      expect(otherHits.every((h) => h.documentId === 'other-doc')).toBe(true);
    };

    // Most rows are still outside the full-text index here (searched flat) ...
    expect((await ftsStats(dir)).some((s) => s.numUnindexedRows >= 2000)).toBe(true);
    await check();

    // ... and the same holds once everything is merged into the index.
    await index.close();
    await optimizeTable(dir);
    expect((await ftsStats(dir)).every((s) => s.numUnindexedRows === 0)).toBe(true);
    index = await openLanceDbIndex(dir);
    await check();
  });

  it('stays correct across the automatic merge of waiting rows into the index', async () => {
    const heavy = randomUUID();
    const light = randomUUID();
    const word = uniqueWord();
    await index.replaceDocument(light, 'light', chunksOf('light', [{ text: `Badge ${word} opens the archive room.` }]));
    for (let d = 0; d < 60; d++) {
      const documentId = `heavy-${d}`;
      await index.replaceDocument(heavy, documentId, chunksOf(documentId, Array.from({ length: 100 }, (_, i) => ({ text: `Archive room badge log entry ${d}-${i}.` }))));
    }

    // 6,000 rows were written after the index was built; a merge must have folded most of them in.
    for (const s of await ftsStats(dir)) expect(s.numUnindexedRows).toBeLessThan(6000);
    expect((await index.search(light, 'archive room badge', { limit: 10 })).map((h) => h.id)).toEqual(['light:0']);
    expect(await index.search(heavy, word, { limit: 10 })).toEqual([]);
    expect(await index.countChunks(heavy)).toBe(6000);
  });

  it('stores each chunk\'s acl as principals: "*" for everyone ("tenant" beside it when from an acl), "live" for a live check, else lower-cased u: and g: entries, GUIDs only', async () => {
    const workspace = randomUUID();
    const user = randomUUID();
    const group = randomUUID();
    await index.replaceDocument(
      workspace,
      'doc',
      chunksOf('doc', [
        { text: 'no acl' },
        { text: 'tenant', acl: { users: [user], groups: [], everyoneInTenant: true } },
        { text: 'named', acl: { users: [user.toUpperCase(), 'siteGroup:3', '*'], groups: [group, group], everyoneInTenant: false } },
        { text: 'nobody', acl: { users: [], groups: ['sharePointGroup:9'], everyoneInTenant: false } },
        { text: 'site group', acl: { users: [user], groups: ['siteGroup:3'], everyoneInTenant: false, liveCheck: true } },
      ]),
    );

    expect(await storedPrincipals(dir)).toEqual({ 'doc:0': ['*'], 'doc:1': ['*', 'tenant'], 'doc:2': [`g:${group}`, `u:${user}`].sort(), 'doc:3': [], 'doc:4': ['live', `u:${user}`] });
  });

  it('refuses a malformed acl with request_malformed and keeps the document as it was', async () => {
    const workspace = randomUUID();
    await index.replaceDocument(workspace, 'doc', chunksOf('doc', [{ text: 'kept' }]));

    for (const acl of [null, 'everyone', { users: [] }, { users: [], groups: [], everyoneInTenant: 'yes' }]) {
      const error = await index.replaceDocument(workspace, 'doc', chunksOf('doc', [{ text: 'replaced', acl: acl as never }])).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isKluisError(error, 'request_malformed')).toBe(true);
    }
    expect((await index.search(workspace, 'kept', { limit: 5 })).map((h) => h.id)).toEqual(['doc:0']);
  });

  it('opens an index folder written before acls by starting its table afresh, and works from there', async () => {
    await index.close();
    const legacyDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kluis-lancedb-legacy-'));
    const workspace = randomUUID();
    try {
      await writeTableWithoutAcls(legacyDir, workspace);
      index = await openLanceDbIndex(legacyDir);

      // The old rows had no acl; they are gone, so the sources index their documents again.
      expect(await index.countChunks(workspace)).toBe(0);
      expect(await index.search(workspace, 'canteen', { limit: 5 })).toEqual([]);

      const user = randomUUID();
      await index.replaceDocument(workspace, 'old', chunksOf('old', [{ text: 'The new handbook says the canteen opens at eight.' }, { text: 'The canteen menu is shared with one user.', acl: { users: [user], groups: [], everyoneInTenant: false } }]));
      expect((await index.search(workspace, 'canteen', { limit: 5 })).map((h) => h.id)).toEqual(['old:0']);
      expect((await index.search(workspace, 'canteen', { limit: 5, reader: { userId: user, groupIds: [] } })).map((h) => h.id).sort()).toEqual(['old:0', 'old:1']);

      // A second open keeps what the first one wrote.
      await index.close();
      index = await openLanceDbIndex(legacyDir);
      expect(await index.countChunks(workspace)).toBe(2);
      expect((await index.search(workspace, 'menu', { limit: 5, reader: { userId: user, groupIds: [] } })).map((h) => h.id)).toEqual(['old:1']);
    } finally {
      await index.close();
      fs.rmSync(legacyDir, { recursive: true, force: true });
      index = await openLanceDbIndex(dir);
    }
  });

  it("refuses a filter-injection identifier with request_malformed", async () => {
    const workspace = randomUUID();
    await index.replaceDocument(workspace, 'doc', chunksOf('doc', [{ text: 'kept' }]));

    for (const call of [() => index.search("w1' OR '1'='1", 'kept', { limit: 5 }), () => index.deleteWorkspace("w1' OR '1'='1"), () => index.deleteDocument(workspace, "doc' OR '1'='1")]) {
      const error = await call().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isKluisError(error, 'request_malformed')).toBe(true);
    }
    expect(await index.countChunks(workspace)).toBe(1);
  });
});

/**
 * An embedder that knows synonyms: words of one concept share a direction, so a question can find
 * a passage that shares none of its words (what BM25 alone cannot), and a test can tell the legs apart.
 */
function conceptEmbedder(id = 'test:concepts', dimension = 8): Embedder {
  const concepts: Record<string, number> = { car: 1, automobile: 1, vehicle: 1, auto: 1, holiday: 2, vacation: 2, leave: 2, verlof: 2 };
  const embed = (text: string) => {
    const v = new Array<number>(dimension).fill(0);
    for (const word of text.toLowerCase().match(/\p{L}+/gu) ?? []) {
      const slot = concepts[word];
      if (slot !== undefined) v[slot]! += 1;
    }
    v[0]! += 0.05;
    return v;
  };
  return { id, dimension, embedDocuments: async (texts) => texts.map(embed), embedQuery: async (text) => embed(text) };
}

describe('LanceDB hybrid search and rebuild on embedder change', () => {
  let dir: string;
  let index: SearchIndex | undefined;

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kluis-lancedb-hybrid-'));
  });

  afterEach(async () => {
    await index?.close();
    index = undefined;
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('finds a passage by meaning that shares no word with the question, which lexical search cannot', async () => {
    const workspace = randomUUID();
    const passage = chunksOf('fleet', [{ text: 'Company car use is booked through the fleet desk.', title: 'Fleet' }, { text: 'The canteen opens at eight.', title: 'Canteen' }]);

    index = await openLanceDbIndex(dir);
    await index.replaceDocument(workspace, 'fleet', passage);
    expect(await index.search(workspace, 'automobile', { limit: 5 })).toEqual([]);
    await index.close();

    index = await openLanceDbIndex(dir, { embedder: conceptEmbedder() });
    await index.replaceDocument(workspace, 'fleet', passage);
    expect((await index.search(workspace, 'automobile', { limit: 5 })).map((h) => h.id)).toEqual(['fleet:0']);
    // Both legs agreeing ranks a passage first.
    expect((await index.search(workspace, 'canteen car', { limit: 5 })).map((h) => h.id).sort()).toEqual(['fleet:0', 'fleet:1']);
  });

  it("the vector leg never brings another workspace's or an unreadable passage (workspace and acl filter on both legs)", async () => {
    const mine = randomUUID();
    const theirs = randomUUID();
    const allowed = randomUUID();
    const other = randomUUID();
    index = await openLanceDbIndex(dir, { embedder: conceptEmbedder() });
    await index.replaceDocument(theirs, 'their-car', chunksOf('their-car', [{ text: 'Car lease terms of the other organisation.' }]));
    await index.replaceDocument(mine, 'my-car', chunksOf('my-car', [{ text: 'Vehicle lease for directors only.', acl: { users: [allowed], groups: [], everyoneInTenant: false } }]));
    await index.replaceDocument(mine, 'open', chunksOf('open', [{ text: 'Public holiday calendar.' }]));

    expect(await index.search(mine, 'automobile', { limit: 10 })).toEqual([]);
    expect(await index.search(mine, 'automobile', { limit: 10, reader: { userId: other, groupIds: [] } })).toEqual([]);
    expect((await index.search(mine, 'automobile', { limit: 10, reader: { userId: allowed, groupIds: [] } })).map((h) => h.id)).toEqual(['my-car:0']);
    expect((await index.search(theirs, 'automobile', { limit: 10, reader: { userId: allowed, groupIds: [] } })).map((h) => h.id)).toEqual(['their-car:0']);
  });

  it('an embedding failure while indexing keeps the document as it was', async () => {
    const workspace = randomUUID();
    const good = conceptEmbedder();
    let broken = false;
    const flaky: Embedder = { ...good, embedDocuments: async (texts) => (broken ? [] : good.embedDocuments(texts)) };
    index = await openLanceDbIndex(dir, { embedder: flaky });
    await index.replaceDocument(workspace, 'doc', chunksOf('doc', [{ text: 'Holiday rules v1.' }]));
    broken = true;
    const error = await index.replaceDocument(workspace, 'doc', chunksOf('doc', [{ text: 'Holiday rules v2.' }])).catch((e: unknown) => e);
    expect(isKluisError(error, 'embedding_invalid')).toBe(true);
    expect((await index.search(workspace, 'vacation', { limit: 5 })).map((h) => h.text)).toEqual(['Holiday rules v1.']);
  });

  it('records its embedder, keeps its rows when opened with the same one, and empties itself for another or none', async () => {
    const workspace = randomUUID();
    const rebuilds: Array<[unknown, unknown]> = [];
    const onRebuild = (previous: unknown, current: unknown) => rebuilds.push([previous, current]);
    const write = async () => index!.replaceDocument(workspace, 'doc', chunksOf('doc', [{ text: 'Holiday rules.' }]));

    index = await openLanceDbIndex(dir, { onRebuild });
    await write();
    await index.close();
    // Lexical -> an embedder: the rows have no vectors, so the index starts afresh.
    index = await openLanceDbIndex(dir, { embedder: conceptEmbedder('test:a'), onRebuild });
    expect(await index.countChunks(workspace)).toBe(0);
    await write();
    await index.close();
    // The same embedder again: nothing is lost.
    index = await openLanceDbIndex(dir, { embedder: conceptEmbedder('test:a'), onRebuild });
    expect(await index.countChunks(workspace)).toBe(1);
    await index.close();
    // Another model of the same dimension: its vectors cannot be compared with the stored ones.
    index = await openLanceDbIndex(dir, { embedder: conceptEmbedder('test:b'), onRebuild });
    expect(await index.countChunks(workspace)).toBe(0);
    await write();
    await index.close();
    // Same model, other dimension.
    index = await openLanceDbIndex(dir, { embedder: conceptEmbedder('test:b', 16), onRebuild });
    expect(await index.countChunks(workspace)).toBe(0);
    await write();
    expect((await index.search(workspace, 'vacation', { limit: 5 })).map((h) => h.id)).toEqual(['doc:0']);
    await index.close();
    // Back to lexical only.
    index = await openLanceDbIndex(dir, { onRebuild });
    expect(await index.countChunks(workspace)).toBe(0);

    expect(rebuilds).toEqual([
      [{ embedder: null, dimension: null }, { embedder: 'test:a', dimension: 8 }],
      [{ embedder: 'test:a', dimension: 8 }, { embedder: 'test:b', dimension: 8 }],
      [{ embedder: 'test:b', dimension: 8 }, { embedder: 'test:b', dimension: 16 }],
      [{ embedder: 'test:b', dimension: 16 }, { embedder: null, dimension: null }],
    ]);
    expect(JSON.parse(fs.readFileSync(path.join(dir, 'kluis-index.json'), 'utf8'))).toEqual({ embedder: null, dimension: null });
  });

  it('treats a damaged record as another build and starts afresh', async () => {
    const workspace = randomUUID();
    index = await openLanceDbIndex(dir, { embedder: conceptEmbedder() });
    await index.replaceDocument(workspace, 'doc', chunksOf('doc', [{ text: 'Holiday rules.' }]));
    await index.close();
    fs.writeFileSync(path.join(dir, 'kluis-index.json'), '{"embedder": "test:conc');
    index = await openLanceDbIndex(dir, { embedder: conceptEmbedder() });
    expect(await index.countChunks(workspace)).toBe(0);
  });
});
