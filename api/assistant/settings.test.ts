import type { AuditEventInput } from '../audit/ports';
import type { Principal, Role } from '../tenancy/principal';
import { DEFAULT_PROMPT_LIMITS } from './prompt';
import { createAssistantSettings, type StoredAssistantSettings } from './settings';

function setup() {
  const rows = new Map<string, StoredAssistantSettings>();
  const events: AuditEventInput[] = [];
  const settings = createAssistantSettings({
    store: { find: async (w) => rows.get(w), save: async (w, s) => void rows.set(w, { ...s }) },
    audit: { record: async (e) => void events.push(e) },
  });
  const as = (role: Role, workspaceId = 'ws-a'): Principal => ({ workspaceId, tenantId: 't', userId: `u-${role}`, roles: [role], authMethod: 'entra-token' });
  return { settings, rows, events, as };
}

describe('assistant settings', () => {
  it('starts from the defaults and never returns the instructions text', async () => {
    const { settings, as, events } = setup();
    expect(await settings.view(as('admin'))).toEqual({ ...DEFAULT_PROMPT_LIMITS, instructions: { set: false, chars: 0 }, updatedAt: undefined });
    const view = await settings.update(as('admin'), { instructions: '  Mention the travel desk.  ', maxTurns: 5 });
    expect(view).toMatchObject({ maxTurns: 5, instructions: { set: true, chars: 24 } });
    expect(JSON.stringify(view)).not.toContain('travel desk');
    expect(JSON.stringify(await settings.view(as('admin')))).not.toContain('travel desk');
    expect(await settings.effective('ws-a')).toEqual({ instructions: 'Mention the travel desk.', limits: { ...DEFAULT_PROMPT_LIMITS, maxTurns: 5 } });
    const audit = events.find((e) => e.kind === 'assistant.settings_changed')!;
    expect(audit.detail).toMatchObject({ fields: 'instructions,maxTurns' });
    expect(JSON.stringify(audit)).not.toContain('travel desk');
  });

  it('removes the instructions with null and keeps them when absent', async () => {
    const { settings, as } = setup();
    await settings.update(as('admin'), { instructions: 'x' });
    await settings.update(as('admin'), { maxPassages: 3 });
    expect((await settings.effective('ws-a')).instructions).toBe('x');
    await settings.update(as('admin'), { instructions: null });
    expect((await settings.effective('ws-a')).instructions).toBeUndefined();
  });

  it.each(['manager', 'user', 'viewer'] as const)('refuses a %s', async (role) => {
    const { settings, as, rows } = setup();
    await expect(settings.update(as(role), { instructions: 'x' })).rejects.toMatchObject({ id: 'forbidden' });
    await expect(settings.view(as(role))).rejects.toMatchObject({ id: 'forbidden' });
    expect(rows.size).toBe(0);
  });

  it.each([
    ['maxTurns above the bound', { maxTurns: 11 }],
    ['a negative limit', { maxPassages: -1 }],
    ['a fractional limit', { maxPassageChars: 500.5 }],
    ['over-long instructions', { instructions: 'x'.repeat(4001) }],
    ['a bidirectional override', { instructions: 'pay \u202Eevil' }],
    ['a control character', { instructions: 'a\u0000b' }],
  ])('refuses %s and stores nothing', async (_name, change) => {
    const { settings, as, rows } = setup();
    await expect(settings.update(as('admin'), change)).rejects.toMatchObject({ id: 'request_malformed' });
    expect(rows.size).toBe(0);
  });

  it('keeps each workspace to itself', async () => {
    const { settings, as } = setup();
    await settings.update(as('admin', 'ws-a'), { instructions: 'only for A', maxTurns: 0 });
    expect(await settings.effective('ws-b')).toEqual({ instructions: undefined, limits: DEFAULT_PROMPT_LIMITS });
  });
});
