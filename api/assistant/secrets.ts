/**
 * Credentials never leave Kluis for a language model. Documents and chats do contain them now and
 * then (a pasted connection string, a key in a runbook, a bearer token in a log excerpt); the
 * prompt builder runs every outbound text through `redactSecrets`, which replaces what has the
 * unmistakable shape of a credential with a marker. The patterns are the published formats of the
 * issuers (JWT, PEM private keys, OpenAI/Anthropic, AWS, GitHub, Slack, Google, Stripe and Azure
 * storage keys) plus `password=`-style pairs of connection strings; ordinary prose, numbers, IBANs
 * and e-mail addresses are left alone, because an answer may need them.
 */

export const REDACTED = '[secret removed]';

const PATTERNS: ReadonlyArray<{ kind: string; pattern: RegExp; keep?: number }> = [
  { kind: 'private-key', pattern: /-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----[\s\S]*?(?:-----END (?:[A-Z0-9]+ )*PRIVATE KEY-----|$)/g },
  { kind: 'jwt', pattern: /\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/g },
  { kind: 'bearer', pattern: /\b(Bearer\s+)[A-Za-z0-9._~+/-]{20,}=*/g, keep: 1 },
  { kind: 'openai-anthropic', pattern: /\bsk-(?:ant-|proj-|svcacct-)?[A-Za-z0-9_-]{20,}/g },
  { kind: 'aws-access-key', pattern: /\b(?:AKIA|ASIA)[0-9A-Z]{16}\b/g },
  { kind: 'github', pattern: /\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{40,})/g },
  { kind: 'slack', pattern: /\bxox[abposr]-[A-Za-z0-9-]{10,}/g },
  { kind: 'google-api-key', pattern: /\bAIza[0-9A-Za-z_-]{35}/g },
  { kind: 'stripe', pattern: /\b(?:sk|rk)_(?:live|test)_[0-9A-Za-z]{16,}/g },
  { kind: 'azure-key', pattern: /\b((?:AccountKey|SharedAccessKey|AccessKey)\s*=\s*)[A-Za-z0-9+/]{20,}={0,2}/gi, keep: 1 },
  { kind: 'sas-signature', pattern: /([?&]sig=)[A-Za-z0-9%+/=]{20,}/g, keep: 1 },
  { kind: 'password-pair', pattern: /\b((?:password|passwd|pwd|wachtwoord|mot de passe|passwort|client_secret|api[_-]?key)\s*[=:]\s*)(?!\[secret removed\])("[^"\r\n]{1,200}"|'[^'\r\n]{1,200}'|[^\s;,'"]{1,200})/gi, keep: 1 },
  { kind: 'url-credentials', pattern: /\b([a-z][a-z0-9+.-]{1,20}:\/\/[^\s:/@]{1,100}:)[^\s@/]{1,200}(?=@)/gi, keep: 1 },
];

export interface Redaction {
  text: string;
  /** How many credentials were replaced, by kind (for metrics; never the values). */
  removed: Record<string, number>;
}

export function redactSecrets(input: string): Redaction {
  let text = input;
  const removed: Record<string, number> = {};
  for (const { kind, pattern, keep } of PATTERNS) {
    text = text.replace(pattern, (...groups: unknown[]) => {
      removed[kind] = (removed[kind] ?? 0) + 1;
      return keep ? `${String(groups[keep])}${REDACTED}` : REDACTED;
    });
  }
  return { text, removed };
}
