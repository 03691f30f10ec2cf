/**
 * The optional second factor for credential accounts: time-based one-time passwords (RFC 6238)
 * from an authenticator app, and single-use recovery codes for when the phone is lost (NIST
 * SP 800-63B §5.1.2, "look-up secrets").
 *
 * Parameters are the ones every authenticator app supports: SHA-1, 6 digits, 30-second steps
 * (RFC 6238 §4, and the Google Authenticator key URI format). SHA-1 is safe here: HOTP needs a
 * keyed PRF, not collision resistance (RFC 4226 Appendix A).
 *
 * Guessing: 6 digits and a window of three steps give an attacker a 3-in-a-million chance per
 * try, so the caller must rate-limit attempts per account (NIST SP 800-63B §5.2.2); this module
 * only answers whether one code is right.
 */
import { createHash, randomInt, timingSafeEqual } from 'node:crypto';
import { generateSecret, generateURI, verifySync } from 'otplib';
import { fail } from '../errors';

export const TOTP_PERIOD_SECONDS = 30;
const CODE = /^\d{6}$/;

/** 20 random bytes (160 bits), the secret length RFC 4226 §4 recommends, as Base32 for apps. */
export function generateTotpSecret(): string {
  return generateSecret({ length: 20 });
}

/**
 * The otpauth:// URI an authenticator app reads from a QR code. Colons are refused because the
 * label is "issuer:account" and the key URI format forbids a colon in either part: an account
 * named "Evil:jan" would show up in the app under another issuer.
 */
export function totpUri(options: { secret: string; account: string; issuer?: string }): string {
  const issuer = options.issuer ?? 'Kluis';
  for (const part of [issuer, options.account]) {
    if (part.length === 0 || part.includes(':') || /\p{Cc}/u.test(part)) fail('internal', 'TOTP issuer and account must be non-empty and contain no colon or control character');
  }
  return generateURI({ issuer, label: options.account, secret: options.secret });
}

/**
 * Checks a 6-digit code, allowing one step either side of now for clock drift and typing time
 * (RFC 6238 §5.2 recommends at most one step of delay).
 *
 * Replay: a code stays valid for up to 90 seconds, so one seen over a shoulder or phished could
 * be used again. RFC 6238 §5.2: the verifier "MUST NOT accept the second attempt of the OTP after
 * the successful validation has been issued for the first OTP". The caller stores the `step` of
 * each accepted code and passes it back as `lastUsedStep`; that step and every earlier one are
 * then refused. `now` (milliseconds, like Date.now()) is for tests.
 */
export function verifyTotp(secret: string, code: string, options: { lastUsedStep?: number; now?: number } = {}): { ok: boolean; step?: number } {
  if (typeof code !== 'string' || !CODE.test(code)) return { ok: false };
  const { lastUsedStep } = options;
  if (lastUsedStep !== undefined && (!Number.isSafeInteger(lastUsedStep) || lastUsedStep < 0)) fail('internal', 'lastUsedStep must be a non-negative integer');
  const epoch = Math.floor((options.now ?? Date.now()) / 1000);
  const newestStep = Math.floor(epoch / TOTP_PERIOD_SECONDS) + 1;
  // Every step in the window was already used (or the clock went back): nothing can be accepted.
  // otplib throws for an afterTimeStep beyond its window, so this case is answered here.
  if (lastUsedStep !== undefined && lastUsedStep >= newestStep) return { ok: false };
  let result: ReturnType<typeof verifySync>;
  try {
    result = verifySync({ secret, token: code, epoch, epochTolerance: TOTP_PERIOD_SECONDS, afterTimeStep: lastUsedStep });
  } catch (error) {
    fail('internal', 'A stored TOTP secret is not valid', { cause: error });
  }
  if (!result.valid || !('timeStep' in result)) return { ok: false };
  return { ok: true, step: result.timeStep };
}

/**
 * Recovery codes: 24 characters of the RFC 4648 Base32 alphabet (5 bits each), shown in groups of
 * four. 120 bits, because NIST SP 800-63B §5.1.2.2 lets look-up secrets of 112 bits or more be
 * stored with a plain approved hash (SHA-256); shorter codes would need a salted password hash
 * (bcrypt) per code, and checking ten of those per attempt is too slow. The alphabet has no 0, 1,
 * 8 or 9, so O/0 and l/1 cannot be confused.
 */
const RECOVERY_ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567';
const RECOVERY_LENGTH = 24;
const RECOVERY_GROUP = 4;
const CANONICAL_RECOVERY = /^[a-z2-7]{24}$/;

function canonicalRecoveryCode(code: string): string {
  return code.toLowerCase().replace(/[\s-]/g, '');
}

function hashRecoveryCode(canonical: string): string {
  return createHash('sha256').update(canonical, 'utf8').digest('hex');
}

/** Codes to show once (the plain codes are never stored) and their SHA-256 hashes to store. */
export function generateRecoveryCodes(n = 10): { codes: string[]; hashes: string[] } {
  if (!Number.isInteger(n) || n < 1 || n > 50) fail('internal', 'Between 1 and 50 recovery codes can be generated');
  const canonical = new Set<string>();
  while (canonical.size < n) {
    // randomInt draws uniformly (no modulo bias) from the operating system's CSPRNG.
    let code = '';
    for (let i = 0; i < RECOVERY_LENGTH; i++) code += RECOVERY_ALPHABET[randomInt(RECOVERY_ALPHABET.length)];
    canonical.add(code);
  }
  const plain = [...canonical];
  return {
    codes: plain.map((code) => code.match(new RegExp(`.{${RECOVERY_GROUP}}`, 'g'))!.join('-')),
    hashes: plain.map(hashRecoveryCode),
  };
}

/**
 * Checks a recovery code and, if it is right, returns the stored hashes without it, which the
 * caller must save in place of the old list so the code works once only. Save it conditionally
 * (only if the list is still the one read), or two simultaneous requests could both spend the
 * same code. Every stored hash is compared in constant time and none is skipped after a match,
 * so the response time does not say which position matched (OWASP MFA Cheat Sheet).
 * Case, spaces and hyphens in the typed code do not matter.
 */
export function consumeRecoveryCode(code: string, hashes: readonly string[]): { ok: boolean; remaining: string[] } {
  const canonical = typeof code === 'string' && code.length <= 64 ? canonicalRecoveryCode(code) : '';
  if (!CANONICAL_RECOVERY.test(canonical)) return { ok: false, remaining: [...hashes] };
  const candidate = Buffer.from(hashRecoveryCode(canonical), 'hex');
  let match = -1;
  hashes.forEach((stored, index) => {
    const storedBytes = /^[0-9a-f]{64}$/i.test(stored) ? Buffer.from(stored, 'hex') : Buffer.alloc(candidate.length);
    if (timingSafeEqual(candidate, storedBytes) && match === -1) match = index;
  });
  if (match === -1) return { ok: false, remaining: [...hashes] };
  return { ok: true, remaining: hashes.filter((_, index) => index !== match) };
}
