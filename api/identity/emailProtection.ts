/**
 * Email addresses of credential accounts are personal data (GDPR art. 4(1)) and the one field an
 * attacker with a copy of the database would most like to have: it joins Kluis accounts to
 * breach dumps and phishing lists. So the plain address is never stored or logged. Each address
 * is kept twice, neither time readable:
 *
 * - encrypted, so Kluis can write to the person (password reset, notices);
 * - as a blind index, a keyed hash that finds the account at sign-in without decrypting every
 *   row (OWASP Cryptographic Storage Cheat Sheet; the "blind index" pattern).
 *
 * The two keys must differ: the index key is used on every sign-in, the encryption key only when
 * mail is sent, and a leak of one should not give away the other.
 *
 * Cipher choice: AES-256-GCM, not AES-256-CBC. Both use AES with a 256-bit key, so a statement
 * promising "AES-256" holds; the difference is what happens to a modified ciphertext. CBC with a
 * unique IV keeps the address secret but does not notice tampering: anyone who can write to the
 * table can flip bits in the decrypted address (CBC malleability) or, where decryption errors are
 * observable, recover it through a padding oracle. GCM authenticates (NIST SP 800-38D): a
 * tampered, truncated or foreign ciphertext fails with an error instead of decrypting to
 * something else. The text that mentions AES-256-CBC should say AES-256-GCM.
 *
 * Stored form: `v1.<base64 IV>.<base64 ciphertext ‖ 16-byte tag>`. The version lets the scheme or
 * key change later without guessing what an old value is. The IV is 12 random bytes per
 * encryption (NIST SP 800-38D §8.2.2); at the number of accounts Kluis will ever hold, random
 * IVs stay far below the 2^32 encryptions per key that section allows.
 */
import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto';
import { z } from 'zod';
import { fail } from '../errors';

export interface EmailProtector {
  /** Trimmed, NFKC, lower case; refuses anything that is not a plain address. */
  normalise(email: string): string;
  /** Encrypts the normalised address. */
  encrypt(email: string): string;
  decrypt(ciphertext: string): string;
  /** HMAC-SHA-256 of the normalised address under the index key, as 64 hex characters. */
  blindIndex(email: string): string;
}

const VERSION = 'v1';
/**
 * Associated data: binds each ciphertext to its purpose and scheme version, so a value encrypted
 * under the same key for something else (a phone number, a later scheme) does not decrypt as an
 * email address. It is authenticated, not stored.
 */
const AAD = Buffer.from('kluis:email:v1', 'utf8');
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** RFC 5321 §4.5.3.1: 64 octets of local part, 254 for the whole path less its angle brackets. */
const MAX_EMAIL = 254;
const MAX_LOCAL_PART = 64;
/** Anything this long is refused before normalisation, so a 1 MB body costs nothing to reject. */
const MAX_INPUT_UNITS = 1024;
/** The longest stored value a 254-character address can produce, with room to spare. */
const MAX_CIPHERTEXT_CHARS = 1024;

/**
 * zod's address shape is ASCII-only: no quoted local parts, no IP literals, no spaces, no control
 * characters, no display names ("Jan <jan@example.nl>"). Each of those is legal in RFC 5322 and
 * each has been used to smuggle a second recipient or a header into outgoing mail; a person's
 * sign-in address needs none of them. Internationalised domains are accepted in their xn-- form.
 */
const emailShape = z
  .string()
  .max(MAX_EMAIL)
  .email()
  .refine((value) => value.indexOf('@') <= MAX_LOCAL_PART);

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

export function createEmailProtector(keys: { encryptionKey: Buffer; indexKey: Buffer }): EmailProtector {
  for (const [name, key] of [['encryptionKey', keys.encryptionKey], ['indexKey', keys.indexKey]] as const) {
    if (!Buffer.isBuffer(key) || key.length !== 32) fail('config_invalid', `Email protection: ${name} must be 32 bytes`);
  }
  if (keys.encryptionKey.equals(keys.indexKey)) fail('config_invalid', 'Email protection: the encryption key and the index key must differ');
  // Copies, so a caller that later zeroes or reuses its buffers does not change ours.
  const encryptionKey = Buffer.from(keys.encryptionKey);
  const indexKey = Buffer.from(keys.indexKey);

  function normalise(email: string): string {
    // The detail never includes the address: these errors are logged.
    if (typeof email !== 'string' || email.length > MAX_INPUT_UNITS) fail('request_malformed', 'Email address missing or too long');
    // NFKC first so full-width letters and compatibility forms become the ASCII they look like;
    // lower case because every mail provider Kluis users have treats the local part
    // case-insensitively (RFC 5321 §2.4 allows either), and "Jan@" and "jan@" must not become
    // two accounts.
    const normalised = email.normalize('NFKC').trim().toLowerCase();
    if (!emailShape.safeParse(normalised).success) fail('request_malformed', 'Email address is not a plain address');
    return normalised;
  }

  function encrypt(email: string): string {
    const plain = normalise(email);
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', encryptionKey, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(AAD);
    const sealed = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final(), cipher.getAuthTag()]);
    return `${VERSION}.${iv.toString('base64')}.${sealed.toString('base64')}`;
  }

  function decrypt(ciphertext: string): string {
    if (typeof ciphertext !== 'string' || ciphertext.length > MAX_CIPHERTEXT_CHARS) fail('ciphertext_invalid', 'Email ciphertext missing or too long');
    const parts = ciphertext.split('.');
    if (parts.length !== 3 || parts[0] !== VERSION) fail('ciphertext_invalid', 'Email ciphertext has an unknown format or version');
    const iv = decodeBase64(parts[1]!);
    const sealed = decodeBase64(parts[2]!);
    if (iv?.length !== IV_BYTES || sealed === undefined || sealed.length <= TAG_BYTES) fail('ciphertext_invalid', 'Email ciphertext is truncated or malformed');
    const decipher = createDecipheriv('aes-256-gcm', encryptionKey, iv, { authTagLength: TAG_BYTES });
    decipher.setAAD(AAD);
    decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
    try {
      return Buffer.concat([decipher.update(sealed.subarray(0, sealed.length - TAG_BYTES)), decipher.final()]).toString('utf8');
    } catch (error) {
      // Wrong key, altered bytes, or a ciphertext made for another purpose: GCM cannot tell
      // which, and nothing decrypted is returned.
      fail('ciphertext_invalid', 'Email ciphertext failed its integrity check', { cause: error });
    }
  }

  function blindIndex(email: string): string {
    return createHmac('sha256', indexKey).update(normalise(email), 'utf8').digest('hex');
  }

  return { normalise, encrypt, decrypt, blindIndex };
}

/** Strict base64: Node's decoder skips characters it does not know, so the round trip is checked. */
function decodeBase64(text: string): Buffer | undefined {
  if (!BASE64.test(text)) return undefined;
  const bytes = Buffer.from(text, 'base64');
  return bytes.toString('base64') === text ? bytes : undefined;
}
