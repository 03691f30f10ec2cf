/**
 * Master-key rotation (`npm run keys:rotate`) on a private MariaDB instance of its own (the
 * command re-wraps every workspace of a database, so it must not share one with other tests): afterwards the
 * old master key alone opens no data key, the new one opens every live key, destroyed keys stay
 * destroyed, and a backup taken before the rotation (wrapped keys as they were) cannot be opened
 * with the new key: once the old one is gone, the erasures in that backup hold.
 */
import { execFile } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { createDatabase, type Database } from '../../api/db/client';
import { startEmbeddedMariadb, type EmbeddedMariadb } from '../../api/db/embeddedMariadb';
import { migrateDatabase } from '../../api/db/migrate';
import { isKluisError } from '../../api/errors';
import { createWorkspaceDataKeys } from '../../api/privacy/dataKeys';
import { createLocalKeyEncryptionKeys } from '../../api/privacy/dataKeysLocalKek';
import { createPrismaDataKeyStore } from '../../api/privacy/prismaDataKeyStore';
import { rotateMasterKey } from '../../scripts/keys-rotate';

jest.setTimeout(120000);

const ROOT = path.resolve(__dirname, '..', '..');
let dir: string;
let instance: EmbeddedMariadb;
let url: string;
let db: Database;

const oldKey = randomBytes(32);
const newKey = randomBytes(32);
const serviceWith = (masterKey: Buffer, retired: Buffer[] = []) => createWorkspaceDataKeys(createPrismaDataKeyStore(db), createLocalKeyEncryptionKeys(masterKey, retired), { cacheTtlMs: 0 });

async function errorOf(work: () => Promise<unknown>): Promise<string> {
  try {
    await work();
  } catch (error) {
    return isKluisError(error) ? error.id : String(error);
  }
  return 'no error';
}

async function workspace(): Promise<string> {
  const id = randomUUID();
  await db.workspace.create({ data: { id, name: 'Rotation test', tenantId: randomUUID() } });
  return id;
}

const rowOf = async (workspaceId: string) => db.workspaceDataKey.findUniqueOrThrow({ where: { workspaceId } });

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kluis-rotate-'));
  fs.chmodSync(dir, 0o711);
  instance = await startEmbeddedMariadb({ dir: path.join(dir, 'mariadb') });
  url = await instance.createDatabase('kluis_rotate');
  await migrateDatabase(url);
  db = createDatabase(url, 2);
});

afterAll(async () => {
  await db?.$disconnect();
  await instance?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('npm run keys:rotate', () => {
  let live: string[];
  let destroyed: string;
  const sealed = new Map<string, Buffer>();
  let backup: Array<{ workspaceId: string; wrappedKey: Buffer; kekId: string }>;

  beforeAll(async () => {
    const before = serviceWith(oldKey);
    live = [await workspace(), await workspace()];
    destroyed = await workspace();
    for (const ws of [...live, destroyed]) sealed.set(ws, await before.seal(ws, Buffer.from(`contract of ${ws}`), 'blob:uploads/1'));
    // The nightly backup, taken while every key was still live.
    backup = await Promise.all([...live, destroyed].map(async (workspaceId) => {
      const row = await rowOf(workspaceId);
      return { workspaceId, wrappedKey: Buffer.from(row.wrappedKey!), kekId: row.kekId };
    }));
    // The workspace is erased: its key destroyed.
    await before.destroy(destroyed);
  });

  it('keeps reads working during a rolling rotation: a replica with both keys opens what the old key sealed', async () => {
    const rolling = serviceWith(newKey, [oldKey]);
    for (const ws of live) expect((await rolling.open(ws, sealed.get(ws)!, 'blob:uploads/1')).toString()).toBe(`contract of ${ws}`);
  });

  it('refuses while other data depends on the master key (open invitations, MinIO) and changes nothing', async () => {
    const kekBefore = (await rowOf(live[0]!)).kekId;
    expect(await errorOf(() => rotateMasterKey(db, { masterKey: newKey, previous: oldKey, blobStore: 'minio' }))).toBe('config_invalid');
    const invitation = await db.invitation.create({ data: { id: randomUUID(), workspaceId: live[0]!, emailIndex: 'e'.repeat(64), tokenHash: randomBytes(32).toString('hex'), expiresAt: new Date(Date.now() + 86_400_000) } });
    await expect(rotateMasterKey(db, { masterKey: newKey, previous: oldKey, blobStore: 'folder' })).rejects.toThrow(/1 open invitations.*Nothing was changed/);
    await db.invitation.deleteMany({ where: { workspaceId: live[0]!, id: invitation.id } });
    const user = await db.user.create({ data: { id: randomUUID(), workspaceId: live[0]!, displayName: 'Someone' } });
    await db.credential.create({ data: { id: randomUUID(), workspaceId: live[0]!, userId: user.id, emailIndex: 'f'.repeat(64), emailCiphertext: 'sealed', passwordHash: 'x', passwordChangedAt: new Date() } });
    await expect(rotateMasterKey(db, { masterKey: newKey, previous: oldKey, blobStore: 'folder' })).rejects.toThrow(/1 credentials logins/);
    await db.credential.deleteMany({ where: { workspaceId: live[0]!, userId: user.id } });
    await db.user.deleteMany({ where: { workspaceId: live[0]!, id: user.id } });
    expect(await errorOf(() => rotateMasterKey(db, { masterKey: oldKey, previous: oldKey, blobStore: 'folder' }))).toBe('config_invalid');
    expect((await rowOf(live[0]!)).kekId).toBe(kekBefore);
  });

  it('re-wraps every live key with the new master key: the old key alone opens none, the new one all, destroyed keys stay destroyed', async () => {
    expect(await rotateMasterKey(db, { masterKey: newKey, previous: oldKey, blobStore: 'folder' })).toEqual({ rewrapped: 2, unknownKek: 0 });

    const newOnly = serviceWith(newKey);
    for (const ws of live) expect((await newOnly.open(ws, sealed.get(ws)!, 'blob:uploads/1')).toString()).toBe(`contract of ${ws}`);
    const oldOnly = serviceWith(oldKey);
    for (const ws of live) {
      expect(await errorOf(() => oldOnly.open(ws, sealed.get(ws)!, 'blob:uploads/1'))).toBe('config_invalid');
      // Even told to treat the stored wrapping as its own, the old key's KEK cannot open it.
      const row = await rowOf(ws);
      expect(row.kekId).toBe(createLocalKeyEncryptionKeys(newKey).currentKeyId);
      expect(await errorOf(() => createLocalKeyEncryptionKeys(oldKey).unwrap(ws, Buffer.from(row.wrappedKey!), createLocalKeyEncryptionKeys(oldKey).currentKeyId))).toBe('ciphertext_invalid');
    }
    expect(await newOnly.exists(destroyed)).toBe(false);
    expect((await rowOf(destroyed)).wrappedKey).toBeNull();
    expect(await errorOf(() => newOnly.open(destroyed, sealed.get(destroyed)!, 'blob:uploads/1'))).toBe('data_key_destroyed');
    // A second run has nothing left to do.
    expect(await rotateMasterKey(db, { masterKey: newKey, previous: oldKey, blobStore: 'folder' })).toEqual({ rewrapped: 0, unknownKek: 0 });
  });

  it('leaves a backup from before the rotation unreadable without the old key, the destroyed workspace included', async () => {
    const newKek = createLocalKeyEncryptionKeys(newKey);
    for (const row of backup) {
      expect(await errorOf(() => newKek.unwrap(row.workspaceId, row.wrappedKey, row.kekId))).toBe('config_invalid');
      expect(await errorOf(() => newKek.unwrap(row.workspaceId, row.wrappedKey, newKek.currentKeyId))).toBe('ciphertext_invalid');
    }
    // Which is why the old key must be destroyed once such backups have expired: it still opens them.
    const oldKek = createLocalKeyEncryptionKeys(oldKey);
    const restored = backup.find((r) => r.workspaceId === destroyed)!;
    expect((await oldKek.unwrap(restored.workspaceId, restored.wrappedKey, restored.kekId)).length).toBe(32);
  });

  it('runs as an operator command: new key and previous key from the environment, clear refusals without them', async () => {
    const run = async (env: Record<string, string>, args: string[] = []) => {
      try {
        const { stdout, stderr } = await promisify(execFile)(process.execPath, [path.join(ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs'), 'scripts/keys-rotate.ts', ...args], { cwd: ROOT, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', DATABASE_URL: url, ...env } });
        return { code: 0, out: stdout + stderr };
      } catch (error) {
        const e = error as { code: number; stdout: string; stderr: string };
        return { code: e.code, out: e.stdout + e.stderr };
      }
    };
    const third = randomBytes(32);
    const ws = await workspace();
    await serviceWith(newKey).seal(ws, Buffer.from('sealed under the second key'), 'blob:x');

    const missing = await run({ MASTER_KEY: third.toString('hex') });
    expect(missing).toMatchObject({ code: 2, out: expect.stringMatching(/MASTER_KEY_PREVIOUS/) });
    const same = await run({ MASTER_KEY: third.toString('hex'), MASTER_KEY_PREVIOUS: third.toString('hex') });
    expect(same).toMatchObject({ code: 1, out: expect.stringMatching(/MASTER_KEY_PREVIOUS: only during a rotation/) });
    expect((await run({ MASTER_KEY: third.toString('hex'), MASTER_KEY_PREVIOUS: newKey.toString('hex') }, ['--force'])).code).toBe(2);

    const rotated = await run({ MASTER_KEY: third.toString('hex'), MASTER_KEY_PREVIOUS: newKey.toString('hex') });
    expect(rotated).toMatchObject({ code: 0, out: expect.stringMatching(/3 workspace data keys re-wrapped/) });
    expect((await serviceWith(third).open(ws, await serviceWith(third).seal(ws, Buffer.from('x'), 'blob:y'), 'blob:y')).toString()).toBe('x');
    expect(await errorOf(() => serviceWith(newKey).open(live[0]!, sealed.get(live[0]!)!, 'blob:uploads/1'))).toBe('config_invalid');
  });
});
