/**
 * What a committed credential looks like: the issuers' published key formats, PEM private keys,
 * and long high-entropy strings assigned to something named like a secret. Used by
 * tests/infra/secrets.test.ts over every tracked file.
 */

export interface SecretHit {
  kind: string;
  line: number;
  /** The match with its middle masked, so a report never repeats a credential. */
  excerpt: string;
}

const ISSUER_PATTERNS: ReadonlyArray<{ kind: string; pattern: RegExp }> = [
  { kind: 'private-key', pattern: /-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----/g },
  { kind: 'aws-access-key', pattern: /\b(?:AKIA|ASIA)[0-9A-Z]{16}\b/g },
  { kind: 'github-token', pattern: /\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{40,})/g },
  { kind: 'slack-token', pattern: /\bxox[abposr]-[A-Za-z0-9-]{10,}/g },
  { kind: 'openai-anthropic-key', pattern: /\bsk-(?:ant-|proj-|svcacct-)?[A-Za-z0-9_-]{20,}/g },
  { kind: 'google-api-key', pattern: /\bAIza[0-9A-Za-z_-]{35}/g },
  { kind: 'stripe-key', pattern: /\b(?:sk|rk)_live_[0-9A-Za-z]{16,}/g },
  { kind: 'azure-storage-key', pattern: /\bAccountKey=[A-Za-z0-9+/]{80,}={0,2}/g },
];

/** name = "value" / name: 'value' / NAME=value where the name says secret and the value is long. */
const ASSIGNMENT = /\b([A-Za-z0-9_.-]*(?:secret|password|passwd|token|api[_-]?key|private[_-]?key|master[_-]?key|access[_-]?key|client[_-]?secret)[A-Za-z0-9_.-]*)["']?\s*[:=]\s*["'`]?([A-Za-z0-9+/_=.~-]{24,})/gi;

/** Shannon entropy in bits per character. */
export function entropy(text: string): number {
  const counts = new Map<string, number>();
  for (const c of text) counts.set(c, (counts.get(c) ?? 0) + 1);
  let bits = 0;
  for (const n of counts.values()) bits -= (n / text.length) * Math.log2(n / text.length);
  return bits;
}

/** Random-looking: hex of 32+ characters with many distinct digits, or mixed-alphabet base64/url-safe text. */
export function looksRandom(value: string): boolean {
  if (/^[0-9a-f]+$/i.test(value)) return value.length >= 32 && entropy(value) >= 3.5;
  const classes = [/[a-z]/, /[A-Z]/, /[0-9]/].filter((r) => r.test(value)).length;
  return classes >= 3 && entropy(value) >= 4.2;
}

const mask = (s: string) => (s.length <= 12 ? '*'.repeat(s.length) : `${s.slice(0, 6)}…${s.slice(-2)}`);

export function findSecrets(text: string): SecretHit[] {
  const hits: SecretHit[] = [];
  const lineOf = (index: number) => text.slice(0, index).split('\n').length;
  for (const { kind, pattern } of ISSUER_PATTERNS) {
    for (const m of text.matchAll(pattern)) hits.push({ kind, line: lineOf(m.index), excerpt: mask(m[0]) });
  }
  for (const m of text.matchAll(ASSIGNMENT)) {
    const value = m[2]!;
    if (looksRandom(value)) hits.push({ kind: 'high-entropy-assignment', line: lineOf(m.index), excerpt: `${m[1]}=${mask(value)}` });
  }
  return hits;
}
