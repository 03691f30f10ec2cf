/**
 * The knowledge folder end to end: real files in a temporary folder, the real MariaDB document
 * store and a LanceDB index in a temporary directory, wired as api/main.ts wires them.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createDatabase, type Database } from '../../api/db/client';
import { createFolderSource, FOLDER_SOURCE_KIND, type FolderSource, type SyncReport } from '../../api/knowledge/folderSource';
import { createIndexer, type Indexer } from '../../api/knowledge/indexer';
import { openLanceDbIndex } from '../../api/knowledge/lancedbIndex';
import type { DocumentStore, SearchIndex } from '../../api/knowledge/ports';
import { createPrismaDocumentStore } from '../../api/knowledge/prismaDocumentStore';
import { testDatabaseUrl } from '../support/database';

const repo = path.resolve(__dirname, '..', '..');
const demo = (name: string) => path.join(repo, 'demo', 'knowledge', name);
const fixture = (name: string) => path.join(repo, 'tests', 'fixtures', 'documents', name);

/** The starting folder: demo and fixture files of every supported kind, one in a subfolder. */
const STARTING_FILES: Array<[from: string, to: string]> = [
  [demo('travel-policy.txt'), 'travel-policy.txt'],
  [demo('verlofbeleid.md'), 'verlofbeleid.md'],
  [demo('thuiswerkbeleid.docx'), 'thuiswerkbeleid.docx'],
  [demo('onboarding-guide.html'), 'onboarding-guide.html'],
  [fixture('notes.md'), 'projects/notes.md'],
  [fixture('two-pages.pdf'), 'projects/two-pages.pdf'],
];
const STARTING_REFS = STARTING_FILES.map(([, to]) => to).sort();
const MAX_FILE_BYTES = 256 * 1024;

const uniqueWord = (prefix: string) => `${prefix}${randomUUID().replace(/[^a-f]/g, '').slice(0, 10)}x`;

let db: Database;

beforeAll(() => {
  db = createDatabase(testDatabaseUrl(), 4);
});

afterAll(async () => {
  await db.$disconnect();
});

describe('knowledge folder source', () => {
  let scratch: string;
  let folder: string;
  let workspaceId: string;
  let index: SearchIndex;
  let documents: DocumentStore;
  let indexed: string[];
  let source: FolderSource;

  /** The indexer main.ts builds, recording which files it was asked to (re)index. */
  function countingIndexer(): Indexer {
    const real = createIndexer({ documents, index });
    return {
      indexFile: (ws, file) => {
        indexed.push(file.sourceRef);
        return real.indexFile(ws, file);
      },
      removeDocument: (ws, id) => real.removeDocument(ws, id),
    };
  }

  const write = (ref: string, content: string | Buffer) => {
    fs.mkdirSync(path.dirname(path.join(folder, ref)), { recursive: true });
    fs.writeFileSync(path.join(folder, ref), content);
  };
  const rows = () => db.document.findMany({ where: { workspaceId }, orderBy: { sourceRef: 'asc' } });
  const search = (query: string, limit = 10) => index.search(workspaceId, query, { limit });
  const refsFound = async (query: string) => (await search(query)).map((h) => h.sourceRef);

  beforeEach(async () => {
    scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'kluis-folder-source-'));
    folder = path.join(scratch, 'knowledge');
    for (const [from, to] of STARTING_FILES) {
      fs.mkdirSync(path.dirname(path.join(folder, to)), { recursive: true });
      fs.copyFileSync(from, path.join(folder, to));
    }
    workspaceId = randomUUID();
    await db.workspace.create({ data: { id: workspaceId, name: 'Folder source test', tenantId: randomUUID() } });
    index = await openLanceDbIndex(path.join(scratch, 'index'));
    documents = createPrismaDocumentStore(db);
    indexed = [];
    source = createFolderSource({ dir: folder, workspaceId, indexer: countingIndexer(), documents, index, maxFileBytes: MAX_FILE_BYTES });
  });

  afterEach(async () => {
    await index.close();
    await db.workspace.deleteMany({ where: { id: workspaceId } });
    fs.rmSync(scratch, { recursive: true, force: true });
  });

  it('indexes every supported file on the first sync', async () => {
    const report = await source.sync();

    expect(report).toEqual({ seen: STARTING_FILES.length, indexed: STARTING_FILES.length, unchanged: 0, removed: 0, failed: [] });
    const stored = await rows();
    expect(stored.map((r) => r.sourceRef)).toEqual(STARTING_REFS);
    for (const row of stored) {
      expect(row).toMatchObject({ sourceKind: FOLDER_SOURCE_KIND, status: 'indexed', error: null });
      expect(row.chunkCount).toBeGreaterThan(0);
      expect(await index.countChunks(workspaceId, row.id)).toBe(row.chunkCount);
    }
    expect(await index.countChunks(workspaceId)).toBe(stored.reduce((sum, r) => sum + r.chunkCount, 0));

    const [hotel] = await search('What is the hotel limit per night in Paris?');
    expect(hotel?.sourceRef).toBe('travel-policy.txt');
    expect(hotel?.text).toContain('EUR 185 per night');
    expect((await search('Hoeveel wettelijke vakantiedagen krijg ik?'))[0]?.sourceRef).toBe('verlofbeleid.md');
    expect(await refsFound('ALPHA-7731')).toContain('projects/two-pages.pdf');
  });

  it('reports every file unchanged on a second sync and re-indexes nothing', async () => {
    await source.sync();
    const before = await rows();
    const chunksBefore = await index.countChunks(workspaceId);
    indexed.length = 0;

    const report = await source.sync();

    expect(report).toEqual({ seen: STARTING_FILES.length, indexed: 0, unchanged: STARTING_FILES.length, removed: 0, failed: [] });
    expect(indexed).toEqual([]);
    expect((await rows()).map((r) => [r.id, r.indexedAt.getTime()])).toEqual(before.map((r) => [r.id, r.indexedAt.getTime()]));
    expect(await index.countChunks(workspaceId)).toBe(chunksBefore);
  });

  it('re-indexes only a changed file, dropping its old text', async () => {
    await source.sync();
    const before = await rows();
    indexed.length = 0;
    const marker = uniqueWord('zeppelin');
    write('travel-policy.txt', `TRAVEL POLICY (revised)\n\nHotel nights are now booked through the ${marker} portal only. The nightly hotel limit is EUR 240.\n`);

    const report = await source.sync();

    expect(report).toMatchObject({ seen: STARTING_FILES.length, indexed: 1, unchanged: STARTING_FILES.length - 1, removed: 0, failed: [] });
    expect(indexed).toEqual(['travel-policy.txt']);
    expect((await search('EUR 185 per night')).some((h) => h.text.includes('185 per night'))).toBe(false);
    expect(await refsFound(marker)).toEqual(['travel-policy.txt']);

    const after = await rows();
    const travelBefore = before.find((r) => r.sourceRef === 'travel-policy.txt')!;
    const travelAfter = after.find((r) => r.sourceRef === 'travel-policy.txt')!;
    // Same document, new content; every other document untouched.
    expect(travelAfter.id).toBe(travelBefore.id);
    expect(travelAfter.contentHash).not.toBe(travelBefore.contentHash);
    expect(await index.countChunks(workspaceId, travelAfter.id)).toBe(travelAfter.chunkCount);
    for (const row of after.filter((r) => r.sourceRef !== 'travel-policy.txt')) {
      expect(row.indexedAt.getTime()).toBe(before.find((b) => b.id === row.id)!.indexedAt.getTime());
    }
  });

  it('removes the chunks and the Document row of a deleted file', async () => {
    await source.sync();
    const notes = (await rows()).find((r) => r.sourceRef === 'projects/notes.md')!;
    const chunksBefore = await index.countChunks(workspaceId);
    expect(await refsFound('Leie pedestrian bridge')).toContain('projects/notes.md');
    fs.rmSync(path.join(folder, 'projects', 'notes.md'));

    const report = await source.sync();

    expect(report).toEqual({ seen: STARTING_FILES.length - 1, indexed: 0, unchanged: STARTING_FILES.length - 1, removed: 1, failed: [] });
    expect((await rows()).map((r) => r.sourceRef)).toEqual(STARTING_REFS.filter((r) => r !== 'projects/notes.md'));
    expect(await index.countChunks(workspaceId, notes.id)).toBe(0);
    expect(await index.countChunks(workspaceId)).toBe(chunksBefore - notes.chunkCount);
    expect(await refsFound('Leie pedestrian bridge')).not.toContain('projects/notes.md');
  });

  it('records a corrupt file as failed with a reason and still indexes the others', async () => {
    fs.copyFileSync(fixture('corrupt.docx'), path.join(folder, 'corrupt.docx'));

    const report = await source.sync();

    expect(report.indexed).toBe(STARTING_FILES.length);
    expect(report.seen).toBe(STARTING_FILES.length + 1);
    expect(report.failed).toEqual([{ sourceRef: 'corrupt.docx', reason: expect.stringMatching(/\S/) }]);
    const corrupt = (await rows()).find((r) => r.sourceRef === 'corrupt.docx');
    expect(corrupt).toMatchObject({ status: 'failed', chunkCount: 0, error: expect.stringMatching(/\S/) });
    expect(await index.countChunks(workspaceId, corrupt!.id)).toBe(0);
    expect((await rows()).filter((r) => r.status === 'indexed')).toHaveLength(STARTING_FILES.length);
  });

  it('skips and reports a file larger than maxFileBytes', async () => {
    const marker = uniqueWord('oversize');
    write('huge.txt', `${marker} `.padEnd(MAX_FILE_BYTES + 1, 'x'));

    const report = await source.sync();

    expect(report.indexed).toBe(STARTING_FILES.length);
    expect(report.failed).toEqual([{ sourceRef: 'huge.txt', reason: expect.stringContaining(String(MAX_FILE_BYTES)) }]);
    expect(indexed).not.toContain('huge.txt');
    expect(await refsFound(marker)).toEqual([]);
  });

  it('stops answering from the old version of a file that grows past maxFileBytes', async () => {
    const marker = uniqueWord('stale');
    write('pricing.md', `# Pricing\n\nThe ${marker} rate is 90 euro per hour.\n`);
    await source.sync();
    expect(await refsFound(marker)).toEqual(['pricing.md']);

    write('pricing.md', `# Pricing\n\nThe ${marker} rate is 120 euro per hour.\n`.padEnd(MAX_FILE_BYTES + 1, ' '));
    const report = await source.sync();

    expect(report.failed).toEqual([{ sourceRef: 'pricing.md', reason: expect.stringContaining(String(MAX_FILE_BYTES)) }]);
    expect(await refsFound(marker)).toEqual([]);
    expect((await rows()).map((r) => r.sourceRef)).not.toContain('pricing.md');
  });

  it('re-indexes unchanged files when the index folder was lost', async () => {
    await source.sync();
    await index.close();
    fs.rmSync(path.join(scratch, 'index'), { recursive: true, force: true });
    index = await openLanceDbIndex(path.join(scratch, 'index'));
    source = createFolderSource({ dir: folder, workspaceId, indexer: countingIndexer(), documents, index, maxFileBytes: MAX_FILE_BYTES });

    const report = await source.sync();

    expect(report).toEqual({ seen: STARTING_FILES.length, indexed: STARTING_FILES.length, unchanged: 0, removed: 0, failed: [] });
    expect((await search('What is the hotel limit per night in Paris?'))[0]?.text).toContain('EUR 185 per night');
  });

  it('does not follow a symbolic link out of the folder (symlink escape)', async () => {
    const outside = path.join(scratch, 'outside');
    const secret = uniqueWord('outside');
    fs.mkdirSync(outside);
    fs.writeFileSync(path.join(outside, 'payroll.md'), `# Payroll\n\nThe ${secret} salary table.\n`);
    fs.symlinkSync(path.join(outside, 'payroll.md'), path.join(folder, 'payroll.md'));
    fs.symlinkSync(outside, path.join(folder, 'linked-folder'));

    const report = await source.sync();

    expect(report).toEqual({ seen: STARTING_FILES.length, indexed: STARTING_FILES.length, unchanged: 0, removed: 0, failed: [] });
    expect(indexed).not.toContain('payroll.md');
    expect(indexed).not.toContain('linked-folder/payroll.md');
    expect(await refsFound(secret)).toEqual([]);
    expect((await rows()).map((r) => r.sourceRef)).toEqual(STARTING_REFS);
  });

  it('ignores hidden files and folders and unsupported file types', async () => {
    const hidden = uniqueWord('hidden');
    write('.draft.md', `# Draft\n\n${hidden} not for publication.\n`);
    write('.git/notes.md', `${hidden} inside a hidden folder.\n`);
    write('projects/.~lock.notes.md', `${hidden} editor lock file.\n`);
    write('binary.exe', `${hidden}`);

    const report = await source.sync();

    expect(report.seen).toBe(STARTING_FILES.length);
    expect(report.failed).toEqual([]);
    expect(await refsFound(hidden)).toEqual([]);
    expect((await rows()).map((r) => r.sourceRef)).toEqual(STARTING_REFS);
  });

  it("keeps two workspaces' folders apart in the shared index", async () => {
    const otherWorkspace = randomUUID();
    await db.workspace.create({ data: { id: otherWorkspace, name: 'Other folder', tenantId: randomUUID() } });
    try {
      const otherFolder = path.join(scratch, 'other');
      const otherWord = uniqueWord('other');
      fs.mkdirSync(otherFolder);
      // The same relative path in both folders.
      fs.writeFileSync(path.join(otherFolder, 'travel-policy.txt'), `Other company: hotels up to EUR 90, booked via ${otherWord}.\n`);
      const other = createFolderSource({ dir: otherFolder, workspaceId: otherWorkspace, indexer: createIndexer({ documents, index }), documents, index, maxFileBytes: MAX_FILE_BYTES });

      await source.sync();
      await other.sync();

      expect(await refsFound(otherWord)).toEqual([]);
      expect((await index.search(otherWorkspace, 'EUR 185 per night', { limit: 10 })).some((h) => h.text.includes('185'))).toBe(false);
      expect((await index.search(otherWorkspace, otherWord, { limit: 10 })).map((h) => h.sourceRef)).toEqual(['travel-policy.txt']);
      // Removing the other folder's file leaves this workspace's file of the same name alone.
      fs.rmSync(path.join(otherFolder, 'travel-policy.txt'));
      expect((await other.sync()).removed).toBe(1);
      expect((await search('hotel limit per night'))[0]?.sourceRef).toBe('travel-policy.txt');
    } finally {
      await index.deleteWorkspace(otherWorkspace);
      await db.workspace.deleteMany({ where: { id: otherWorkspace } });
    }
  });

  it('watch() picks up a new file without a manual sync', async () => {
    await source.sync();
    const reports: Array<SyncReport | Error> = [];
    const stop = source.watch((report) => reports.push(report), 100);
    try {
      const marker = uniqueWord('watched');
      write('projects/new-procedure.md', `# New procedure\n\nThe ${marker} checklist applies from Monday.\n`);

      // A bounded wait: the test is about eventually noticing, not about speed.
      const deadline = Date.now() + 20_000;
      let found: string[] = [];
      while (Date.now() < deadline) {
        found = await refsFound(marker);
        if (found.length > 0) break;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }

      expect(found).toEqual(['projects/new-procedure.md']);
      expect(reports.filter((r) => r instanceof Error)).toEqual([]);
      expect((await rows()).map((r) => r.sourceRef)).toContain('projects/new-procedure.md');
    } finally {
      stop();
      // A sync the watcher started may still be running; let it finish before the index closes.
      await source.sync();
    }
  });
});
