/**
 * The SharePoint source end to end: the delta sync engine and the Graph SDK adapter against the
 * local Graph fake over real HTTP, the real MariaDB document store and a LanceDB index in a
 * temporary directory, wired as api/main.ts wires the folder source. Sync state lives in memory
 * here, behind the SyncStateStore port.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createDatabase, type Database } from '../../api/db/client';
import { createIndexer, type Indexer } from '../../api/knowledge/indexer';
import { openLanceDbIndex } from '../../api/knowledge/lancedbIndex';
import type { DocumentStore, SearchIndex } from '../../api/knowledge/ports';
import { createPrismaDocumentStore } from '../../api/knowledge/prismaDocumentStore';
import { deltaSync, readSyncProgress, SHAREPOINT_SOURCE_KIND, type SharePointSource } from '../../api/knowledge/sharepoint/deltaSync';
import { createGraphDriveClient } from '../../api/knowledge/sharepoint/graphDriveClient';
import type { GraphDriveClient, SyncStateStore } from '../../api/knowledge/sharepoint/ports';
import { ORGANIZATION_LINK_PERMISSION, SITE_MEMBERS_PERMISSION, startFakeGraph, type FakeGraph, type GraphRoute } from '../fakes/graphServer';
import { testDatabaseUrl } from '../support/database';
import { memoryStateStore } from '../support/syncState';

const repo = path.resolve(__dirname, '..', '..');
const demo = (name: string) => fs.readFileSync(path.join(repo, 'demo', 'knowledge', name));
const fixture = (name: string) => fs.readFileSync(path.join(repo, 'tests', 'fixtures', 'documents', name));
const MAX_FILE_BYTES = 256 * 1024;
const PAGE_SIZE = 10;
/**
 * Every file is shared with the site members and by an organisation-wide link, so the passages are
 * searchable for anyone in the tenant (site-group grants alone are not resolved to people yet and
 * would keep a file from everyone: see the trimming tests below).
 */
const DEFAULT_ACL = { users: [], groups: ['siteGroup:3'], everyoneInTenant: true };

const uniqueWord = (prefix: string) => `${prefix}${randomUUID().replace(/[^a-f]/g, '').slice(0, 10)}x`;

let db: Database;

beforeAll(() => {
  db = createDatabase(testDatabaseUrl(), 4);
});

afterAll(async () => {
  await db.$disconnect();
});

describe('SharePoint delta sync', () => {
  let scratch: string;
  let fake: FakeGraph;
  let workspaceId: string;
  let index: SearchIndex;
  let documents: DocumentStore;
  let indexer: Indexer;
  let stateStore: SyncStateStore;
  let graph: GraphDriveClient;
  let source: SharePointSource;
  let driveId: string;
  /** Item ids by the file's path in the drive. */
  let ids: Record<string, string>;
  let folders: Record<string, string>;
  let indexed: string[];

  const rows = () => db.document.findMany({ where: { workspaceId }, orderBy: { sourceRef: 'asc' } });
  const refOf = (file: string) => `${driveId}/${ids[file]}`;
  const rowOf = async (file: string) => (await rows()).find((r) => r.sourceRef === refOf(file));
  const search = (query: string, limit = 10) => index.search(workspaceId, query, { limit });
  const refsFound = async (query: string) => (await search(query)).map((h) => h.sourceRef);
  const sync = (over: Partial<SharePointSource> = {}) => deltaSync({ ...source, ...over }, { graph, indexer, documents, index, state: stateStore });
  const requestsTo = (route: GraphRoute) => fake.requests.filter((r) => r.route === route);
  const client = (overrides: { maxRetries?: number } = {}) =>
    createGraphDriveClient({ baseUrl: fake.baseUrl, getToken: async () => fake.token, maxDownloadBytes: MAX_FILE_BYTES, maxRetries: overrides.maxRetries ?? 3, baseDelayMs: 10 });

  /**
   * 25 files (24 supported, one spreadsheet) in four folders: with the root, 30 items, so the first
   * enumeration comes in three pages of ten.
   */
  function populateDrive() {
    ({ driveId } = fake.addDrive());
    ids = {};
    folders = {};
    for (const name of ['Beleid', 'Projecten', 'Archief']) folders[name] = fake.addFolder(driveId, name);
    folders['Projecten/Notulen'] = fake.addFolder(driveId, 'Notulen', folders['Projecten']);
    const add = (file: string, content: Buffer | string) => {
      const dir = path.posix.dirname(file);
      ids[file] = fake.addFile(driveId, { name: path.posix.basename(file), content, parentId: dir === '.' ? undefined : folders[dir] });
    };
    add('travel-policy.txt', demo('travel-policy.txt'));
    add('verlofbeleid.md', demo('verlofbeleid.md'));
    for (const name of ['bedrijfswagen-en-mobiliteit.md', 'data-protection-gdpr.md', 'it-security-policy.pdf', 'onboarding-guide.html', 'onkostenbeleid.md', 'thuiswerkbeleid.docx']) add(`Beleid/${name}`, demo(name));
    for (const name of ['headings.docx', 'latin1.txt', 'notes.md', 'page.html', 'two-pages.pdf']) add(`Projecten/${name}`, fixture(name));
    for (let i = 1; i <= 10; i++) add(`Projecten/Notulen/notulen-${String(i).padStart(2, '0')}.md`, `# Notulen overleg ${i}\n\nOp overleg ${i} is de planning van fase ${i} besproken en goedgekeurd.\n`);
    add('Archief/notulen-2019.md', '# Notulen 2019\n\nHet archief van het kwijtgeraakte overleg over de fietsenstalling.\n');
    add('Archief/budget-2024.xls', Buffer.from('PK\u0003\u0004 not a real workbook'));
  }
  const SUPPORTED = 24;

  beforeEach(async () => {
    scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'kluis-sharepoint-sync-'));
    fake = await startFakeGraph({ pageSize: PAGE_SIZE, defaultPermissions: [SITE_MEMBERS_PERMISSION, ORGANIZATION_LINK_PERMISSION] });
    populateDrive();
    workspaceId = randomUUID();
    await db.workspace.create({ data: { id: workspaceId, name: 'SharePoint sync test', tenantId: randomUUID() } });
    index = await openLanceDbIndex(path.join(scratch, 'index'));
    documents = createPrismaDocumentStore(db);
    indexed = [];
    const real = createIndexer({ documents, index });
    indexer = {
      indexFile: (ws, file) => {
        indexed.push(file.sourceRef);
        return real.indexFile(ws, file);
      },
      removeDocument: (ws, id) => real.removeDocument(ws, id),
    };
    stateStore = memoryStateStore();
    graph = client();
    source = { id: 'sharepoint-main', workspaceId, driveId, maxFileBytes: MAX_FILE_BYTES };
  });

  afterEach(async () => {
    await index.close();
    await db.workspace.deleteMany({ where: { id: workspaceId } });
    await fake.close();
    fs.rmSync(scratch, { recursive: true, force: true });
  });

  it('indexes the whole drive on the first sync, in three pages, and finds a known phrase', async () => {
    const result = await sync();

    expect(result.progress).toMatchObject({ status: 'completed', mode: 'full', pages: 3, seen: 25, indexed: SUPPORTED, unchanged: 0, removed: 0, failed: [], resyncs: 0 });
    expect(result.progress.skipped).toEqual([{ sourceRef: refOf('Archief/budget-2024.xls'), name: 'budget-2024.xls', reason: 'unsupported file type (.xls)' }]);
    expect(requestsTo('delta').map((r) => r.page)).toEqual([1, 2, 3]);
    const stored = await rows();
    expect(stored).toHaveLength(SUPPORTED);
    for (const row of stored) {
      expect(row).toMatchObject({ sourceKind: SHAREPOINT_SOURCE_KIND, status: 'indexed', error: null, url: expect.stringMatching(/^https:\/\/contoso\.sharepoint\.com\/sites\/kluis\/Shared%20Documents\//) });
      expect(row.sourceRef.startsWith(`${driveId}/`)).toBe(true);
      expect(await index.countChunks(workspaceId, row.id)).toBe(row.chunkCount);
      expect(result.acl[row.id]).toEqual(DEFAULT_ACL);
    }
    expect((await rowOf('Beleid/onkostenbeleid.md'))?.url).toBe('https://contoso.sharepoint.com/sites/kluis/Shared%20Documents/Beleid/onkostenbeleid.md');

    const [hotel] = await search('What is the hotel limit per night in Paris?');
    expect(hotel?.sourceRef).toBe(refOf('travel-policy.txt'));
    expect(hotel?.text).toContain('EUR 185 per night');
    expect(await refsFound('ALPHA-7731')).toContain(refOf('Projecten/two-pages.pdf'));

    // The token went to Graph only: the pre-authenticated download host never saw it.
    expect(requestsTo('download')).toHaveLength(SUPPORTED);
    expect(requestsTo('download').every((r) => r.authorization === undefined)).toBe(true);
    expect(requestsTo('content').every((r) => r.authorization === `Bearer ${fake.token}`)).toBe(true);
    expect(await readSyncProgress(stateStore, workspaceId, source.id)).toEqual(result.progress);
  });

  it('re-indexes only a changed file, dropping its old text', async () => {
    await sync();
    const before = await rows();
    fake.requests.length = 0;
    indexed.length = 0;
    const marker = uniqueWord('zeppelin');
    fake.updateFile(driveId, ids['travel-policy.txt']!, `TRAVEL POLICY (revised)\n\nHotel nights are now booked through the ${marker} portal only. The nightly hotel limit is EUR 240.\n`);

    const result = await sync();

    expect(result.progress).toMatchObject({ mode: 'changes', pages: 1, seen: 1, indexed: 1, unchanged: 0, removed: 0 });
    expect(indexed).toEqual([refOf('travel-policy.txt')]);
    expect(requestsTo('content').map((r) => r.url)).toEqual([`/v1.0/drives/${encodeURIComponent(driveId)}/items/${ids['travel-policy.txt']}/content`]);
    expect(requestsTo('delta')).toEqual([expect.objectContaining({ withDeltaToken: true, page: 1 })]);
    expect((await search('EUR 185 per night')).some((h) => h.text.includes('185 per night'))).toBe(false);
    expect(await refsFound(marker)).toEqual([refOf('travel-policy.txt')]);
    const after = await rows();
    const travelBefore = before.find((r) => r.sourceRef === refOf('travel-policy.txt'))!;
    expect(after.find((r) => r.sourceRef === refOf('travel-policy.txt'))!.id).toBe(travelBefore.id);
    for (const row of after.filter((r) => r.id !== travelBefore.id)) {
      expect(row.indexedAt.getTime()).toBe(before.find((b) => b.id === row.id)!.indexedAt.getTime());
    }
  });

  it('removes the chunks and the document of a deleted file', async () => {
    await sync();
    const notes = (await rowOf('Projecten/notes.md'))!;
    const chunksBefore = await index.countChunks(workspaceId);
    expect(await refsFound('Leie pedestrian bridge')).toContain(refOf('Projecten/notes.md'));
    fake.deleteItem(driveId, ids['Projecten/notes.md']!);

    const result = await sync();

    expect(result.progress).toMatchObject({ mode: 'changes', removed: 1, seen: 0, indexed: 0 });
    expect(await rowOf('Projecten/notes.md')).toBeUndefined();
    expect(await rows()).toHaveLength(SUPPORTED - 1);
    expect(await index.countChunks(workspaceId, notes.id)).toBe(0);
    expect(await index.countChunks(workspaceId)).toBe(chunksBefore - notes.chunkCount);
    expect(await refsFound('Leie pedestrian bridge')).not.toContain(refOf('Projecten/notes.md'));
  });

  it('after the index is rebuilt for another embedder, the next sync enumerates the drive again and re-indexes every file', async () => {
    await sync();
    const quiet = await sync();
    expect(quiet.progress).toMatchObject({ mode: 'changes', indexed: 0 });

    // Kluis restarts with an embedder: the lexical index is emptied (the index records what built it).
    await index.close();
    const rebuilds: unknown[] = [];
    const embedder = {
      id: 'test:words',
      dimension: 16,
      embedDocuments: async (texts: string[]) => texts.map((t) => Array.from({ length: 16 }, (_, i) => (i === 0 ? 1 : (t.length % (i + 1)) / (i + 1)))),
      embedQuery: async (t: string) => Array.from({ length: 16 }, (_, i) => (i === 0 ? 1 : (t.length % (i + 1)) / (i + 1))),
    };
    index = await openLanceDbIndex(path.join(scratch, 'index'), { embedder, onRebuild: (previous) => rebuilds.push(previous) });
    expect(rebuilds).toEqual([{ embedder: null, dimension: null }]);
    expect(await index.countChunks(workspaceId)).toBe(0);
    const real = createIndexer({ documents, index });
    indexer = { indexFile: (ws, file) => (indexed.push(file.sourceRef), real.indexFile(ws, file)), removeDocument: (ws, id) => real.removeDocument(ws, id) };
    fake.requests.length = 0;
    indexed.length = 0;

    const result = await sync();

    expect(result.progress).toMatchObject({ status: 'completed', mode: 'full', indexed: SUPPORTED, unchanged: 0 });
    expect(requestsTo('delta').every((r) => !r.withDeltaToken)).toBe(true);
    expect(indexed).toHaveLength(SUPPORTED);
    for (const row of await rows()) expect(await index.countChunks(workspaceId, row.id)).toBe(row.chunkCount);
    const [hotel] = await search('What is the hotel limit per night in Paris?');
    expect(hotel?.sourceRef).toBe(refOf('travel-policy.txt'));

    // And then it is back to changes only.
    expect((await sync()).progress).toMatchObject({ mode: 'changes', indexed: 0 });
  });

  it('uses the last occurrence of an item listed twice in one page', async () => {
    await sync();
    const travel = (await rowOf('travel-policy.txt'))!;
    const verlof = (await rowOf('verlofbeleid.md'))!;
    fake.requests.length = 0;
    indexed.length = 0;

    // travel-policy.txt: changed, then deleted; listed first as changed, last as deleted.
    fake.updateFile(driveId, ids['travel-policy.txt']!, 'TRAVEL POLICY\n\nA version that was deleted right after.\n');
    const changedThenDeleted = fake.itemJson(driveId, ids['travel-policy.txt']!);
    fake.deleteItem(driveId, ids['travel-policy.txt']!);
    // verlofbeleid.md: a stale "deleted" entry first, the changed file last.
    const marker = uniqueWord('vakantie');
    fake.updateFile(driveId, ids['verlofbeleid.md']!, `# Verlofbeleid\n\nVanaf nu geldt de ${marker} regeling voor alle verlofaanvragen.\n`);
    fake.injectChange(driveId, changedThenDeleted, { id: ids['verlofbeleid.md']!, deleted: { state: 'deleted' }, parentReference: { driveId } });

    const result = await sync();

    expect(requestsTo('delta')).toHaveLength(1);
    expect(result.progress).toMatchObject({ removed: 1, indexed: 1, seen: 1 });
    expect(indexed).toEqual([refOf('verlofbeleid.md')]);
    expect(requestsTo('content').map((r) => r.url)).toEqual([expect.stringContaining(ids['verlofbeleid.md']!)]);
    expect(await index.countChunks(workspaceId, travel.id)).toBe(0);
    expect(await rowOf('travel-policy.txt')).toBeUndefined();
    // Never removed in between: the same document, with the new text.
    expect((await rowOf('verlofbeleid.md'))!.id).toBe(verlof.id);
    expect(await refsFound(marker)).toEqual([refOf('verlofbeleid.md')]);
  });

  it('indexes only descendants of the folder of a folder-scoped source', async () => {
    const scoped = { id: 'sharepoint-projecten', folderId: folders['Projecten'] };
    const projectFiles = Object.keys(ids).filter((f) => f.startsWith('Projecten/'));

    const result = await sync(scoped);

    expect(result.progress).toMatchObject({ status: 'completed', seen: projectFiles.length, indexed: projectFiles.length, skipped: [], failed: [] });
    expect((await rows()).map((r) => r.sourceRef).sort()).toEqual(projectFiles.map(refOf).sort());
    const downloaded = requestsTo('content').map((r) => r.url.split('/items/')[1]!.split('/')[0]);
    expect(downloaded.sort()).toEqual(projectFiles.map((f) => ids[f]!).sort());
    expect((await search('EUR 185 per night')).some((h) => h.text.includes('185 per night'))).toBe(false);

    // Moving a file in brings it in; moving a folder out takes what it holds out with it.
    fake.moveItem(driveId, ids['travel-policy.txt']!, { parentId: folders['Projecten'] });
    fake.moveItem(driveId, folders['Projecten/Notulen']!, { parentId: folders['Archief'] });
    const moved = await sync(scoped);

    expect(moved.progress).toMatchObject({ indexed: 1, removed: 10 });
    expect((await rows()).map((r) => r.sourceRef).sort()).toEqual(
      [...projectFiles.filter((f) => !f.startsWith('Projecten/Notulen/')), 'travel-policy.txt'].map(refOf).sort(),
    );
  });

  it('resumes a sync that crashed mid-way from the saved link, without fetching the first page again', async () => {
    graph = client({ maxRetries: 1 });
    fake.crashOnDeltaPage(2);

    await expect(sync()).rejects.toMatchObject({ id: 'graph_unavailable' });
    const interrupted = await readSyncProgress(stateStore, workspaceId, source.id);
    expect(interrupted).toMatchObject({ status: 'interrupted', pages: 1, error: expect.stringMatching(/\S/) });
    expect(requestsTo('delta').map((r) => [r.page, r.status])).toEqual([
      [1, 200],
      [2, 0],
      [2, 0],
    ]);
    const firstPageFiles = indexed.length;
    expect(firstPageFiles).toBeGreaterThan(0);

    fake.crashOnDeltaPage(undefined);
    fake.requests.length = 0;
    const result = await sync();

    expect(requestsTo('delta').map((r) => [r.page, r.status])).toEqual([
      [2, 200],
      [3, 200],
    ]);
    expect(result.progress).toMatchObject({ status: 'completed', mode: 'full', pages: 3, indexed: SUPPORTED, error: undefined });
    // The first page's files were not downloaded again.
    expect(requestsTo('content')).toHaveLength(SUPPORTED - firstPageFiles);
    expect(await rows()).toHaveLength(SUPPORTED);
  });

  it('completes a throttled run, waiting out Retry-After, with one extra call per throttled request', async () => {
    fake.failNext('delta', { kind: 'throttle', status: 429, retryAfterSeconds: 1 });
    fake.failNext('content', { kind: 'throttle', status: 429, retryAfterSeconds: 1 });
    const started = performance.now();

    const result = await sync();

    expect(performance.now() - started).toBeGreaterThanOrEqual(1900);
    expect(result.progress).toMatchObject({ status: 'completed', pages: 3, indexed: SUPPORTED, failed: [] });
    expect(requestsTo('delta').map((r) => r.status)).toEqual([429, 200, 200, 200]);
    expect(requestsTo('content')).toHaveLength(SUPPORTED + 1);
    expect(requestsTo('content')[0]!.status).toBe(429);
    expect(requestsTo('permissions')).toHaveLength(SUPPORTED);
    expect(requestsTo('download')).toHaveLength(SUPPORTED);
  });

  it('answers 410 Gone with a full resync that prunes a file deleted while the token was expired', async () => {
    await sync();
    const archived = (await rowOf('Archief/notulen-2019.md'))!;
    fake.deleteItem(driveId, ids['Archief/notulen-2019.md']!);
    fake.expireDeltaTokens(driveId);
    fake.requests.length = 0;
    indexed.length = 0;

    const result = await sync();

    expect(result.progress).toMatchObject({ status: 'completed', mode: 'full', resyncs: 1, removed: 1, unchanged: SUPPORTED - 1, indexed: 0, pages: 3 });
    const deltas = requestsTo('delta');
    expect(deltas.map((r) => [r.status, r.page])).toEqual([
      [410, 1],
      [200, 1],
      [200, 2],
      [200, 3],
    ]);
    expect(deltas[0]!.withDeltaToken).toBe(true);
    // The fresh enumeration started from the Location header's link, not from a guess.
    expect(deltas[1]!.url).toMatch(/root\/delta\?token=/);
    expect(indexed).toEqual([]);
    expect(requestsTo('content')).toEqual([]);
    expect(await rowOf('Archief/notulen-2019.md')).toBeUndefined();
    expect(await index.countChunks(workspaceId, archived.id)).toBe(0);
    expect((await search('kwijtgeraakte fietsenstalling')).some((h) => h.text.includes('kwijtgeraakte'))).toBe(false);
    expect(await rows()).toHaveLength(SUPPORTED - 1);
  });

  it('reports a corrupt file with the reason and still indexes the rest', async () => {
    await sync();
    const marker = uniqueWord('planning');
    ids['Projecten/corrupt.docx'] = fake.addFile(driveId, { name: 'corrupt.docx', content: fixture('corrupt.docx'), parentId: folders['Projecten'] });
    ids['Projecten/new.md'] = fake.addFile(driveId, { name: 'new.md', content: `# Nieuw\n\nDe ${marker} start volgende week.\n`, parentId: folders['Projecten'] });

    const result = await sync();

    expect(result.progress).toMatchObject({ status: 'completed', seen: 2, indexed: 1 });
    expect(result.progress.failed).toEqual([{ sourceRef: refOf('Projecten/corrupt.docx'), name: 'corrupt.docx', reason: expect.stringMatching(/\S/) }]);
    expect(await rowOf('Projecten/corrupt.docx')).toMatchObject({ status: 'failed', chunkCount: 0, error: expect.stringMatching(/\S/) });
    expect(await refsFound(marker)).toEqual([refOf('Projecten/new.md')]);
    expect(await rows()).toHaveLength(SUPPORTED + 2);
  });
});
