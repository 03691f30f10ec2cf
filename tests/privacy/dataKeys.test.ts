/**
 * Workspace data keys on the real MariaDB: what only the MySQL store can get right or wrong. Two
 * replicas (two Prisma clients, two pools) creating the first key of a workspace at once, destroy
 * leaving no wrapped key in the table, a tombstone for a workspace that never had a key, the
 * foreign key to the workspace, and a KEK rotation with re-wrapping.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { isKluisError } from '../../api/errors';
import { createWorkspaceDataKeys } from '../../api/privacy/dataKeys';
import { createLocalKeyEncryptionKeys } from '../../api/privacy/dataKeysLocalKek';
import { createPrismaDataKeyStore } from '../../api/privacy/prismaDataKeyStore';
import { openTestDatabase } from '../support/database';

const replicaOne = openTestDatabase();
const replicaTwo = openTestDatabase();
const master = randomBytes(32);
const workspaces: string[] = [];

async function newWorkspace(): Promise<string> {
  const id = randomUUID();
  await replicaOne.workspace.create({ data: { id, name: 'Data key test', tenantId: randomUUID() } });
  workspaces.push(id);
  return id;
}

async function failure(work: () => Promise<unknown>): Promise<unknown> {
  try {
    await work();
  } catch (error) {
    return error;
  }
  return undefined;
}
const errorIdOf = (error: unknown) => (isKluisError(error) ? error.id : String(error));

const serviceOn = (db: typeof replicaOne, masterKey = master, retired: Buffer[] = []) => createWorkspaceDataKeys(createPrismaDataKeyStore(db), createLocalKeyEncryptionKeys(masterKey, retired));

afterAll(async () => {
  await replicaOne.workspace.deleteMany({ where: { id: { in: workspaces } } });
  await replicaOne.$disconnect();
  await replicaTwo.$disconnect();
});

describe('workspace data keys on MariaDB', () => {
  it('two replicas sealing the first values of a workspace at once end with ONE key that opens everything both sealed', async () => {
    for (let round = 0; round < 5; round++) {
      const ws = await newWorkspace();
      const one = serviceOn(replicaOne);
      const two = serviceOn(replicaTwo);

      const sealed = await Promise.all([one.seal(ws, Buffer.from('from one'), 'c'), two.seal(ws, Buffer.from('from two'), 'c'), one.seal(ws, Buffer.from('one again'), 'c'), two.seal(ws, Buffer.from('two again'), 'c')]);

      expect(await replicaOne.workspaceDataKey.count({ where: { workspaceId: ws } })).toBe(1);
      const texts = ['from one', 'from two', 'one again', 'two again'];
      for (const [i, s] of sealed.entries()) {
        expect((await one.open(ws, s, 'c')).toString()).toBe(texts[i]);
        expect((await two.open(ws, s, 'c')).toString()).toBe(texts[i]);
      }
    }
  });

  it('stores the key wrapped (60 bytes, the KEK id beside it), never the data key itself', async () => {
    const ws = await newWorkspace();
    await serviceOn(replicaOne).seal(ws, Buffer.from('x'), 'c');

    const row = await replicaOne.workspaceDataKey.findUniqueOrThrow({ where: { workspaceId: ws } });
    expect(row.wrappedKey!.length).toBe(60);
    expect(row.kekId).toBe(createLocalKeyEncryptionKeys(master).currentKeyId);
    expect(row.destroyedAt).toBeNull();
  });

  it('destroy overwrites the wrapped key with NULL and stamps destroyedAt: nothing in the table can bring the key back', async () => {
    const [gone, kept] = [await newWorkspace(), await newWorkspace()];
    const keys = serviceOn(replicaOne);
    const sealed = await keys.seal(gone, Buffer.from('personnel file'), 'blob:uploads/1');
    const other = await keys.seal(kept, Buffer.from('still here'), 'blob:uploads/1');

    await keys.destroy(gone);

    const row = await replicaOne.workspaceDataKey.findUniqueOrThrow({ where: { workspaceId: gone } });
    expect(row.wrappedKey).toBeNull();
    expect(row.destroyedAt).toBeInstanceOf(Date);
    expect(await keys.exists(gone)).toBe(false);
    expect(await keys.exists(kept)).toBe(true);
    // A replica that never cached the key, and the one that destroyed it, both refuse.
    expect(errorIdOf(await failure(() => serviceOn(replicaTwo).open(gone, sealed, 'blob:uploads/1')))).toBe('data_key_destroyed');
    expect(errorIdOf(await failure(() => keys.open(gone, sealed, 'blob:uploads/1')))).toBe('data_key_destroyed');
    expect(errorIdOf(await failure(() => keys.seal(gone, Buffer.from('late upload'), 'blob:uploads/2')))).toBe('data_key_destroyed');
    expect((await serviceOn(replicaTwo).open(kept, other, 'blob:uploads/1')).toString()).toBe('still here');
    // Idempotent.
    await keys.destroy(gone);
    expect((await replicaOne.workspaceDataKey.findUniqueOrThrow({ where: { workspaceId: gone } })).destroyedAt).toEqual(row.destroyedAt);
  });

  it('destroying a workspace that never had a key leaves a tombstone row, so no key is created for it afterwards', async () => {
    const ws = await newWorkspace();
    const keys = serviceOn(replicaOne);

    await keys.destroy(ws);

    expect(await replicaOne.workspaceDataKey.findUnique({ where: { workspaceId: ws } })).toMatchObject({ wrappedKey: null });
    expect(errorIdOf(await failure(() => serviceOn(replicaTwo).seal(ws, Buffer.from('x'), 'c')))).toBe('data_key_destroyed');
  });

  it('refuses to create a key for a workspace that does not exist (the row belongs to a workspace)', async () => {
    const keys = serviceOn(replicaOne);
    const ghost = randomUUID();

    expect(errorIdOf(await failure(() => keys.seal(ghost, Buffer.from('x'), 'c')))).toBe('not_found');
    expect(await replicaOne.workspaceDataKey.count({ where: { workspaceId: ghost } })).toBe(0);
  });

  it('deleting the workspace row takes its key with it', async () => {
    const ws = await newWorkspace();
    await serviceOn(replicaOne).seal(ws, Buffer.from('x'), 'c');

    await replicaOne.workspace.delete({ where: { id: ws } });

    expect(await replicaOne.workspaceDataKey.count({ where: { workspaceId: ws } })).toBe(0);
  });

  it('rewrapAll after a master-key rotation re-wraps every live key once, skips destroyed ones, and the old master key is then no longer needed', async () => {
    const oldMaster = randomBytes(32);
    const before = serviceOn(replicaOne, oldMaster);
    const [a, b, gone] = [await newWorkspace(), await newWorkspace(), await newWorkspace()];
    const sealedA = await before.seal(a, Buffer.from('a'), 'c');
    const sealedB = await before.seal(b, Buffer.from('b'), 'c');
    await before.seal(gone, Buffer.from('gone'), 'c');
    await before.destroy(gone);
    const newMaster = randomBytes(32);

    // Two replicas rotate at once: each key is re-wrapped by exactly one of them.
    const results = await Promise.all([serviceOn(replicaOne, newMaster, [oldMaster]).rewrapAll(), serviceOn(replicaTwo, newMaster, [oldMaster]).rewrapAll()]);
    const mine = [await replicaOne.workspaceDataKey.findUniqueOrThrow({ where: { workspaceId: a } }), await replicaOne.workspaceDataKey.findUniqueOrThrow({ where: { workspaceId: b } })];
    expect(mine.map((r) => r.kekId)).toEqual([createLocalKeyEncryptionKeys(newMaster).currentKeyId, createLocalKeyEncryptionKeys(newMaster).currentKeyId]);
    // Each key is re-wrapped once, by one replica (the conditional update loses the race for the other).
    expect(results[0]!.rewrapped + results[1]!.rewrapped).toBe(2);
    // Keys of other workspaces in this database, wrapped by master keys this rotation was not given, are counted and left alone.
    expect(results[0]!.unknownKek).toBeGreaterThan(0);

    const after = serviceOn(replicaTwo, newMaster);
    expect((await after.open(a, sealedA, 'c')).toString()).toBe('a');
    expect((await after.open(b, sealedB, 'c')).toString()).toBe('b');
    expect((await replicaOne.workspaceDataKey.findUniqueOrThrow({ where: { workspaceId: gone } })).wrappedKey).toBeNull();
  });
});
