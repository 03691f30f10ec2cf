/**
 * Indexing one file: extract -> chunk -> index, with the document's record kept in step.
 * A file that cannot be read is recorded as failed with the reason and its old chunks removed,
 * so the assistant never answers from a stale version of it.
 *
 * When an embedder is configured the index embeds the chunks as it stores them, so writing them
 * can fail for a reason outside the file (the embedding service throttled or down). The record is
 * therefore saved without its content hash first and completed only once the chunks are in: a
 * failed write leaves a record no source takes for unchanged, and the next sync tries again.
 */
import { createHash } from 'node:crypto';
import { isKluisError } from '../errors';
import { chunkSections, DEFAULT_CHUNKING, type ChunkOptions } from './chunk';
import { extractDocument } from './extract';
import { detectLanguage } from './language';
import type { Acl, DocumentRecord, DocumentStore, SearchIndex } from './ports';

export interface IncomingFile {
  sourceKind: string;
  sourceRef: string;
  fileName: string;
  bytes: Buffer;
  url?: string;
  /** Who may read the file; absent = every member of the workspace (local folder, uploads). */
  acl?: Acl;
}

export interface Indexer {
  /**
   * `discardOnFailure`: a file that no later sync will try again (an upload) takes its record and
   * chunks with it when the index or the database fails part-way, instead of leaving them pending.
   */
  indexFile(workspaceId: string, file: IncomingFile, options?: { discardOnFailure?: boolean }): Promise<DocumentRecord>;
  removeDocument(workspaceId: string, documentId: string): Promise<void>;
}

/** The content hash of a record whose chunks are being written: it matches no file. */
const WRITE_PENDING = 'pending';

export function contentHash(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export function createIndexer(deps: { documents: DocumentStore; index: SearchIndex; chunking?: ChunkOptions }): Indexer {
  const chunking = deps.chunking ?? DEFAULT_CHUNKING;
  // Chunks first: a record may outlive its chunks (and is then indexed again), never the reverse.
  const removeDocument = async (workspaceId: string, documentId: string) => {
    await deps.index.deleteDocument(workspaceId, documentId);
    await deps.documents.remove(workspaceId, documentId);
  };
  return {
    async indexFile(workspaceId, file, options) {
      const base = {
        workspaceId,
        sourceKind: file.sourceKind,
        sourceRef: file.sourceRef,
        url: file.url,
        contentHash: contentHash(file.bytes),
        sizeBytes: file.bytes.length,
        indexedAt: new Date(),
      };
      let written: string | undefined;
      try {
        const extracted = await extractDocument(file.fileName, file.bytes);
        const chunks = chunkSections(extracted.sections, chunking);
        const draft = { ...base, title: extracted.title.slice(0, 512), mimeType: extracted.mimeType, chunkCount: chunks.length, status: 'indexed' as const };
        const record = await deps.documents.save({ ...draft, contentHash: WRITE_PENDING });
        written = record.id;
        await deps.index.replaceDocument(
          workspaceId,
          record.id,
          chunks.map((c) => ({
            id: `${record.id}:${c.ordinal}`,
            documentId: record.id,
            ordinal: c.ordinal,
            title: record.title,
            sourceRef: file.sourceRef,
            url: file.url,
            heading: c.heading,
            text: c.text,
            language: detectLanguage(c.text),
            acl: file.acl,
          })),
        );
        // Awaited here, so a failure to complete the record reaches the catch below too.
        return await deps.documents.save(draft);
      } catch (error) {
        if (!isKluisError(error, 'extraction_failed')) {
          // Best effort: with a store still down the record stays, marked pending (no answer uses it).
          if (written && options?.discardOnFailure) await removeDocument(workspaceId, written).catch(() => undefined);
          throw error;
        }
        const record = await deps.documents.save({ ...base, title: file.fileName.slice(0, 512), mimeType: 'application/octet-stream', chunkCount: 0, status: 'failed', error: error.message });
        await deps.index.deleteDocument(workspaceId, record.id);
        return record;
      }
    },
    removeDocument,
  };
}
