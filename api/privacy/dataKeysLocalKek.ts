/**
 * The default key-encryption key: derived from the master key (MASTER_KEY, or DATA_DIR/keys/master.key
 * in local mode) with HKDF-SHA-256 under its own purpose label, so it shares nothing with the keys
 * api/identity/keys.ts derives for sessions, emails or blobs. Data keys are wrapped with AES-256-GCM,
 * the workspace id as associated data.
 *
 * The key id is `local:` and a fingerprint of the derived key, so after a master-key rotation the
 * adapter, given the retired master keys too, still unwraps what they wrapped and `rewrapAll`
 * (api/privacy/dataKeys.ts) moves every data key onto the new one.
 */
import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes } from 'node:crypto';
import { fail } from '../errors';
import type { KeyEncryptionKeys } from './ports';

const PURPOSE = 'kluis:data-key-wrapping:v1';

function kekFrom(masterKey: Buffer): { id: string; key: Buffer } {
  if (masterKey.length !== 32) fail('config_invalid', 'The master key must be 32 bytes');
  const key = Buffer.from(hkdfSync('sha256', masterKey, Buffer.alloc(0), PURPOSE, 32));
  // The fingerprint names the key without revealing it (a hash of a random 256-bit key).
  return { id: `local:${createHash('sha256').update('kluis:kek-id').update(key).digest('hex').slice(0, 16)}`, key };
}

const aad = (workspaceId: string, kekId: string) => Buffer.from(JSON.stringify(['kluis-data-key', workspaceId, kekId]));

/** `retired`: earlier master keys whose wrapped data keys are still to be re-wrapped. */
export function createLocalKeyEncryptionKeys(masterKey: Buffer, retired: Buffer[] = []): KeyEncryptionKeys {
  const current = kekFrom(masterKey);
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
      if (!key) fail('config_invalid', `Data key wrapped by an unknown key-encryption key ${kekId}: was the master key changed without keeping the old one?`);
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
