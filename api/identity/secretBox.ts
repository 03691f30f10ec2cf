/**
 * AES-256-GCM sealing of small secrets at rest (TOTP secrets). The purpose is bound as associated
 * data, so a sealed value copied into another column does not open.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { fail } from '../errors';

export function createSecretBox(key: Buffer, purpose: string) {
  const aad = Buffer.from(`kluis:${purpose}:v1`);
  return {
    seal(plain: string): string {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      cipher.setAAD(aad);
      const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final(), cipher.getAuthTag()]);
      return `v1.${iv.toString('base64')}.${body.toString('base64')}`;
    },
    open(sealed: string): string {
      const [version, iv, body] = sealed.split('.');
      if (version !== 'v1' || !iv || !body) fail('internal', `Sealed ${purpose} value has an unknown format`);
      const data = Buffer.from(body, 'base64');
      try {
        const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64'));
        decipher.setAAD(aad);
        decipher.setAuthTag(data.subarray(data.length - 16));
        return Buffer.concat([decipher.update(data.subarray(0, data.length - 16)), decipher.final()]).toString('utf8');
      } catch (error) {
        fail('internal', `Sealed ${purpose} value failed its integrity check`, { cause: error });
      }
    },
  };
}

export type SecretBox = ReturnType<typeof createSecretBox>;
