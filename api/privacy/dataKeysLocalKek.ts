/**
 * The default key-encryption key (KEK): derived with HKDF-SHA-256, under its own purpose label,
 * from a root key: DATA_KEY_ROOT when set, else the master key (MASTER_KEY, or
 * DATA_DIR/keys/master.key in local mode). Either way it shares nothing with the keys
 * api/identity/keys.ts derives from the master key for sessions, e-mail addresses or blobs. Data
 * keys are wrapped with AES-256-GCM, the workspace id and the KEK id as associated data.
 *
 * The KEK id is `local:` and a fingerprint of the derived key, stored beside each wrapped key, so
 * the adapter, given the earlier roots too, unwraps what each of them wrapped and `rewrapAll`
 * (api/privacy/dataKeys.ts, `npm run keys:rotate`) moves every data key onto the current one.
 *
 * A root of its own lets the data keys be rotated, and the old root destroyed, while the master
 * key stays: it also protects sign-in data (e-mail addresses, TOTP secrets, token indexes) and
 * MinIO's server-side encryption key, which nothing re-keys.
 */
import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes } from 'node:crypto';
import { fail } from '../errors';
import type { KeyEncryptionKeys } from './ports';

const PURPOSE = 'kluis:data-key-wrapping:v1';

function kekFrom(root: Buffer): { id: string; key: Buffer } {
  if (root.length !== 32) fail('config_invalid', 'The root of the key-encryption key must be 32 bytes');
  const key = Buffer.from(hkdfSync('sha256', root, Buffer.alloc(0), PURPOSE, 32));
  // The fingerprint names the key without revealing it (a hash of a random 256-bit key).
  return { id: `local:${createHash('sha256').update('kluis:kek-id').update(key).digest('hex').slice(0, 16)}`, key };
}

const aad = (workspaceId: string, kekId: string) => Buffer.from(JSON.stringify(['kluis-data-key', workspaceId, kekId]));

/** `root` derives the KEK that wraps; `retired`: earlier roots whose wrapped data keys still unwrap until re-wrapped. */
export function createLocalKeyEncryptionKeys(root: Buffer, retired: Buffer[] = []): KeyEncryptionKeys {
  const current = kekFrom(root);
  const known = new Map([current, ...retired.map(kekFrom)].map((k) => [k.id, k.key]));
  return {
    currentKeyId: current.id,
    retiredKeyIds: [...known.keys()].filter((id) => id !== current.id),
    async wrap(workspaceId, dataKey) {
      const nonce = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', current.key, nonce);
      cipher.setAAD(aad(workspaceId, current.id));
      return { wrapped: Buffer.concat([nonce, cipher.update(dataKey), cipher.final(), cipher.getAuthTag()]), kekId: current.id };
    },
    async unwrap(workspaceId, wrapped, kekId) {
      const key = known.get(kekId);
      if (!key) fail('config_invalid', `Data key wrapped by an unknown key-encryption key ${kekId}: was DATA_KEY_ROOT (or MASTER_KEY) changed without DATA_KEY_ROOT_PREVIOUS set to the old one?`);
      if (wrapped.length !== 12 + 32 + 16) fail('ciphertext_invalid', 'A wrapped data key has the wrong length');
      const decipher = createDecipheriv('aes-256-gcm', key, wrapped.subarray(0, 12));
      decipher.setAAD(aad(workspaceId, kekId));
      decipher.setAuthTag(wrapped.subarray(wrapped.length - 16));
      try {
        return Buffer.concat([decipher.update(wrapped.subarray(12, wrapped.length - 16)), decipher.final()]);
      } catch (error) {
        fail('ciphertext_invalid', 'A wrapped data key failed its integrity check (altered, or moved from another workspace)', { cause: error });
      }
    },
  };
}

export interface DataKeyRoots {
  /** MASTER_KEY (or the local master key file): the root while DATA_KEY_ROOT is unset, and always one to unwrap with. */
  masterKey: Buffer;
  /** DATA_KEY_ROOT: when set, the root of the KEK that wraps. */
  root?: Buffer;
  /** DATA_KEY_ROOT_PREVIOUS: the root DATA_KEY_ROOT replaced, during a rotation. */
  rootPrevious?: Buffer;
}

/**
 * The KEKs Kluis runs with: wraps under DATA_KEY_ROOT when set, else under the master key. With a
 * root set it still unwraps under DATA_KEY_ROOT_PREVIOUS and under the master key, so replicas keep
 * reading while they move from no root to a root, or from one root to the next, and
 * `npm run keys:rotate` re-wraps what the older ones wrapped.
 */
export function dataKeyEncryptionKeys(roots: DataKeyRoots): KeyEncryptionKeys {
  // DATA_KEY_ROOT_PREVIOUS without DATA_KEY_ROOT is refused by api/config.ts: there is no way back to the master key.
  if (!roots.root) return createLocalKeyEncryptionKeys(roots.masterKey);
  return createLocalKeyEncryptionKeys(roots.root, [...(roots.rootPrevious ? [roots.rootPrevious] : []), roots.masterKey]);
}
