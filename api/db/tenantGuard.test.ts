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
    ['Upload', 'findFirst', { where: { id: 'u1' } }],
    ['Upload', 'deleteMany', { where: { id: 'u1' } }],
    ['Upload', 'create', { data: { id: 'u1', fileName: 'a.pdf' } }],
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

describe('tenant guard against moving and nested writes', () => {
  it.each([
    ['moving a message to another workspace', 'Message', 'update', { where: { id: 'm1', workspaceId: 'w1' }, data: { workspaceId: 'w2' } }],
    ['moving documents in bulk', 'Document', 'updateMany', { where: { workspaceId: 'w1' }, data: { workspaceId: 'w2' } }],
    ['reconnecting a conversation to another workspace', 'Conversation', 'update', { where: { id: 'c1', workspaceId: 'w1' }, data: { workspace: { connect: { id: 'w2' } } } }],
    ['an upsert whose update moves the row', 'Job', 'upsert', { where: { id: 'j1', workspaceId: 'w1' }, create: { workspaceId: 'w1' }, update: { workspaceId: 'w2' } }],
    ['a nested create of messages in another workspace', 'Conversation', 'update', { where: { id: 'c1', workspaceId: 'w1' }, data: { messages: { create: { workspaceId: 'w2', text: 'x' } } } }],
    ['a nested create inside a create', 'Conversation', 'create', { data: { workspaceId: 'w1', messages: { createMany: { data: [{ workspaceId: 'w2' }] } } } }],
  ])('refuses %s', (_name, model, operation, args) => {
    expect(refused(model, operation, args)).toBe(true);
  });

  it('allows a flat update that keeps the workspace', () => {
    expect(refused('Message', 'update', { where: { id: 'm1', workspaceId: 'w1' }, data: { text: 'edited', createdAt: new Date() } })).toBe(false);
  });
});
