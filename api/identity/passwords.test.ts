import { createHash } from 'node:crypto';
import bcrypt from 'bcryptjs';
import { isKluisError } from '../errors';
import { checkPasswordPolicy, dummyHash, hashPassword, verifyAgainstDummy, verifyPassword } from './passwords';

// The lowest cost the module allows keeps the suite quick; production passes 12.
const COST = 10;

function rejection(run: () => unknown): { id: string; status: number; detail: string } | undefined {
  try {
    run();
  } catch (error) {
    if (isKluisError(error)) return { id: error.id, status: error.status, detail: error.message };
    throw error;
  }
  return undefined;
}

async function rejectionAsync(run: () => Promise<unknown>): Promise<{ id: string; detail: string } | undefined> {
  try {
    await run();
  } catch (error) {
    if (isKluisError(error)) return { id: error.id, detail: error.message };
    throw error;
  }
  return undefined;
}

describe('checkPasswordPolicy (NIST SP 800-63B §5.1.1.2)', () => {
  it.each([
    ['eight characters', 'abcdefgh'],
    ['a passphrase with spaces', 'correct horse battery staple'],
    ['only lower-case letters (no composition rules)', 'zonnebloemen'],
    ['only digits (no composition rules)', '73920184'],
    ['128 characters', 'x'.repeat(128)],
    ['128 emoji (512 bytes of UTF-8)', '🔐'.repeat(128)],
    ['Dutch diacritics', 'ĳsbeer-café-één'],
  ])('accepts %s', (_name, password) => {
    expect(rejection(() => checkPasswordPolicy(password))).toBeUndefined();
  });

  it('refuses seven characters as too_short with a 400', () => {
    expect(rejection(() => checkPasswordPolicy('abcdefg'))).toEqual({ id: 'password_rejected', status: 400, detail: 'too_short' });
  });

  it('refuses 129 characters as too_long', () => {
    expect(rejection(() => checkPasswordPolicy('x'.repeat(129)))?.detail).toBe('too_long');
  });

  it('counts code points, not UTF-16 units: four emoji are too short', () => {
    expect('🔐🔐🔐🔐'.length).toBe(8);
    expect(rejection(() => checkPasswordPolicy('🔐🔐🔐🔐'))?.detail).toBe('too_short');
  });

  it('counts after NFKC: four "ﬁ" ligatures normalise to eight letters', () => {
    expect(rejection(() => checkPasswordPolicy('ﬁﬁﬁﬁ'))).toBeUndefined();
  });

  it.each([
    ['LF (log line injection)', 'goodpass\nword'],
    ['CR LF (header injection)', 'goodpass\r\nword'],
    ['NUL (C string truncation)', 'goodpass\u0000word'],
    ['DEL', 'goodpass\u007fword'],
    ['C1 next-line', 'goodpass\u0085word'],
    ['tab', 'goodpass\tword'],
  ])('refuses a control character: %s', (_name, password) => {
    expect(rejection(() => checkPasswordPolicy(password))?.detail).toBe('control_character');
  });

  it('refuses a lone surrogate (two inputs that would encode to the same bytes)', () => {
    expect(rejection(() => checkPasswordPolicy('goodpass\uD800word'))?.detail).toBe('invalid_unicode');
  });

  it('refuses a 1 MB password without normalising it (CPU exhaustion)', () => {
    const started = Date.now();
    expect(rejection(() => checkPasswordPolicy('ﬁ'.repeat(1_000_000)))?.detail).toBe('too_long');
    expect(Date.now() - started).toBeLessThan(50);
  });

  it('never puts the password in the error', () => {
    let message = '';
    try {
      checkPasswordPolicy('short\n');
    } catch (error) {
      message = `${String(error)} ${JSON.stringify(error)}`;
    }
    expect(message).not.toContain('short');
  });
});

describe('hashPassword and verifyPassword', () => {
  it('verifies the right password and refuses a wrong one', async () => {
    const hash = await hashPassword('tulpen in de lente', COST);
    expect(hash).toMatch(/^\$2b\$10\$[./A-Za-z0-9]{53}$/);
    await expect(verifyPassword('tulpen in de lente', hash)).resolves.toBe(true);
    await expect(verifyPassword('tulpen in de zomer', hash)).resolves.toBe(false);
  });

  it('salts every hash (identical passwords do not share a hash)', async () => {
    const [a, b] = await Promise.all([hashPassword('same password', COST), hashPassword('same password', COST)]);
    expect(a).not.toBe(b);
  });

  it('stops bcrypt 72-byte truncation: passwords sharing their first 72 bytes do not verify against each other', async () => {
    const prefix = 'k'.repeat(72);
    const first = `${prefix}-first`;
    const second = `${prefix}-second`;
    // Without the pre-hash bcrypt treats the two as one password; this is the attack.
    expect(bcrypt.truncates(first)).toBe(true);
    await expect(bcrypt.compare(second, await bcrypt.hash(first, COST))).resolves.toBe(true);
    const hash = await hashPassword(first, COST);
    await expect(verifyPassword(first, hash)).resolves.toBe(true);
    await expect(verifyPassword(second, hash)).resolves.toBe(false);
    await expect(verifyPassword(prefix, hash)).resolves.toBe(false);
  });

  it('stops the same truncation for multi-byte passwords (18 emoji already exceed 72 bytes)', async () => {
    const prefix = '🔐'.repeat(18);
    const hash = await hashPassword(`${prefix}a`, COST);
    await expect(verifyPassword(`${prefix}b`, hash)).resolves.toBe(false);
  });

  it('stops password shucking: the stored hash is not bcrypt over a bare SHA-256 of the password', async () => {
    const password = 'wachtwoord-voor-shucking';
    const hash = await hashPassword(password, COST);
    const bareSha256 = createHash('sha256').update(password).digest('base64');
    await expect(bcrypt.compare(bareSha256, hash)).resolves.toBe(false);
    await expect(bcrypt.compare(password, hash)).resolves.toBe(false);
  });

  it('treats NFKC-equivalent spellings as the same password', async () => {
    const hash = await hashPassword('café-１２３４', COST);
    await expect(verifyPassword('cafe\u0301-1234', hash)).resolves.toBe(true);
  });

  it.each([9, 10.5, 17, Number.NaN])('refuses bcrypt cost %p', async (cost) => {
    await expect(rejectionAsync(() => hashPassword('a fine password', cost))).resolves.toMatchObject({ id: 'config_invalid' });
  });

  it('refuses to hash a password the policy refuses', async () => {
    await expect(rejectionAsync(() => hashPassword('short', COST))).resolves.toEqual({ id: 'password_rejected', detail: 'too_short' });
  });

  it('fails an oversized candidate after the full bcrypt work', async () => {
    const hash = await hashPassword('a fine password', COST);
    await expect(verifyPassword('a fine password' + ' '.repeat(2000), hash)).resolves.toBe(false);
  });

  it('refuses a stored value that is not a bcrypt hash', async () => {
    await expect(rejectionAsync(() => verifyPassword('a fine password', 'plaintext'))).resolves.toMatchObject({ id: 'internal' });
  });
});

describe('verifyAgainstDummy', () => {
  it('builds a 60-character bcrypt hash of the requested cost', () => {
    const hash = dummyHash(12);
    expect(hash).toHaveLength(60);
    expect(bcrypt.getRounds(hash)).toBe(12);
    expect(dummyHash(10).slice(7)).toBe(hash.slice(7));
  });

  it('always fails, whatever the password', async () => {
    await expect(verifyAgainstDummy('KluisDummySaltKluisDuO', COST)).resolves.toBe(false);
    await expect(verifyAgainstDummy('', COST)).resolves.toBe(false);
  });

  it('stops account enumeration by timing: an unknown account costs as much as a wrong password', async () => {
    const hash = await hashPassword('the real password', COST);
    const median = async (run: () => Promise<unknown>) => {
      const times: number[] = [];
      for (let i = 0; i < 5; i++) {
        const started = process.hrtime.bigint();
        await run();
        times.push(Number(process.hrtime.bigint() - started) / 1e6);
      }
      return times.sort((a, b) => a - b)[2]!;
    };
    const wrongPassword = await median(() => verifyPassword('a wrong password', hash));
    const unknownAccount = await median(() => verifyAgainstDummy('a wrong password', COST));
    expect(unknownAccount / wrongPassword).toBeGreaterThan(0.5);
    expect(unknownAccount / wrongPassword).toBeLessThan(2);
  });
});
