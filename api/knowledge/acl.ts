/**
 * Chunk-level access control shared by the search-index adapters. Each chunk stores one keyword
 * list, its principals: '*' when every member of the workspace may read it (no acl, or shared with
 * everyone in the tenant), otherwise 'u:<user object id>' and 'g:<group object id>' entries. A
 * search keeps the chunks whose list has any of the reader's principals: '*', 'u:<reader>' and
 * 'g:<each group>'. Without a reader it asks for '*' alone, so a caller that forgets the reader
 * gets workspace-wide passages only.
 *
 * Two more entries no reader id can ever be:
 * - 'tenant', stored beside '*' for a file shared with everyone in the tenant, so a hit can say it
 *   came from a source acl (and is re-checked live) rather than from a workspace-wide folder;
 * - 'live', stored for a file also readable by people Kluis cannot list (SharePoint site groups):
 *   a search matches it only when the caller asks for candidates, which it does only when it can
 *   have the source system confirm each one for the asking user before use (knowledge.ts).
 * Every hit says how it was admitted (`admission`): 'workspace', 'acl' or 'candidate'.
 *
 * Reader ids reach a filter expression, so they must be GUIDs and are refused otherwise, like
 * workspace ids. Ids are lower-cased on both sides because Entra ids are GUIDs, which compare
 * without regard to case: a mismatch in case would hide a passage from someone allowed to read it.
 */
import { fail } from '../errors';
import type { Acl, Reader } from './ports';

/**
 * Every group of a reader becomes one term of the search filter; this keeps that filter bounded.
 * A user in more groups is refused rather than searched with some groups silently left out.
 */
export const MAX_READER_GROUPS = 2000;

/** The principal of chunks every member of the workspace may read. */
export const EVERYONE = '*';
/** Stored beside EVERYONE when that came from a source acl (shared with everyone in the tenant). */
export const TENANT_WIDE = 'tenant';
/** The principal of chunks readable by whoever the source system confirms at question time. */
export const LIVE_CHECK = 'live';

/** How a hit got past the acl filter. */
export type Admission = 'workspace' | 'acl' | 'candidate';

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const PRINCIPAL = /^(\*|tenant|live|[ug]:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/;

function isGuid(value: unknown): value is string {
  return typeof value === 'string' && GUID.test(value);
}

/** True only for what `principalsOf` and `readerPrincipals` produce; a last check before a filter. */
export function isPrincipal(value: unknown): value is string {
  return typeof value === 'string' && PRINCIPAL.test(value);
}

/**
 * The principals stored with a chunk. Entries that are not GUIDs are left out: no reader can ever
 * match them (reader ids must be GUIDs), so keeping them would only store noise. An acl that names
 * nobody yields an empty list, which no search matches.
 */
export function principalsOf(acl: Acl | undefined): string[] {
  if (acl === undefined) return [EVERYONE];
  if (
    acl === null ||
    typeof acl !== 'object' ||
    !Array.isArray(acl.users) ||
    !Array.isArray(acl.groups) ||
    typeof acl.everyoneInTenant !== 'boolean' ||
    (acl.liveCheck !== undefined && typeof acl.liveCheck !== 'boolean')
  ) {
    // Treating a malformed acl as "none" would open the chunk to the whole workspace.
    fail('request_malformed', 'A chunk acl needs users, groups and everyoneInTenant (and liveCheck, when given, a boolean).');
  }
  if (acl.everyoneInTenant) return [EVERYONE, TENANT_WIDE];
  const principals = new Set<string>();
  if (acl.liveCheck) principals.add(LIVE_CHECK);
  for (const user of acl.users) if (isGuid(user)) principals.add(`u:${user.toLowerCase()}`);
  for (const group of acl.groups) if (isGuid(group)) principals.add(`g:${group.toLowerCase()}`);
  return [...principals].sort();
}

/**
 * The principals a search may match: '*' first, then the reader's user and groups, then 'live'
 * when the caller asks for candidates. Refuses (with `request_malformed`) a reader whose ids are
 * not GUIDs or who is in more than MAX_READER_GROUPS groups.
 */
export function readerPrincipals(reader: Reader | undefined, candidates = false): string[] {
  if (candidates !== true && candidates !== false) fail('request_malformed', 'The candidates search option must be a boolean.');
  if (reader === undefined) return candidates ? [EVERYONE, LIVE_CHECK] : [EVERYONE];
  if (reader === null || typeof reader !== 'object') fail('request_malformed', 'A search reader must be an object with userId and groupIds.');
  if (!isGuid(reader.userId)) fail('request_malformed', `Reader user id is not a GUID: ${JSON.stringify(String(reader.userId).slice(0, 40))}`);
  if (!Array.isArray(reader.groupIds)) fail('request_malformed', 'Reader group ids must be a list.');
  if (reader.groupIds.length > MAX_READER_GROUPS) {
    fail('request_malformed', `The reader is in ${reader.groupIds.length} groups; a search can take at most ${MAX_READER_GROUPS}.`);
  }
  const principals = new Set<string>([EVERYONE, `u:${reader.userId.toLowerCase()}`]);
  for (const group of reader.groupIds) {
    if (!isGuid(group)) fail('request_malformed', `Reader group id is not a GUID: ${JSON.stringify(String(group).slice(0, 40))}`);
    principals.add(`g:${group.toLowerCase()}`);
  }
  if (candidates) principals.add(LIVE_CHECK);
  return [...principals];
}

/** Whether a stored principal list shares an entry with what the reader may match. */
export function admits(stored: unknown, allowed: ReadonlySet<string>): boolean {
  if (stored === null || stored === undefined || typeof stored !== 'object' || !(Symbol.iterator in stored)) return false;
  for (const principal of stored as Iterable<unknown>) if (typeof principal === 'string' && allowed.has(principal)) return true;
  return false;
}

/**
 * How a stored principal list was admitted by what the search may match, or undefined when it was
 * not: 'workspace' for a chunk without an acl, 'acl' for one the source's acl grants the reader
 * (tenant-wide included), 'candidate' for one only a live check can open. A chunk the acl grants
 * is never a mere candidate, even when it also carries 'live'.
 */
export function admission(stored: unknown, allowed: ReadonlySet<string>): Admission | undefined {
  if (stored === null || stored === undefined || typeof stored !== 'object' || !(Symbol.iterator in stored)) return undefined;
  const list = [...(stored as Iterable<unknown>)].filter((p): p is string => typeof p === 'string');
  if (list.includes(EVERYONE) && allowed.has(EVERYONE)) return list.includes(TENANT_WIDE) ? 'acl' : 'workspace';
  if (list.some((p) => p !== LIVE_CHECK && p !== TENANT_WIDE && allowed.has(p))) return 'acl';
  if (list.includes(LIVE_CHECK) && allowed.has(LIVE_CHECK)) return 'candidate';
  return undefined;
}
