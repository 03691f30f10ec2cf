/**
 * Refuses passwords that are already known to attackers, as NIST SP 800-63B §5.1.1.2 requires
 * ("passwords obtained from previous breach corpuses"), using the Have I Been Pwned Pwned
 * Passwords range API.
 *
 * The password never leaves Kluis, and neither does its hash: the range API works by
 * k-anonymity. Kluis sends the first 5 hex characters of the SHA-1 (one of 16^5 buckets, each
 * shared by hundreds of real passwords), receives every suffix in that bucket, and looks for its
 * own 35-character suffix locally. `Add-Padding: true` makes HIBP pad each answer with fake
 * zero-count rows to 800–1,000 lines, so even the response size says nothing about the bucket
 * (HIBP API docs, "Searching by range" and "Padding"). Padding rows must be ignored, not
 * matched: a zero count means "not breached".
 *
 * When HIBP cannot be reached the check does not fail open: it falls back to the local list of
 * the most common passwords and reports the outage through `onOutage`, which the caller logs as
 * a failed security control (OWASP Logging Cheat Sheet).
 */
import { createHash } from 'node:crypto';
import { fail } from '../errors';
import { isCommonPassword } from './commonPasswords';
import { normalisePassword } from './passwords';

export const HIBP_BASE_URL = 'https://api.pwnedpasswords.com';

export interface BreachedPasswordCheckerOptions {
  /** Defaults to the public Pwned Passwords API. */
  baseUrl?: string;
  /** Per attempt, including reading the body. Default 2000 ms. */
  timeoutMs?: number;
  /** Attempts after the first. Default 1. */
  retries?: number;
  /** First backoff between attempts, doubled each time. Default 200 ms. */
  backoffMs?: number;
  /** A 429 whose Retry-After is longer than this is treated as an outage instead of waited for. Default 2000 ms. */
  maxRetryAfterMs?: number;
  /** Called once per check that had to use the local list, with a short machine-readable reason. */
  onOutage?: (reason: string) => void;
}

export interface BreachCheckResult {
  breached: boolean;
  /** How often HIBP has seen the password; 0 when not breached and always 0 from the local list. */
  count: number;
  source: 'hibp' | 'local-list';
}

export interface BreachedPasswordChecker {
  check(password: string): Promise<BreachCheckResult>;
}

/** HIBP asks every consumer to identify itself with a descriptive User-Agent (HIBP API docs, "User agent"). */
const USER_AGENT = 'Kluis-breached-password-check';

/** A real range answer is about 30 KB (1,000 lines of 40 bytes); anything far larger is not one. */
const MAX_BODY_CHARS = 1_000_000;

const RANGE_LINE = /^([0-9A-Fa-f]{35}):(\d{1,12})$/;

/**
 * SHA-1 of the NFKC form, because NFKC is what Kluis stores and verifies (see passwords.ts): a
 * full-width "ｐａｓｓｗｏｒｄ" is the same secret as "password" and must be refused like it.
 * SHA-1 is HIBP's choice of bucket key, not a password hash; nothing here is stored.
 */
export function rangeKey(password: string): { prefix: string; suffix: string } {
  const hash = createHash('sha1').update(normalisePassword(password), 'utf8').digest('hex').toUpperCase();
  return { prefix: hash.slice(0, 5), suffix: hash.slice(5) };
}

type Attempt =
  | { ok: true; body: string }
  | { ok: false; reason: string; retryable: boolean; retryAfterMs?: number };

class Outage {
  constructor(readonly reason: string) {}
}

export function createBreachedPasswordChecker(options: BreachedPasswordCheckerOptions = {}): BreachedPasswordChecker {
  const baseUrl = (options.baseUrl ?? HIBP_BASE_URL).replace(/\/+$/, '');
  if (!/^https?:\/\/[^/\s]+/.test(baseUrl)) fail('config_invalid', 'The Pwned Passwords base URL must be an http(s) URL');
  const timeoutMs = options.timeoutMs ?? 2000;
  const retries = options.retries ?? 1;
  const backoffMs = options.backoffMs ?? 200;
  const maxRetryAfterMs = options.maxRetryAfterMs ?? 2000;
  for (const [name, value] of [['timeoutMs', timeoutMs], ['retries', retries], ['backoffMs', backoffMs], ['maxRetryAfterMs', maxRetryAfterMs]] as const) {
    if (!Number.isInteger(value) || value < 0) fail('config_invalid', `Breached password check: ${name} must be a whole number of 0 or more`);
  }

  async function attempt(prefix: string): Promise<Attempt> {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), timeoutMs);
    try {
      const response = await fetch(`${baseUrl}/range/${prefix}`, {
        headers: { 'Add-Padding': 'true', 'User-Agent': USER_AGENT },
        signal: controller.signal,
        redirect: 'error',
      });
      if (response.status === 429) {
        await response.body?.cancel();
        return { ok: false, reason: 'rate_limited', retryable: true, retryAfterMs: parseRetryAfter(response.headers.get('retry-after')) };
      }
      if (response.status !== 200) {
        await response.body?.cancel();
        // A 4xx other than 429 will not change on a second try; a 5xx may.
        return { ok: false, reason: `http_${response.status}`, retryable: response.status >= 500 };
      }
      // The timer still runs while the body streams in, so a server that sends headers and then
      // stalls is a timeout too.
      return { ok: true, body: await response.text() };
    } catch {
      return { ok: false, reason: controller.signal.aborted ? 'timeout' : 'network_error', retryable: true };
    } finally {
      clearTimeout(timer);
    }
  }

  async function fetchRange(prefix: string): Promise<Map<string, number>> {
    let reason = 'unknown';
    for (let n = 0; n <= retries; n++) {
      const result = await attempt(prefix);
      if (result.ok) {
        const rows = parseRange(result.body);
        if (rows) return rows;
        reason = 'malformed_body';
      } else {
        reason = result.reason;
        if (!result.retryable) break;
      }
      if (n === retries) break;
      let delay = backoffMs * 2 ** n;
      if (!result.ok && result.retryAfterMs !== undefined) {
        // Waiting out a long rate limit would hold a sign-up request open; the local list answers now.
        if (result.retryAfterMs > maxRetryAfterMs) break;
        delay = Math.max(delay, result.retryAfterMs);
      }
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
    throw new Outage(reason);
  }

  return {
    async check(password) {
      const { prefix, suffix } = rangeKey(password);
      try {
        const rows = await fetchRange(prefix);
        const count = rows.get(suffix) ?? 0;
        return { breached: count > 0, count, source: 'hibp' };
      } catch (error) {
        if (!(error instanceof Outage)) throw error;
        try {
          options.onOutage?.(error.reason);
        } catch {
          // A failing log call must not turn into a failed sign-up; the local list still answers.
        }
        return { breached: isCommonPassword(password), count: 0, source: 'local-list' };
      }
    },
  };
}

/**
 * Parses `SUFFIX:COUNT` lines (CRLF in HIBP's answers, LF accepted). Returns the suffixes with a
 * count above zero, upper-cased, or undefined when the body is not a range answer: a single
 * foreign line (an HTML error page, a captive portal, a truncated transfer) makes the whole
 * answer untrustworthy, and an empty answer cannot come from a padded range query.
 */
export function parseRange(body: string): Map<string, number> | undefined {
  if (body.length > MAX_BODY_CHARS) return undefined;
  const rows = new Map<string, number>();
  let lines = 0;
  for (const raw of body.split('\n')) {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line === '') continue;
    const match = RANGE_LINE.exec(line);
    if (!match) return undefined;
    lines++;
    const count = Number(match[2]);
    // Padding rows carry count 0 (HIBP API docs, "Padding"); they are decoys, not breaches.
    if (count > 0) rows.set(match[1]!.toUpperCase(), count);
  }
  return lines === 0 ? undefined : rows;
}

/** Retry-After as delta-seconds or an HTTP-date (RFC 9110 §10.2.3), in milliseconds. */
function parseRetryAfter(value: string | null): number | undefined {
  if (value === null) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}
