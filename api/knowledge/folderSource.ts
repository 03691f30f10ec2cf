/**
 * The local-folder knowledge source (KNOWLEDGE_DIR): every supported file below the folder is
 * indexed for one workspace; a sync compares content hashes with what was indexed before, so an
 * unchanged file costs one read and a hash. Files that vanished are removed from the index.
 * A watcher re-syncs shortly after any change.
 */
import fs from 'node:fs';
import path from 'node:path';
import { isSupportedFile } from './extract';
import { contentHash, type Indexer } from './indexer';
import type { DocumentStore, SearchIndex } from './ports';

export const FOLDER_SOURCE_KIND = 'folder';

export interface SyncReport {
  seen: number;
  indexed: number;
  unchanged: number;
  removed: number;
  failed: Array<{ sourceRef: string; reason: string }>;
}

export interface FolderSource {
  sync(): Promise<SyncReport>;
  /** Re-sync on changes until the returned function is called. */
  watch(onSynced: (report: SyncReport | Error) => void, debounceMs?: number): () => void;
}

export interface FolderSourceOptions {
  dir: string;
  workspaceId: string;
  indexer: Indexer;
  documents: DocumentStore;
  index: SearchIndex;
  maxFileBytes: number;
}

export function createFolderSource(options: FolderSourceOptions): FolderSource {
  const root = path.resolve(options.dir);
  let running: Promise<SyncReport> | undefined;
  let again = false;

  async function syncOnce(): Promise<SyncReport> {
    const report: SyncReport = { seen: 0, indexed: 0, unchanged: 0, removed: 0, failed: [] };
    const known = new Map((await options.documents.listBySource(options.workspaceId, FOLDER_SOURCE_KIND)).map((d) => [d.sourceRef, d]));
    for (const file of listFiles(root)) {
      const sourceRef = path.relative(root, file).split(path.sep).join('/');
      report.seen++;
      const previous = known.get(sourceRef);
      known.delete(sourceRef);
      let bytes: Buffer | undefined;
      let reason = 'unreadable';
      try {
        bytes = readRegularFile(file, options.maxFileBytes);
        if (bytes === undefined) reason = `larger than ${options.maxFileBytes} bytes`;
      } catch (error) {
        reason = (error as NodeJS.ErrnoException).code === 'ELOOP' ? 'is a symbolic link' : (error as Error).message;
      }
      if (bytes === undefined) {
        report.failed.push({ sourceRef, reason });
        // A file that grew too large or became unreadable must not keep answering from its old version.
        if (previous) await options.indexer.removeDocument(options.workspaceId, previous.id);
        continue;
      }
      const hash = contentHash(bytes);
      // Unchanged only if the index still holds the document too (an index folder can be rebuilt or lost).
      if (previous && previous.contentHash === hash && previous.status === 'indexed' && (await options.index.countChunks(options.workspaceId, previous.id)) === previous.chunkCount) {
        report.unchanged++;
        continue;
      }
      // The same unreadable bytes fail the same way: report the stored reason instead of extracting again.
      if (previous && previous.contentHash === hash && previous.status === 'failed') {
        report.failed.push({ sourceRef, reason: previous.error ?? 'unreadable' });
        continue;
      }
      const record = await options.indexer.indexFile(options.workspaceId, { sourceKind: FOLDER_SOURCE_KIND, sourceRef, fileName: file, bytes });
      if (record.status === 'failed') report.failed.push({ sourceRef, reason: record.error ?? 'unreadable' });
      else report.indexed++;
    }
    for (const gone of known.values()) {
      await options.indexer.removeDocument(options.workspaceId, gone.id);
      report.removed++;
    }
    return report;
  }

  /** One sync at a time; a request during a sync runs one more sync after it. */
  function sync(): Promise<SyncReport> {
    if (running) {
      again = true;
      return running;
    }
    running = (async () => {
      try {
        let report = await syncOnce();
        while (again) {
          again = false;
          report = await syncOnce();
        }
        return report;
      } finally {
        running = undefined;
      }
    })();
    return running;
  }

  function watch(onSynced: (report: SyncReport | Error) => void, debounceMs = 500): () => void {
    let timer: NodeJS.Timeout | undefined;
    const watcher = fs.watch(root, { recursive: true, persistent: false }, () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        sync().then(onSynced, (error: Error) => onSynced(error));
      }, debounceMs);
    });
    return () => {
      clearTimeout(timer);
      watcher.close();
    };
  }

  return { sync, watch };
}

/**
 * Read a file only if it is still a regular file (O_NOFOLLOW: a file swapped for a symbolic link
 * between listing and reading is refused) and not larger than `maxBytes`; undefined when too large.
 */
function readRegularFile(file: string, maxBytes: number): Buffer | undefined {
  const fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
  try {
    const stat = fs.fstatSync(fd);
    if (!stat.isFile()) throw Object.assign(new Error('not a regular file'), { code: 'EINVAL' });
    if (stat.size > maxBytes) return undefined;
    return fs.readFileSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** Supported files below `root`, skipping hidden entries and symbolic links (which could leave the folder). */
function listFiles(root: string): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      if (entry.name.startsWith('.')) continue;
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.isFile() && isSupportedFile(entry.name)) out.push(full);
    }
  };
  walk(root);
  return out;
}
