/**
 * The encrypted folder store: what only a folder can get wrong (its key file, what lands on disk,
 * paths). The rules every blob store keeps (round trips, isolation, tampering, hostile names) are
 * in the shared suite, tests/conformance/blobStore.suite.ts, which tests/files/blobStores.test.ts
 * runs against this store too.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { isKluisError } from '../errors';
import { createEncryptedFolderStore } from './encryptedFolderStore';
import type { BlobStore } from './ports';

/** Every regular file below `dir`, as absolute paths. */
function allFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...allFiles(full));
    else out.push(full);
  }
  return out;
}

/** Files (by path or content) that give `canary` away, in UTF-8 or UTF-16. */
function filesRevealing(dir: string, canary: string): string[] {
  const needles = [Buffer.from(canary, 'utf8'), Buffer.from(canary, 'utf16le'), Buffer.from(canary, 'utf8').toString('hex'), Buffer.from(canary, 'utf8').toString('base64')];
  return allFiles(dir).filter((file) => {
    if (path.relative(dir, file).includes(canary)) return true;
    const bytes = fs.readFileSync(file);
    return needles.some((needle) => bytes.includes(needle));
  });
}

/** Files present now that were not in `before`. */
function newFiles(dir: string, before: string[]): string[] {
  return allFiles(dir).filter((f) => !before.includes(f));
}

async function failure(work: Promise<unknown>): Promise<unknown> {
  try {
    await work;
  } catch (error) {
    return error;
  }
  return undefined;
}

describe('encrypted folder blob store', () => {
  let parent: string;
  let dir: string;
  let store: BlobStore;

  beforeEach(() => {
    // The store lives one level down, so anything written beside it (outside it) is visible.
    parent = fs.mkdtempSync(path.join(os.tmpdir(), 'kluis-blobs-'));
    dir = path.join(parent, 'store');
    store = createEncryptedFolderStore(dir);
  });

  afterEach(() => {
    fs.rmSync(parent, { recursive: true, force: true });
  });

  it("deleteWorkspace removes that workspace's files from disk, not just from reach, and no other's", async () => {
    await store.put('workspace-a', 'one', Buffer.from('a1'));
    await store.put('workspace-a', 'two', Buffer.from('a2'));
    await store.put('workspace-b', 'one', Buffer.from('b1'));
    const filesBefore = allFiles(dir).length;

    await store.deleteWorkspace('workspace-a');

    expect(allFiles(dir)).toHaveLength(filesBefore - 2);
    expect((await store.get('workspace-b', 'one'))?.toString()).toBe('b1');
  });

  it('never writes the plaintext, or the key name, to disk (a stolen folder reveals nothing)', async () => {
    const canary = 'CANARY-7f3a9c-plaintext-must-not-leak';
    const nameCanary = 'NAMECANARY-contract-acme-2025.pdf';
    await store.put('workspace-a', nameCanary, Buffer.from(`Confidential: ${canary}. ${canary}.`));
    await store.put('workspace-a', 'utf16', Buffer.from(canary, 'utf16le'));

    expect(filesRevealing(dir, canary)).toEqual([]);
    expect(filesRevealing(dir, nameCanary)).toEqual([]);

    // Control: the scan does find a canary that is written in plain.
    fs.writeFileSync(path.join(dir, 'control.txt'), `plain ${canary}`);
    expect(filesRevealing(dir, canary)).toEqual([path.join(dir, 'control.txt')]);
  });

  it('keeps names apart that differ only in a lone surrogate (which UTF-8 would turn into the same U+FFFD)', async () => {
    await store.put('w1', 'a\uD800', Buffer.from('high'));
    await store.put('w1', 'a\uDC00', Buffer.from('low'));
    expect((await store.get('w1', 'a\uD800'))?.toString()).toBe('high');
    expect((await store.get('w1', 'a\uDC00'))?.toString()).toBe('low');
  });

  it('keeps its key in a file of mode 0400', () => {
    const plainFiles = fs.readdirSync(dir, { withFileTypes: true }).filter((e) => e.isFile());

    // A new store holds exactly one file before any blob is written: its key.
    expect(plainFiles).toHaveLength(1);
    expect(fs.statSync(path.join(dir, plainFiles[0]!.name)).mode & 0o777).toBe(0o400);
  });

  it('a store with another key cannot open the blobs (a copied folder without its key is useless)', async () => {
    await store.put('w1', 'secret', Buffer.from('sealed'));
    const stolen = path.join(parent, 'stolen');
    fs.cpSync(dir, stolen, { recursive: true });
    const keyFile = fs.readdirSync(stolen, { withFileTypes: true }).find((e) => e.isFile())!.name;
    fs.chmodSync(path.join(stolen, keyFile), 0o600);
    fs.rmSync(path.join(stolen, keyFile));

    const thief = createEncryptedFolderStore(stolen);

    expect(isKluisError(await failure(thief.get('w1', 'secret')), 'store_unavailable')).toBe(true);
  });

  describe('tampering', () => {
    // Bit flips, truncation, swaps and cross-tenant replays are in the shared suite. This case
    // needs workspace ids with separators in them, which only the folder store accepts.
    async function onlyBlobOf(workspaceId: string, name: string, bytes: Buffer): Promise<string> {
      const before = allFiles(dir);
      await store.put(workspaceId, name, bytes);
      const [file, ...rest] = newFiles(dir, before);
      expect(rest).toEqual([]);
      return file!;
    }

    it('a blob moved between workspace/name pairs that join to the same text fails to open (associated-data confusion)', async () => {
      // ("a\nb", "c") and ("a", "b\nc") must not share associated data.
      const original = await onlyBlobOf('a\nb', 'c', Buffer.from('belongs to workspace a\\nb'));
      const target = await onlyBlobOf('a', 'b\nc', Buffer.from('belongs to workspace a'));
      fs.copyFileSync(original, target);

      expect(isKluisError(await failure(store.get('a', 'b\nc')), 'store_unavailable')).toBe(true);
    });
  });

  describe('path traversal', () => {
    const hostileNames = ['../../etc/passwd', '..\\..\\x', '..\\x', '/etc/passwd', 'a/../../../b', 'nul\0byte', '\0', '..', '.', '', '.key', 'C:\\Windows\\system.ini', `${'../'.repeat(50)}tmp/escape`];

    it.each(hostileNames)('the key name %j never writes outside the folder', async (name) => {
      fs.writeFileSync(path.join(parent, 'sibling.txt'), 'untouched');

      await store.put('w1', name, Buffer.from('payload'));

      expect((await store.get('w1', name))?.toString()).toBe('payload');
      expect(fs.readdirSync(parent).sort()).toEqual(['sibling.txt', 'store']);
      expect(fs.readFileSync(path.join(parent, 'sibling.txt'), 'utf8')).toBe('untouched');
      // The store's own key is not a blob name: writing ".key" must not replace it.
      expect((await store.get('w1', 'other'))).toBeUndefined();
      await store.put('w1', 'after', Buffer.from('still works'));
      expect((await createEncryptedFolderStore(dir).get('w1', 'after'))?.toString()).toBe('still works');
      await store.delete('w1', name);
      expect(await store.get('w1', name)).toBeUndefined();
    });

    it.each(['../..', '../outside', '/', '..\\..', 'w\0'])('the workspace id %j never reaches outside the folder', async (workspaceId) => {
      await store.put(workspaceId, 'file', Buffer.from('payload'));
      expect((await store.get(workspaceId, 'file'))?.toString()).toBe('payload');
      expect(fs.readdirSync(parent)).toEqual(['store']);

      await store.deleteWorkspace(workspaceId);

      // deleteWorkspace of a traversal id removed only that workspace, not the store or its parent.
      expect(fs.readdirSync(parent)).toEqual(['store']);
      expect(fs.readdirSync(dir, { withFileTypes: true }).filter((e) => e.isFile())).toHaveLength(1);
    });
  });

  describe('ping', () => {
    it('resolves and leaves nothing behind', async () => {
      const before = allFiles(dir);

      await expect(store.ping()).resolves.toBeUndefined();

      expect(allFiles(dir)).toEqual(before);
    });

    it('rejects when the folder is gone', async () => {
      fs.rmSync(dir, { recursive: true, force: true });

      await expect(store.ping()).rejects.toThrow();
    });
  });
});
