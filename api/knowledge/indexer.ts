/**
 * Indexing one file: extract -> chunk -> index, with the document's record kept in step.
 * A file that cannot be read is recorded as failed with the reason and its old chunks removed,
 * so the assistant never answers from a stale version of it.
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
  indexFile(workspaceId: string, file: IncomingFile): Promise<DocumentRecord>;
  removeDocument(workspaceId: string, documentId: string): Promise<void>;
}

export function contentHash(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export function createIndexer(deps: { documents: DocumentStore; index: SearchIndex; chunking?: ChunkOptions }): Indexer {
  const chunking = deps.chunking ?? DEFAULT_CHUNKING;
  return {
    async indexFile(workspaceId, file) {
      const base = {
        workspaceId,
        sourceKind: file.sourceKind,
        sourceRef: file.sourceRef,
        url: file.url,
        contentHash: contentHash(file.bytes),
        sizeBytes: file.bytes.length,
        indexedAt: new Date(),
      };
      try {
        const extracted = await extractDocument(file.fileName, file.bytes);
        const chunks = chunkSections(extracted.sections, chunking);
        const record = await deps.documents.save({ ...base, title: extracted.title.slice(0, 512), mimeType: extracted.mimeType, chunkCount: chunks.length, status: 'indexed' });
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
        return record;
      } catch (error) {
        if (!isKluisError(error, 'extraction_failed')) throw error;
        const record = await deps.documents.save({ ...base, title: file.fileName.slice(0, 512), mimeType: 'application/octet-stream', chunkCount: 0, status: 'failed', error: error.message });
        await deps.index.deleteDocument(workspaceId, record.id);
        return record;
      }
    },
    async removeDocument(workspaceId, documentId) {
      await deps.index.deleteDocument(workspaceId, documentId);
      await deps.documents.remove(workspaceId, documentId);
    },
  };
}
