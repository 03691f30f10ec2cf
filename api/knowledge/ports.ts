/**
 * The search-index port. Every call carries the workspace: an adapter must never return, change
 * or delete a row of another workspace. One shared conformance suite
 * (`tests/conformance/searchIndex.suite.ts`) proves each adapter keeps these rules.
 */
export interface ChunkRecord {
  /** Stable id: `${documentId}:${ordinal}`. */
  id: string;
  documentId: string;
  ordinal: number;
  title: string;
  sourceRef: string;
  url?: string;
  heading?: string;
  text: string;
  language: 'nl' | 'en';
}

export interface SearchHit extends ChunkRecord {
  score: number;
}

export interface SearchOptions {
  limit: number;
}

export interface SearchIndex {
  /** Replace all chunks of one document with these. */
  replaceDocument(workspaceId: string, documentId: string, chunks: ChunkRecord[]): Promise<void>;
  deleteDocument(workspaceId: string, documentId: string): Promise<void>;
  deleteWorkspace(workspaceId: string): Promise<void>;
  search(workspaceId: string, query: string, options: SearchOptions): Promise<SearchHit[]>;
  /** Chunks of a workspace, or of one of its documents. */
  countChunks(workspaceId: string, documentId?: string): Promise<number>;
  /** Throws when the index cannot be reached. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** What Kluis remembers of an indexed file (the text itself lives only in the search index). */
export interface DocumentRecord {
  id: string;
  workspaceId: string;
  sourceKind: string;
  sourceRef: string;
  title: string;
  url?: string;
  mimeType: string;
  contentHash: string;
  sizeBytes: number;
  chunkCount: number;
  status: 'indexed' | 'failed';
  error?: string;
  indexedAt: Date;
}

export type DocumentDraft = Omit<DocumentRecord, 'id'>;

export interface DocumentStore {
  listBySource(workspaceId: string, sourceKind: string): Promise<DocumentRecord[]>;
  /** Insert or update by (workspaceId, sourceKind, sourceRef); returns the stored record. */
  save(draft: DocumentDraft): Promise<DocumentRecord>;
  remove(workspaceId: string, documentId: string): Promise<void>;
}
