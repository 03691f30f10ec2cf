import { isKluisError } from '../errors';
import type { AuditEventInput } from '../audit/ports';
import { authorize, can } from './policy';
import type { Principal, Role } from './principal';

const principal = (role: Role, workspaceId = 'wA', userId = 'u1'): Principal => ({ workspaceId, tenantId: 't', userId, roles: [role], authMethod: 'credentials' });

describe('can(principal, action, resource)', () => {
  it('gives an admin of workspace A nothing in workspace B (cross-tenant)', () => {
    for (const action of ['assistant.ask', 'conversation.read', 'members.manage', 'audit.read', 'workspace.configure', 'files.read', 'files.manage'] as const) {
      expect(can(principal('admin'), action, { workspaceId: 'wB' })).toBe(false);
    }
  });

  it.each([
    ['viewer', 'assistant.ask', false],
    ['user', 'assistant.ask', true],
    ['user', 'knowledge.manage', false],
    ['manager', 'knowledge.manage', true],
    ['manager', 'members.manage', false],
    ['admin', 'members.manage', true],
    ['admin', 'audit.read', true],
    ['manager', 'audit.read', false],
    ['viewer', 'files.read', true],
    ['viewer', 'files.manage', false],
    ['user', 'files.manage', false],
    ['manager', 'files.manage', true],
    ['admin', 'files.manage', true],
    ['manager', 'admin.panel', true],
    ['user', 'admin.panel', false],
    ['manager', 'retention.manage', false],
    ['admin', 'retention.manage', true],
  ] as const)('a %s may %s: %s', (role, action, allowed) => {
    expect(can(principal(role), action, { workspaceId: 'wA' })).toBe(allowed);
  });

  it('keeps personal conversations to their owner, even from an admin', () => {
    expect(can(principal('admin', 'wA', 'u2'), 'conversation.read', { workspaceId: 'wA', ownerUserId: 'u1' })).toBe(false);
    expect(can(principal('user', 'wA', 'u1'), 'conversation.read', { workspaceId: 'wA', ownerUserId: 'u1' })).toBe(true);
  });

  it('refuses a principal without roles', () => {
    expect(can({ ...principal('user'), roles: [] }, 'assistant.ask', { workspaceId: 'wA' })).toBe(false);
  });
});

describe('authorize', () => {
  const events: AuditEventInput[] = [];
  const audit = { record: async (e: AuditEventInput) => void events.push(e) };
  beforeEach(() => events.splice(0));

  const errorOf = async (p: Promise<unknown>) => p.then(() => undefined, (e: unknown) => e);

  it('answers 404, not 403, for another workspace\'s resource and audits the refusal', async () => {
    const error = await errorOf(authorize(principal('admin'), 'audit.read', { workspaceId: 'wB' }, audit));
    expect(isKluisError(error, 'not_found')).toBe(true);
    expect(events).toEqual([expect.objectContaining({ workspaceId: 'wA', kind: 'authorization.refused', outcome: 'refused', detail: { action: 'audit.read', crossWorkspace: true } })]);
  });

  it('answers 404 for another user\'s conversation and 403 for a missing role', async () => {
    expect(isKluisError(await errorOf(authorize(principal('user', 'wA', 'u2'), 'conversation.read', { workspaceId: 'wA', ownerUserId: 'u1' }, audit)), 'not_found')).toBe(true);
    expect(isKluisError(await errorOf(authorize(principal('user'), 'members.manage', { workspaceId: 'wA' }, audit)), 'forbidden')).toBe(true);
  });

  it('lets an allowed action through without an audit event', async () => {
    await authorize(principal('admin'), 'members.manage', { workspaceId: 'wA' }, audit);
    expect(events).toEqual([]);
  });
});
