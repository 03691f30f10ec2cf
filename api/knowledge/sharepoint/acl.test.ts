/**
 * Permission -> ACL mapping, with the permission JSON examples of the Graph reference
 * ("permission resource type", "List sharing permissions on a driveItem", "sharingLink resource
 * type") and the SharePoint shapes a document library returns (site groups, group claims).
 */
import { aclAllows, EMPTY_ACL, fetchAcl, permissionsToAcl } from './acl';
import type { Permission } from './ports';

const NOW = new Date('2025-06-01T12:00:00Z');
const GROUP = '0d9f6b2c-5c0a-4b39-9a55-2f8e3c4d1a7b';
const TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';

// "permission resource type": View link (no scope: OneDrive personal; grants nobody in a tenant).
const viewLink: Permission = {
  id: '1',
  roles: ['read'],
  link: { type: 'view', webUrl: 'https://onedrive.live.com/redir?resid=5D33DD65C6932946!70859&authkey=!AL7N1QAfSWcjNU8&ithint=folder%2cgif' },
  expirationDateTime: '0001-01-01T00:00:00Z',
};

// "permission resource type": Specific people link.
const specificPeopleLink: Permission = {
  id: '3',
  grantedToIdentities: [{ user: { id: '35fij1974gb8832', displayName: 'Misty Suarez' } }, { user: { id: '9397721fh4hgh73', displayName: 'Judith Clemons' } }],
  grantedToIdentitiesV2: [
    { user: { id: '35fij1974gb8832', displayName: 'Misty Suarez' }, siteUser: { id: '1', displayName: 'Misty Suarez', loginName: 'Misty Suarez' } },
    { user: { id: '9397721fh4hgh73', displayName: 'Judith Clemons' }, siteUser: { id: '2', displayName: 'Judith Clemons', loginName: 'Judith Clemons' } },
  ],
  roles: ['write'],
  link: { webUrl: 'https://contoso.sharepoint.com/:w:/t/design/a577ghg9hgh737613bmbjf839026561fmzhsr85ng9f3hjck2t5s' },
  expirationDateTime: '0001-01-01T00:00:00Z',
};

// "permission resource type": Existing access link.
const existingAccessLink: Permission = {
  id: '00000000-0000-0000-0000-000000000000',
  roles: ['read'],
  link: { scope: 'existingAccess', type: 'view', webUrl: 'https://contoso.sharepoint.com/:w:/t/design/Shared%20Documents/SampleDoc.docx?d=w12345' },
  expirationDateTime: '0001-01-01T00:00:00Z',
};

// "permission resource type": Invitation to an email address, not yet redeemed.
const pendingInvitation: Permission = {
  id: '1',
  roles: ['write'],
  invitation: { email: 'jd@gmail.com', signInRequired: true },
  expirationDateTime: '0001-01-01T00:00:00Z',
};

// "permission resource type": the same invitation after it was redeemed.
const redeemedInvitation: Permission = {
  id: '1',
  roles: ['write'],
  grantedTo: { user: { id: '5D33DD65C6932946', displayName: 'John Doe' } },
  grantedToV2: { user: { id: '5D33DD65C6932946', displayName: 'John Doe' }, siteUser: { id: '1', displayName: 'John Doe', loginName: 'John Doe' } },
  invitation: { email: 'jd@outlook.com', signInRequired: true },
  expirationDateTime: '0001-01-01T00:00:00Z',
};

const link = (scope: string, extra: Partial<Permission> = {}): Permission => ({ id: `link-${scope}`, roles: ['read'], link: { scope, type: 'view' }, ...extra });

describe('permissionsToAcl', () => {
  it('grants nothing for no permissions', () => {
    expect(permissionsToAcl([], NOW)).toEqual(EMPTY_ACL);
  });

  it('maps the documented specific-people link to its users', () => {
    expect(permissionsToAcl([specificPeopleLink], NOW)).toEqual({ users: ['35fij1974gb8832', '9397721fh4hgh73'], groups: [], everyoneInTenant: false });
  });

  it('maps a redeemed invitation to its user, and a pending one to nobody', () => {
    expect(permissionsToAcl([redeemedInvitation], NOW).users).toEqual(['5D33DD65C6932946']);
    expect(permissionsToAcl([pendingInvitation], NOW)).toEqual(EMPTY_ACL);
  });

  it('treats anonymous and organization links as everyone in the tenant', () => {
    expect(permissionsToAcl([link('anonymous')], NOW).everyoneInTenant).toBe(true);
    expect(permissionsToAcl([link('organization', { roles: ['write'] })], NOW).everyoneInTenant).toBe(true);
  });

  it('gives a users-scoped link only to the identities on it', () => {
    const acl = permissionsToAcl([link('users', { grantedToIdentitiesV2: [{ user: { id: 'u-1' } }, { group: { id: GROUP } }] })], NOW);
    expect(acl).toEqual({ users: ['u-1'], groups: [GROUP], everyoneInTenant: false });
  });

  it('grants nothing new for an existing-access link or a scope-less personal link', () => {
    expect(permissionsToAcl([existingAccessLink, viewLink], NOW)).toEqual(EMPTY_ACL);
  });

  it('maps Entra groups by id, keeps site groups apart with a prefix and asks for a live check for them', () => {
    const acl = permissionsToAcl(
      [
        { id: 'g', roles: ['read'], grantedToV2: { group: { id: GROUP, displayName: 'Finance' } } },
        { id: 'sg', roles: ['write'], grantedToV2: { siteGroup: { id: '3', displayName: 'Kluis Members', loginName: 'Kluis Members' } } },
        { id: 'spg', roles: ['owner'], grantedToV2: { sharePointGroup: { id: 'a1b2', title: 'Owners' } } },
      ],
      NOW,
    );
    expect(acl).toEqual({ users: [], groups: [GROUP, 'sharePointGroup:a1b2', 'siteGroup:3'], everyoneInTenant: false, liveCheck: true });
  });

  it('asks for a live check for each set Kluis cannot list, and only for those', () => {
    const siteGroup: Permission = { id: 'sg', roles: ['read'], grantedToV2: { siteGroup: { id: '5', displayName: 'Kluis Visitors' } } };
    const sharePointGroup: Permission = { id: 'spg', roles: ['read'], grantedToIdentitiesV2: [{ sharePointGroup: { id: '7', title: 'Owners' } }] };
    const owners: Permission = { id: 'o', roles: ['read'], grantedToV2: { siteUser: { id: '9', loginName: `c:0o.c|federateddirectoryclaimprovider|${GROUP}_o` } } };
    for (const p of [siteGroup, sharePointGroup, owners]) expect(permissionsToAcl([p], NOW).liveCheck).toBe(true);
    expect(permissionsToAcl([{ id: 'g', roles: ['read'], grantedToV2: { group: { id: GROUP } } }, redeemedInvitation], NOW).liveCheck).toBeUndefined();
    // Shared with everyone already: nothing a live check could add.
    expect(permissionsToAcl([siteGroup, link('organization')], NOW)).toEqual({ users: [], groups: ['siteGroup:5'], everyoneInTenant: true });
    // An expired or role-less site-group grant asks for nothing.
    expect(permissionsToAcl([{ ...siteGroup, expirationDateTime: '2025-05-31T00:00:00Z' }, { ...siteGroup, roles: ['sp.limited access'] }], NOW)).toEqual(EMPTY_ACL);
  });

  it('reads the claims SharePoint uses for Entra groups and for everyone', () => {
    const claim = (loginName: string): Permission => ({ id: loginName, roles: ['read'], grantedToV2: { siteUser: { id: '9', loginName } } });
    expect(permissionsToAcl([claim(`c:0t.c|tenant|${GROUP.toUpperCase()}`)], NOW).groups).toEqual([GROUP]);
    expect(permissionsToAcl([claim(`c:0o.c|federateddirectoryclaimprovider|${GROUP}`)], NOW).groups).toEqual([GROUP]);
    // Only the owners of a Microsoft 365 group: never the whole group.
    expect(permissionsToAcl([claim(`c:0o.c|federateddirectoryclaimprovider|${GROUP}_o`)], NOW).groups).toEqual([`groupOwners:${GROUP}`]);
    expect(permissionsToAcl([claim(`c:0-.f|rolemanager|spo-grid-all-users/${TENANT}`)], NOW).everyoneInTenant).toBe(true);
    expect(permissionsToAcl([claim('c:0(.s|true')], NOW).everyoneInTenant).toBe(true);
    // A SharePoint-only user without an Entra id grants nothing.
    expect(permissionsToAcl([claim('i:0#.f|membership|someone@contoso.com')], NOW)).toEqual(EMPTY_ACL);
  });

  it('ignores expired permissions and roles that do not include reading', () => {
    expect(permissionsToAcl([link('organization', { expirationDateTime: '2025-05-31T00:00:00Z' })], NOW).everyoneInTenant).toBe(false);
    expect(permissionsToAcl([link('organization', { expirationDateTime: '2025-07-01T00:00:00Z' })], NOW).everyoneInTenant).toBe(true);
    expect(permissionsToAcl([{ id: 'x', roles: ['sp.limited access'], grantedToV2: { user: { id: 'u' } } }], NOW)).toEqual(EMPTY_ACL);
    expect(permissionsToAcl([{ id: 'x', grantedToV2: { user: { id: 'u' } } }], NOW)).toEqual(EMPTY_ACL);
  });

  it('merges several permissions without duplicates', () => {
    const acl = permissionsToAcl([redeemedInvitation, redeemedInvitation, specificPeopleLink, link('anonymous')], NOW);
    expect(acl).toEqual({ users: ['35fij1974gb8832', '5D33DD65C6932946', '9397721fh4hgh73'], groups: [], everyoneInTenant: true });
  });

  it('reads the deprecated grantedTo only when grantedToV2 is absent', () => {
    expect(permissionsToAcl([{ id: 'old', roles: ['read'], grantedTo: { user: { id: 'legacy' } } }], NOW).users).toEqual(['legacy']);
    expect(permissionsToAcl([{ id: 'both', roles: ['read'], grantedTo: { user: { id: 'legacy' } }, grantedToV2: { user: { id: 'current' } } }], NOW).users).toEqual(['current']);
  });
});

describe('fetchAcl and aclAllows', () => {
  it('reads the permissions of the item and maps them', async () => {
    const calls: string[] = [];
    const acl = await fetchAcl({ permissions: async (drive, item) => (calls.push(`${drive}/${item}`), [redeemedInvitation]) }, 'b!drive', '01ITEM', NOW);
    expect(calls).toEqual(['b!drive/01ITEM']);
    expect(acl.users).toEqual(['5D33DD65C6932946']);
  });

  it('allows by user, by group, or everyone; nothing else', () => {
    const acl = { users: ['u-1'], groups: [GROUP, 'siteGroup:3'], everyoneInTenant: false };
    expect(aclAllows(acl, { objectId: 'u-1', groupIds: [] })).toBe(true);
    expect(aclAllows(acl, { objectId: 'u-2', groupIds: [GROUP] })).toBe(true);
    expect(aclAllows(acl, { objectId: 'u-2', groupIds: ['3'] })).toBe(false);
    expect(aclAllows({ ...acl, everyoneInTenant: true }, { objectId: 'u-9', groupIds: [] })).toBe(true);
    expect(aclAllows(EMPTY_ACL, { objectId: 'u-1', groupIds: [GROUP] })).toBe(false);
  });
});
