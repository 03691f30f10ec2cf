import type { AuditEventInput } from '../audit/ports';
import type { Principal, Role } from '../tenancy/principal';
import { createRoutingPolicies, type StoredRoutingPolicy } from './routingPolicy';
import type { ProviderName, RoutingPolicy } from './routingPolicySchema';

const environment: RoutingPolicy = { defaultProvider: 'openai', allowed: ['openai', 'anthropic'], rules: [] };

function setup(available: ProviderName[] = ['extractive', 'openai', 'anthropic', 'stability']) {
  const rows = new Map<string, StoredRoutingPolicy>();
  const events: AuditEventInput[] = [];
  const saved: string[] = [];
  const invalid: string[] = [];
  const policies = createRoutingPolicies({
    store: { find: async (w) => rows.get(w), save: async (w, policy, by) => void rows.set(w, { policy, updatedAt: new Date(), updatedByUserId: by }) },
    audit: { record: async (e) => void events.push(e) },
    environment,
    available: () => available,
    onSaved: (w) => saved.push(w),
    onStoredInvalid: (w) => invalid.push(w),
  });
  const as = (role: Role, workspaceId = 'ws-a'): Principal => ({ workspaceId, tenantId: 't', userId: `u-${role}`, roles: [role], authMethod: 'entra-token' });
  return { policies, rows, events, saved, invalid, as };
}

describe('routing policies', () => {
  it('follows the environment until the workspace saves its own, then tells the router to reload', async () => {
    const { policies, as, saved } = setup();
    expect(await policies.policyFor('ws-a')).toEqual(environment);
    const mine = { defaultProvider: 'anthropic', allowed: ['anthropic', 'stability'], rules: [{ when: 'image', provider: 'stability' }] };
    expect(await policies.update(as('admin'), mine)).toMatchObject({ source: 'workspace', policy: mine, unavailable: [] });
    expect(await policies.policyFor('ws-a')).toEqual(mine);
    expect(await policies.policyFor('ws-b')).toEqual(environment);
    expect(saved).toEqual(['ws-a']);
  });

  it('offers the image provider only when the image rule names it and it has a key', async () => {
    const keyed = setup();
    await keyed.policies.update(keyed.as('admin'), { defaultProvider: 'openai', allowed: ['openai', 'stability'], rules: [{ when: 'image', provider: 'stability' }] });
    expect(await keyed.policies.imageProviderFor('ws-a')).toBe('stability');
    expect(await keyed.policies.imageProviderFor('ws-b')).toBeUndefined();
    // The key was removed after the policy was saved: still stored, reported unavailable, never offered.
    const unkeyed = setup(['extractive', 'openai']);
    unkeyed.rows.set('ws-a', keyed.rows.get('ws-a')!);
    expect(await unkeyed.policies.imageProviderFor('ws-a')).toBeUndefined();
    expect((await unkeyed.policies.view(unkeyed.as('manager'))).unavailable).toEqual(['stability']);
  });

  it('uses the environment policy, and says so, when a stored row no longer validates', async () => {
    const { policies, rows, invalid } = setup();
    rows.set('ws-a', { policy: { defaultProvider: 'skynet', allowed: ['skynet'] }, updatedAt: new Date() });
    expect(await policies.policyFor('ws-a')).toEqual(environment);
    expect(invalid).toEqual(['ws-a']);
  });

  it('refuses a policy naming a provider without a key, naming it, and saves nothing', async () => {
    const { policies, as, rows, events } = setup(['extractive', 'openai']);
    await expect(policies.update(as('admin'), { defaultProvider: 'openai', allowed: ['openai', 'gemini'] })).rejects.toMatchObject({ id: 'routing_provider_unavailable', message: expect.stringContaining('gemini') });
    expect(rows.size).toBe(0);
    expect(events.filter((e) => e.kind === 'assistant.routing_changed')).toHaveLength(0);
  });

  it('lets managers read and only admins change', async () => {
    const { policies, as, rows } = setup();
    await expect(policies.view(as('manager'))).resolves.toMatchObject({ source: 'environment' });
    await expect(policies.view(as('user'))).rejects.toMatchObject({ id: 'forbidden' });
    await expect(policies.update(as('manager'), environment)).rejects.toMatchObject({ id: 'forbidden' });
    expect(rows.size).toBe(0);
  });
});
