/**
 * Knowledge pipeline: how fast files become chunks, how a SharePoint drive of many files syncs,
 * and what permission trimming costs a search.
 *
 * 1. Ingestion. Every readable file of the demo folder and the document fixtures is read, hashed,
 *    extracted and chunked, as the indexer does it, over and over; per format, pages per second
 *    (PDF pages; the sections of the other formats) and MB per second. Baseline: reading the same
 *    bytes and hashing them with sha256, the I/O every file costs whatever happens next. Then the
 *    whole indexer (extract -> chunk -> LanceDB replaceDocument) over the demo folder repeated N
 *    times, against extract and chunk alone over the same files.
 * 2. Sync. A local Graph server (tests/fakes/graphServer.ts) holds a drive of small markdown files
 *    in delta pages of 200, every 10th shared with one user, the rest by an organisation-wide link.
 *    The delta sync engine runs against it through the Graph client over HTTP, into a private
 *    MariaDB (document records) and LanceDB: once in full, then again after 1% of the files changed
 *    and 0.5% were deleted. Graph calls are counted per route from the fake's request log.
 * 3. Search with ACLs. One workspace of 100k chunks among nine smaller ones: 90% of the chunks
 *    shared with everyone, 10% with one of 50 users or one of 20 groups. The same questions are
 *    asked as a reader in 5 groups and without a reader (the fail-closed path: '*' chunks only), and
 *    both are set against a table of the same size and text whose chunks carry no acl.
 * 4. Memory: RSS and heap used before and after each part (process.memoryUsage, without forcing a
 *    garbage collection; MariaDB runs in its own process and is not counted).
 */
import { createHash, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as lancedb from '@lancedb/lancedb';
import { createDatabase, type Database } from '../api/db/client';
import { startEmbeddedMariadb, type EmbeddedMariadb } from '../api/db/embeddedMariadb';
import { migrateDatabase } from '../api/db/migrate';
import { chunkSections } from '../api/knowledge/chunk';
import { extractDocument, isSupportedFile } from '../api/knowledge/extract';
import { contentHash, createIndexer } from '../api/knowledge/indexer';
import { openLanceDbIndex } from '../api/knowledge/lancedbIndex';
import type { Acl, ChunkRecord, DocumentRecord, DocumentStore, Reader, SearchIndex } from '../api/knowledge/ports';
import { createPrismaDocumentStore } from '../api/knowledge/prismaDocumentStore';
import { deltaSync, SHAREPOINT_SOURCE_KIND, type SharePointSource } from '../api/knowledge/sharepoint/deltaSync';
import { createGraphDriveClient } from '../api/knowledge/sharepoint/graphDriveClient';
import type { GraphDriveClient } from '../api/knowledge/sharepoint/ports';
import { ORGANIZATION_LINK_PERMISSION, startFakeGraph, type FakeGraph, type GraphRoute } from '../tests/fakes/graphServer';
import { DEMO_KNOWLEDGE_DIR, loadDemoDocuments, QUESTIONS, REPO_ROOT, synthesiseDocument, type SeedDocument } from './corpus';
import { seededRandom, shuffled, sleep, summarize, type BenchContext, type BenchResult, type Figure, type Summary } from './stats';
import { memoryStateStore } from '../tests/support/syncState';

const BENCH = 'knowledge';
const FIXTURE_DIR = path.join(REPO_ROOT, 'tests', 'fixtures', 'documents');
const MB = 1024 * 1024;
/** What the knowledge module asks the index for with the default RETRIEVAL_TOP_K of 4 (4 x 3). */
const SEARCH_LIMIT = 12;
/**
 * Files in the synced drive. Each indexed file is one LanceDB write. Before the adapter compacted
 * every 100 writes (dropping old table versions), each write left a fragment and a version that
 * every later filtered delete scanned, so a write cost more as the sync went on (about 0.12 ms per
 * fragment per write, a 10k-file sync near an hour). With compaction a 10k-file full sync takes
 * about ten minutes here, the write cost per file nearly flat from the first 1,000 files to the last.
 */
const SYNC_FILES = { full: 10_000, quick: 400 };
const SYNC_PAGE_SIZE = 200;
const SYNC_FOLDERS = 20;
const SEARCH_WORKSPACES = 10;
/**
 * Chunks per document in the search tables: large, only so that 2 x 109k rows go in within the
 * run's time (fewer writes; the adapter merges every 5000 rows either way). A document's chunks
 * share its title, which is searched too, so this is the one way it shows in the searches.
 */
const CHUNKS_PER_DOCUMENT = 1000;
const ACL_USERS = 50;
const ACL_GROUPS = 20;
const READER_GROUPS = 5;
/** How long to wait for the adapter's idle merge to bring every row into the FTS index. */
const MERGE_WAIT_MS = 180_000;

const sizeLabel = (n: number) => (n >= 1000 ? `${n / 1000}k` : String(n));
const times = (fast: number, slow: number) => `${(slow / fast).toFixed(slow / fast < 10 ? 1 : 0)}x`;

export async function runKnowledge(context: BenchContext): Promise<BenchResult> {
  const figures: Figure[] = [];
  const memoryFigures: Figure[] = [];
  const notes: string[] = [];
  const seeds = await loadDemoDocuments();

  /** Runs one part between two readings of process.memoryUsage(). */
  const part = async (name: string, work: () => Promise<void>) => {
    const before = process.memoryUsage();
    await work();
    const after = process.memoryUsage();
    context.log(`  memory, ${name}: RSS ${(before.rss / MB).toFixed(0)} -> ${(after.rss / MB).toFixed(0)} MB, heap used ${(before.heapUsed / MB).toFixed(0)} -> ${(after.heapUsed / MB).toFixed(0)} MB`);
    memoryFigures.push(
      { benchmark: BENCH, metric: `memory, ${name}: RSS after`, value: after.rss / MB, unit: 'MB', baseline: { label: 'RSS before', value: before.rss / MB } },
      { benchmark: BENCH, metric: `memory, ${name}: heap used after`, value: after.heapUsed / MB, unit: 'MB', baseline: { label: 'heap used before', value: before.heapUsed / MB } },
    );
  };

  await part('ingestion', async () => {
    const result = await measureIngestion(context);
    figures.push(...result.figures);
    notes.push(...result.notes);
  });
  await part(`sync ${sizeLabel(context.quick ? SYNC_FILES.quick : SYNC_FILES.full)}`, async () => {
    const result = await measureSync(context, seeds);
    figures.push(...result.figures);
    notes.push(...result.notes);
  });
  await part(`search ${sizeLabel(context.quick ? 10_000 : 100_000)}`, async () => {
    const result = await measureAclSearch(context, seeds);
    figures.push(...result.figures);
    notes.push(...result.notes);
  });
  notes.push(
    `${BENCH}: throughput figures in MB are MB per second (1 MB = 2^20 bytes); memory is this process's RSS and V8 heap used, read before and after each part without forcing a garbage collection (MariaDB runs in a process of its own and is not counted).`,
  );
  return { figures: [...figures, ...memoryFigures], notes };
}

// ---------------------------------------------------------------------------------------------
// 1. Ingestion
// ---------------------------------------------------------------------------------------------

interface SampleFile {
  name: string;
  file: string;
  bytes: number;
  pages: number;
  chunks: number;
}

async function measureIngestion({ quick, log }: BenchContext): Promise<BenchResult> {
  const iterations = quick ? 10 : 50;
  const repetitions = quick ? 4 : 20;
  const figures: Figure[] = [];
  const notes: string[] = [];

  // Every supported file that extracts; the corrupt and empty fixtures are there to fail.
  const byFormat = new Map<string, SampleFile[]>();
  const unreadable: string[] = [];
  for (const dir of [DEMO_KNOWLEDGE_DIR, FIXTURE_DIR]) {
    for (const name of fs.readdirSync(dir).filter(isSupportedFile).sort()) {
      const file = path.join(dir, name);
      const bytes = fs.readFileSync(file);
      try {
        const extracted = await extractDocument(name, bytes);
        const format = path.extname(name).toLowerCase();
        const list = byFormat.get(format) ?? [];
        list.push({ name, file, bytes: bytes.length, pages: extracted.sections.length, chunks: chunkSections(extracted.sections).length });
        byFormat.set(format, list);
      } catch {
        unreadable.push(name);
      }
    }
  }

  const FORMAT_ORDER = ['.md', '.txt', '.html', '.docx', '.pdf'];
  // The formats asked about first, then any other the extractor supports and a fixture exercises.
  const rank = (format: string) => (FORMAT_ORDER.includes(format) ? FORMAT_ORDER.indexOf(format) : FORMAT_ORDER.length);
  const formats = [...byFormat.keys()].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
  for (const format of formats) {
    const files = byFormat.get(format)!;
    // One untimed pass: the PDF and Word libraries load on first use.
    for (const f of files) await pipeline(f);
    let pipelineMs = 0;
    let ioMs = 0;
    // Interleaved per file, so drift in machine load hits the pipeline and its baseline alike.
    for (let i = 0; i < iterations; i++) {
      for (const f of files) {
        let started = performance.now();
        createHash('sha256').update(fs.readFileSync(f.file)).digest('hex');
        ioMs += performance.now() - started;
        started = performance.now();
        await pipeline(f);
        pipelineMs += performance.now() - started;
      }
    }
    const bytes = files.reduce((sum, f) => sum + f.bytes, 0) * iterations;
    const pages = files.reduce((sum, f) => sum + f.pages, 0) * iterations;
    const chunks = files.reduce((sum, f) => sum + f.chunks, 0);
    const mbps = bytes / MB / (pipelineMs / 1000);
    const ioMbps = bytes / MB / (ioMs / 1000);
    const pagesPerSecond = pages / (pipelineMs / 1000);
    const unit = format === '.pdf' ? 'pages' : 'sections';
    log(
      `  ${format}: ${files.map((f) => f.name).join(', ')} x ${iterations}: ${pagesPerSecond.toFixed(0)} ${unit}/s, ${mbps.toFixed(2)} MB/s; read+sha256 ${ioMbps.toFixed(1)} MB/s (${(pipelineMs / (files.length * iterations)).toFixed(2)} vs ${(ioMs / (files.length * iterations)).toFixed(3)} ms per file)`,
    );
    figures.push(
      {
        benchmark: BENCH,
        metric: `ingest ${format}: extract+chunk, ${unit}/s`,
        value: pagesPerSecond,
        unit: 'count',
        note: `${files.length} file${files.length === 1 ? '' : 's'}, ${pages / iterations} ${unit}, ${chunks} chunks, ${((bytes / iterations) / 1024).toFixed(1)} KB per pass; ${iterations} passes`,
      },
      {
        benchmark: BENCH,
        metric: `ingest ${format}: extract+chunk, MB/s`,
        value: mbps,
        unit: 'MB',
        baseline: { label: 'read+sha256 of the same bytes, MB/s', value: ioMbps },
        note: `read+sha256 alone ${times(ioMs, pipelineMs)} faster`,
      },
    );
  }
  notes.push(
    `${BENCH}: ingestion per format reads each file, hashes it (sha256, as the indexer does) and extracts and chunks it, ${iterations} passes after one untimed pass; the baseline reads and hashes the same file, interleaved with it. PDF "pages" are pages with text; for the other formats a page is a section as the extractor returns it (a heading and what follows it; a .txt file is one section).` +
      (unreadable.length ? ` Left out because extraction refuses them: ${unreadable.join(', ')}.` : ''),
  );

  // Full indexing over the demo folder, repeated as new documents each time.
  const demo = fs
    .readdirSync(DEMO_KNOWLEDGE_DIR)
    .filter(isSupportedFile)
    .sort()
    .map((name) => ({ name, bytes: fs.readFileSync(path.join(DEMO_KNOWLEDGE_DIR, name)) }));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kluis-bench-ingest-'));
  let index: SearchIndex | undefined;
  try {
    index = await openLanceDbIndex(dir);
    const indexer = createIndexer({ documents: memoryDocumentStore(), index });
    let indexMs = 0;
    let extractMs = 0;
    let chunks = 0;
    for (let rep = 0; rep < repetitions; rep++) {
      let started = performance.now();
      for (const f of demo) {
        contentHash(f.bytes);
        chunkSections((await extractDocument(f.name, f.bytes)).sections);
      }
      extractMs += performance.now() - started;
      started = performance.now();
      for (const f of demo) {
        const record = await indexer.indexFile('bench-ingest', { sourceKind: 'folder', sourceRef: `copy-${rep}/${f.name}`, fileName: f.name, bytes: f.bytes });
        if (record.status !== 'indexed') throw new Error(`${f.name} was not indexed: ${record.error}`);
        chunks += record.chunkCount;
      }
      indexMs += performance.now() - started;
    }
    const bytes = demo.reduce((sum, f) => sum + f.bytes.length, 0) * repetitions;
    const mbps = bytes / MB / (indexMs / 1000);
    const extractMbps = bytes / MB / (extractMs / 1000);
    const stored = await index.countChunks('bench-ingest');
    if (stored !== chunks) throw new Error(`The index holds ${stored} chunks, expected ${chunks}`);
    log(`  indexing demo folder x ${repetitions}: ${mbps.toFixed(2)} MB/s, ${(chunks / (indexMs / 1000)).toFixed(0)} chunks/s; extract+chunk alone ${extractMbps.toFixed(2)} MB/s`);
    figures.push({
      benchmark: BENCH,
      metric: `index demo folder x${repetitions}: extract+chunk+LanceDB, MB/s`,
      value: mbps,
      unit: 'MB',
      baseline: { label: 'extract+chunk alone, same files, MB/s', value: extractMbps },
      note: `${demo.length * repetitions} documents, ${chunks} chunks, ${(chunks / (indexMs / 1000)).toFixed(0)} chunks/s`,
    });
    notes.push(
      `${BENCH}: full indexing runs the indexer (read bytes -> sha256 -> extract -> chunk -> LanceDB replaceDocument, FTS index created on the first document and merged by the adapter) over the ${demo.length} demo files ${repetitions} times as new documents each time, with an in-memory document store so only the pipeline and the index are timed; its baseline hashes, extracts and chunks the same files, once per repetition, just before.`,
    );
  } finally {
    await index?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return { figures, notes };

  async function pipeline(f: SampleFile): Promise<void> {
    const bytes = fs.readFileSync(f.file);
    contentHash(bytes);
    chunkSections((await extractDocument(f.name, bytes)).sections);
  }
}

function memoryDocumentStore(): DocumentStore {
  const rows = new Map<string, DocumentRecord>();
  return {
    async listBySource(workspaceId, sourceKind) {
      return [...rows.values()].filter((r) => r.workspaceId === workspaceId && r.sourceKind === sourceKind);
    },
    async save(draft) {
      const key = JSON.stringify([draft.workspaceId, draft.sourceKind, draft.sourceRef]);
      const record = { ...draft, id: rows.get(key)?.id ?? randomUUID() };
      rows.set(key, record);
      return record;
    },
    async remove(workspaceId, documentId) {
      for (const [key, r] of rows) if (r.workspaceId === workspaceId && r.id === documentId) rows.delete(key);
    },
  };
}

// ---------------------------------------------------------------------------------------------
// 2. SharePoint delta sync
// ---------------------------------------------------------------------------------------------

/** A GUID drawn from the seeded generator, so the same principals come back in every run. */
function seededGuid(random: () => number): string {
  const hex = Array.from({ length: 32 }, () => Math.floor(random() * 16).toString(16)).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20)}`;
}

/** A small markdown file: a title, a heading and one passage made from the demo documents' sentences. */
function markdownFile(seed: SeedDocument, n: number, random: () => number): string {
  const [chunk] = synthesiseDocument(seed, `file-${n}`, n, 1, random);
  return `# ${chunk!.title}\n\n## ${chunk!.heading ?? 'Overzicht'}\n\n${chunk!.text}\n`;
}

interface SyncRun {
  seconds: number;
  calls: Record<'delta' | 'permissions' | 'content' | 'download', number>;
  failedCalls: number;
}

async function measureSync({ quick, log }: BenchContext, seeds: SeedDocument[]): Promise<BenchResult> {
  const files = quick ? SYNC_FILES.quick : SYNC_FILES.full;
  const label = sizeLabel(files);
  const random = seededRandom(20250402);
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'kluis-bench-sync-'));
  // mariadbd runs as the mysql user when we are root, and must be able to enter the folder.
  fs.chmodSync(root, 0o755);
  let mariadb: EmbeddedMariadb | undefined;
  let db: Database | undefined;
  let fake: FakeGraph | undefined;
  let index: SearchIndex | undefined;
  try {
    let started = performance.now();
    mariadb = await startEmbeddedMariadb({ dir: path.join(root, 'mariadb') });
    const databaseUrl = await mariadb.createDatabase('kluis_bench_knowledge');
    await migrateDatabase(databaseUrl);
    db = createDatabase(databaseUrl, 4);
    const workspaceId = randomUUID();
    await db.workspace.create({ data: { id: workspaceId, name: 'Knowledge benchmark', tenantId: randomUUID() } });
    log(`  private MariaDB ready and migrated in ${((performance.now() - started) / 1000).toFixed(1)} s`);

    started = performance.now();
    fake = await startFakeGraph({ pageSize: SYNC_PAGE_SIZE });
    const { driveId } = fake.addDrive();
    const folders = Array.from({ length: SYNC_FOLDERS }, (_, i) => fake!.addFolder(driveId, `Map ${String(i + 1).padStart(2, '0')}`));
    const users = Array.from({ length: ACL_USERS }, () => seededGuid(random));
    const itemIds: string[] = [];
    let driveBytes = 0;
    for (let n = 0; n < files; n++) {
      const content = markdownFile(seeds[n % seeds.length]!, n, random);
      driveBytes += Buffer.byteLength(content);
      const user = users[n % users.length]!;
      const permissions =
        n % 10 === 9 ? [{ id: `dXNlci${n}`, roles: ['read'], grantedToV2: { user: { id: user, displayName: `Medewerker ${n % users.length}` } } }] : [ORGANIZATION_LINK_PERMISSION];
      itemIds.push(fake.addFile(driveId, { name: `notitie-${String(n).padStart(5, '0')}.md`, content, parentId: folders[n % folders.length], permissions }));
    }
    const items = 1 + SYNC_FOLDERS + files;
    log(`  fake drive: ${files} markdown files (${(driveBytes / MB).toFixed(1)} MB) in ${SYNC_FOLDERS} folders, ${items} items, set up in ${((performance.now() - started) / 1000).toFixed(1)} s`);

    index = await openLanceDbIndex(path.join(root, 'index'));
    // Thin timing wrappers around the three ports the sync drives, to tell where its time goes.
    const clock = { graph: 0, documents: 0, index: 0 };
    const writes: number[] = [];
    const timed = async <R>(port: keyof typeof clock, work: () => Promise<R>, samples?: number[]): Promise<R> => {
      const t = performance.now();
      try {
        return await work();
      } finally {
        const elapsed = performance.now() - t;
        clock[port] += elapsed;
        samples?.push(elapsed);
      }
    };
    const client = createGraphDriveClient({ baseUrl: fake.baseUrl, getToken: async () => fake!.token, maxDownloadBytes: MB, baseDelayMs: 10 });
    const graph: GraphDriveClient = {
      delta: (request) => timed('graph', () => client.delta(request)),
      download: (drive, item) => timed('graph', () => client.download(drive, item)),
      permissions: (drive, item) => timed('graph', () => client.permissions(drive, item)),
      groupsOf: (user) => timed('graph', () => client.groupsOf(user)),
    };
    const store = createPrismaDocumentStore(db);
    const documents: DocumentStore = {
      listBySource: (ws, kind) => timed('documents', () => store.listBySource(ws, kind)),
      save: (draft) => timed('documents', () => store.save(draft)),
      remove: (ws, id) => timed('documents', () => store.remove(ws, id)),
    };
    const lance = index;
    const searchIndex: SearchIndex = {
      replaceDocument: (ws, id, chunks) => timed('index', () => lance.replaceDocument(ws, id, chunks), writes),
      deleteDocument: (ws, id) => timed('index', () => lance.deleteDocument(ws, id)),
      deleteWorkspace: (ws) => timed('index', () => lance.deleteWorkspace(ws)),
      search: (ws, query, options) => timed('index', () => lance.search(ws, query, options)),
      countChunks: (ws, id) => timed('index', () => lance.countChunks(ws, id)),
      ping: () => lance.ping(),
      close: () => lance.close(),
    };
    const deps = { graph, indexer: createIndexer({ documents, index: searchIndex }), documents, index: searchIndex, state: memoryStateStore() };
    const source: SharePointSource = { id: 'bench-sharepoint', workspaceId, driveId, maxFileBytes: MB };

    const run = async (): Promise<SyncRun & { progress: Awaited<ReturnType<typeof deltaSync>>['progress']; clock: typeof clock }> => {
      fake!.requests.length = 0;
      clock.graph = clock.documents = clock.index = 0;
      writes.length = 0;
      const t = performance.now();
      const { progress } = await deltaSync(source, deps);
      const seconds = (performance.now() - t) / 1000;
      if (progress.status !== 'completed') throw new Error(`The sync ended ${progress.status}: ${progress.error ?? ''}`);
      const count = (route: GraphRoute) => fake!.requests.filter((r) => r.route === route).length;
      return {
        seconds,
        progress,
        clock: { ...clock },
        calls: { delta: count('delta'), permissions: count('permissions'), content: count('content'), download: count('download') },
        failedCalls: fake!.requests.filter((r) => r.status === 0 || r.status >= 400).length,
      };
    };
    const share = (r: { seconds: number; clock: typeof clock }) =>
      `Graph client ${(r.clock.graph / 1000).toFixed(1)} s, MariaDB document store ${(r.clock.documents / 1000).toFixed(1)} s, LanceDB ${(r.clock.index / 1000).toFixed(1)} s, the rest (extraction, sync engine) ${(r.seconds - (r.clock.graph + r.clock.documents + r.clock.index) / 1000).toFixed(1)} s`;

    const full = await run();
    const fullWrites = [...writes];
    const chunks = await index.countChunks(workspaceId);
    log(
      `  full sync: ${full.seconds.toFixed(1)} s, ${(full.progress.seen / full.seconds).toFixed(0)} files/s; ${full.progress.pages} pages, indexed ${full.progress.indexed}, ${chunks} chunks; calls ${JSON.stringify(full.calls)}`,
    );
    log(`    ${share(full)}`);
    const tenth = Math.max(1, Math.floor(fullWrites.length / 10));
    const firstWrites = summarize(fullWrites.slice(0, tenth));
    const lastWrites = summarize(fullWrites.slice(-tenth));
    log(`    replaceDocument per file: mean ${firstWrites.mean.toFixed(1)} ms over the first ${tenth} files, ${lastWrites.mean.toFixed(1)} ms over the last ${tenth}`);

    // Let the adapter's idle merge finish, so the incremental sync does not pay for the full one's.
    const waited = await waitForMerge([path.join(root, 'index')]);

    const shuffledIds = shuffled(itemIds.map((id, n) => ({ id, n })), random);
    const changed = shuffledIds.slice(0, Math.round(files * 0.01));
    const deleted = shuffledIds.slice(changed.length, changed.length + Math.round(files * 0.005));
    for (const { id, n } of changed) fake.updateFile(driveId, id, markdownFile(seeds[(n + 3) % seeds.length]!, files + n, random));
    for (const { id } of deleted) fake.deleteItem(driveId, id);

    const incremental = await run();
    log(
      `  incremental sync (${changed.length} changed, ${deleted.length} deleted): ${incremental.seconds.toFixed(2)} s; indexed ${incremental.progress.indexed}, removed ${incremental.progress.removed}; calls ${JSON.stringify(incremental.calls)}`,
    );
    log(`    ${share(incremental)}`);

    const notes: string[] = [];
    const expect = (what: string, got: number, wanted: number) => {
      if (got !== wanted) notes.push(`${BENCH}: sync ${label}: ${what} was ${got}, expected ${wanted}.`);
    };
    expect('full sync: files indexed', full.progress.indexed, files);
    expect('incremental sync: files indexed', incremental.progress.indexed, changed.length);
    expect('incremental sync: documents removed', incremental.progress.removed, deleted.length);
    const recorded = (await documents.listBySource(workspaceId, SHAREPOINT_SOURCE_KIND)).reduce((sum, d) => sum + d.chunkCount, 0);
    expect('chunks in the index after the incremental sync', await index.countChunks(workspaceId), recorded);
    expect('documents after the incremental sync', (await documents.listBySource(workspaceId, SHAREPOINT_SOURCE_KIND)).length, files - deleted.length);
    if (full.failedCalls + incremental.failedCalls > 0) notes.push(`${BENCH}: sync ${label}: ${full.failedCalls + incremental.failedCalls} Graph calls failed (and were retried).`);

    const fullRate = full.progress.seen / full.seconds;
    const changes = changed.length + deleted.length;
    const incrementalRate = changes / incremental.seconds;
    const routeNames: Array<[keyof SyncRun['calls'], string]> = [
      ['delta', 'delta pages'],
      ['permissions', 'permissions'],
      ['content', 'content (Graph, 302)'],
      ['download', 'downloads (pre-authenticated host)'],
    ];
    const base = `full sync of ${label}`;
    const inPort = (r: { seconds: number; clock: typeof clock }, port: keyof typeof clock, name: string): Figure => ({
      benchmark: BENCH,
      metric: `sync ${label} files: ${r === full ? 'full' : 'incremental'}, time in ${name}`,
      value: r.clock[port] / 1000,
      unit: 's',
      baseline: { label: 'the whole sync', value: r.seconds },
    });
    const figures: Figure[] = [
      { benchmark: BENCH, metric: `sync ${label} files: full, total time`, value: full.seconds, unit: 's', note: `${items} items in ${full.progress.pages} delta pages of ${SYNC_PAGE_SIZE}; ${chunks} chunks` },
      { benchmark: BENCH, metric: `sync ${label} files: full, files/s`, value: fullRate, unit: 'count' },
      ...routeNames.map(([route, name]): Figure => ({ benchmark: BENCH, metric: `sync ${label} files: full, Graph calls: ${name}`, value: full.calls[route], unit: 'count' })),
      inPort(full, 'graph', 'Graph client'),
      inPort(full, 'documents', 'MariaDB document store'),
      inPort(full, 'index', 'LanceDB index'),
      {
        benchmark: BENCH,
        metric: `sync ${label} files: full, replaceDocument per file, last ${tenth}`,
        value: lastWrites.mean,
        unit: 'ms',
        baseline: { label: `first ${tenth} files`, value: firstWrites.mean },
        note: 'mean; one LanceDB fragment per write until compaction',
      },
      {
        benchmark: BENCH,
        metric: `sync ${label} files: incremental, total time`,
        value: incremental.seconds,
        unit: 's',
        baseline: { label: base, value: full.seconds },
        note: `${changed.length} changed, ${deleted.length} deleted; the full sync took ${times(incremental.seconds, full.seconds)} as long`,
      },
      { benchmark: BENCH, metric: `sync ${label} files: incremental, changes/s`, value: incrementalRate, unit: 'count', baseline: { label: `${base}, files/s`, value: fullRate } },
      ...routeNames.map(
        ([route, name]): Figure => ({ benchmark: BENCH, metric: `sync ${label} files: incremental, Graph calls: ${name}`, value: incremental.calls[route], unit: 'count', baseline: { label: base, value: full.calls[route] } }),
      ),
      inPort(incremental, 'index', 'LanceDB index'),
    ];
    notes.push(
      `${BENCH}: sync ${label}: the delta sync engine and the Graph client against the local Graph server over HTTP (downloads answered with 302 to a second, pre-authenticated host, as Graph does), documents in a private MariaDB, chunks in LanceDB, sync state in memory; ${files} markdown files of ${((driveBytes / files) / 1024).toFixed(1)} KB on average in ${SYNC_FOLDERS} folders, every 10th shared with one of ${ACL_USERS} users, the rest by an organisation-wide link. Between the syncs the adapter's idle merge was waited for (${(waited / 1000).toFixed(1)} s), then ${changed.length} files (1%) were changed and ${deleted.length} (0.5%) deleted. Each file's permissions are read before its content, so a full sync makes one permissions and one content call per file. Every indexed file is one LanceDB write that adds a fragment; the adapter compacts every 100 writes, so the cost per file stays nearly flat through the sync (see "replaceDocument per file").`,
    );
    return { figures, notes };
  } finally {
    await index?.close().catch(() => undefined);
    await fake?.close().catch(() => undefined);
    await db?.$disconnect().catch(() => undefined);
    await mariadb?.stop().catch(() => undefined);
    fs.rmSync(root, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// 3. Search with ACLs
// ---------------------------------------------------------------------------------------------

async function measureAclSearch({ quick, log }: BenchContext, seeds: SeedDocument[]): Promise<BenchResult> {
  const size = quick ? 10_000 : 100_000;
  const otherChunks = quick ? 200 : 1_000;
  const searches = quick ? 50 : 200;
  const label = sizeLabel(size);
  const random = seededRandom(20250403);
  const users = Array.from({ length: ACL_USERS }, () => seededGuid(random));
  const groups = Array.from({ length: ACL_GROUPS }, () => seededGuid(random));
  const reader: Reader = { userId: users[0]!, groupIds: groups.slice(0, READER_GROUPS) };
  const readerPrincipals = new Set([`u:${reader.userId}`, ...reader.groupIds.map((g) => `g:${g}`)]);
  const workspaces = Array.from({ length: SEARCH_WORKSPACES }, (_, i) => `bench-acl-ws-${i}`);
  const target = workspaces[0]!;
  /** Principals of each restricted chunk of the target workspace; every other chunk is '*'. */
  const restricted = new Map<string, string[]>();

  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'kluis-bench-acl-'));
  const dirs = { acl: path.join(root, 'with-acl'), plain: path.join(root, 'without-acl') };
  let withAcl: SearchIndex | undefined;
  let plain: SearchIndex | undefined;
  try {
    withAcl = await openLanceDbIndex(dirs.acl);
    plain = await openLanceDbIndex(dirs.plain);
    const spent = { acl: 0, plain: 0 };
    let restrictedCount = 0;

    /** The same documents go into both tables: with an acl per chunk, and without any. */
    const fill = async (workspace: string, count: number, seedOffset: number) => {
      for (let added = 0, n = 0; added < count; added += CHUNKS_PER_DOCUMENT, n++) {
        const documentId = `${workspace}-doc-${n}`;
        const chunks = synthesiseDocument(seeds[(n + seedOffset) % seeds.length]!, documentId, n, Math.min(CHUNKS_PER_DOCUMENT, count - added), random);
        const acls = chunks.map((c): ChunkRecord => {
          if (random() >= 0.1) return { ...c, acl: { users: [], groups: [], everyoneInTenant: true } };
          restrictedCount++;
          // Half shared with one person, half with one group.
          const acl: Acl =
            random() < 0.5
              ? { users: [users[Math.floor(random() * users.length)]!], groups: [], everyoneInTenant: false }
              : { users: [], groups: [groups[Math.floor(random() * groups.length)]!], everyoneInTenant: false };
          if (workspace === target) restricted.set(c.id, [...acl.users.map((u) => `u:${u}`), ...acl.groups.map((g) => `g:${g}`)]);
          return { ...c, acl };
        });
        let started = performance.now();
        await withAcl!.replaceDocument(workspace, documentId, acls);
        spent.acl += performance.now() - started;
        started = performance.now();
        await plain!.replaceDocument(workspace, documentId, chunks);
        spent.plain += performance.now() - started;
      }
    };
    const started = performance.now();
    for (const [i, workspace] of workspaces.entries()) await fill(workspace, workspace === target ? size : otherChunks, i);
    const total = size + otherChunks * (workspaces.length - 1);
    log(
      `  two tables of ${total} chunks (target ${size}, ${workspaces.length - 1} others x ${otherChunks}) filled in ${((performance.now() - started) / 1000).toFixed(1)} s: with acl ${(total / (spent.acl / 1000)).toFixed(0)} chunks/s, without ${(total / (spent.plain / 1000)).toFixed(0)} chunks/s`,
    );
    const waited = await waitForMerge([dirs.acl, dirs.plain]);
    log(`  idle merge done after ${(waited / 1000).toFixed(1)} s`);

    const readerCanSee = (id: string) => {
      const principals = restricted.get(id);
      return principals === undefined || principals.some((p) => readerPrincipals.has(p));
    };
    const visibleInTarget = size - [...restricted.values()].filter((p) => !p.some((x) => readerPrincipals.has(x))).length;

    type SeriesName = 'aclReader' | 'aclNone' | 'plainReader' | 'plainNone';
    const series: Record<SeriesName, { index: SearchIndex; reader?: Reader; samples: number[]; hits: number; restrictedHits: number }> = {
      aclReader: { index: withAcl, reader, samples: [], hits: 0, restrictedHits: 0 },
      aclNone: { index: withAcl, samples: [], hits: 0, restrictedHits: 0 },
      plainReader: { index: plain, reader, samples: [], hits: 0, restrictedHits: 0 },
      plainNone: { index: plain, samples: [], hits: 0, restrictedHits: 0 },
    };
    const ask = async (name: SeriesName, question: string, record: boolean) => {
      const s = series[name];
      const t = performance.now();
      const hits = await s.index.search(target, question, { limit: SEARCH_LIMIT, reader: s.reader });
      const elapsed = performance.now() - t;
      if (!record) return;
      s.samples.push(elapsed);
      s.hits += hits.length;
      for (const hit of hits) {
        if (!hit.documentId.startsWith(`${target}-`)) throw new Error('A search returned a chunk of another workspace');
        if (name.startsWith('plain') || !restricted.has(hit.id)) continue;
        s.restrictedHits++;
        // A leak would make every figure here meaningless: stop rather than print it.
        if (!s.reader || !readerCanSee(hit.id)) throw new Error(`A search ${s.reader ? 'as the reader' : 'without a reader'} returned a chunk it may not see`);
      }
    };
    // One untimed pass per series: the first queries open index files and fill caches.
    const names = Object.keys(series) as SeriesName[];
    const seriesLabel: Record<SeriesName, string> = { aclReader: 'with ACLs, as the reader', aclNone: 'with ACLs, no reader', plainReader: 'ACL-free, as the reader', plainNone: 'ACL-free, no reader' };
    for (const question of QUESTIONS) for (const name of names) await ask(name, question, false);
    // Interleaved, and in a rotating order, so neither drift nor a warm cache favours one series.
    for (let i = 0; i < searches; i++) {
      const question = QUESTIONS[i % QUESTIONS.length]!;
      for (let k = 0; k < names.length; k++) await ask(names[(i + k) % names.length]!, question, true);
    }
    const s = Object.fromEntries(names.map((n) => [n, summarize(series[n].samples)])) as Record<SeriesName, Summary>;
    for (const name of names) {
      log(`  ${seriesLabel[name]}: p50 ${s[name].p50.toFixed(2)} ms, p95 ${s[name].p95.toFixed(2)} ms, ${(series[name].hits / searches).toFixed(1)} hits/search, ${series[name].restrictedHits} restricted hits`);
    }

    const readerLabel = `reader (user + ${READER_GROUPS} groups)`;
    const figures: Figure[] = [
      { benchmark: BENCH, metric: `search ${label} with ACLs, ${readerLabel}: p50`, value: s.aclReader.p50, unit: 'ms', baseline: { label: 'ACL-free table, same reader, p50', value: s.plainReader.p50 } },
      { benchmark: BENCH, metric: `search ${label} with ACLs, ${readerLabel}: p95`, value: s.aclReader.p95, unit: 'ms', baseline: { label: 'ACL-free table, same reader, p95', value: s.plainReader.p95 } },
      { benchmark: BENCH, metric: `search ${label} with ACLs, no reader (fail-closed): p50`, value: s.aclNone.p50, unit: 'ms', baseline: { label: 'ACL-free table, no reader, p50', value: s.plainNone.p50 } },
      { benchmark: BENCH, metric: `search ${label} with ACLs, no reader (fail-closed): p95`, value: s.aclNone.p95, unit: 'ms', baseline: { label: 'ACL-free table, no reader, p95', value: s.plainNone.p95 } },
      {
        benchmark: BENCH,
        metric: `index rate, ${sizeLabel(total)} chunks with ACLs`,
        value: total / (spent.acl / 1000),
        unit: 'chunks/s',
        baseline: { label: 'same chunks without acl', value: total / (spent.plain / 1000) },
      },
    ];
    const notes = [
      `${BENCH}: search ${label}: two LanceDB tables with the same ${total} chunks in ${workspaces.length} workspaces (the target ${size}, the others ${otherChunks} each), documents of ${CHUNKS_PER_DOCUMENT} chunks written to both in turn; in one, ${restrictedCount} chunks (${((restrictedCount / total) * 100).toFixed(1)}%) are shared with one of ${ACL_USERS} users or one of ${ACL_GROUPS} groups and the rest with everyone in the tenant; in the other no chunk has an acl. The reader is one of those users and in ${READER_GROUPS} of the groups, and may read ${visibleInTarget} of the target's ${size} chunks. The adapter filters every search by principals, so the ACL-free table is searched with the same filter text; only the stored lists differ. ${searches} searches per series, limit ${SEARCH_LIMIT}, the four series interleaved in rotating order after one untimed pass over the ${QUESTIONS.length} questions, every row merged into the FTS index (idle merge waited for, ${(waited / 1000).toFixed(1)} s). Hits per search: ${names.map((n) => `${seriesLabel[n]} ${(series[n].hits / searches).toFixed(1)}`).join(', ')}; restricted chunks among the reader's hits: ${series.aclReader.restrictedHits}, none may (and none did) reach a search without a reader.`,
    ];
    return { figures, notes };
  } finally {
    await withAcl?.close();
    await plain?.close();
    fs.rmSync(root, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------

/**
 * Waits until every row of each index is merged into its FTS indexes (the adapter merges once
 * writes have been quiet for a while); returns the milliseconds waited. Reads the index statistics
 * through a separate read-only connection.
 */
async function waitForMerge(dirs: string[]): Promise<number> {
  const started = performance.now();
  for (;;) {
    let pending = 0;
    for (const dir of dirs) pending += await unmergedRows(dir);
    if (pending === 0) return performance.now() - started;
    if (performance.now() - started > MERGE_WAIT_MS) throw new Error(`${pending} rows were still not merged after ${MERGE_WAIT_MS / 1000} s`);
    await sleep(250);
  }
}

async function unmergedRows(dir: string): Promise<number> {
  const connection = await lancedb.connect(dir);
  try {
    const [name] = await connection.tableNames();
    if (!name) return 0;
    const table = await connection.openTable(name);
    try {
      let most = 0;
      for (const index of await table.listIndices()) most = Math.max(most, (await table.indexStats(index.name))?.numUnindexedRows ?? 0);
      return most;
    } finally {
      table.close();
    }
  } finally {
    connection.close();
  }
}
