import type { AuditEventInput } from '../audit/ports';
import { isKluisError } from '../errors';
import type { Principal, Role } from '../tenancy/principal';
import type { RetentionPolicyStore, StoredRetentionPolicy } from './ports';
import { createRetentionPolicies, readRetentionChange, RETENTION_DEFAULTS } from './retentionPolicy';

const principal = (role: Role, workspaceId = 'wA', userId = 'u1'): Principal => ({ workspaceId, tenantId: 't', userId, roles: [role], authMethod: 'credentials' });

function setup() {
  const rows = new Map<string, StoredRetentionPolicy>();
  const store: RetentionPolicyStore = {
    find: async (workspaceId) => rows.get(workspaceId),
    save: async (workspaceId, p) => void rows.set(workspaceId, { ...p, updatedAt: new Date() }),
  };
  const events: AuditEventInput[] = [];
  const policies = createRetentionPolicies({ store, audit: { record: async (e) => void events.push(e) } });
  return { rows, events, policies };
}

describe('readRetentionChange', () => {
  it('reads numbers and the strings a card form sends, and "keep" / "off" for the optional periods', () => {
    expect(readRetentionChange({ conversationDays: ' 90 ', uploadedFileDays: 30, loginLogDays: '37', inactiveConversationDays: 'OFF' })).toEqual({
      change: { conversationDays: 90, uploadedFileDays: 30, loginLogDays: 37, inactiveConversationDays: null },
      problems: {},
    });
    expect(readRetentionChange({ conversationDays: 'bewaren', inactiveConversationDays: 'uit' }).change).toEqual({ conversationDays: null, inactiveConversationDays: null });
  });

  it('leaves fields that are not given untouched', () => {
    expect(readRetentionChange({ loginLogDays: '20' })).toEqual({ change: { loginLogDays: 20 }, problems: {} });
  });

  it.each([
    ['zero', 'uploadedFileDays', '0'],
    ['a negative number', 'loginLogDays', '-5'],
    ['more than ten years', 'conversationDays', '3651'],
    ['a fraction', 'uploadedFileDays', '90.5'],
    ['an exponent', 'uploadedFileDays', '1e3'],
    ['hex', 'loginLogDays', '0x10'],
    ['an empty string', 'conversationDays', ''],
    ['text', 'loginLogDays', 'forever'],
    ['"keep" where a period is required', 'uploadedFileDays', 'keep'],
    ['"off" on the conversation period', 'conversationDays', 'off'],
    ['null where a period is required', 'loginLogDays', null],
    ['an object', 'conversationDays', { $when: '${true}' }],
    ['an array', 'inactiveConversationDays', [30]],
    ['a huge number', 'uploadedFileDays', Number.MAX_SAFE_INTEGER],
    ['NaN', 'uploadedFileDays', Number.NaN],
    ['a number too long to be days', 'uploadedFileDays', '0000000000000090'],
  ])('refuses %s with a message naming the allowed range', (_name, field, value) => {
    const { change, problems } = readRetentionChange({ [field]: value });
    expect(change).toEqual({});
    expect(problems[field as keyof typeof problems]).toMatch(/whole number of days from 1 to 3650/);
  });
});

describe('retention policy of a workspace', () => {
  it('starts on the defaults: conversations kept, files 180 days, login log 37 days, no inactivity clean-up', async () => {
    const { policies } = setup();
    expect(await policies.effective('wA')).toEqual({ conversationDays: null, uploadedFileDays: 180, loginLogDays: 37, inactiveConversationDays: null });
    expect(await policies.view(principal('admin'))).toEqual({ ...RETENTION_DEFAULTS, isDefault: true });
  });

  it('saves an admin\'s change, keeps the other periods, and audits old and new values as numbers only', async () => {
    const { policies, events } = setup();
    const result = await policies.update(principal('admin'), { conversationDays: '90', uploadedFileDays: '180' });
    expect(result).toMatchObject({ saved: true, changed: ['conversationDays'], policy: { conversationDays: 90, uploadedFileDays: 180, loginLogDays: 37, isDefault: false } });
    expect(await policies.effective('wA')).toEqual({ conversationDays: 90, uploadedFileDays: 180, loginLogDays: 37, inactiveConversationDays: null });
    expect(events).toEqual([{ workspaceId: 'wA', actorUserId: 'u1', kind: 'retention.changed', outcome: 'success', detail: { 'conversationDays.from': null, 'conversationDays.to': 90 } }]);
  });

  it('saves nothing when any field is wrong, and says which', async () => {
    const { policies, events, rows } = setup();
    const result = await policies.update(principal('admin'), { conversationDays: '30', loginLogDays: '0' });
    expect(result).toEqual({ saved: false, problems: { loginLogDays: expect.stringMatching(/from 1 to 3650/) } });
    expect(rows.size).toBe(0);
    expect(events).toEqual([]);
  });

  it('records no event when nothing changed', async () => {
    const { policies, events } = setup();
    expect(await policies.update(principal('admin'), { loginLogDays: 37 })).toMatchObject({ saved: true, changed: [] });
    expect(events).toEqual([]);
  });

  it.each(['manager', 'user', 'viewer'] as const)('refuses a %s (forbidden, audited) before looking at the input', async (role) => {
    const { policies, events, rows } = setup();
    const error = await policies.update(principal(role), { loginLogDays: 'not a number' }).catch((e: unknown) => e);
    expect(isKluisError(error, 'forbidden')).toBe(true);
    await expect(policies.view(principal(role))).rejects.toMatchObject({ id: 'forbidden' });
    expect(rows.size).toBe(0);
    expect(events.map((e) => [e.kind, e.detail?.action])).toEqual([['authorization.refused', 'retention.manage'], ['authorization.refused', 'retention.read']]);
  });

  it('keeps workspaces apart: an admin of A changes only A', async () => {
    const { policies } = setup();
    await policies.update(principal('admin', 'wA'), { uploadedFileDays: 10 });
    expect((await policies.effective('wB')).uploadedFileDays).toBe(180);
    expect((await policies.view(principal('admin', 'wB', 'u9'))).isDefault).toBe(true);
  });
});
