import { randomBytes } from 'node:crypto';
import { createEmailProtector } from './emailProtection';
import { errorId } from '../../tests/support/errors';

const encryptionKey = randomBytes(32);
const indexKey = randomBytes(32);
const protector = createEmailProtector({ encryptionKey, indexKey });
const EMAIL = 'an.de.vries@example.nl';

/** Flips one bit in the decoded bytes of part `index` of a v1 value. */
function flipBit(ciphertext: string, index: 1 | 2, byte: number): string {
  const parts = ciphertext.split('.');
  const bytes = Buffer.from(parts[index]!, 'base64');
  bytes[byte] = bytes[byte]! ^ 0x01;
  parts[index] = bytes.toString('base64');
  return parts.join('.');
}

describe('normalise', () => {
  it.each([
    ['surrounding whitespace', '  an.de.vries@example.nl\t', EMAIL],
    ['upper case', 'An.De.Vries@Example.NL', EMAIL],
    ['full-width letters (NFKC)', 'ａｎ.de.vries@example.nl', EMAIL],
    ['a plus tag', 'jan+kluis@example.be', 'jan+kluis@example.be'],
    ['an apostrophe', "o'brien@example.ie", "o'brien@example.ie"],
    ['a punycode domain', 'jan@xn--bcher-kva.example', 'jan@xn--bcher-kva.example'],
  ])('accepts %s', (_name, input, expected) => {
    expect(protector.normalise(input)).toBe(expected);
  });

  it.each([
    ['header injection with CR LF', 'jan@example.nl\r\nBcc: everyone@example.nl'],
    ['header injection with a bare LF', 'jan@example.nl\nBcc: everyone@example.nl'],
    ['a NUL byte', 'jan@example.nl\u0000.evil.example'],
    ['a display name (second recipient smuggling)', 'Jan <jan@example.nl>'],
    ['two addresses', 'jan@example.nl, piet@example.nl'],
    ['a quoted local part', '"jan de vries"@example.nl'],
    ['an IP literal', 'jan@[127.0.0.1]'],
    ['a double @', 'jan@@example.nl'],
    ['no domain dot', 'jan@localhost'],
    ['no local part', '@example.nl'],
    ['an empty string', ''],
    ['a local part of 65 characters', `${'a'.repeat(65)}@example.nl`],
    ['255 characters in all', `a${'a'.repeat(60)}@${'b'.repeat(60)}.${'c'.repeat(60)}.${'d'.repeat(60)}.example.nl`],
    ['a 1 MB string', `${'a'.repeat(1_000_000)}@example.nl`],
    ['a 1 MB string of compatibility characters', 'ﬁ'.repeat(1_000_000)],
    ['a non-string from JSON', 42 as unknown as string],
  ])('refuses %s with request_malformed', (_name, input) => {
    expect(errorId(() => protector.normalise(input))).toBe('request_malformed');
  });

  it('accepts exactly 254 characters', () => {
    const email = `${'a'.repeat(60)}@${'b'.repeat(60)}.${'c'.repeat(60)}.${'d'.repeat(60)}.example.nl`;
    expect(email).toHaveLength(254);
    expect(protector.normalise(email)).toBe(email);
  });

  it('keeps the address out of the error (errors are logged)', () => {
    let text = '';
    try {
      protector.normalise('geheim.adres@example');
    } catch (error) {
      text = `${String(error)} ${JSON.stringify(error)}`;
    }
    expect(text).toMatch(/not a plain address/);
    expect(text).not.toContain('geheim');
  });
});

describe('encrypt and decrypt (AES-256-GCM)', () => {
  it('round-trips the normalised address in the v1 format', () => {
    const ciphertext = protector.encrypt('  An.de.Vries@Example.nl ');
    expect(ciphertext).toMatch(/^v1\.[A-Za-z0-9+/]{16}\.[A-Za-z0-9+/]+={0,2}$/);
    expect(protector.decrypt(ciphertext)).toBe(EMAIL);
  });

  it('uses a fresh IV each time: the same address never gives the same ciphertext', () => {
    const values = new Set(Array.from({ length: 50 }, () => protector.encrypt(EMAIL)));
    expect(values.size).toBe(50);
    const ivs = new Set([...values].map((value) => value.split('.')[1]));
    expect(ivs.size).toBe(50);
  });

  it('stops ciphertext tampering: a flipped bit in the body throws instead of decrypting', () => {
    expect(errorId(() => protector.decrypt(flipBit(protector.encrypt(EMAIL), 2, 0)))).toBe('ciphertext_invalid');
  });

  it('stops ciphertext tampering: a flipped bit in the IV or the tag throws', () => {
    const ciphertext = protector.encrypt(EMAIL);
    const sealedLength = Buffer.from(ciphertext.split('.')[2]!, 'base64').length;
    expect(errorId(() => protector.decrypt(flipBit(ciphertext, 1, 3)))).toBe('ciphertext_invalid');
    expect(errorId(() => protector.decrypt(flipBit(ciphertext, 2, sealedLength - 1)))).toBe('ciphertext_invalid');
  });

  it('stops truncation: a shortened ciphertext throws', () => {
    const ciphertext = protector.encrypt(EMAIL);
    const [version, iv, body] = ciphertext.split('.') as [string, string, string];
    const shorter = Buffer.from(body, 'base64').subarray(0, -1).toString('base64');
    expect(errorId(() => protector.decrypt(`${version}.${iv}.${shorter}`))).toBe('ciphertext_invalid');
    expect(errorId(() => protector.decrypt(`${version}.${iv}.${Buffer.alloc(16).toString('base64')}`))).toBe('ciphertext_invalid');
    expect(errorId(() => protector.decrypt(ciphertext.slice(0, 20)))).toBe('ciphertext_invalid');
  });

  it('stops ciphertext swapping between keys: a value made under another key fails', () => {
    const other = createEmailProtector({ encryptionKey: randomBytes(32), indexKey });
    expect(errorId(() => protector.decrypt(other.encrypt(EMAIL)))).toBe('ciphertext_invalid');
  });

  it.each([
    ['an unknown version', (c: string) => c.replace(/^v1\./, 'v2.')],
    ['a missing part', (c: string) => c.split('.').slice(0, 2).join('.')],
    ['an extra part', (c: string) => `${c}.AAAA`],
    ['non-base64 characters', (c: string) => c.replace(/\.([A-Za-z0-9+/])/, '.*$1')],
    ['a 1 MB value', () => `v1.${'A'.repeat(1_000_000)}`],
  ])('refuses %s', (_name, mangle) => {
    expect(errorId(() => protector.decrypt(mangle(protector.encrypt(EMAIL))))).toBe('ciphertext_invalid');
  });
});

describe('blindIndex (HMAC-SHA-256)', () => {
  it('is stable for one address and its case and whitespace variants', () => {
    const index = protector.blindIndex(EMAIL);
    expect(index).toMatch(/^[0-9a-f]{64}$/);
    expect(protector.blindIndex(' AN.DE.VRIES@EXAMPLE.NL ')).toBe(index);
    expect(protector.blindIndex('ａｎ.de.vries@example.nl')).toBe(index);
  });

  it('differs between addresses', () => {
    expect(protector.blindIndex('piet@example.nl')).not.toBe(protector.blindIndex(EMAIL));
  });

  it('stops dictionary lookup without the key: another index key gives another index', () => {
    const other = createEmailProtector({ encryptionKey, indexKey: randomBytes(32) });
    expect(other.blindIndex(EMAIL)).not.toBe(protector.blindIndex(EMAIL));
  });

  it('refuses a malformed address', () => {
    expect(errorId(() => protector.blindIndex('jan@example.nl\r\nBcc: x@example.nl'))).toBe('request_malformed');
  });
});

describe('the plain address is never stored', () => {
  it('appears in neither the ciphertext nor the index, in any common encoding', () => {
    const stored = `${protector.encrypt(EMAIL)} ${protector.blindIndex(EMAIL)}`;
    for (const form of [EMAIL, 'an.de.vries', 'example.nl', Buffer.from(EMAIL).toString('base64').slice(0, 12), Buffer.from(EMAIL).toString('hex').slice(0, 12)]) {
      expect(stored.toLowerCase()).not.toContain(form.toLowerCase());
    }
  });
});

describe('keys', () => {
  it.each([
    ['a short encryption key', { encryptionKey: randomBytes(16), indexKey }],
    ['a long index key', { encryptionKey, indexKey: randomBytes(64) }],
    ['one key for both purposes', { encryptionKey, indexKey: Buffer.from(encryptionKey) }],
    ['a string instead of a Buffer', { encryptionKey: 'k'.repeat(32) as unknown as Buffer, indexKey }],
  ])('refuses %s', (_name, keys) => {
    expect(errorId(() => createEmailProtector(keys))).toBe('config_invalid');
  });

  it('is not affected when the caller later zeroes its key buffers', () => {
    const enc = randomBytes(32);
    const idx = randomBytes(32);
    const own = createEmailProtector({ encryptionKey: enc, indexKey: idx });
    const ciphertext = own.encrypt(EMAIL);
    const index = own.blindIndex(EMAIL);
    enc.fill(0);
    idx.fill(0);
    expect(own.decrypt(ciphertext)).toBe(EMAIL);
    expect(own.blindIndex(EMAIL)).toBe(index);
  });
});
