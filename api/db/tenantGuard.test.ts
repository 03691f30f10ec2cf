import { isKluisError } from '../errors';
import { assertTenantScoped } from './tenantGuard';

const refused = (model: string, operation: string, args: unknown) => {
  try {
    assertTenantScoped(model, operation, args);
  } catch (error) {
    return isKluisError(error, 'tenant_scope_missing');
  }
  return false;
};

describe('tenant guard', () => {
  it.each([
    ['Message', 'findMany', { where: { conversationId: 'c1' } }],
    ['Message', 'findMany', {}],
    ['Conversation', 'findUnique', { where: { id: 'c1' } }],
    ['Document', 'deleteMany', { where: {} }],
    ['Document', 'updateMany', { where: { workspaceId: '' }, data: {} }],
    ['User', 'create', { data: { id: 'u1', entraObjectId: 'o' } }],
    ['AuditEvent', 'createMany', { data: [{ workspaceId: 'w1' }, { kind: 'x' }] }],
    ['Job', 'upsert', { where: { id: 'j1' }, create: { workspaceId: 'w1' }, update: {} }],
    ['Membership', 'count', { where: { userId: { in: ['a'] } } }],
    ['Message', 'findFirst', { where: { OR: [{ workspaceId: 'w1' }, { workspaceId: 'w2' }] } }],
  ])('refuses %s.%s without a workspace', (model, operation, args) => {
    expect(refused(model, operation, args)).toBe(true);
  });

  it.each([
    ['Message', 'findMany', { where: { workspaceId: 'w1', conversationId: 'c1' } }],
    ['User', 'findUnique', { where: { workspaceId_entraObjectId: { workspaceId: 'w1', entraObjectId: 'o' } } }],
    ['User', 'create', { data: { id: 'u1', workspaceId: 'w1', entraObjectId: 'o' } }],
    ['AuditEvent', 'createMany', { data: [{ workspaceId: 'w1' }, { workspaceId: 'w1' }] }],
    ['Document', 'upsert', { where: { workspaceId_sourceKind_sourceRef: { workspaceId: 'w1', sourceKind: 'folder', sourceRef: 'a' } }, create: { workspaceId: 'w1' }, update: {} }],
    ['Workspace', 'findUnique', { where: { tenantId: 't' } }],
  ])('allows %s.%s scoped to a workspace', (model, operation, args) => {
    expect(refused(model, operation, args)).toBe(false);
  });
});
