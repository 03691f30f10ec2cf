/**
 * Data-key root rotation (`npm run keys:rotate`) on a private MariaDB instance of its own (the
 * command re-wraps every workspace of a database, so it must not share one with other tests). The
 * data keys move from the master key to DATA_KEY_ROOT, then from one root to the next, while
 * credentials logins and open invitations exist and (for the command) MinIO is the blob store: those
 * stay on the master key, untouched and readable. After each rotation the previous root alone opens no data key, the
 * new one opens every live key, destroyed keys stay destroyed, and a backup taken before it (wrapped
 * keys as they were) opens with the previous root only: once that root is gone, the erasures in the
 * backup hold.
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
import { createEmailProtector } from '../../api/identity/emailProtection';
import { deriveKeys } from '../../api/identity/keys';
import { createPrismaCredentialStore } from '../../api/identity/prismaCredentialStore';
import { createWorkspaceDataKeys } from '../../api/privacy/dataKeys';
import { createLocalKeyEncryptionKeys, dataKeyEncryptionKeys, type DataKeyRoots } from '../../api/privacy/dataKeysLocalKek';
import { createPrismaDataKeyStore } from '../../api/privacy/prismaDataKeyStore';
import { rotateDataKeyRoot } from '../../scripts/keys-rotate';

jest.setTimeout(180000);

const ROOT = path.resolve(__dirname, '..', '..');
let dir: string;
let instance: EmbeddedMariadb;
let url: string;
let db: Database;

const masterKey = randomBytes(32);
const firstRoot = randomBytes(32);
const secondRoot = randomBytes(32);
/** One root alone: what is left once every other key has been destroyed. */
const onlyUnder = (root: Buffer, on: () => Database = () => db) => createWorkspaceDataKeys(createPrismaDataKeyStore(on()), createLocalKeyEncryptionKeys(root), { cacheTtlMs: 0 });
/** A replica as api/main.ts builds it. */
const replica = (roots: Partial<DataKeyRoots> = {}) => createWorkspaceDataKeys(createPrismaDataKeyStore(db), dataKeyEncryptionKeys({ masterKey, ...roots }), { cacheTtlMs: 0 });
const kekId = (root: Buffer) => createLocalKeyEncryptionKeys(root).currentKeyId;

async function errorOf(work: () => Promise<unknown>): Promise<string> {
  try {
    await work();
  } catch (error) {
    return isKluisError(error) ? error.id : String(error);
  }
  return 'no error';
}

async function workspace(on: Database = db): Promise<string> {
  const id = randomUUID();
  await on.workspace.create({ data: { id, name: 'Rotation test', tenantId: randomUUID() } });
  return id;
}

const rowOf = async (workspaceId: string) => db.workspaceDataKey.findUniqueOrThrow({ where: { workspaceId } });
type BackupRow = { workspaceId: string; wrappedKey: Buffer; kekId: string };
const backupOf = async (workspaces: string[]): Promise<BackupRow[]> =>
  Promise.all(workspaces.map(async (workspaceId) => {
    const row = await rowOf(workspaceId);
    return { workspaceId, wrappedKey: Buffer.from(row.wrappedKey!), kekId: row.kekId };
  }));

/** Sign-in data keyed by the master key, as the credentials login stores it. */
const emails = createEmailProtector({ encryptionKey: deriveKeys(masterKey).emailEncryption, indexKey: deriveKeys(masterKey).emailIndex });
/** Every sign-in row of the database, byte for byte (raw SQL: across workspaces, as the rotation works). */
const signInRows = async () => ({
  credentials: await db.$queryRawUnsafe<Array<Record<string, unknown>>>('SELECT * FROM `Credential` ORDER BY id'),
  invitations: await db.$queryRawUnsafe<Array<{ usedAt: Date | null } & Record<string, unknown>>>('SELECT * FROM `Invitation` ORDER BY id'),
});

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
  let erasedEarly: string;
  const sealed = new Map<string, Buffer>();
  /** The nightly backup from before the first root, while every key was still live. */
  let backupUnderMaster: BackupRow[];
  let signIn: Awaited<ReturnType<typeof signInRows>>;
  const address = 'Jan.de.Vries@example.nl';

  beforeAll(async () => {
    const before = replica();
    live = [await workspace(), await workspace()];
    erasedEarly = await workspace();
    for (const ws of [...live, erasedEarly]) sealed.set(ws, await before.seal(ws, Buffer.from(`contract of ${ws}`), 'blob:uploads/1'));
    backupUnderMaster = await backupOf([...live, erasedEarly]);
    // The workspace is erased: its key destroyed.
    await before.destroy(erasedEarly);

    // A credentials login and an open invitation, both keyed by the master key.
    const store = createPrismaCredentialStore(db);
    const invitation = await store.createInvitation({ workspaceId: live[0]!, emailIndex: emails.blindIndex(address), tokenHash: randomBytes(32).toString('hex'), role: 'user', expiresAt: new Date(Date.now() + 86_400_000) });
    await store.register({ invitation, emailIndex: emails.blindIndex(address), emailCiphertext: emails.encrypt(address), passwordHash: 'hash', displayName: 'Jan' });
    await store.createInvitation({ workspaceId: live[1]!, emailIndex: emails.blindIndex('someone@example.nl'), tokenHash: randomBytes(32).toString('hex'), role: 'viewer', expiresAt: new Date(Date.now() + 86_400_000) });
    signIn = await signInRows();
    expect(signIn.credentials).toHaveLength(1);
    expect(signIn.invitations.filter((i) => !i.usedAt)).toHaveLength(1);
  });

  it('keeps reads working while replicas move to a root: a replica with DATA_KEY_ROOT set opens what the master key wrapped, and wraps new keys under the root', async () => {
    const moving = replica({ root: firstRoot });
    for (const ws of live) expect((await moving.open(ws, sealed.get(ws)!, 'blob:uploads/1')).toString()).toBe(`contract of ${ws}`);
    const fresh = await workspace();
    sealed.set(fresh, await moving.seal(fresh, Buffer.from(`contract of ${fresh}`), 'blob:uploads/1'));
    expect((await rowOf(fresh)).kekId).toBe(kekId(firstRoot));
    live.push(fresh);
  });

  it('moves every live key from the master key to the first root while credentials and invitations depend on the master key, which it leaves alone', async () => {
    expect(await rotateDataKeyRoot(db, { root: firstRoot, masterKey })).toEqual({ rewrapped: 2, unknownKek: 0 });

    const rootOnly = onlyUnder(firstRoot);
    for (const ws of live) {
      expect((await rootOnly.open(ws, sealed.get(ws)!, 'blob:uploads/1')).toString()).toBe(`contract of ${ws}`);
      expect((await rowOf(ws)).kekId).toBe(kekId(firstRoot));
    }
    const masterOnly = onlyUnder(masterKey);
    for (const ws of live) expect(await errorOf(() => masterOnly.open(ws, sealed.get(ws)!, 'blob:uploads/1'))).toBe('config_invalid');
    expect(await errorOf(() => rootOnly.open(erasedEarly, sealed.get(erasedEarly)!, 'blob:uploads/1'))).toBe('data_key_destroyed');
    expect((await rowOf(erasedEarly)).wrappedKey).toBeNull();

    // Sign-in data is exactly as it was, and the e-mail lookup still finds and opens the login.
    expect(await signInRows()).toEqual(signIn);
    const found = await createPrismaCredentialStore(db).findByEmailIndex(emails.blindIndex(address));
    expect(found?.workspaceId).toBe(live[0]);
    expect(emails.decrypt(found!.emailCiphertext)).toBe(emails.normalise(address));

    // A second run has nothing left to do.
    expect(await rotateDataKeyRoot(db, { root: firstRoot, masterKey })).toEqual({ rewrapped: 0, unknownKek: 0 });
  });

  it('leaves the backup from before the first move openable with the master key only: it cannot be destroyed, so such backups must expire', async () => {
    const rootKek = createLocalKeyEncryptionKeys(firstRoot);
    const masterKek = createLocalKeyEncryptionKeys(masterKey);
    for (const row of backupUnderMaster) {
      expect(row.kekId).toBe(masterKek.currentKeyId);
      expect(await errorOf(() => rootKek.unwrap(row.workspaceId, row.wrappedKey, row.kekId))).toBe('config_invalid');
      expect(await errorOf(() => rootKek.unwrap(row.workspaceId, row.wrappedKey, rootKek.currentKeyId))).toBe('ciphertext_invalid');
      expect((await masterKek.unwrap(row.workspaceId, row.wrappedKey, row.kekId)).length).toBe(32);
    }
  });

  it('rotates to a new root: the previous root alone opens nothing, the new one every live key, destroyed keys stay destroyed, and a backup from before opens with the previous root only', async () => {
    const erasedLater = live.pop()!;
    const backupUnderFirstRoot = await backupOf([...live, erasedLater]);
    await replica({ root: firstRoot }).destroy(erasedLater);

    // Replicas restarted with the new root and the previous one still read everything meanwhile.
    const rolling = replica({ root: secondRoot, rootPrevious: firstRoot });
    for (const ws of live) expect((await rolling.open(ws, sealed.get(ws)!, 'blob:uploads/1')).toString()).toBe(`contract of ${ws}`);

    expect(await rotateDataKeyRoot(db, { root: secondRoot, rootPrevious: firstRoot, masterKey })).toEqual({ rewrapped: 2, unknownKek: 0 });

    const newOnly = onlyUnder(secondRoot);
    const previousOnly = onlyUnder(firstRoot);
    for (const ws of live) {
      expect((await newOnly.open(ws, sealed.get(ws)!, 'blob:uploads/1')).toString()).toBe(`contract of ${ws}`);
      expect(await errorOf(() => previousOnly.open(ws, sealed.get(ws)!, 'blob:uploads/1'))).toBe('config_invalid');
      // Even told to treat the stored wrapping as its own, neither the previous root nor the master key opens it.
      const row = await rowOf(ws);
      expect(row.kekId).toBe(kekId(secondRoot));
      for (const old of [firstRoot, masterKey]) expect(await errorOf(() => createLocalKeyEncryptionKeys(old).unwrap(ws, Buffer.from(row.wrappedKey!), kekId(old)))).toBe('ciphertext_invalid');
    }
    for (const erased of [erasedEarly, erasedLater]) {
      expect(await newOnly.exists(erased)).toBe(false);
      expect(await errorOf(() => newOnly.open(erased, sealed.get(erased)!, 'blob:uploads/1'))).toBe('data_key_destroyed');
      expect(await errorOf(() => replica({ root: secondRoot, rootPrevious: firstRoot }).open(erased, sealed.get(erased)!, 'blob:uploads/1'))).toBe('data_key_destroyed');
    }

    // The backup taken under the first root: the new root and the master key open none of it, the
    // previous root all of it, the erased workspace included, until it is destroyed.
    const newKek = createLocalKeyEncryptionKeys(secondRoot);
    const masterKek = createLocalKeyEncryptionKeys(masterKey);
    const previousKek = createLocalKeyEncryptionKeys(firstRoot);
    for (const row of backupUnderFirstRoot) {
      expect(row.kekId).toBe(previousKek.currentKeyId);
      expect(await errorOf(() => newKek.unwrap(row.workspaceId, row.wrappedKey, row.kekId))).toBe('config_invalid');
      expect(await errorOf(() => newKek.unwrap(row.workspaceId, row.wrappedKey, newKek.currentKeyId))).toBe('ciphertext_invalid');
      expect(await errorOf(() => masterKek.unwrap(row.workspaceId, row.wrappedKey, masterKek.currentKeyId))).toBe('ciphertext_invalid');
      expect((await previousKek.unwrap(row.workspaceId, row.wrappedKey, row.kekId)).length).toBe(32);
    }
    expect(backupUnderFirstRoot.map((r) => r.workspaceId)).toContain(erasedLater);

    expect(await signInRows()).toEqual(signIn);
    expect(await rotateDataKeyRoot(db, { root: secondRoot, rootPrevious: firstRoot, masterKey })).toEqual({ rewrapped: 0, unknownKek: 0 });
  });

  it('refuses a root equal to the master key or to the previous root, and counts keys under a root it was not given', async () => {
    expect(await errorOf(() => rotateDataKeyRoot(db, { root: masterKey, masterKey }))).toBe('config_invalid');
    expect(await errorOf(() => rotateDataKeyRoot(db, { root: secondRoot, rootPrevious: secondRoot, masterKey }))).toBe('config_invalid');
    // A third root given without the second: the keys under the second are left as they are.
    const before = await Promise.all(live.map(rowOf));
    expect(await rotateDataKeyRoot(db, { root: randomBytes(32), rootPrevious: firstRoot, masterKey })).toEqual({ rewrapped: 0, unknownKek: live.length });
    expect(await Promise.all(live.map(rowOf))).toEqual(before);
  });

  it('runs as an operator command: roots and master key from the environment, clear refusals, and what to do next', async () => {
    const run = async (env: Record<string, string>, args: string[] = []) => {
      try {
        const { stdout, stderr } = await promisify(execFile)(process.execPath, [path.join(ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs'), 'scripts/keys-rotate.ts', ...args], { cwd: ROOT, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', DATABASE_URL: url, ...env } });
        return { code: 0, out: stdout + stderr };
      } catch (error) {
        const e = error as { code: number; stdout: string; stderr: string };
        return { code: e.code, out: e.stdout + e.stderr };
      }
    };
    const hex = (key: Buffer) => key.toString('hex');
    const thirdRoot = randomBytes(32);
    const MASTER_KEY = hex(masterKey);

    expect(await run({ MASTER_KEY })).toMatchObject({ code: 2, out: expect.stringMatching(/set DATA_KEY_ROOT to the new root/) });
    expect(await run({ MASTER_KEY, DATA_KEY_ROOT: hex(thirdRoot), DATA_KEY_ROOT_PREVIOUS: hex(thirdRoot) })).toMatchObject({ code: 1, out: expect.stringMatching(/DATA_KEY_ROOT_PREVIOUS: must differ from DATA_KEY_ROOT/) });
    expect(await run({ MASTER_KEY, DATA_KEY_ROOT: MASTER_KEY })).toMatchObject({ code: 1, out: expect.stringMatching(/DATA_KEY_ROOT: must differ from MASTER_KEY/) });
    expect((await run({ MASTER_KEY, DATA_KEY_ROOT: hex(thirdRoot), DATA_KEY_ROOT_PREVIOUS: hex(secondRoot) }, ['--force'])).code).toBe(2);

    // A replica that had not moved yet wrapped one more key under the master key. Without the
    // second root the command moves that one and names what it could not.
    const late = await workspace();
    const lateSealed = await replica().seal(late, Buffer.from('sealed before the move'), 'blob:x');
    const partial = await run({ MASTER_KEY, DATA_KEY_ROOT: hex(thirdRoot) });
    expect(partial.code).toBe(1);
    expect(partial.out).toMatch(/1 workspace data keys re-wrapped under DATA_KEY_ROOT/);
    expect(partial.out).toMatch(new RegExp(`${live.length} data keys are wrapped under a key that is neither DATA_KEY_ROOT, DATA_KEY_ROOT_PREVIOUS nor MASTER_KEY.*Run again with that root in DATA_KEY_ROOT_PREVIOUS`));

    // MinIO's server-side encryption key is derived from the master key too: no reason to refuse.
    const minio = { BLOB_STORE: 'minio', MINIO_ENDPOINT: 'minio.invalid', MINIO_ACCESS_KEY: 'kluis', MINIO_SECRET_KEY: 'secret-of-minio' };
    const rotated = await run({ MASTER_KEY, DATA_KEY_ROOT: hex(thirdRoot), DATA_KEY_ROOT_PREVIOUS: hex(secondRoot), ...minio });
    expect(rotated).toMatchObject({ code: 0, out: expect.stringMatching(new RegExp(`${live.length} workspace data keys re-wrapped under DATA_KEY_ROOT`)) });
    expect(rotated.out).toMatch(/Sign-in data and MinIO stay under MASTER_KEY, untouched/);
    expect(rotated.out).toMatch(/keep DATA_KEY_ROOT_PREVIOUS until every replica runs with the new DATA_KEY_ROOT.*then remove it and destroy the old root/);
    const third = onlyUnder(thirdRoot);
    for (const ws of live) expect((await third.open(ws, sealed.get(ws)!, 'blob:uploads/1')).toString()).toBe(`contract of ${ws}`);
    expect((await third.open(late, lateSealed, 'blob:x')).toString()).toBe('sealed before the move');
    expect(await errorOf(() => onlyUnder(secondRoot).open(live[0]!, sealed.get(live[0]!)!, 'blob:uploads/1'))).toBe('config_invalid');
    expect(await signInRows()).toEqual(signIn);
  });

  it('explains the first move off the master key, and in local mode reads the master key file Kluis created', async () => {
    const firstUrl = await instance.createDatabase('kluis_rotate_first');
    await migrateDatabase(firstUrl);
    const other = createDatabase(firstUrl, 1);
    const dataDir = path.join(dir, 'data');
    try {
      const localMaster = randomBytes(32);
      fs.mkdirSync(path.join(dataDir, 'keys'), { recursive: true });
      fs.writeFileSync(path.join(dataDir, 'keys', 'master.key'), localMaster.toString('hex'));
      const ws = await workspace(other);
      const value = await onlyUnder(localMaster, () => other).seal(ws, Buffer.from('local'), 'blob:l');
      const root = randomBytes(32);
      const { stdout } = await promisify(execFile)(process.execPath, [path.join(ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs'), 'scripts/keys-rotate.ts'], {
        cwd: ROOT,
        env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', DATABASE_URL: firstUrl, DATA_DIR: dataDir, DATA_KEY_ROOT: root.toString('hex') },
      });
      expect(stdout).toMatch(/1 workspace data keys re-wrapped under DATA_KEY_ROOT/);
      expect(stdout).toMatch(/backups taken before this first move off MASTER_KEY .*cannot be destroyed \(it protects sign-in data\).*until those backups expire/);
      expect(stdout).toMatch(/From now on each rotation of DATA_KEY_ROOT .*followed by destroying the previous root, makes the keys destroyed before it unrecoverable from older backups/);
      expect((await onlyUnder(root, () => other).open(ws, value, 'blob:l')).toString()).toBe('local');
    } finally {
      await other.$disconnect();
    }
  });
});
