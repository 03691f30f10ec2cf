import type { Principal, Role } from '../tenancy/principal';
import { createAuditTrail, type AuditEventReader } from './auditTrail';
import type { AuditEventInput } from './ports';

const principal = (role: Role, workspaceId = 'wA'): Principal => ({ workspaceId, tenantId: 't', userId: 'u1', roles: [role], authMethod: 'credentials' });

function setup() {
  const asked: Array<{ workspaceId: string; kindPrefix?: string; limit: number }> = [];
  const reader: AuditEventReader = { recent: async (workspaceId, options) => (asked.push({ workspaceId, ...options }), []) };
  const recorded: AuditEventInput[] = [];
  return { asked, recorded, trail: createAuditTrail({ reader, audit: { record: async (e) => void recorded.push(e) } }) };
}

describe('the audit trail', () => {
  it('reads the admin\'s own workspace, one area at a time, with a bounded page', async () => {
    const { trail, asked } = setup();
    await trail.recent(principal('admin'), { area: 'retention', limit: 5 });
    await trail.recent(principal('admin'), { limit: 10_000 });
    await trail.recent(principal('admin'), { limit: -3 });
    expect(asked).toEqual([
      { workspaceId: 'wA', kindPrefix: 'retention.', limit: 5 },
      { workspaceId: 'wA', kindPrefix: undefined, limit: 50 },
      { workspaceId: 'wA', kindPrefix: undefined, limit: 1 },
    ]);
  });

  it.each(['manager', 'user', 'viewer'] as const)('refuses a %s and audits the refusal', async (role) => {
    const { trail, asked, recorded } = setup();
    await expect(trail.recent(principal(role))).rejects.toMatchObject({ id: 'forbidden' });
    expect(asked).toEqual([]);
    expect(recorded.map((e) => [e.kind, e.detail?.action])).toEqual([['authorization.refused', 'audit.read']]);
  });
});
