import { randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { isKluisError } from '../errors';
import { createEncryptedFolderStore } from '../files/encryptedFolderStore';
import { createSealedBlobStore } from '../files/sealedBlobStore';
import { memoryDataKeys, memoryDataKeyStore } from '../../tests/support/dataKeys';
import { openWithKey, sealWithKey } from './dataKeys';
import { createLocalKeyEncryptionKeys, dataKeyEncryptionKeys } from './dataKeysLocalKek';
import { passageSealer } from './dataKeysText';

async function failure(work: () => Promise<unknown> | unknown): Promise<unknown> {
  try {
    await work();
  } catch (error) {
    return error;
  }
  return undefined;
}

const errorIdOf = (error: unknown) => (isKluisError(error) ? error.id : String(error));

describe('sealed format', () => {
  const key = randomBytes(32);
  const ws = randomUUID();
  const plaintext = Buffer.from('Salarisoverzicht 2026: confidential');

  it('is a version byte, a 12-byte nonce, the ciphertext and a 16-byte tag, with a fresh nonce every time', () => {
    const one = sealWithKey(key, ws, plaintext, 'blob:a');
    const two = sealWithKey(key, ws, plaintext, 'blob:a');

    expect(one[0]).toBe(1);
    expect(one.length).toBe(1 + 12 + plaintext.length + 16);
    expect(one.subarray(1, 13).equals(two.subarray(1, 13))).toBe(false);
    expect(one.includes(Buffer.from('confidential'))).toBe(false);
    expect(openWithKey(key, ws, one, 'blob:a').equals(plaintext)).toBe(true);
  });

  it.each([
    ['the version byte', 0],
    ['the nonce', 5],
    ['the ciphertext', 20],
    ['the tag', -1],
  ])('refuses a value with a flipped bit in %s as ciphertext_invalid', (_part, position) => {
    const sealed = sealWithKey(key, ws, plaintext, 'blob:a');
    const at = position < 0 ? sealed.length + position : position;
    sealed[at] = sealed[at]! ^ 0x01;

    expect(errorIdOf(failureSync(() => openWithKey(key, ws, sealed, 'blob:a')))).toBe('ciphertext_invalid');
  });

  it.each([0, 1, 13, 28])('refuses a value truncated to %i bytes as ciphertext_invalid', (length) => {
    const sealed = sealWithKey(key, ws, plaintext, 'blob:a').subarray(0, length);
    expect(errorIdOf(failureSync(() => openWithKey(key, ws, sealed, 'blob:a')))).toBe('ciphertext_invalid');
  });

  it('refuses a value presented as another workspace\'s or another context\'s (the associated data binds both)', () => {
    const sealed = sealWithKey(key, ws, plaintext, 'blob:a');

    expect(errorIdOf(failureSync(() => openWithKey(key, randomUUID(), sealed, 'blob:a')))).toBe('ciphertext_invalid');
    expect(errorIdOf(failureSync(() => openWithKey(key, ws, sealed, 'blob:b')))).toBe('ciphertext_invalid');
    // An ambiguous join of workspace and context would let these two meet; JSON keeps them apart.
    const joined = sealWithKey(key, 'a', plaintext, 'b:c');
    expect(errorIdOf(failureSync(() => openWithKey(key, 'a:b', joined, 'c')))).toBe('ciphertext_invalid');
  });
});

function failureSync(work: () => unknown): unknown {
  try {
    work();
  } catch (error) {
    return error;
  }
  return undefined;
}

describe('workspace data keys', () => {
  it('seals and opens per workspace, and a value of one workspace does not open in another', async () => {
    const keys = memoryDataKeys();
    const [a, b] = [randomUUID(), randomUUID()];
    const sealed = await keys.seal(a, Buffer.from('quarterly figures'), 'chunk:doc:0');
    await keys.seal(b, Buffer.from('other'), 'chunk:doc:0');

    expect((await keys.open(a, sealed, 'chunk:doc:0')).toString()).toBe('quarterly figures');
    expect(errorIdOf(await failure(() => keys.open(b, sealed, 'chunk:doc:0')))).toBe('ciphertext_invalid');
    expect(errorIdOf(await failure(() => keys.open(a, sealed, 'chunk:doc:1')))).toBe('ciphertext_invalid');
  });

  it('stores the data key only wrapped, never as it is', async () => {
    const store = memoryDataKeyStore();
    const keys = memoryDataKeys({ store });
    const ws = randomUUID();
    await keys.seal(ws, Buffer.from('x'), 'c');

    const row = store.rows.get(ws)!;
    expect(row.wrappedKey!.length).toBe(12 + 32 + 16);
    expect(row.kekId).toMatch(/^local:[0-9a-f]{16}$/);
  });

  it('after destroy: open, and seal too, fail with data_key_destroyed, exists is false, and destroy again is harmless', async () => {
    const keys = memoryDataKeys();
    const [gone, kept] = [randomUUID(), randomUUID()];
    const sealed = await keys.seal(gone, Buffer.from('to be erased'), 'blob:x');
    const other = await keys.seal(kept, Buffer.from('stays'), 'blob:x');
    expect(await keys.exists(gone)).toBe(true);

    await keys.destroy(gone);
    await keys.destroy(gone);

    expect(errorIdOf(await failure(() => keys.open(gone, sealed, 'blob:x')))).toBe('data_key_destroyed');
    // No fresh key appears for an erased workspace: a late upload cannot start it again.
    expect(errorIdOf(await failure(() => keys.seal(gone, Buffer.from('late'), 'blob:y')))).toBe('data_key_destroyed');
    expect(await keys.exists(gone)).toBe(false);
    expect((await keys.open(kept, other, 'blob:x')).toString()).toBe('stays');
  });

  it('renew gives an emptied workspace a new, unrelated key: new data seals and opens, old sealed data stays unreadable', async () => {
    const keys = memoryDataKeys();
    const ws = randomUUID();
    const old = await keys.seal(ws, Buffer.from('before the erasure'), 'blob:x');
    expect(errorIdOf(await failure(() => keys.renew(ws)))).toBe('internal');
    await keys.destroy(ws);
    await keys.renew(ws);

    expect(await keys.exists(ws)).toBe(true);
    const fresh = await keys.seal(ws, Buffer.from('after'), 'blob:y');
    expect((await keys.open(ws, fresh, 'blob:y')).toString()).toBe('after');
    expect(errorIdOf(await failure(() => keys.open(ws, old, 'blob:x')))).toBe('ciphertext_invalid');
  });

  it('destroying a workspace that never had a key leaves a tombstone: no key is created for it later', async () => {
    const keys = memoryDataKeys();
    const ws = randomUUID();
    await keys.destroy(ws);

    expect(errorIdOf(await failure(() => keys.seal(ws, Buffer.from('x'), 'c')))).toBe('data_key_destroyed');
    expect(await keys.exists(ws)).toBe(false);
  });

  it('opening for a workspace that never had a key fails with data_key_destroyed and creates none', async () => {
    const store = memoryDataKeyStore();
    const keys = memoryDataKeys({ store });
    const ws = randomUUID();

    expect(errorIdOf(await failure(() => keys.open(ws, sealWithKey(randomBytes(32), ws, Buffer.from('x'), 'c'), 'c')))).toBe('data_key_destroyed');
    expect(store.rows.has(ws)).toBe(false);
  });

  it('creates one key when many seals for a new workspace start at once', async () => {
    const store = memoryDataKeyStore();
    const keys = memoryDataKeys({ store });
    const ws = randomUUID();

    const sealed = await Promise.all(Array.from({ length: 20 }, (_, i) => keys.seal(ws, Buffer.from(`value ${i}`), 'c')));

    expect(store.rows.size).toBe(1);
    for (const [i, s] of sealed.entries()) expect((await keys.open(ws, s, 'c')).toString()).toBe(`value ${i}`);
  });

  it('caches an unwrapped key for the TTL only, and for a bounded number of workspaces', async () => {
    let now = 1_000_000;
    const store = memoryDataKeyStore();
    const keys = memoryDataKeys({ store, cacheTtlMs: 5000, cacheMaxKeys: 2, now: () => now });
    const [a, b, c] = [randomUUID(), randomUUID(), randomUUID()];
    const sealed = await keys.seal(a, Buffer.from('x'), 'ctx');
    const afterCreate = store.calls.find;

    await keys.open(a, sealed, 'ctx');
    expect(store.calls.find).toBe(afterCreate);

    now += 5001;
    await keys.open(a, sealed, 'ctx');
    expect(store.calls.find).toBe(afterCreate + 1);

    // Two more workspaces push the oldest (a) out of a cache of two.
    await keys.seal(b, Buffer.from('x'), 'ctx');
    await keys.seal(c, Buffer.from('x'), 'ctx');
    const before = store.calls.find;
    await keys.open(a, sealed, 'ctx');
    expect(store.calls.find).toBe(before + 1);
  });

  it('destroy evicts the key here at once; another replica stops opening within its TTL', async () => {
    let now = 1_000_000;
    const store = memoryDataKeyStore();
    const kek = createLocalKeyEncryptionKeys(randomBytes(32));
    const here = memoryDataKeys({ store, keks: kek, cacheTtlMs: 5000, now: () => now });
    const there = memoryDataKeys({ store, keks: kek, cacheTtlMs: 5000, now: () => now });
    const ws = randomUUID();
    const sealed = await here.seal(ws, Buffer.from('erase me'), 'ctx');
    await there.open(ws, sealed, 'ctx');

    await here.destroy(ws);

    expect(errorIdOf(await failure(() => here.open(ws, sealed, 'ctx')))).toBe('data_key_destroyed');
    // The other replica's cache still holds the key until its TTL passes (documented in the README).
    expect((await there.open(ws, sealed, 'ctx')).toString()).toBe('erase me');
    now += 5001;
    expect(errorIdOf(await failure(() => there.open(ws, sealed, 'ctx')))).toBe('data_key_destroyed');
  });

  it("a wrapped key copied onto another workspace's row does not unwrap there (it is bound to its workspace)", async () => {
    const store = memoryDataKeyStore();
    const kek = createLocalKeyEncryptionKeys(randomBytes(32));
    const keys = memoryDataKeys({ store, keks: kek });
    const [victim, attacker] = [randomUUID(), randomUUID()];
    const secret = await keys.seal(victim, Buffer.from('secret'), 'ctx');
    store.rows.set(attacker, { ...store.rows.get(victim)! });
    // A fresh service (no cache) reads the copied row.
    const replica = memoryDataKeys({ store, keks: kek });

    expect(errorIdOf(await failure(() => replica.seal(attacker, Buffer.from('x'), 'ctx')))).toBe('ciphertext_invalid');
    expect((await replica.open(victim, secret, 'ctx')).toString()).toBe('secret');
  });
});

describe('local key-encryption key', () => {
  const ws = randomUUID();
  const dataKey = randomBytes(32);

  it('names itself by a fingerprint that differs per master key and reveals nothing of it', () => {
    const master = randomBytes(32);
    const kek = createLocalKeyEncryptionKeys(master);

    expect(kek.currentKeyId).toBe(createLocalKeyEncryptionKeys(Buffer.from(master)).currentKeyId);
    expect(kek.currentKeyId).not.toBe(createLocalKeyEncryptionKeys(randomBytes(32)).currentKeyId);
    expect(kek.currentKeyId).not.toContain(master.toString('hex').slice(0, 8));
  });

  it('refuses a master key that is not 32 bytes', () => {
    expect(errorIdOf(failureSync(() => createLocalKeyEncryptionKeys(randomBytes(16))))).toBe('config_invalid');
  });

  it('unwraps what it wrapped, and refuses a changed wrap, an unknown key id, or another workspace', async () => {
    const kek = createLocalKeyEncryptionKeys(randomBytes(32));
    const { wrapped, kekId } = await kek.wrap(ws, dataKey);

    expect((await kek.unwrap(ws, wrapped, kekId)).equals(dataKey)).toBe(true);
    const flipped = Buffer.from(wrapped);
    flipped[20] = flipped[20]! ^ 1;
    expect(errorIdOf(await failure(() => kek.unwrap(ws, flipped, kekId)))).toBe('ciphertext_invalid');
    expect(errorIdOf(await failure(() => kek.unwrap(ws, wrapped.subarray(0, 40), kekId)))).toBe('ciphertext_invalid');
    expect(errorIdOf(await failure(() => kek.unwrap(randomUUID(), wrapped, kekId)))).toBe('ciphertext_invalid');
    expect(errorIdOf(await failure(() => kek.unwrap(ws, wrapped, 'local:0000000000000000')))).toBe('config_invalid');
  });

  it('still unwraps with a retired master key, and wraps only with the current one', async () => {
    const old = createLocalKeyEncryptionKeys(randomBytes(32));
    const master = randomBytes(32);
    const oldMaster = randomBytes(32);
    const before = createLocalKeyEncryptionKeys(oldMaster);
    const after = createLocalKeyEncryptionKeys(master, [oldMaster]);
    const wrappedBefore = await before.wrap(ws, dataKey);

    expect((await after.unwrap(ws, wrappedBefore.wrapped, wrappedBefore.kekId)).equals(dataKey)).toBe(true);
    expect((await after.wrap(ws, dataKey)).kekId).toBe(after.currentKeyId);
    expect(after.currentKeyId).not.toBe(before.currentKeyId);
    expect(errorIdOf(await failure(async () => after.unwrap(ws, (await old.wrap(ws, dataKey)).wrapped, old.currentKeyId)))).toBe('config_invalid');
  });

  it('wraps under the master key without DATA_KEY_ROOT; with it, under the root, still unwrapping what the master key and the previous root wrapped', async () => {
    const masterKey = randomBytes(32);
    const root = randomBytes(32);
    const previous = randomBytes(32);
    const id = (k: Buffer) => createLocalKeyEncryptionKeys(k).currentKeyId;

    const unset = dataKeyEncryptionKeys({ masterKey });
    expect(unset.currentKeyId).toBe(id(masterKey));
    expect(unset.retiredKeyIds).toEqual([]);
    const underMaster = await unset.wrap(ws, dataKey);

    const first = dataKeyEncryptionKeys({ masterKey, root });
    expect(first.currentKeyId).toBe(id(root));
    expect(first.retiredKeyIds).toEqual([id(masterKey)]);
    expect((await first.unwrap(ws, underMaster.wrapped, underMaster.kekId)).equals(dataKey)).toBe(true);
    const underRoot = await first.wrap(ws, dataKey);
    expect(underRoot.kekId).toBe(id(root));
    // The master key's KEK cannot open what the root wrapped, even told it is its own.
    expect(errorIdOf(await failure(() => unset.unwrap(ws, underRoot.wrapped, underRoot.kekId)))).toBe('config_invalid');
    expect(errorIdOf(await failure(() => unset.unwrap(ws, underRoot.wrapped, id(masterKey))))).toBe('ciphertext_invalid');

    const underPrevious = await createLocalKeyEncryptionKeys(previous).wrap(ws, dataKey);
    const next = dataKeyEncryptionKeys({ masterKey, root, rootPrevious: previous });
    expect(next.currentKeyId).toBe(id(root));
    expect([...next.retiredKeyIds].sort()).toEqual([id(previous), id(masterKey)].sort());
    for (const w of [underMaster, underRoot, underPrevious]) expect((await next.unwrap(ws, w.wrapped, w.kekId)).equals(dataKey)).toBe(true);
    expect(errorIdOf(await failure(() => first.unwrap(ws, underPrevious.wrapped, underPrevious.kekId)))).toBe('config_invalid');
  });

  it('rewrapAll moves every live data key onto the new master key, and skips destroyed ones', async () => {
    const store = memoryDataKeyStore();
    const oldMaster = randomBytes(32);
    const before = memoryDataKeys({ store, keks: createLocalKeyEncryptionKeys(oldMaster) });
    const [a, b, gone] = [randomUUID(), randomUUID(), randomUUID()];
    const sealedA = await before.seal(a, Buffer.from('a'), 'c');
    const sealedB = await before.seal(b, Buffer.from('b'), 'c');
    await before.seal(gone, Buffer.from('gone'), 'c');
    await before.destroy(gone);
    const master = randomBytes(32);

    const rotating = memoryDataKeys({ store, keks: createLocalKeyEncryptionKeys(master, [oldMaster]) });
    expect(await rotating.rewrapAll()).toEqual({ rewrapped: 2, unknownKek: 0 });
    expect(await rotating.rewrapAll()).toEqual({ rewrapped: 0, unknownKek: 0 });
    // A key wrapped by a KEK the service was not given is counted, not touched.
    const stranger = randomUUID();
    await memoryDataKeys({ store }).seal(stranger, Buffer.from('s'), 'c');
    expect(await rotating.rewrapAll()).toEqual({ rewrapped: 0, unknownKek: 1 });

    // The old master key can now be forgotten: the new one alone opens everything.
    const rotated = memoryDataKeys({ store, keks: createLocalKeyEncryptionKeys(master) });
    expect((await rotated.open(a, sealedA, 'c')).toString()).toBe('a');
    expect((await rotated.open(b, sealedB, 'c')).toString()).toBe('b');
    expect(store.rows.get(gone)!.wrappedKey).toBeNull();
  });
});

describe('passage sealing', () => {
  const passage = { id: 'doc:0', title: 'Ziekmelding Jan Jansen', sourceRef: 'hr/jan-jansen.docx', url: 'https://contoso.sharepoint.com/hr/jan-jansen.docx', heading: 'Verzuim', text: 'Het salaris van Jan is 4200 euro', ordinal: 0 };

  it('stores every shown field sealed in the text, the others empty, and opens them all again, bound to the chunk', async () => {
    const sealer = passageSealer(memoryDataKeys());
    const ws = randomUUID();
    const stored = await sealer.seal(ws, 'doc:0', passage);

    expect(stored.text).toMatch(/^sealed:v1:[A-Za-z0-9+/=]+$/);
    expect(stored).toMatchObject({ id: 'doc:0', ordinal: 0, title: '', sourceRef: '', url: undefined, heading: undefined });
    expect(JSON.stringify(stored)).not.toMatch(/Jansen|salaris|Verzuim/);
    expect(await sealer.open(ws, 'doc:0', stored)).toEqual(passage);
    expect(errorIdOf(await failure(() => sealer.open(ws, 'doc:1', stored)))).toBe('ciphertext_invalid');
  });

  it('without data keys, and for a passage stored before sealing, keeps it as it is', async () => {
    expect(await passageSealer(undefined).seal('ws', 'doc:0', passage)).toBe(passage);
    expect(await passageSealer(memoryDataKeys()).open('ws', 'doc:0', passage)).toEqual(passage);
  });
});

describe('sealed blob store', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kluis-sealed-blobs-'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('hands the adapter below only sealed bytes and gives callers the plaintext', async () => {
    const inner = createEncryptedFolderStore(dir);
    const blobs = createSealedBlobStore(inner, memoryDataKeys());
    const ws = randomUUID();
    const content = Buffer.from(`Contract CANARY-${randomUUID()}`);

    await blobs.put(ws, 'uploads/1', content);

    const below = (await inner.get(ws, 'uploads/1'))!;
    expect(below[0]).toBe(1);
    expect(below.includes(Buffer.from('CANARY'))).toBe(false);
    expect((await blobs.get(ws, 'uploads/1'))!.equals(content)).toBe(true);
    expect(await blobs.get(ws, 'uploads/absent')).toBeUndefined();
  });

  it('refuses a sealed blob moved to another name, and one changed beneath the adapter\'s own encryption', async () => {
    const inner = createEncryptedFolderStore(dir);
    const blobs = createSealedBlobStore(inner, memoryDataKeys());
    const ws = randomUUID();
    await blobs.put(ws, 'uploads/approved', Buffer.from('approved'));
    const sealed = (await inner.get(ws, 'uploads/approved'))!;

    await inner.put(ws, 'uploads/other', sealed);
    expect(errorIdOf(await failure(() => blobs.get(ws, 'uploads/other')))).toBe('ciphertext_invalid');
    sealed[sealed.length - 3] = sealed[sealed.length - 3]! ^ 1;
    await inner.put(ws, 'uploads/approved', sealed);
    expect(errorIdOf(await failure(() => blobs.get(ws, 'uploads/approved')))).toBe('ciphertext_invalid');
  });

  it('after the workspace key is destroyed its blobs fail with data_key_destroyed; another workspace reads on', async () => {
    const keys = memoryDataKeys();
    const blobs = createSealedBlobStore(createEncryptedFolderStore(dir), keys);
    const [gone, kept] = [randomUUID(), randomUUID()];
    await blobs.put(gone, 'uploads/1', Buffer.from('erase'));
    await blobs.put(kept, 'uploads/1', Buffer.from('keep'));

    await keys.destroy(gone);

    expect(errorIdOf(await failure(() => blobs.get(gone, 'uploads/1')))).toBe('data_key_destroyed');
    expect((await blobs.get(kept, 'uploads/1'))!.toString()).toBe('keep');
  });
});
