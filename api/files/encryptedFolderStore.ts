/**
 * The embedded blob store: an encrypted folder. Each blob is sealed with AES-256-GCM under a
 * store key kept beside it with mode 0400 (a random 12-byte IV per write, the auth tag checked on
 * every read), so a copied folder without the key reveals nothing. Keys are hashed into file
 * names, so no caller-chosen string ever becomes a path.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fail } from '../errors';
import type { BlobStore } from './ports';

const MAGIC = Buffer.from('KLB1');

function loadOrCreateKey(file: string): Buffer {
  if (!existsSync(file)) {
    mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    writeFileSync(file, randomBytes(32).toString('hex'), { mode: 0o400, flag: 'wx' });
  }
  const key = Buffer.from(readFileSync(file, 'utf8').trim(), 'hex');
  if (key.length !== 32) fail('store_unavailable', `Blob store key ${path.basename(file)} is not 32 bytes of hex`);
  return key;
}

/**
 * The associated data of a blob. JSON keeps the pair unambiguous: with a plain separator,
 * ("a\nb", "c") and ("a", "b\nc") would share it and a blob could be moved between them.
 */
function associatedData(workspaceId: string, name: string): Buffer {
  return Buffer.from(JSON.stringify([workspaceId, name]));
}

export function createEncryptedFolderStore(dir: string): BlobStore {
  const root = path.resolve(dir);
  mkdirSync(root, { recursive: true, mode: 0o700 });
  const key = loadOrCreateKey(path.join(root, '.key'));
  const workspaceDir = (workspaceId: string) => path.join(root, createHash('sha256').update(`ws:${workspaceId}`).digest('hex').slice(0, 32));
  const blobPath = (workspaceId: string, name: string) => path.join(workspaceDir(workspaceId), createHash('sha256').update(`blob:${JSON.stringify(name)}`).digest('hex'));

  return {
    async put(workspaceId, name, bytes) {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      // The workspace and name are bound as associated data: a blob moved to another name fails to open.
      cipher.setAAD(associatedData(workspaceId, name));
      const sealed = Buffer.concat([MAGIC, iv, cipher.update(bytes), cipher.final(), cipher.getAuthTag()]);
      const file = blobPath(workspaceId, name);
      await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
      const temporary = `${file}.${randomBytes(6).toString('hex')}.tmp`;
      await fs.writeFile(temporary, sealed, { mode: 0o600 });
      await fs.rename(temporary, file);
    },
    async get(workspaceId, name) {
      let sealed: Buffer;
      try {
        sealed = await fs.readFile(blobPath(workspaceId, name));
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw error;
      }
      if (sealed.length < MAGIC.length + 28 || !sealed.subarray(0, 4).equals(MAGIC)) fail('store_unavailable', 'A blob is damaged (bad header)');
      const iv = sealed.subarray(4, 16);
      const tag = sealed.subarray(sealed.length - 16);
      const decipher = createDecipheriv('aes-256-gcm', key, iv);
      decipher.setAAD(associatedData(workspaceId, name));
      decipher.setAuthTag(tag);
      try {
        return Buffer.concat([decipher.update(sealed.subarray(16, sealed.length - 16)), decipher.final()]);
      } catch (error) {
        fail('store_unavailable', 'A blob failed its integrity check', { cause: error });
      }
    },
    async delete(workspaceId, name) {
      await fs.rm(blobPath(workspaceId, name), { force: true });
    },
    async deleteWorkspace(workspaceId) {
      await fs.rm(workspaceDir(workspaceId), { recursive: true, force: true });
    },
    async count(workspaceId) {
      try {
        return (await fs.readdir(workspaceDir(workspaceId))).length;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 0;
        throw error;
      }
    },
    async ping() {
      const probe = path.join(root, `.ping-${randomBytes(4).toString('hex')}`);
      await fs.writeFile(probe, 'ok');
      await fs.rm(probe, { force: true });
    },
  };
}
