/**
 * The sync engine against scripted delta pages and in-memory stores: the decisions it makes per
 * item (index, skip, keep, remove), what it saves after every page, and how it resumes.
 * The end-to-end behaviour over HTTP, MariaDB and LanceDB is in tests/knowledge/sharepointSync.test.ts.
 */
import { randomUUID } from 'node:crypto';
import { KluisError } from '../../errors';
import { createIndexer, type Indexer } from '../indexer';
import type { ChunkRecord, DocumentDraft, DocumentRecord, DocumentStore, SearchIndex } from '../ports';
import { deltaSync, readSyncProgress, SHAREPOINT_SOURCE_KIND, type SharePointSource } from './deltaSync';
import type { DeltaRequest, DeltaResult, DriveItem, GraphDriveClient, Permission, SyncState, SyncStateStore } from './ports';

const WS = 'ws-1';
const DRIVE = 'b!drive';
const ROOT = 'root-id';

function memoryDocuments(): DocumentStore & { rows: Map<string, DocumentRecord> } {
  const rows = new Map<string, DocumentRecord>();
  return {
    rows,
    async listBySource(ws, kind) {
      return [...rows.values()].filter((r) => r.workspaceId === ws && r.sourceKind === kind);
    },
    async save(draft: DocumentDraft) {
      const existing = [...rows.values()].find((r) => r.workspaceId === draft.workspaceId && r.sourceKind === draft.sourceKind && r.sourceRef === draft.sourceRef);
      const record = { ...draft, id: existing?.id ?? randomUUID() };
      rows.set(record.id, record);
      return record;
    },
    async remove(ws, id) {
      if (rows.get(id)?.workspaceId === ws) rows.delete(id);
    },
  };
}

function memoryIndex(): SearchIndex & { chunks: Map<string, ChunkRecord[]> } {
  const chunks = new Map<string, ChunkRecord[]>();
  return {
    chunks,
    async replaceDocument(_ws, id, records) {
      chunks.set(id, records);
    },
    async deleteDocument(_ws, id) {
      chunks.delete(id);
    },
    async deleteWorkspace() {
      chunks.clear();
    },
    async search(_ws, query) {
      return [...chunks.values()].flat().filter((c) => c.text.includes(query)).map((c) => ({ ...c, score: 1, access: c.acl ? ('acl' as const) : ('workspace' as const) }));
    },
    async countChunks(_ws, id) {
      return id === undefined ? [...chunks.values()].flat().length : (chunks.get(id)?.length ?? 0);
    },
    async ping() {},
    async close() {},
  };
}

function memoryState(): SyncStateStore & { saves: SyncState[] } {
  const saves: SyncState[] = [];
  let current: SyncState | undefined;
  return {
    saves,
    async load() {
      return current && structuredClone(current);
    },
    async save(_ws, _id, state) {
      current = structuredClone(state);
      saves.push(current);
    },
  };
}

type Scripted = DeltaResult | KluisError | (() => DeltaResult | KluisError);

/** Delta answers keyed by the request ('root' for a fresh enumeration), files and permissions by item id. */
function scriptedGraph() {
  const pages = new Map<string, Scripted>();
  const files = new Map<string, Buffer | KluisError>();
  const permissions = new Map<string, Permission[] | KluisError>();
  const calls: string[] = [];
  const graph: GraphDriveClient = {
    async delta(request: DeltaRequest) {
      const key = typeof request === 'string' ? request : `root:${request.driveId}`;
      calls.push(`delta ${key}`);
      let answer = pages.get(key);
      if (typeof answer === 'function') answer = answer();
      if (answer === undefined) throw new Error(`no page scripted for ${key}`);
      if (answer instanceof KluisError) throw answer;
      return answer;
    },
    async download(_drive, id) {
      calls.push(`download ${id}`);
      const bytes = files.get(id);
      if (bytes === undefined) throw new KluisError('not_found', `no file ${id}`);
      if (bytes instanceof KluisError) throw bytes;
      return bytes;
    },
    async groupsOf() {
      return [];
    },
    async permissions(_drive, id) {
      calls.push(`permissions ${id}`);
      const list = permissions.get(id) ?? [{ id: 'p', roles: ['read'], grantedToV2: { user: { id: `oid-of-${id}` } } }];
      if (list instanceof KluisError) throw list;
      return list;
    },
  };
  return { graph, pages, files, permissions, calls };
}

const rootItem: DriveItem = { id: ROOT, name: 'root', root: {}, folder: { childCount: 0 } };
const folder = (id: string, parentId = ROOT): DriveItem => ({ id, name: id, folder: { childCount: 0 }, parentReference: { driveId: DRIVE, id: parentId } });
const file = (id: string, name: string, version = 1, parentId = ROOT, extra: Partial<DriveItem> = {}): DriveItem => ({
  id,
  name,
  eTag: `"{${id}},${version}"`,
  size: 100,
  webUrl: `https://contoso.sharepoint.com/sites/kluis/Shared%20Documents/${name}`,
  file: { mimeType: 'text/markdown' },
  parentReference: { driveId: DRIVE, id: parentId },
  ...extra,
});
const gone = (id: string): DriveItem => ({ id, deleted: { state: 'deleted' }, parentReference: { driveId: DRIVE } });
const page = (value: DriveItem[], links: { next?: string; delta?: string }): DeltaResult => ({ kind: 'page', value, nextLink: links.next, deltaLink: links.delta });
const md = (text: string) => Buffer.from(`# ${text}\n\n${text} body text.\n`);

describe('deltaSync', () => {
  let documents: ReturnType<typeof memoryDocuments>;
  let index: ReturnType<typeof memoryIndex>;
  let state: ReturnType<typeof memoryState>;
  let script: ReturnType<typeof scriptedGraph>;
  let indexer: Indexer;
  let source: SharePointSource;
  const sync = (over: Partial<SharePointSource> = {}) => deltaSync({ ...source, ...over }, { graph: script.graph, indexer, documents, index, state });
  const refs = () => [...documents.rows.values()].map((r) => r.sourceRef).sort();
  const docOf = (itemId: string) => [...documents.rows.values()].find((r) => r.sourceRef === `${DRIVE}/${itemId}`);

  beforeEach(() => {
    documents = memoryDocuments();
    index = memoryIndex();
    state = memoryState();
    script = scriptedGraph();
    indexer = createIndexer({ documents, index });
    source = { id: 'src-1', workspaceId: WS, driveId: DRIVE, maxFileBytes: 10_000 };
  });

  /** A first sync of three files over two pages. */
  async function firstSync() {
    for (const id of ['a', 'b', 'c']) script.files.set(id, md(`File ${id}`));
    script.pages.set(`root:${DRIVE}`, page([rootItem, file('a', 'a.md'), file('b', 'b.md')], { next: 'p2' }));
    script.pages.set('p2', page([file('c', 'c.md')], { delta: 'd1' }));
    return sync();
  }

  it('indexes every file of a full enumeration and saves the link after every page', async () => {
    const result = await firstSync();

    expect(result.progress).toMatchObject({ status: 'completed', mode: 'full', pages: 2, seen: 3, indexed: 3, unchanged: 0, removed: 0, skipped: [], failed: [], resyncs: 0 });
    expect(refs()).toEqual([`${DRIVE}/a`, `${DRIVE}/b`, `${DRIVE}/c`]);
    expect(docOf('a')).toMatchObject({ sourceKind: SHAREPOINT_SOURCE_KIND, url: 'https://contoso.sharepoint.com/sites/kluis/Shared%20Documents/a.md', status: 'indexed' });
    expect(state.saves.map((s) => [s.nextLink, s.deltaLink, s.progress.status])).toEqual([
      ['p2', undefined, 'running'],
      [undefined, 'd1', 'completed'],
    ]);
    expect(result.acl[docOf('b')!.id]).toEqual({ users: ['oid-of-b'], groups: [], everyoneInTenant: false });
    expect(await readSyncProgress(state, WS, source.id)).toEqual(result.progress);
  });

  it('downloads files whose tag changed, and re-indexes an unchanged file whose sharing changed so its chunks carry the new ACL', async () => {
    await firstSync();
    script.calls.length = 0;
    script.files.set('a', md('File a, second version'));
    script.permissions.set('b', [{ id: 'org', roles: ['read'], link: { scope: 'organization', type: 'view' } }]);
    script.pages.set('d1', page([file('a', 'a.md', 2), file('b', 'b.md', 1)], { delta: 'd2' }));

    const result = await sync();

    expect(result.progress).toMatchObject({ mode: 'changes', seen: 2, indexed: 2, unchanged: 0 });
    expect(script.calls).toEqual(['delta d1', 'permissions a', 'download a', 'permissions b', 'permissions b', 'download b']);
    expect(result.acl[docOf('b')!.id]).toEqual({ users: [], groups: [], everyoneInTenant: true });
    expect(index.chunks.get(docOf('b')!.id)!.every((c) => c.acl?.everyoneInTenant === true)).toBe(true);
    expect(index.chunks.get(docOf('a')!.id)!.map((c) => c.text).join(' ')).toContain('second version');
  });

  it('keeps an unchanged file with unchanged sharing as it is (no download)', async () => {
    await firstSync();
    script.calls.length = 0;
    script.pages.set('d1', page([file('b', 'b.md', 1)], { delta: 'd2' }));
    const result = await sync();
    expect(result.progress).toMatchObject({ mode: 'changes', seen: 1, indexed: 0, unchanged: 1 });
    expect(script.calls).toEqual(['delta d1', 'permissions b']);
  });

  it('prefers cTag over eTag: a metadata-only change is not downloaded again', async () => {
    script.files.set('a', md('File a'));
    script.pages.set(`root:${DRIVE}`, page([rootItem, file('a', 'a.md', 1, ROOT, { cTag: '"c:{a},1"' })], { delta: 'd1' }));
    await sync();
    script.calls.length = 0;
    script.pages.set('d1', page([file('a', 'a.md', 2, ROOT, { cTag: '"c:{a},1"' })], { delta: 'd2' }));

    expect((await sync()).progress).toMatchObject({ unchanged: 1, indexed: 0 });
    expect(script.calls).not.toContain('download a');
  });

  it('removes the document of a deleted item, found by id (deleted items carry no name)', async () => {
    await firstSync();
    const b = docOf('b')!;
    script.pages.set('d1', page([gone('b'), gone('never-seen')], { delta: 'd2' }));

    const result = await sync();

    expect(result.progress).toMatchObject({ removed: 1, seen: 0 });
    expect(refs()).toEqual([`${DRIVE}/a`, `${DRIVE}/c`]);
    expect(index.chunks.has(b.id)).toBe(false);
  });

  it('uses the last occurrence of an item that appears twice', async () => {
    await firstSync();
    script.calls.length = 0;
    script.files.set('a', md('File a, changed'));
    // Changed, then deleted in the same page: only the deletion counts, nothing is downloaded.
    script.pages.set('d1', page([file('a', 'a.md', 2), file('b', 'b.md', 1), gone('a')], { delta: 'd2' }));

    const result = await sync();

    expect(script.calls).not.toContain('download a');
    expect(result.progress).toMatchObject({ removed: 1, indexed: 0, unchanged: 1 });
    expect(refs()).toEqual([`${DRIVE}/b`, `${DRIVE}/c`]);
  });

  it('skips unsupported and oversized files without downloading them, and drops their old version', async () => {
    await firstSync();
    script.calls.length = 0;
    script.pages.set('d1', page([file('x', 'budget.xls'), file('a', 'a.md', 2, ROOT, { size: 50_000 })], { delta: 'd2' }));

    const result = await sync();

    expect(result.progress.skipped).toEqual([
      { sourceRef: `${DRIVE}/x`, name: 'budget.xls', reason: 'unsupported file type (.xls)' },
      { sourceRef: `${DRIVE}/a`, name: 'a.md', reason: 'larger than 10000 bytes' },
    ]);
    expect(script.calls).toEqual(['delta d1']);
    expect(refs()).toEqual([`${DRIVE}/b`, `${DRIVE}/c`]);
  });

  it('reports a failed file, carries on, and tries a transient failure again on the next sync', async () => {
    script.files.set('a', new KluisError('graph_unavailable', 'download: Graph answered 503'));
    script.files.set('b', Buffer.from('not really a docx'));
    script.files.set('c', md('File c'));
    script.pages.set(`root:${DRIVE}`, page([rootItem, file('a', 'a.md'), file('b', 'b.docx'), file('c', 'c.md')], { delta: 'd1' }));

    const first = await sync();

    expect(first.progress).toMatchObject({ status: 'completed', indexed: 1 });
    expect(first.progress.failed).toEqual([
      { sourceRef: `${DRIVE}/a`, name: 'a.md', reason: 'download: Graph answered 503' },
      { sourceRef: `${DRIVE}/b`, name: 'b.docx', reason: expect.stringMatching(/\S/) },
    ]);
    expect(state.saves.at(-1)!.retry).toEqual(['a']);

    script.files.set('a', md('File a'));
    script.pages.set('d1', page([], { delta: 'd2' }));
    script.calls.length = 0;
    const second = await sync();

    expect(second.progress).toMatchObject({ indexed: 1, failed: [] });
    expect(script.calls).toEqual(['delta d1', 'permissions a', 'download a']);
    expect(state.saves.at(-1)!.retry).toEqual([]);
    // The corrupt file is not tried again until it changes.
    expect(refs()).toEqual([`${DRIVE}/a`, `${DRIVE}/b`, `${DRIVE}/c`]);
  });

  it('drops the document of a file it may no longer read', async () => {
    await firstSync();
    script.permissions.set('a', new KluisError('graph_access_denied', 'permissions: Graph answered 403'));
    script.pages.set('d1', page([file('a', 'a.md', 2)], { delta: 'd2' }));

    const result = await sync();

    expect(result.progress.failed).toEqual([{ sourceRef: `${DRIVE}/a`, name: 'a.md', reason: 'permissions: Graph answered 403' }]);
    expect(refs()).toEqual([`${DRIVE}/b`, `${DRIVE}/c`]);
    expect(state.saves.at(-1)!.retry).toEqual([]);
  });

  describe('folder scope', () => {
    beforeEach(() => {
      for (const id of ['in1', 'in2', 'out1', 'late']) script.files.set(id, md(`File ${id}`));
    });

    it('indexes only descendants of the folder, by id ancestry, even when a parent comes in a later page', async () => {
      script.pages.set(`root:${DRIVE}`, page([rootItem, folder('scope'), folder('sub', 'scope'), file('in1', 'in1.md', 1, 'scope'), file('in2', 'in2.md', 1, 'sub'), file('out1', 'out1.md')], { next: 'p2' }));
      // A file whose parent folder is only listed after it.
      script.pages.set('p2', page([file('late', 'late.md', 1, 'later'), folder('later', 'sub')], { delta: 'd1' }));

      const result = await sync({ folderId: 'scope' });

      expect(refs()).toEqual([`${DRIVE}/in1`, `${DRIVE}/in2`, `${DRIVE}/late`]);
      expect(result.progress).toMatchObject({ indexed: 3, seen: 3 });
      expect(script.calls).not.toContain('download out1');
    });

    it('drops what a folder moved out of the scope held, and picks up what one moved in holds', async () => {
      script.pages.set(`root:${DRIVE}`, page([rootItem, folder('scope'), folder('sub', 'scope'), folder('elsewhere'), file('in1', 'in1.md', 1, 'sub'), file('out1', 'out1.md', 1, 'elsewhere')], { delta: 'd1' }));
      await sync({ folderId: 'scope' });
      expect(refs()).toEqual([`${DRIVE}/in1`]);

      // Delta returns the moved folders only, not what they contain ("driveItem: delta", Remarks).
      script.pages.set('d1', page([folder('sub', ROOT), folder('elsewhere', 'scope')], { delta: 'd2' }));
      const result = await sync({ folderId: 'scope' });

      expect(refs()).toEqual([`${DRIVE}/out1`]);
      expect(result.progress).toMatchObject({ removed: 1, indexed: 1 });
    });
  });

  it('on 410 Gone enumerates afresh from Location and prunes what the enumeration did not return', async () => {
    await firstSync();
    script.calls.length = 0;
    script.pages.set('d1', { kind: 'resyncRequired', code: 'resyncChangesApplyDifferences', location: 'fresh-1' });
    script.pages.set('fresh-1', page([rootItem, file('a', 'a.md')], { next: 'fresh-2' }));
    script.pages.set('fresh-2', page([file('c', 'c.md')], { delta: 'd9' }));

    const result = await sync();

    expect(result.progress).toMatchObject({ status: 'completed', mode: 'full', resyncs: 1, removed: 1, unchanged: 2, indexed: 0 });
    expect(refs()).toEqual([`${DRIVE}/a`, `${DRIVE}/c`]);
    expect(script.calls.filter((c) => c.startsWith('delta'))).toEqual(['delta d1', 'delta fresh-1', 'delta fresh-2']);
    expect(state.saves.at(-1)).toMatchObject({ deltaLink: 'd9', nextLink: undefined, enumerated: undefined });
  });

  it('restarts from the drive root when 410 Gone has no Location', async () => {
    await firstSync();
    script.pages.set('d1', { kind: 'resyncRequired' });
    script.pages.set(`root:${DRIVE}`, page([rootItem, file('c', 'c.md')], { delta: 'd9' }));

    const result = await sync();

    expect(result.progress).toMatchObject({ resyncs: 1, removed: 2 });
    expect(refs()).toEqual([`${DRIVE}/c`]);
  });

  it('gives up when the fresh enumeration is gone too, and starts from the root next time', async () => {
    await firstSync();
    script.calls.length = 0;
    script.pages.set('d1', { kind: 'resyncRequired', location: 'fresh-1' });
    script.pages.set('fresh-1', { kind: 'resyncRequired', location: 'fresh-2' });
    script.pages.set(`root:${DRIVE}`, { kind: 'resyncRequired' });

    await expect(sync()).rejects.toMatchObject({ id: 'graph_rejected' });
    expect(script.calls).toEqual(['delta d1', 'delta fresh-1', `delta root:${DRIVE}`, `delta root:${DRIVE}`]);
    expect(state.saves.at(-1)).toMatchObject({ nextLink: undefined, deltaLink: undefined, progress: { status: 'interrupted' } });

    script.pages.set(`root:${DRIVE}`, page([rootItem, file('a', 'a.md')], { delta: 'd2' }));
    expect((await sync()).progress).toMatchObject({ status: 'completed', mode: 'full', removed: 2 });
  });

  it('forgets a saved link Graph refuses, so the next sync enumerates afresh', async () => {
    await firstSync();
    script.pages.set('d1', new KluisError('graph_rejected', 'delta: Graph answered 400 invalidRequest'));

    await expect(sync()).rejects.toMatchObject({ id: 'graph_rejected' });
    expect(state.saves.at(-1)).toMatchObject({ nextLink: undefined, deltaLink: undefined });

    script.calls.length = 0;
    script.pages.set(`root:${DRIVE}`, page([rootItem, file('a', 'a.md'), file('b', 'b.md'), file('c', 'c.md')], { delta: 'd2' }));
    expect((await sync()).progress).toMatchObject({ status: 'completed', mode: 'full', unchanged: 3 });
    expect(script.calls.filter((c) => c.startsWith('download'))).toEqual([]);
  });

  it('saves an interrupted sync and resumes at the page it stopped on', async () => {
    for (const id of ['a', 'b', 'c']) script.files.set(id, md(`File ${id}`));
    script.pages.set(`root:${DRIVE}`, page([rootItem, file('a', 'a.md')], { next: 'p2' }));
    script.pages.set('p2', new KluisError('graph_unavailable', 'delta: Graph did not answer'));

    await expect(sync()).rejects.toMatchObject({ id: 'graph_unavailable' });
    expect(state.saves.at(-1)).toMatchObject({ nextLink: 'p2', progress: { status: 'interrupted', error: 'delta: Graph did not answer', indexed: 1, pages: 1 } });

    script.calls.length = 0;
    script.pages.set('p2', page([file('b', 'b.md')], { next: 'p3' }));
    script.pages.set('p3', page([file('c', 'c.md'), gone('zzz')], { delta: 'd1' }));
    const result = await sync();

    expect(script.calls.filter((c) => c.startsWith('delta'))).toEqual(['delta p2', 'delta p3']);
    expect(result.progress).toMatchObject({ status: 'completed', mode: 'full', pages: 3, indexed: 3, error: undefined });
    expect(refs()).toEqual([`${DRIVE}/a`, `${DRIVE}/b`, `${DRIVE}/c`]);
  });

  it('lets an error of the index stop the sync rather than pass as a failed file', async () => {
    script.files.set('a', md('File a'));
    script.pages.set(`root:${DRIVE}`, page([rootItem, file('a', 'a.md')], { delta: 'd1' }));
    index.replaceDocument = async () => {
      throw new KluisError('store_unavailable', 'index down');
    };

    await expect(sync()).rejects.toMatchObject({ id: 'store_unavailable' });
    expect(state.saves.at(-1)!.progress).toMatchObject({ status: 'interrupted', error: 'index down' });
  });

  it('joins a sync of the same source that is already running', async () => {
    script.files.set('a', md('File a'));
    script.pages.set(`root:${DRIVE}`, page([rootItem, file('a', 'a.md')], { delta: 'd1' }));

    const [one, two] = await Promise.all([sync(), sync()]);

    expect(one).toBe(two);
    expect(script.calls.filter((c) => c.startsWith('delta'))).toHaveLength(1);
  });

  it("re-enumerates the drive on an app-only run after a user's, and follows changes again after that", async () => {
    await firstSync();
    // A user-started run from the app's link: changes as that user sees them.
    script.pages.set('d1', page([], { delta: 'd-user' }));
    await sync({ delegated: true });
    expect(state.saves.at(-1)).toMatchObject({ deltaLink: 'd-user', linksDelegated: true });

    script.calls.length = 0;
    script.pages.set(`root:${DRIVE}`, page([rootItem, file('a', 'a.md'), file('b', 'b.md'), file('c', 'c.md')], { delta: 'd-app' }));
    const appRun = await sync();
    expect(appRun.progress.mode).toBe('full');
    expect(script.calls[0]).toBe(`delta root:${DRIVE}`);
    expect(state.saves.at(-1)!.linksDelegated).toBeUndefined();

    script.calls.length = 0;
    script.pages.set('d-app', page([], { delta: 'd-app-2' }));
    expect((await sync()).progress.mode).toBe('changes');
    expect(script.calls).toEqual(['delta d-app']);
  });

  it('stops a sync whose token Graph refuses (401) as interrupted, without dropping or failing the files', async () => {
    await firstSync();
    script.files.set('a', md('File a, second version'));
    script.pages.set('d1', page([file('a', 'a.md', 2)], { delta: 'd2' }));
    script.permissions.set('a', new KluisError('graph_unauthenticated', 'permissions: Graph answered 401'));

    await expect(sync({ delegated: true })).rejects.toMatchObject({ id: 'graph_unauthenticated' });
    expect(state.saves.at(-1)!.progress).toMatchObject({ status: 'interrupted', failed: [] });
    expect(refs()).toEqual([`${DRIVE}/a`, `${DRIVE}/b`, `${DRIVE}/c`]);
  });
});
