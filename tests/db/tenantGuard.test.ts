/**
 * The tenant guard through the real Prisma client and database.
 *
 * The unit test next to api/db/tenantGuard.ts checks the rule on plain argument objects; this
 * one checks that the rule is actually wired into the client the app uses (createDatabase), that
 * it fires before anything reaches the database, and that a correctly scoped query really cannot
 * see another workspace's rows. Two workspaces with the same kind of data make a leak visible.
 * State is checked over a separate raw connection, which the guard does not filter.
 */
import { randomUUID } from 'node:crypto';
import mariadb from 'mariadb';
import { createDatabase, type Database } from '../../api/db/client';
import { connectionOptions } from '../../api/db/migrate';
import { isKluisError } from '../../api/errors';
import { randomTenantId, testDatabaseUrl } from '../support/database';

interface Tenant {
  workspaceId: string;
  tenantId: string;
  userId: string;
  entraObjectId: string;
  conversationId: string;
  messageIds: string[];
}

async function refusal(run: () => Promise<unknown>): Promise<unknown> {
  try {
    await run();
  } catch (error) {
    return error;
  }
  throw new Error('expected the tenant guard to refuse the query, it ran');
}

async function expectRefused(run: () => Promise<unknown>): Promise<void> {
  const error = await refusal(run);
  // A KluisError (not a Prisma or driver error) shows the guard refused it, not the database.
  expect(isKluisError(error, 'tenant_scope_missing')).toBe(true);
}

describe('tenant guard on the database client', () => {
  let db: Database;
  let raw: mariadb.Connection;
  let a: Tenant;
  let b: Tenant;

  async function createTenant(label: string): Promise<Tenant> {
    const t: Tenant = {
      workspaceId: randomUUID(),
      tenantId: randomTenantId(),
      userId: randomUUID(),
      entraObjectId: randomUUID(),
      conversationId: randomUUID(),
      messageIds: [randomUUID(), randomUUID()],
    };
    await db.workspace.create({ data: { id: t.workspaceId, name: `Workspace ${label}`, tenantId: t.tenantId } });
    await db.user.create({ data: { id: t.userId, workspaceId: t.workspaceId, entraObjectId: t.entraObjectId, displayName: `User ${label}` } });
    await db.conversation.create({
      data: { id: t.conversationId, workspaceId: t.workspaceId, userId: t.userId, channel: 'teams', externalId: `conversation-${label}-${t.conversationId}` },
    });
    await db.message.createMany({
      data: t.messageIds.map((id, i) => ({
        id,
        workspaceId: t.workspaceId,
        conversationId: t.conversationId,
        authorUserId: t.userId,
        role: 'user' as const,
        text: `message ${i} of ${label}`,
      })),
    });
    return t;
  }

  /** Message rows of both test workspaces as the database holds them, unfiltered by the guard. */
  async function messagesInDatabase(): Promise<Array<{ id: string; workspaceId: string; conversationId: string; text: string }>> {
    return raw.query('SELECT id, workspaceId, conversationId, text FROM `Message` WHERE workspaceId IN (?, ?) ORDER BY id', [a.workspaceId, b.workspaceId]);
  }

  beforeAll(async () => {
    db = createDatabase(testDatabaseUrl(), 4);
    raw = await mariadb.createConnection(connectionOptions(testDatabaseUrl()));
    a = await createTenant('A');
    b = await createTenant('B');
  });

  afterAll(async () => {
    try {
      if (a && b) {
        // Workspace is not tenant-owned; deleting it cascades to everything the test created.
        await db.workspace.deleteMany({ where: { id: { in: [a.workspaceId, b.workspaceId] } } });
        const [left] = await raw.query<Array<{ n: bigint | number }>>(
          'SELECT (SELECT COUNT(*) FROM `Message` WHERE workspaceId IN (?, ?)) + (SELECT COUNT(*) FROM `User` WHERE workspaceId IN (?, ?)) + (SELECT COUNT(*) FROM `Conversation` WHERE workspaceId IN (?, ?)) AS n',
          [a.workspaceId, b.workspaceId, a.workspaceId, b.workspaceId, a.workspaceId, b.workspaceId],
        );
        expect(Number(left?.n)).toBe(0);
      }
    } finally {
      await raw?.end();
      await db?.$disconnect();
    }
  });

  it('stops unscoped reads: a message query by conversation id alone is refused', async () => {
    await expectRefused(() => db.message.findMany({ where: { conversationId: b.conversationId } }));
    await expectRefused(() => db.message.findFirst({ where: { conversationId: b.conversationId } }));
    await expectRefused(() => db.message.findUnique({ where: { id: b.messageIds[0]! } }));
    await expectRefused(() => db.message.findUniqueOrThrow({ where: { id: b.messageIds[0]! } }));
    await expectRefused(() => db.message.findMany());
    await expectRefused(() => db.message.count({ where: { conversationId: b.conversationId } }));
    await expectRefused(() => db.message.aggregate({ where: { conversationId: b.conversationId }, _count: true }));
    await expectRefused(() => db.message.groupBy({ by: ['conversationId'], where: { conversationId: b.conversationId } }));
    await expectRefused(() => db.conversation.findUnique({ where: { id: b.conversationId } }));
    await expectRefused(() => db.user.findFirst({ where: { entraObjectId: b.entraObjectId } }));
  });

  it('stops filters that widen the workspace: OR, in-lists and empty ids are refused', async () => {
    await expectRefused(() => db.message.findMany({ where: { OR: [{ workspaceId: a.workspaceId }, { conversationId: b.conversationId }] } }));
    await expectRefused(() => db.message.findMany({ where: { workspaceId: { in: [a.workspaceId, b.workspaceId] } } }));
    await expectRefused(() => db.message.findMany({ where: { workspaceId: '' } }));
    await expectRefused(() => db.message.findMany({ where: { workspaceId: undefined, conversationId: b.conversationId } }));
  });

  it('refuses before any SQL is sent: an unscoped deleteMany leaves every row in place', async () => {
    const before = await messagesInDatabase();
    expect(before).toHaveLength(4);

    await expectRefused(() => db.message.deleteMany({ where: { conversationId: b.conversationId } }));
    await expectRefused(() => db.message.deleteMany());

    expect(await messagesInDatabase()).toEqual(before);
  });

  it('refuses before Prisma even builds the query: the guard answers a query Prisma itself would reject', async () => {
    // An unknown filter field fails Prisma's own validation, which runs before any SQL is made.
    // Getting the guard's error instead proves the guard sits in front of query building.
    const invalid = { conversationId: b.conversationId, noSuchField: 1 } as unknown as { conversationId: string };
    await expectRefused(() => db.message.deleteMany({ where: invalid }));
    // The same invalid filter with a workspace passes the guard and is then rejected by Prisma.
    const scoped = { ...invalid, workspaceId: a.workspaceId } as unknown as { conversationId: string };
    const error = await refusal(() => db.message.deleteMany({ where: scoped }));
    expect(isKluisError(error)).toBe(false);
    expect(await messagesInDatabase()).toHaveLength(4);
  });

  it('stops unscoped writes: update, updateMany, delete and upsert without where.workspaceId are refused', async () => {
    const before = await messagesInDatabase();
    const [target] = b.messageIds;

    await expectRefused(() => db.message.update({ where: { id: target! }, data: { text: 'overwritten' } }));
    await expectRefused(() => db.message.updateMany({ where: { conversationId: b.conversationId }, data: { text: 'overwritten' } }));
    await expectRefused(() => db.message.delete({ where: { id: target! } }));
    await expectRefused(() =>
      db.message.upsert({
        where: { id: target! },
        create: { id: target!, workspaceId: a.workspaceId, conversationId: a.conversationId, role: 'user', text: 'overwritten' },
        update: { text: 'overwritten' },
      }),
    );
    await expectRefused(() => db.conversation.update({ where: { id: b.conversationId }, data: { externalId: 'overwritten' } }));
    await expectRefused(() => db.user.delete({ where: { id: b.userId } }));

    expect(await messagesInDatabase()).toEqual(before);
    const [user] = await raw.query<Array<{ n: bigint | number }>>('SELECT COUNT(*) AS n FROM `User` WHERE id = ?', [b.userId]);
    expect(Number(user?.n)).toBe(1);
  });

  it('stops unscoped creates: a row without workspaceId is refused, also when the workspace is only connected', async () => {
    const id = randomUUID();
    await expectRefused(() =>
      db.message.create({
        data: {
          id,
          role: 'user',
          text: 'no workspace',
          workspace: { connect: { id: b.workspaceId } },
          conversation: { connect: { id: b.conversationId } },
        },
      }),
    );
    await expectRefused(() =>
      db.message.createMany({
        data: [
          { id: randomUUID(), workspaceId: a.workspaceId, conversationId: a.conversationId, role: 'user', text: 'scoped' },
          { id, conversationId: b.conversationId, role: 'user', text: 'unscoped' } as unknown as {
            id: string;
            workspaceId: string;
            conversationId: string;
            role: 'user';
            text: string;
          },
        ],
      }),
    );
    await expectRefused(() => db.message.createMany({ data: [] }));

    // Not even the scoped row of the refused batch was written.
    expect(await messagesInDatabase()).toHaveLength(4);
  });

  it('stops unscoped queries inside transactions too', async () => {
    await expectRefused(() => db.$transaction(async (tx) => tx.message.deleteMany({ where: { conversationId: b.conversationId } })));
    await expectRefused(() => db.$transaction([db.message.deleteMany({ where: { conversationId: b.conversationId } })]));
    expect(await messagesInDatabase()).toHaveLength(4);
  });

  it("stops cross-tenant reads: a query scoped to workspace A never returns B's rows, even filtered on B's ids", async () => {
    expect(await db.message.findMany({ where: { workspaceId: a.workspaceId, conversationId: b.conversationId } })).toEqual([]);
    expect(await db.message.findFirst({ where: { workspaceId: a.workspaceId, id: b.messageIds[0]! } })).toBeNull();
    expect(await db.message.findUnique({ where: { id: b.messageIds[0]!, workspaceId: a.workspaceId } })).toBeNull();
    expect(await db.message.count({ where: { workspaceId: a.workspaceId, conversationId: b.conversationId } })).toBe(0);
    expect(await db.conversation.findMany({ where: { workspaceId: a.workspaceId, id: b.conversationId } })).toEqual([]);
    expect(
      await db.user.findUnique({ where: { workspaceId_entraObjectId: { workspaceId: a.workspaceId, entraObjectId: b.entraObjectId } } }),
    ).toBeNull();

    // The same queries scoped to the right workspace find the rows, so the empty answers above are
    // the scope at work and not a broken query.
    const own = await db.message.findMany({ where: { workspaceId: b.workspaceId, conversationId: b.conversationId }, orderBy: { id: 'asc' } });
    expect(own.map((m) => m.id)).toEqual([...b.messageIds].sort());
    expect(
      await db.user.findUnique({ where: { workspaceId_entraObjectId: { workspaceId: b.workspaceId, entraObjectId: b.entraObjectId } } }),
    ).toMatchObject({ id: b.userId });
    const inA = await db.message.findMany({ where: { workspaceId: a.workspaceId } });
    expect(inA.map((m) => m.id).sort()).toEqual([...a.messageIds].sort());
  });

  it("stops cross-tenant writes: writes scoped to workspace A leave B's rows untouched", async () => {
    const before = await messagesInDatabase();

    expect(
      await db.message.updateMany({ where: { workspaceId: a.workspaceId, conversationId: b.conversationId }, data: { text: 'overwritten' } }),
    ).toEqual({ count: 0 });
    expect(await db.message.deleteMany({ where: { workspaceId: a.workspaceId, conversationId: b.conversationId } })).toEqual({ count: 0 });
    const update = await refusal(() => db.message.update({ where: { id: b.messageIds[0]!, workspaceId: a.workspaceId }, data: { text: 'overwritten' } }));
    expect(update).toMatchObject({ code: 'P2025' });
    const remove = await refusal(() => db.message.delete({ where: { id: b.messageIds[0]!, workspaceId: a.workspaceId } }));
    expect(remove).toMatchObject({ code: 'P2025' });

    expect(await messagesInDatabase()).toEqual(before);
  });

  it('lets Workspace, which is not tenant-owned, be looked up by tenant id', async () => {
    expect(await db.workspace.findUnique({ where: { tenantId: a.tenantId } })).toMatchObject({ id: a.workspaceId, name: 'Workspace A' });
    expect(await db.workspace.findUnique({ where: { tenantId: b.tenantId } })).toMatchObject({ id: b.workspaceId, name: 'Workspace B' });
    expect(await db.workspace.findUnique({ where: { tenantId: randomTenantId() } })).toBeNull();
  });
});
