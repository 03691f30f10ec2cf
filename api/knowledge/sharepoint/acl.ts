/**
 * Who may read a SharePoint file, from its sharing permissions ("permission resource type",
 * "List sharing permissions on a driveItem"), in terms Kluis can check a signed-in user against:
 * Entra user object ids, Entra group object ids, and "everyone in the tenant".
 *
 * The mapping fails closed: whatever it cannot tie to an Entra id grants nobody anything.
 * - `grantedToV2` (or `grantedToIdentitiesV2` on links): `user.id` is the user's object id,
 *   `group.id` the group's; a `siteUser` without a `user` is read only for the claims SharePoint uses
 *   for Entra groups and for "Everyone" / "Everyone except external users".
 * - `siteGroup` ids are unique only within their site ("sharePointIdentitySet resource type"), and
 *   Graph cannot list a site group's members, so they are kept as `siteGroup:<id>` (likewise
 *   `sharePointGroup:<id>`), which matches no reader, and the acl asks for a live check
 *   (`liveCheck`): any reader's question may find the file as a candidate, used only when SharePoint
 *   says, with that user's own token, that they may open it. That is how files of a library that
 *   inherits its site's Owners / Members / Visitors reach the people SharePoint lets in. The owners
 *   of a Microsoft 365 group (`_o` claim) are another set Kluis does not resolve: a live check too.
 * - Link scopes ("sharingLink resource type"): `anonymous` and `organization` -> everyone in the
 *   tenant; `users` -> only the identities listed on the link; `existingAccess` grants nothing new.
 * - Only the documented roles `read`, `write` and `owner` grant reading; an expired permission
 *   (`expirationDateTime` in the past; 0001-01-01 means "never") grants nothing.
 * - The deprecated `grantedTo` / `grantedToIdentities` are read only when the V2 field is absent.
 */
import type { Acl, GraphDriveClient, Permission, SharePointIdentitySet } from './ports';

const READ_ROLES = new Set(['read', 'write', 'owner']);
const GUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';
/** "Everyone except external users": the tenant's internal accounts. */
const EVERYONE_EXCEPT_EXTERNAL_CLAIM = /^c:0-\.f\|rolemanager\|spo-grid-all-users\//i;
/** "Everyone": every account of the tenant, guests included. */
const EVERYONE_CLAIM = /^c:0\(\.s\|true$/i;
/** An Entra security group added to SharePoint directly. */
const SECURITY_GROUP_CLAIM = new RegExp(`^c:0t\\.c\\|tenant\\|(${GUID})$`, 'i');
/** A Microsoft 365 group's members; `_o` marks its owners only. */
const M365_GROUP_CLAIM = new RegExp(`^c:0o\\.c\\|federateddirectoryclaimprovider\\|(${GUID})(_o)?$`, 'i');

export const EMPTY_ACL: Readonly<Acl> = Object.freeze({ users: [], groups: [], everyoneInTenant: false });

export function permissionsToAcl(permissions: readonly Permission[], now: Date = new Date()): Acl {
  const users = new Set<string>();
  const groups = new Set<string>();
  let everyoneInTenant = false;
  let liveCheck = false;

  const addIdentities = (set: SharePointIdentitySet | undefined) => {
    if (!set) return;
    if (set.user?.id) users.add(set.user.id);
    if (set.group?.id) groups.add(set.group.id);
    if (set.siteGroup?.id) {
      groups.add(`siteGroup:${set.siteGroup.id}`);
      liveCheck = true;
    }
    if (set.sharePointGroup?.id) {
      groups.add(`sharePointGroup:${set.sharePointGroup.id}`);
      liveCheck = true;
    }
    const login = set.siteUser?.loginName;
    if (!set.user?.id && !set.group?.id && login) {
      if (EVERYONE_CLAIM.test(login) || EVERYONE_EXCEPT_EXTERNAL_CLAIM.test(login)) everyoneInTenant = true;
      const security = SECURITY_GROUP_CLAIM.exec(login);
      if (security?.[1]) groups.add(security[1].toLowerCase());
      const m365 = M365_GROUP_CLAIM.exec(login);
      // Owners only: granting the whole group would let every member in.
      if (m365?.[1]) groups.add(m365[2] ? `groupOwners:${m365[1].toLowerCase()}` : m365[1].toLowerCase());
      if (m365?.[2]) liveCheck = true;
    }
  };

  for (const permission of permissions) {
    if (!(permission.roles ?? []).some((role) => READ_ROLES.has(role))) continue;
    if (isExpired(permission.expirationDateTime, now)) continue;
    const listed = permission.grantedToIdentitiesV2 ?? permission.grantedToIdentities ?? [];
    if (permission.link) {
      const scope = permission.link.scope;
      if (scope === 'anonymous' || scope === 'organization') everyoneInTenant = true;
      // Any other scope (`users`, or one this code does not know) grants only the people listed.
      if (scope !== 'existingAccess') for (const set of listed) addIdentities(set);
      continue;
    }
    addIdentities(permission.grantedToV2 ?? permission.grantedTo);
    for (const set of listed) addIdentities(set);
  }
  // Shared with everyone in the tenant already: a live check could add nobody.
  return { users: [...users].sort(), groups: [...groups].sort(), everyoneInTenant, ...(liveCheck && !everyoneInTenant ? { liveCheck: true } : {}) };
}

/** The ACL of one item, read from Graph now. */
export async function fetchAcl(graph: Pick<GraphDriveClient, 'permissions'>, driveId: string, itemId: string, now?: Date): Promise<Acl> {
  return permissionsToAcl(await graph.permissions(driveId, itemId), now);
}

/**
 * May this user read a document with this ACL? `groupIds` are the user's transitive Entra group
 * memberships. "Everyone in the tenant" is checked by the caller's tenant scoping: a workspace only
 * ever holds one tenant's documents.
 */
export function aclAllows(acl: Acl, principal: { objectId: string; groupIds: readonly string[] }): boolean {
  if (acl.everyoneInTenant) return true;
  if (acl.users.includes(principal.objectId)) return true;
  const groups = new Set(acl.groups);
  return principal.groupIds.some((id) => groups.has(id));
}

function isExpired(expiration: string | undefined, now: Date): boolean {
  if (!expiration) return false;
  const at = Date.parse(expiration);
  // DateTime.MinValue (0001-01-01) means the permission does not expire ("permission resource type").
  if (Number.isNaN(at) || new Date(at).getUTCFullYear() <= 1) return false;
  return at <= now.getTime();
}
