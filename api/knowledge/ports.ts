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
  /**
   * Also readable by people Kluis cannot list but the source system can confirm (SharePoint site
   * groups such as a site's Owners, Members and Visitors). Such a chunk is a candidate for any
   * reader: it is returned only to searches that ask for candidates (`SearchOptions.candidates`),
   * and used only after a live check with the asking user's own access says true.
   */
  liveCheck?: boolean;
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
  /**
   * How the hit got past the acl: 'workspace' (no acl: the local folder, uploads), 'acl' (the
   * file's acl grants the reader, or everyone in the tenant), 'candidate' (only a live check can
   * tell; see `Acl.liveCheck`).
   */
  access: 'workspace' | 'acl' | 'candidate';
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
  /**
   * Also return chunks whose acl asks for a live check (`Acl.liveCheck`) as `access: 'candidate'`.
   * Only a caller that will confirm each one with the asking user's own access to the source may
   * set it; without it such chunks never come back (unless their acl grants the reader).
   */
  candidates?: boolean;
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

/** What the source system says of one file for the asking user: may open, may not, or unknown. */
export type OpenVerdict = true | false | undefined;

/**
 * The asking user's own, delegated access to the source system (SharePoint through Graph with the
 * user's token), for one request. It tells whether the user may open files now, as the source
 * system decides, whatever Kluis stored at the last sync. Implementations never throw for one
 * file: what they cannot find out is `undefined`.
 */
export interface DelegatedAccess {
  /** A verdict per sourceRef (SharePoint: `driveId/itemId`); refs it cannot check are undefined. */
  canOpen(sourceRefs: readonly string[]): Promise<Map<string, OpenVerdict>>;
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
