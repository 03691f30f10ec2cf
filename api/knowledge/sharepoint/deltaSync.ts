/**
 * The SharePoint knowledge source's sync engine. One source is one drive (a document library),
 * optionally narrowed to the descendants of one folder in it, kept in step with the search index
 * through Graph's delta query ("driveItem: delta"; "Best practices for discovering files and
 * detecting changes at scale", here "Scan guidance").
 *
 * - A sync follows @odata.nextLink page by page up to the @odata.deltaLink, which the next sync
 *   starts from. The link is saved after every page, so a sync that dies mid-way resumes at the
 *   page it was on instead of enumerating the drive again.
 * - "The same item may appear more than once in a delta feed ... use the last occurrence" (Remarks).
 * - Items with the `deleted` facet lose their document, found by id: deleted items carry no name.
 * - Delta gives no `parentReference.path` (Remarks: "track items by id"), so every folder's parent is
 *   tracked and a folder-scoped source decides by id ancestry. Renaming or moving a folder does not
 *   return its descendants, so scope is settled again for every tracked file at the end of a set.
 * - A file is downloaded and indexed only when its cTag ("Scan guidance": cTag tells whether the
 *   content changed; delta often omits it, then the eTag) differs from the version last handled.
 *   Unsupported types and files over the size limit are skipped and
 *   listed; a file that fails is listed with the reason and never stops the sync. A transient
 *   failure is tried again on the next sync, because delta will not return the file again.
 * - 410 Gone: the Location header (or the drive root) starts a full enumeration; at its end, every
 *   document of the drive that the enumeration did not return is removed ("driveItem: delta"). The
 *   first sync is such an enumeration too, so a lost sync state heals the same way. A saved link
 *   Graph refuses is forgotten, so one bad link cannot fail every later sync.
 * - For every file handled, its sharing permissions are read (delta also returns items whose sharing
 *   changed: "driveItem: delta", Scanning permissions hierarchies) and the ACL is returned per
 *   document id; a file whose permissions cannot be read is not indexed.
 *
 * Requests go out one at a time, so while the Graph client waits out a Retry-After nothing else is
 * sent ("Scan guidance": pause all further requests while throttled).
 * Documents are keyed `driveId/itemId` (sourceRef), drive-wide: a workspace has one source per drive.
 */
import { fail, isKluisError } from '../../errors';
import { isSupportedFile } from '../extract';
import type { Indexer } from '../indexer';
import type { DocumentRecord, DocumentStore, SearchIndex } from '../ports';
import { permissionsToAcl } from './acl';
import type { Acl, DeltaRequest, DeltaResult, DriveItem, GraphDriveClient, Permission, SyncProgress, SyncState, SyncStateStore, TrackedItem } from './ports';

export const SHAREPOINT_SOURCE_KIND = 'sharepoint';

export interface SharePointSource {
  /** Names the source's sync state in the SyncStateStore. */
  id: string;
  workspaceId: string;
  driveId: string;
  /** When set, only descendants of this folder (a driveItem id) are indexed. */
  folderId?: string;
  /** Files larger than this (by the size Graph reports) are skipped, not downloaded. */
  maxFileBytes: number;
  /**
   * The graph client acts for a signed-in user (delegated), not the app: it sees only what that
   * user may open. The links such a run saves are marked, so the next app-only run enumerates the
   * drive afresh instead of continuing from a user's view of it.
   */
  delegated?: boolean;
}

export interface DeltaSyncDeps {
  graph: GraphDriveClient;
  indexer: Indexer;
  documents: DocumentStore;
  index: SearchIndex;
  state: SyncStateStore;
  now?: () => Date;
  /** A bound on pages in one sync, against a service that never ends a set. Default 100,000. */
  maxPages?: number;
}

export interface DeltaSyncResult {
  progress: SyncProgress;
  /** The ACL of every file indexed or confirmed unchanged in this sync, by document id. */
  acl: Record<string, Acl>;
}

/** Consecutive 410 answers tolerated in one sync before giving up. */
const MAX_RESYNCS = 3;
const MAX_ISSUES_LISTED = 1000;
/** Graph errors that concern one file only; anything else stops the sync. */
const FILE_ERRORS = new Set(['graph_unavailable', 'graph_rejected', 'graph_access_denied', 'not_found', 'file_too_large']);
/** Worth another try on the next sync (the file will not come back through delta by itself). */
const TRANSIENT_ERRORS = new Set(['graph_unavailable', 'graph_rejected']);

const running = new Map<string, Promise<DeltaSyncResult>>();

// liveCheck only when set, so files indexed before it existed re-index exactly when they need it.
const aclKey = (a: Acl) => JSON.stringify({ users: [...a.users].sort(), groups: [...a.groups].sort(), everyoneInTenant: a.everyoneInTenant, ...(a.liveCheck ? { liveCheck: true } : {}) });

/** Sync one source. A call while the same source is syncing in this process joins that sync. */
export function deltaSync(source: SharePointSource, deps: DeltaSyncDeps): Promise<DeltaSyncResult> {
  const key = JSON.stringify([source.workspaceId, source.id]);
  const current = running.get(key);
  if (current) return current;
  const started = runSync(source, deps).finally(() => running.delete(key));
  running.set(key, started);
  return started;
}

/** The progress saved with the source's state: of the running sync, or of the last one. */
export async function readSyncProgress(store: SyncStateStore, workspaceId: string, sourceId: string): Promise<SyncProgress | undefined> {
  return (await store.load(workspaceId, sourceId))?.progress;
}

function freshProgress(mode: SyncProgress['mode'], at: string): SyncProgress {
  return { status: 'running', mode, startedAt: at, updatedAt: at, pages: 0, seen: 0, indexed: 0, unchanged: 0, removed: 0, skipped: [], failed: [], resyncs: 0 };
}

/** Whether the first indexed document with chunks is missing from the index (an emptied index shows at once). */
async function indexLostADocument(index: SearchIndex, workspaceId: string, documents: Iterable<DocumentRecord>): Promise<boolean> {
  for (const doc of documents) {
    if (doc.status !== 'indexed' || doc.chunkCount === 0) continue;
    return (await index.countChunks(workspaceId, doc.id)) === 0;
  }
  return false;
}

async function runSync(source: SharePointSource, deps: DeltaSyncDeps): Promise<DeltaSyncResult> {
  const { workspaceId, driveId } = source;
  const stamp = () => (deps.now?.() ?? new Date()).toISOString();
  const prefix = `${driveId}/`;
  const maxPages = deps.maxPages ?? 100_000;

  const loaded = await deps.state.load(workspaceId, source.id);
  const state: SyncState = loaded ?? { items: {}, retry: [], progress: freshProgress('full', stamp()) };
  state.items ??= {};
  state.retry ??= [];
  const documents = new Map<string, DocumentRecord>();
  for (const doc of await deps.documents.listBySource(workspaceId, SHAREPOINT_SOURCE_KIND)) if (doc.sourceRef.startsWith(prefix)) documents.set(doc.sourceRef, doc);
  // A delta link only reports changes. When the index no longer holds a document this source
  // indexed (rebuilt for another embedder, or lost), the unchanged files would never come back:
  // forget the link, so this sync enumerates the drive and re-indexes every file whose chunks are missing.
  if (state.nextLink === undefined && state.deltaLink !== undefined && (await indexLostADocument(deps.index, workspaceId, documents.values()))) {
    state.deltaLink = undefined;
  }
  let request: DeltaRequest;
  if (state.nextLink !== undefined) {
    // An unfinished set: carry on from its last saved page, with its progress so far.
    request = state.nextLink;
    state.progress = { ...state.progress, status: 'running', error: undefined, updatedAt: stamp() };
  } else if (state.deltaLink !== undefined && !(state.linksDelegated && !source.delegated)) {
    request = state.deltaLink;
    state.progress = freshProgress('changes', stamp());
    state.enumerated = undefined;
    if (source.delegated) state.linksDelegated = true;
  } else {
    // First sync, or an app-only run after a user's: changes since a user's view would miss
    // whatever that user could not see, so the whole drive is enumerated again.
    request = { driveId };
    state.progress = freshProgress('full', stamp());
    state.enumerated = [];
    state.deltaLink = undefined;
    state.linksDelegated = source.delegated ? true : undefined;
  }
  const progress = () => state.progress;
  const enumerated = new Set(state.enumerated ?? []);
  const acl: Record<string, Acl> = {};
  const handledThisRun = new Set<string>();

  const save = async () => {
    if (state.enumerated !== undefined) state.enumerated = [...enumerated];
    state.progress.updatedAt = stamp();
    await deps.state.save(workspaceId, source.id, state);
  };
  const listIssue = (list: SyncProgress['failed'], issue: SyncProgress['failed'][number]) => {
    if (list.length < MAX_ISSUES_LISTED) list.push(issue);
  };
  const setRetry = (itemId: string, retry: boolean) => {
    const has = state.retry.includes(itemId);
    if (retry && !has) state.retry.push(itemId);
    if (!retry && has) state.retry = state.retry.filter((id) => id !== itemId);
  };

  /** Is this parent inside the source's folder? Unknown ancestry counts as outside until it is known. */
  const inScope = (parentId: string | undefined, memo = new Map<string, boolean>()): boolean => {
    if (source.folderId === undefined) return true;
    const walked: string[] = [];
    let current = parentId;
    let inside = false;
    for (let depth = 0; current !== undefined && depth < 10_000; depth++) {
      if (current === source.folderId) {
        inside = true;
        break;
      }
      const known = memo.get(current);
      if (known !== undefined) {
        inside = known;
        break;
      }
      walked.push(current);
      const folder = state.items[current];
      if (!folder?.folder) break;
      current = folder.parentId;
    }
    for (const id of walked) memo.set(id, inside);
    return inside;
  };

  const dropDocument = async (itemId: string): Promise<boolean> => {
    const doc = documents.get(prefix + itemId);
    if (!doc) return false;
    await deps.indexer.removeDocument(workspaceId, doc.id);
    documents.delete(prefix + itemId);
    progress().removed++;
    return true;
  };

  /** One file inside the scope: skip, confirm unchanged, or download and index it. */
  const handleFile = async (itemId: string, tracked: TrackedItem): Promise<void> => {
    handledThisRun.add(itemId);
    const sourceRef = prefix + itemId;
    const name = tracked.name ?? itemId;
    progress().seen++;
    const skip = async (reason: string) => {
      listIssue(progress().skipped, { sourceRef, name, reason });
      tracked.handledTag = tracked.tag;
      setRetry(itemId, false);
      // A file that became unsupported or too large must not keep answering from its old version.
      await dropDocument(itemId);
    };
    const failFile = async (error: unknown) => {
      const id = isKluisError(error) ? error.id : '';
      listIssue(progress().failed, { sourceRef, name, reason: (error as Error).message });
      const transient = TRANSIENT_ERRORS.has(id);
      setRetry(itemId, transient);
      // Refused or gone: stop answering from it. Transient: keep the last good version until the retry.
      if (!transient) {
        tracked.handledTag = tracked.tag;
        await dropDocument(itemId);
      }
    };

    if (!isSupportedFile(name)) return skip(`unsupported file type (${name.includes('.') ? name.slice(name.lastIndexOf('.')) : 'no extension'})`);
    if (tracked.size !== undefined && tracked.size > source.maxFileBytes) return skip(`larger than ${source.maxFileBytes} bytes`);

    const previous = documents.get(sourceRef);
    if (previous && tracked.tag !== undefined && tracked.handledTag === tracked.tag) {
      if (previous.status === 'failed') {
        // The same version failed to extract before and would fail the same way.
        listIssue(progress().failed, { sourceRef, name, reason: previous.error ?? 'unreadable' });
        return;
      }
      // Unchanged only if the index still holds the document too (an index can be rebuilt or lost).
      if ((await deps.index.countChunks(workspaceId, previous.id)) === previous.chunkCount) {
        let permissions: Permission[];
        try {
          permissions = await deps.graph.permissions(driveId, itemId);
        } catch (error) {
          if (!isFileError(error)) throw error;
          return failFile(error);
        }
        const current = permissionsToAcl(permissions, deps.now?.());
        // A sharing change (delta reports it as a change of the item) must reach the chunks' ACL.
        if (tracked.aclKey === undefined || tracked.aclKey === aclKey(current)) {
          tracked.aclKey = aclKey(current);
          acl[previous.id] = current;
          progress().unchanged++;
          setRetry(itemId, false);
          return;
        }
      }
    }

    let permissions: Permission[];
    let bytes: Buffer;
    try {
      // Permissions first: a file whose readers are unknown is not indexed.
      permissions = await deps.graph.permissions(driveId, itemId);
      bytes = await deps.graph.download(driveId, itemId);
    } catch (error) {
      if (isKluisError(error, 'file_too_large')) return skip(error.message);
      if (!isFileError(error)) throw error;
      return failFile(error);
    }
    const fileAcl = permissionsToAcl(permissions, deps.now?.());
    const record = await deps.indexer.indexFile(workspaceId, { sourceKind: SHAREPOINT_SOURCE_KIND, sourceRef, fileName: name, bytes, url: tracked.webUrl, acl: fileAcl });
    tracked.aclKey = aclKey(fileAcl);
    documents.set(sourceRef, record);
    tracked.handledTag = tracked.tag;
    setRetry(itemId, false);
    if (record.status === 'failed') {
      listIssue(progress().failed, { sourceRef, name, reason: record.error ?? 'unreadable' });
      return;
    }
    progress().indexed++;
    acl[record.id] = fileAcl;
  };

  const leaveScope = async (itemId: string, tracked: TrackedItem) => {
    tracked.handledTag = undefined;
    setRetry(itemId, false);
    await dropDocument(itemId);
  };

  const applyPage = async (page: DriveItem[]) => {
    const latest = new Map<string, DriveItem>();
    for (const item of page) {
      latest.delete(item.id);
      latest.set(item.id, item);
    }
    const items = [...latest.values()];
    // Folders first: a file's scope depends on folders that may come later in the same page.
    for (const item of items) {
      if (state.enumerated !== undefined && !item.deleted) enumerated.add(item.id);
      if (item.deleted || !isFolder(item)) continue;
      const previous = state.items[item.id];
      state.items[item.id] = { folder: true, parentId: item.root ? undefined : (item.parentReference?.id ?? previous?.parentId), name: item.name ?? previous?.name };
    }
    for (const item of items) {
      if (item.deleted) {
        delete state.items[item.id];
        setRetry(item.id, false);
        await dropDocument(item.id);
        continue;
      }
      if (isFolder(item) || !item.file) continue;
      const previous = state.items[item.id];
      const tracked: TrackedItem = {
        parentId: item.parentReference?.id ?? previous?.parentId,
        name: item.name ?? previous?.name,
        size: item.size ?? previous?.size,
        webUrl: item.webUrl ?? previous?.webUrl,
        tag: item.cTag ?? item.eTag,
        handledTag: previous?.handledTag,
        aclKey: previous?.aclKey,
      };
      state.items[item.id] = tracked;
      if (inScope(tracked.parentId)) await handleFile(item.id, tracked);
      else await leaveScope(item.id, tracked);
    }
  };

  /** Folder-scoped sources: files whose ancestry changed (or became known) join or leave the scope. */
  const settleScope = async () => {
    if (source.folderId === undefined) return;
    const memo = new Map<string, boolean>();
    for (const [itemId, tracked] of Object.entries(state.items)) {
      if (tracked.folder) continue;
      if (!inScope(tracked.parentId, memo)) {
        if (tracked.handledTag !== undefined || documents.has(prefix + itemId)) await leaveScope(itemId, tracked);
      } else if (tracked.handledTag === undefined && !handledThisRun.has(itemId)) {
        await handleFile(itemId, tracked);
      }
    }
  };

  /** After a full enumeration: whatever it did not return is gone. */
  const prune = async () => {
    for (const itemId of Object.keys(state.items)) if (!enumerated.has(itemId)) delete state.items[itemId];
    state.retry = state.retry.filter((id) => state.items[id] !== undefined);
    for (const sourceRef of [...documents.keys()]) {
      const itemId = sourceRef.slice(prefix.length);
      if (!enumerated.has(itemId)) await dropDocument(itemId);
    }
  };

  const retryPending = async () => {
    for (const itemId of [...state.retry]) {
      const tracked = state.items[itemId];
      if (!tracked || tracked.folder) setRetry(itemId, false);
      else if (!handledThisRun.has(itemId) && inScope(tracked.parentId)) await handleFile(itemId, tracked);
    }
  };

  const forgetLinks = () => {
    state.nextLink = undefined;
    state.deltaLink = undefined;
    state.enumerated = undefined;
  };

  let pageStart: SyncProgress = structuredClone(state.progress);
  try {
    let resyncsInARow = 0;
    for (let pages = 0; ; pages++) {
      if (pages >= maxPages) fail('graph_rejected', `delta: more than ${maxPages} pages in one sync`);
      pageStart = structuredClone(state.progress);
      let result: DeltaResult;
      try {
        result = await deps.graph.delta(request);
      } catch (error) {
        // A saved link Graph refuses (or that leads outside Graph) would fail every sync from now on:
        // forget it, so the next sync enumerates afresh and prunes.
        if (isKluisError(error, 'graph_rejected') && typeof request === 'string') forgetLinks();
        throw error;
      }
      if (result.kind === 'resyncRequired') {
        if (++resyncsInARow > MAX_RESYNCS) {
          forgetLinks();
          fail('graph_rejected', `delta: 410 Gone ${resyncsInARow} times in a row (${result.code ?? 'no code'})`);
        }
        progress().resyncs++;
        progress().mode = 'full';
        // Graph's Location first; if that is gone too, the drive's root.
        const restart = resyncsInARow === 1 ? result.location : undefined;
        state.deltaLink = undefined;
        state.nextLink = restart;
        state.enumerated = [];
        enumerated.clear();
        request = restart ?? { driveId };
        await save();
        continue;
      }
      resyncsInARow = 0;
      await applyPage(result.value);
      progress().pages++;
      if (result.nextLink !== undefined) {
        state.nextLink = result.nextLink;
        request = result.nextLink;
        await save();
        continue;
      }
      // The end of the set ("... until you no longer see an @odata.nextLink returned").
      if (state.enumerated !== undefined) await prune();
      await settleScope();
      await retryPending();
      state.nextLink = undefined;
      // Without a deltaLink (an empty last page may carry none), the next sync enumerates afresh.
      state.deltaLink = result.deltaLink;
      state.enumerated = undefined;
      state.progress.status = 'completed';
      state.progress.finishedAt = stamp();
      await save();
      return { progress: state.progress, acl };
    }
  } catch (error) {
    // Counters as of the last whole page: the page in hand is fetched and applied again on resume.
    state.progress = { ...pageStart, status: 'interrupted', error: error instanceof Error ? error.message : String(error) };
    try {
      await save();
    } catch {
      // The original error is the one worth reporting.
    }
    throw error;
  }
}

function isFolder(item: DriveItem): boolean {
  return item.folder !== undefined || item.package !== undefined || item.root !== undefined;
}

function isFileError(error: unknown): boolean {
  return isKluisError(error) && FILE_ERRORS.has(error.id);
}
