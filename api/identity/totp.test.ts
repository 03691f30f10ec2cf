import crypto from 'node:crypto';
import { generateSync } from 'otplib';
import { consumeRecoveryCode, generateRecoveryCodes, generateTotpSecret, totpUri, verifyTotp } from './totp';
import { errorId } from '../../tests/support/errors';

// RFC 6238 Appendix B: the SHA-1 seed is the ASCII string "12345678901234567890".
const RFC_SECRET = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ';
const at = (seconds: number) => seconds * 1000;
const codeFor = (secret: string, step: number) => generateSync({ secret, epoch: step * 30 });

describe('verifyTotp', () => {
  // The RFC lists 8-digit values; a 6-digit code is the same number modulo 10^6 (RFC 4226 §5.3).
  it.each([
    [59, '94287082', 1],
    [1111111109, '07081804', 37037036],
    [1111111111, '14050471', 37037037],
    [1234567890, '89005924', 41152263],
    [2000000000, '69279037', 66666666],
    [20000000000, '65353130', 666666666],
  ])('accepts the RFC 6238 test vector at T=%d', (time, rfcCode, step) => {
    expect(Math.floor(time / 30)).toBe(step);
    expect(verifyTotp(RFC_SECRET, rfcCode.slice(-6), { now: at(time) })).toEqual({ ok: true, step });
  });

  it('accepts codes one step behind and one step ahead (clock drift)', () => {
    const now = at(1234567890);
    const step = 41152263;
    expect(verifyTotp(RFC_SECRET, codeFor(RFC_SECRET, step - 1), { now })).toEqual({ ok: true, step: step - 1 });
    expect(verifyTotp(RFC_SECRET, codeFor(RFC_SECRET, step + 1), { now })).toEqual({ ok: true, step: step + 1 });
  });

  it('refuses codes two steps away', () => {
    const now = at(1234567890);
    expect(verifyTotp(RFC_SECRET, codeFor(RFC_SECRET, 41152263 - 2), { now })).toEqual({ ok: false });
    expect(verifyTotp(RFC_SECRET, codeFor(RFC_SECRET, 41152263 + 2), { now })).toEqual({ ok: false });
  });

  it('stops code replay: the step just used is refused a second time', () => {
    const now = at(1234567890);
    const first = verifyTotp(RFC_SECRET, '005924', { now });
    expect(first).toEqual({ ok: true, step: 41152263 });
    expect(verifyTotp(RFC_SECRET, '005924', { now: now + 5000, lastUsedStep: first.step })).toEqual({ ok: false });
  });

  it('stops replay of an older code still inside the window, but accepts the next one', () => {
    const now = at(1234567890);
    const step = 41152263;
    expect(verifyTotp(RFC_SECRET, codeFor(RFC_SECRET, step - 1), { now, lastUsedStep: step })).toEqual({ ok: false });
    expect(verifyTotp(RFC_SECRET, codeFor(RFC_SECRET, step + 1), { now, lastUsedStep: step })).toEqual({ ok: true, step: step + 1 });
  });

  it('refuses everything when the last used step is ahead of the window (clock moved back)', () => {
    expect(verifyTotp(RFC_SECRET, '005924', { now: at(1234567890), lastUsedStep: 41152263 + 5 })).toEqual({ ok: false });
  });

  it.each([
    ['five digits', '05924'],
    ['seven digits', '0005924'],
    ['the 8-digit RFC value', '89005924'],
    ['a space inside', '005 924'],
    ['surrounding whitespace', ' 005924'],
    ['a letter', '00592a'],
    ['full-width digits', '００５９２４'],
    ['an empty string', ''],
  ])('refuses %s (codes are exactly 6 ASCII digits)', (_name, code) => {
    expect(verifyTotp(RFC_SECRET, code, { now: at(1234567890) })).toEqual({ ok: false });
  });

  it('refuses a code for another secret', () => {
    const other = generateTotpSecret();
    expect(verifyTotp(other, '005924', { now: at(1234567890) }).ok).toBe(codeFor(other, 41152263) === '005924');
  });

  it('uses the real clock when no time is given', () => {
    const secret = generateTotpSecret();
    const step = Math.floor(Date.now() / 30000);
    expect(verifyTotp(secret, codeFor(secret, step)).ok).toBe(true);
  });

  it('fails loudly on a damaged stored secret or step', () => {
    expect(errorId(() => verifyTotp('not base32!', '123456', { now: at(59) }))).toBe('internal');
    expect(errorId(() => verifyTotp(RFC_SECRET, '123456', { lastUsedStep: -1 }))).toBe('internal');
    expect(errorId(() => verifyTotp(RFC_SECRET, '123456', { lastUsedStep: 1.5 }))).toBe('internal');
  });
});

describe('generateTotpSecret and totpUri', () => {
  it('makes 160-bit Base32 secrets, different each time', () => {
    const a = generateTotpSecret();
    expect(a).toMatch(/^[A-Z2-7]{32}$/);
    expect(generateTotpSecret()).not.toBe(a);
  });

  it('builds the key URI authenticator apps read', () => {
    const uri = new URL(totpUri({ secret: RFC_SECRET, account: 'an@example.nl', issuer: 'Kluis' }));
    expect(uri.protocol).toBe('otpauth:');
    expect(uri.host).toBe('totp');
    expect(decodeURIComponent(uri.pathname)).toBe('/Kluis:an@example.nl');
    expect(uri.searchParams.get('secret')).toBe(RFC_SECRET);
    expect(uri.searchParams.get('issuer')).toBe('Kluis');
  });

  it('defaults the issuer to Kluis', () => {
    expect(totpUri({ secret: RFC_SECRET, account: 'user-1' })).toMatch(/^otpauth:\/\/totp\/Kluis:user-1\?/);
  });

  it('stops issuer spoofing: a colon in the account or issuer is refused', () => {
    expect(errorId(() => totpUri({ secret: RFC_SECRET, account: 'Microsoft:admin' }))).toBe('internal');
    expect(errorId(() => totpUri({ secret: RFC_SECRET, account: 'jan', issuer: 'Bank:Kluis' }))).toBe('internal');
    expect(errorId(() => totpUri({ secret: RFC_SECRET, account: '' }))).toBe('internal');
  });
});

describe('recovery codes', () => {
  it('generates ten distinct codes of 120 bits, shown in groups of four', () => {
    const { codes, hashes } = generateRecoveryCodes();
    expect(codes).toHaveLength(10);
    expect(new Set(codes).size).toBe(10);
    for (const code of codes) expect(code).toMatch(/^[a-z2-7]{4}(-[a-z2-7]{4}){5}$/);
    // 24 symbols from a 32-letter alphabet: 24 × 5 = 120 bits, above NIST's 112 for plain hashing.
    expect(codes[0]!.replace(/-/g, '')).toHaveLength(24);
    expect(hashes).toHaveLength(10);
    for (const hash of hashes) expect(hash).toMatch(/^[0-9a-f]{64}$/);
  });

  it('stores only SHA-256 hashes: no stored value contains a code', () => {
    const { codes, hashes } = generateRecoveryCodes(3);
    const stored = hashes.join('');
    for (const code of codes) {
      expect(stored).not.toContain(code.replace(/-/g, ''));
      expect(hashes).toContain(crypto.createHash('sha256').update(code.replace(/-/g, '')).digest('hex'));
    }
  });

  it('honours the requested count and refuses silly ones', () => {
    expect(generateRecoveryCodes(4).codes).toHaveLength(4);
    expect(errorId(() => generateRecoveryCodes(0))).toBe('internal');
    expect(errorId(() => generateRecoveryCodes(1000))).toBe('internal');
  });

  it('accepts a code once and removes it from the list', () => {
    const { codes, hashes } = generateRecoveryCodes();
    const result = consumeRecoveryCode(codes[3]!, hashes);
    expect(result.ok).toBe(true);
    expect(result.remaining).toHaveLength(9);
    expect(result.remaining).toEqual(hashes.filter((_, i) => i !== 3));
  });

  it('stops recovery code replay: a spent code fails against the remaining list', () => {
    const { codes, hashes } = generateRecoveryCodes();
    const first = consumeRecoveryCode(codes[0]!, hashes);
    const second = consumeRecoveryCode(codes[0]!, first.remaining);
    expect(second).toEqual({ ok: false, remaining: first.remaining });
  });

  it('ignores case, spaces and hyphens in what is typed', () => {
    const { codes, hashes } = generateRecoveryCodes(2);
    const typed = ` ${codes[1]!.toUpperCase().replace(/-/g, ' ')} `;
    expect(consumeRecoveryCode(typed, hashes)).toEqual({ ok: true, remaining: [hashes[0]] });
  });

  it.each([
    ['a wrong code', 'aaaa-bbbb-cccc-dddd-eeee-ffff'],
    ['a short code', 'aaaa-bbbb'],
    ['characters outside Base32', '0000-1111-8888-9999-0000-1111'],
    ['an empty string', ''],
    ['a 1 MB string', 'a'.repeat(1_000_000)],
  ])('refuses %s and leaves the list unchanged', (_name, code) => {
    const { hashes } = generateRecoveryCodes();
    const result = consumeRecoveryCode(code, hashes);
    expect(result).toEqual({ ok: false, remaining: hashes });
    expect(result.remaining).not.toBe(hashes);
  });

  it('stops timing attacks on the match position: every stored hash is compared, in constant time', () => {
    const { codes, hashes } = generateRecoveryCodes();
    const spy = jest.spyOn(crypto, 'timingSafeEqual');
    try {
      expect(consumeRecoveryCode(codes[0]!, hashes).ok).toBe(true);
      expect(spy).toHaveBeenCalledTimes(10);
    } finally {
      spy.mockRestore();
    }
  });

  it('survives a damaged stored hash without matching it', () => {
    const { codes, hashes } = generateRecoveryCodes(2);
    const damaged = ['not-a-hash', hashes[1]!];
    expect(consumeRecoveryCode(codes[0]!, damaged)).toEqual({ ok: false, remaining: damaged });
    expect(consumeRecoveryCode(codes[1]!, damaged)).toEqual({ ok: true, remaining: ['not-a-hash'] });
  });
});
