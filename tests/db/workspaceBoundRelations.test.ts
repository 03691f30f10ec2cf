/**
 * The database itself keeps children in their parent's workspace: even raw SQL, outside the
 * tenant guard, cannot attach a message to another workspace's conversation or a session,
 * membership or credential to another workspace's user.
 */
import { randomUUID } from 'node:crypto';
import { openTestDatabase } from '../support/database';

const db = openTestDatabase();
const a = { workspaceId: randomUUID(), userId: randomUUID(), conversationId: randomUUID() };
const b = { workspaceId: randomUUID(), userId: randomUUID(), conversationId: randomUUID() };

beforeAll(async () => {
  for (const w of [a, b]) {
    await db.workspace.create({ data: { id: w.workspaceId, name: 'w', tenantId: randomUUID() } });
    await db.user.create({ data: { id: w.userId, workspaceId: w.workspaceId, entraObjectId: randomUUID() } });
    await db.conversation.create({ data: { id: w.conversationId, workspaceId: w.workspaceId, userId: w.userId, channel: 'teams', externalId: randomUUID() } });
  }
});

afterAll(async () => {
  await db.workspace.deleteMany({ where: { id: { in: [a.workspaceId, b.workspaceId] } } });
  await db.$disconnect();
});

const refusedByForeignKey = async (sql: string, ...values: unknown[]) => {
  try {
    await db.$executeRawUnsafe(sql, ...values);
  } catch (error) {
    return /foreign key constraint fails/i.test(String((error as Error).message));
  }
  return false;
};

describe('workspace-bound relations', () => {
  it('refuses a message in workspace A that points at a conversation of workspace B (cross-tenant leak through include)', async () => {
    expect(await refusedByForeignKey("INSERT INTO `Message` (id, workspaceId, conversationId, role, text) VALUES (?, ?, ?, 'user', 'x')", randomUUID(), a.workspaceId, b.conversationId)).toBe(true);
  });

  it.each([
    ['a membership', "INSERT INTO `Membership` (id, workspaceId, userId, role, updatedAt) VALUES (?, ?, ?, 'admin', NOW(3))"],
    ['a session', 'INSERT INTO `Session` (id, workspaceId, userId, expiresAt) VALUES (?, ?, ?, NOW(3))'],
    ['a reset token', "INSERT INTO `PasswordResetToken` (id, workspaceId, userId, tokenHash, expiresAt) VALUES (?, ?, ?, REPEAT('a', 64), NOW(3))"],
  ])('refuses %s in workspace A for a user of workspace B (privilege across tenants)', async (_what, sql) => {
    expect(await refusedByForeignKey(sql, randomUUID(), a.workspaceId, b.userId)).toBe(true);
  });

  it('still accepts the same rows within one workspace (the check is not vacuous)', async () => {
    await db.$executeRawUnsafe("INSERT INTO `Message` (id, workspaceId, conversationId, role, text) VALUES (?, ?, ?, 'user', 'x')", randomUUID(), a.workspaceId, a.conversationId);
    await db.$executeRawUnsafe('INSERT INTO `Session` (id, workspaceId, userId, expiresAt) VALUES (?, ?, ?, NOW(3))', randomUUID(), a.workspaceId, a.userId);
    expect(await db.message.count({ where: { workspaceId: a.workspaceId } })).toBe(1);
  });
});
