/**
 * Ports of the SharePoint knowledge source: what the sync engine (deltaSync.ts) needs from
 * Microsoft Graph and from wherever its sync state is kept.
 *
 * The wire shapes follow the Graph v1.0 reference ("driveItem resource type", "permission resource
 * type", "sharePointIdentitySet resource type"); only the fields Kluis reads are typed, and every one
 * of them is optional where Graph may leave it out. In particular "driveItem: delta" (Remarks) says
 * delta omits `parentReference.path` (items are tracked by id), omits `cTag` on create and modify in
 * OneDrive for Business and SharePoint, and omits `name` and `cTag` on deleted items.
 */
import type { DelegatedAccess } from '../ports';

export interface ItemReference {
  driveId?: string;
  id?: string;
  /** Not returned by delta ("driveItem: delta", Remarks): never rely on it there. */
  path?: string;
}

export interface DriveItem {
  id: string;
  name?: string;
  /** Changes with any change to the item, metadata included. */
  eTag?: string;
  /** Changes only when the content changes; often missing from delta (see above). */
  cTag?: string;
  size?: number;
  webUrl?: string;
  lastModifiedDateTime?: string;
  parentReference?: ItemReference;
  file?: { mimeType?: string };
  folder?: { childCount?: number };
  /** A package (a OneNote notebook, for example) is a folder-like item, not a file to download. */
  package?: { type?: string };
  /** Present (empty) on the drive's root folder. */
  root?: Record<string, unknown>;
  /** Present when the item was deleted: remove it from local state ("driveItem: delta"). */
  deleted?: { state?: string };
}

export interface Identity {
  id?: string;
  displayName?: string;
}

export interface SharePointIdentity extends Identity {
  loginName?: string;
}

/** "sharePointIdentitySet resource type": who a permission is granted to. */
export interface SharePointIdentitySet {
  user?: Identity;
  group?: Identity;
  application?: Identity;
  device?: Identity;
  siteUser?: SharePointIdentity;
  siteGroup?: SharePointIdentity;
  sharePointGroup?: Identity & { title?: string };
}

/** "permission resource type" (sharing permissions of a driveItem). */
export interface Permission {
  id: string;
  roles?: string[];
  /** A sharing link; `scope` is `anonymous`, `organization`, `users` or `existingAccess`. */
  link?: { scope?: string; type?: string; webUrl?: string };
  grantedToV2?: SharePointIdentitySet;
  grantedToIdentitiesV2?: SharePointIdentitySet[];
  /** Deprecated by Graph in favour of grantedToV2; read only when grantedToV2 is absent. */
  grantedTo?: SharePointIdentitySet;
  /** Deprecated by Graph in favour of grantedToIdentitiesV2; read only when that is absent. */
  grantedToIdentities?: SharePointIdentitySet[];
  invitation?: { email?: string; signInRequired?: boolean };
  inheritedFrom?: ItemReference;
  expirationDateTime?: string;
}

/** A delta request: a drive's root (a fresh enumeration), or a nextLink/deltaLink/Location URL Graph gave. */
export type DeltaRequest = string | { driveId: string };

export type DeltaResult =
  /** One page of changes and exactly one of the links ("driveItem: delta", Response). */
  | { kind: 'page'; value: DriveItem[]; nextLink?: string; deltaLink?: string }
  /**
   * 410 Gone: Graph cannot give changes for this token. `location` (the Location header) starts a
   * fresh enumeration; afterwards local state is compared with what it returned ("driveItem: delta").
   */
  | { kind: 'resyncRequired'; code?: string; location?: string };

/**
 * Microsoft Graph as the sync engine sees it. Implementations retry throttling and transient
 * failures themselves and raise catalogued errors (`graph_unavailable`, `graph_access_denied`,
 * `graph_rejected`, `not_found`, `file_too_large`) when they give up.
 */
export interface GraphDriveClient {
  delta(request: DeltaRequest): Promise<DeltaResult>;
  /** The file's bytes; larger than the client's limit raises `file_too_large`. */
  download(driveId: string, itemId: string): Promise<Buffer>;
  permissions(driveId: string, itemId: string): Promise<Permission[]>;
  /** Ids of the Entra groups the user belongs to, directly or through other groups. */
  groupsOf(userObjectId: string): Promise<string[]>;
}

/**
 * The signed-in caller's own, delegated access to SharePoint for one request (a Graph token On
 * Behalf Of them, or the bot's OAuth connection), as capabilities: the token itself never reaches
 * a handler or a domain module.
 */
export interface DelegatedGraph {
  /** Live open checks before answering (knowledge/liveCheck.ts). */
  access: DelegatedAccess;
  /** Graph drive access as the caller: a sync they start indexes what they can see. */
  drive: GraphDriveClient;
}

/** Who may read a document, in Entra terms: user object ids and group object ids. */
export interface Acl {
  users: string[];
  /**
   * Entra group object ids. SharePoint site groups, whose ids are unique only within their site, are
   * kept as `siteGroup:<id>` (and `sharePointGroup:<id>`), so they can never match an Entra group id
   * by accident: until their members are resolved they grant nobody anything.
   */
  groups: string[];
  /** An anonymous or organization-wide link, or the tenant's "everyone" claim. */
  everyoneInTenant: boolean;
  /**
   * Shared with a set Kluis cannot list (a site group, a group's owners): any reader's search may
   * find the file as a candidate that SharePoint must confirm live for the asking user.
   */
  liveCheck?: boolean;
}

export interface SyncIssue {
  /** `driveId/itemId`, the document's sourceRef. */
  sourceRef: string;
  name?: string;
  reason: string;
}

/** How far a sync got, saved with the state after every page so it can be read while a sync runs. */
export interface SyncProgress {
  /** `interrupted`: stopped by an error; the next sync resumes from the last saved link. */
  status: 'running' | 'completed' | 'interrupted';
  /** `full`: an enumeration of the whole drive (first sync, or after 410 Gone); `changes`: from a deltaLink. */
  mode: 'full' | 'changes';
  startedAt: string;
  updatedAt: string;
  finishedAt?: string;
  pages: number;
  /** Files in scope that this sync looked at (folders are not counted). */
  seen: number;
  indexed: number;
  unchanged: number;
  removed: number;
  skipped: SyncIssue[];
  failed: SyncIssue[];
  /** How many times Graph answered 410 Gone and a full enumeration was started instead. */
  resyncs: number;
  error?: string;
}

/** What the engine remembers of one item of the drive (folders too: delta gives no paths). */
export interface TrackedItem {
  parentId?: string;
  folder?: boolean;
  name?: string;
  size?: number;
  webUrl?: string;
  /** cTag, else eTag, as Graph last reported it. */
  tag?: string;
  /**
   * The tag of the version last handled while in scope (indexed, failed to extract, or skipped);
   * unset while the item was never handled or left the scope. Equal to `tag`: nothing to do.
   */
  handledTag?: string;
  /** The ACL the indexed chunks carry (JSON), so a sharing change re-indexes an unchanged file. */
  aclKey?: string;
}

export interface SyncState {
  /** Where the next sync starts when no enumeration is in progress. */
  deltaLink?: string;
  /** The page an unfinished enumeration continues with (a crash resumes here). */
  nextLink?: string;
  progress: SyncProgress;
  items: Record<string, TrackedItem>;
  /** During a full enumeration: the ids it returned so far, to prune everything else at its end. */
  enumerated?: string[];
  /** Files whose download or permissions failed transiently: handled again on the next sync. */
  retry: string[];
  /** The links above come from a run with a user's delegated token (see SharePointSource.delegated). */
  linksDelegated?: boolean;
}

/** Persists one source's sync state; written after every page. */
export interface SyncStateStore {
  load(workspaceId: string, sourceId: string): Promise<SyncState | undefined>;
  save(workspaceId: string, sourceId: string, state: SyncState): Promise<void>;
}
