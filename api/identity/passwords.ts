/**
 * Passwords for people who sign in with Kluis credentials instead of Microsoft 365.
 *
 * Policy follows NIST SP 800-63B §5.1.1.2 (memorized secrets): a length range and nothing else.
 * No composition rules ("one digit, one symbol"), no hints, no periodic change; all printable
 * Unicode, including spaces, is allowed. Passwords are NFKC-normalised before they are counted,
 * hashed or compared, as §5.1.1.2 recommends, so the same password typed on two keyboards (full
 * width digits, a composed or decomposed "é") is the same secret. Refusing breached and common
 * passwords (also §5.1.1.2) lives in breachedPasswords.ts; the caller runs both.
 *
 * Storage uses bcrypt (OWASP Password Storage Cheat Sheet: work factor 10 or more) over a
 * pre-hash of the password, see `preHash` for why.
 */
import { createHmac } from 'node:crypto';
import bcrypt from 'bcryptjs';
import { fail } from '../errors';

export const PASSWORD_MIN_LENGTH = 8;
export const PASSWORD_MAX_LENGTH = 128;

/**
 * OWASP's floor for bcrypt. The ceiling is ours, not bcrypt's (31): bcryptjs doubles its work per
 * step, and a mistyped 21 would make every sign-in take hours, which is an outage, not security.
 */
export const BCRYPT_MIN_COST = 10;
export const BCRYPT_MAX_COST = 16;

/**
 * Anything longer than this many UTF-16 units cannot normalise to 128 code points or fewer (NFKC
 * composes at most a few code points into one), so it is refused before normalisation. That keeps
 * a 1 MB "password" from costing Unicode normalisation work on every request.
 */
const MAX_INPUT_UNITS = 1024;

export type PasswordRejectionReason = 'too_short' | 'too_long' | 'control_character' | 'invalid_unicode';

/** The form of a password that is counted, hashed and compared (NIST SP 800-63B §5.1.1.2: NFKC). */
export function normalisePassword(password: string): string {
  return password.normalize('NFKC');
}

/**
 * Refuses only what NIST SP 800-63B allows a verifier to refuse on its own: too short, too long,
 * or not text. The reason code is the error's detail so a route can explain which rule applied;
 * the password itself never goes into an error or a log.
 */
export function checkPasswordPolicy(password: string): void {
  if (password.length > MAX_INPUT_UNITS) reject('too_long');
  // A lone surrogate is not a character; encoded to UTF-8 it becomes U+FFFD, so two different
  // inputs would hash to the same secret.
  if (/\p{Cs}/u.test(password)) reject('invalid_unicode');
  const normalised = normalisePassword(password);
  // Control characters (C0, DEL, C1) cannot be typed reliably and are how line-based log and
  // protocol injection starts; 800-63B permits printing characters and spaces, not these.
  if (/\p{Cc}/u.test(normalised)) reject('control_character');
  const length = [...normalised].length;
  if (length < PASSWORD_MIN_LENGTH) reject('too_short');
  if (length > PASSWORD_MAX_LENGTH) reject('too_long');
}

function reject(reason: PasswordRejectionReason): never {
  fail('password_rejected', reason);
}

/**
 * bcrypt reads only the first 72 bytes of its input and silently ignores the rest, so "72 bytes
 * of shared prefix + anything" would all verify as the same password. A 128 code point password
 * can be 512 bytes of UTF-8, and 800-63B §5.1.1.2 says verifiers SHOULD NOT truncate. Refusing
 * passwords over 72 bytes was the alternative; it was rejected because the limit is in bytes, not
 * characters: 25 Cyrillic or 18 emoji characters already exceed it, and no user can be expected
 * to understand that. So every password is pre-hashed, and bcrypt always sees 44 bytes.
 *
 * The pre-hash is HMAC-SHA-256 keyed with a Kluis-specific label, not bare SHA-256: with bare
 * SHA-256, anyone holding an unsalted SHA-256 dump from another breach could test those hashes
 * directly against our bcrypt hashes ("password shucking") without cracking them first. The label
 * is not a secret; it only makes our pre-hash values appear in no other data set.
 *
 * The digest is base64-encoded because raw digest bytes may contain NUL, where C bcrypt
 * implementations stop reading; base64 never does, and 44 characters fit well under 72 bytes.
 */
const PRE_HASH_KEY = 'kluis:password-prehash:v1';

function preHash(password: string): string {
  return createHmac('sha256', PRE_HASH_KEY).update(normalisePassword(password), 'utf8').digest('base64');
}

function checkCost(cost: number): void {
  if (!Number.isInteger(cost) || cost < BCRYPT_MIN_COST || cost > BCRYPT_MAX_COST) {
    fail('config_invalid', `bcrypt cost must be an integer from ${BCRYPT_MIN_COST} to ${BCRYPT_MAX_COST}`);
  }
}

const BCRYPT_HASH = /^\$2[aby]\$(\d{2})\$[./A-Za-z0-9]{53}$/;

/**
 * Hashes a new password. The policy is checked again here so that no code path can store a hash
 * of a password the policy refuses.
 */
export async function hashPassword(password: string, cost: number): Promise<string> {
  checkCost(cost);
  checkPasswordPolicy(password);
  return bcrypt.hash(preHash(password), cost);
}

/**
 * Compares a candidate with a stored hash. Old hashes are verified whatever today's policy says,
 * so the policy is not applied here; an oversized candidate still costs the full bcrypt work (and
 * fails) so the response time says nothing about the account.
 */
export async function verifyPassword(password: string, hash: string): Promise<boolean> {
  if (!BCRYPT_HASH.test(hash)) fail('internal', 'A stored password hash is not a bcrypt hash');
  const oversized = password.length > MAX_INPUT_UNITS;
  const matches = await bcrypt.compare(preHash(oversized ? '' : password), hash);
  return matches && !oversized;
}

/**
 * A syntactically valid bcrypt hash with a fixed salt that no password was hashed to. bcrypt's
 * work is hashing the candidate with the stored salt and cost, so comparing against this costs
 * exactly what comparing against a real hash of the same cost does.
 */
export function dummyHash(cost: number): string {
  checkCost(cost);
  return `$2b$${String(cost).padStart(2, '0')}$KluisDummySaltKluisDuOKluisDummyHashKluisDummyHashKlu`;
}

/**
 * For sign-in attempts on accounts that do not exist: spends the same bcrypt work as
 * `verifyPassword` would, then fails. Without it, "unknown account" answers in microseconds and
 * "wrong password" in a quarter second, which lets anyone enumerate accounts (OWASP
 * Authentication Cheat Sheet, "Authentication Responses"). Pass the cost the real hashes use.
 */
export async function verifyAgainstDummy(password: string, cost = 12): Promise<false> {
  const oversized = password.length > MAX_INPUT_UNITS;
  await bcrypt.compare(preHash(oversized ? '' : password), dummyHash(cost));
  return false;
}
