/**
 * The search-index port. Every call carries the workspace: an adapter must never return, change
 * or delete a row of another workspace. Within a workspace a search returns only passages the
 * reader may read (see `Acl` and `SearchOptions.reader`). One shared conformance suite
 * (`tests/conformance/searchIndex.suite.ts`) proves each adapter keeps these rules.
 */

/**
 * Who may read a chunk, in Entra terms, copied from the source file's permissions.
 *
 * Ids that are not GUIDs (a SharePoint site group not yet resolved to its members, say) can never
 * match a reader, whose ids must be GUIDs, so they grant nobody anything; an acl that names nobody
 * and not everyone hides the chunk from every reader. GUIDs compare without regard to case.
 */
export interface Acl {
  /** Entra user object ids. */
  users: string[];
  /** Entra group object ids. */
  groups: string[];
  /** Shared with every account of the tenant (an organisation-wide or anonymous link). */
  everyoneInTenant: boolean;
}

/** The signed-in user a search is for, with the Entra groups they belong to (transitively). */
export interface Reader {
  /** Entra user object id (a GUID). */
  userId: string;
  /** Entra group object ids (GUIDs); at most `MAX_READER_GROUPS` (api/knowledge/acl.ts). */
  groupIds: string[];
}

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
  /**
   * Absent: visible to every member of the workspace (the local folder, workspace uploads).
   * Present: visible only to the readers it allows (SharePoint and OneDrive files).
   */
  acl?: Acl;
}

/**
 * A passage as found. It does not carry the chunk's acl: the index has already applied it, and
 * who else may read a file is none of the reader's business (nor the prompt's, nor the log's).
 */
export interface SearchHit extends Omit<ChunkRecord, 'acl'> {
  score: number;
}

export interface SearchOptions {
  limit: number;
  /**
   * With a reader, a search returns the chunks without an acl and those whose acl shares them
   * with everyone in the tenant, lists the reader's user id, or lists one of the reader's groups.
   *
   * Without a reader it fails closed: only workspace-wide chunks come back (no acl, or shared
   * with everyone in the tenant), never one shared with particular users or groups. A caller that
   * forgets the reader loses passages; it cannot leak them.
   *
   * A reader whose ids are not GUIDs, or with more than `MAX_READER_GROUPS` groups, is refused
   * with `request_malformed` (a rejected promise) before the index is asked anything.
   */
  reader?: Reader;
}

export interface SearchIndex {
  /** Replace all chunks of one document with these. */
  replaceDocument(workspaceId: string, documentId: string, chunks: ChunkRecord[]): Promise<void>;
  deleteDocument(workspaceId: string, documentId: string): Promise<void>;
  deleteWorkspace(workspaceId: string): Promise<void>;
  search(workspaceId: string, query: string, options: SearchOptions): Promise<SearchHit[]>;
  /**
   * Chunks of a workspace, or of one of its documents, whatever their acl: sources compare it
   * with what they indexed to find documents whose chunks went missing.
   */
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
