/** No credential is committed: every tracked file is scanned for key formats and high-entropy secrets. */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { entropy, findSecrets, looksRandom } from './secretScan';

const ROOT = path.resolve(__dirname, '..', '..');

/**
 * Files that hold credential-shaped strings on purpose, each with why. Every value in them is made
 * up for a test; a real key in one of these files would still be a leak, so keep the list short.
 */
const ALLOWED: Record<string, string> = {
  'api/assistant/secrets.test.ts': 'redaction test: one made-up sample of every credential format',
  'api/assistant/prompt.test.ts': 'prompt test: a made-up OpenAI-shaped key must be redacted',
  'api/assistant/providers/anthropicProvider.test.ts': 'a wrong key the fake Anthropic server refuses',
  'api/assistant/providers/openaiProvider.test.ts': 'a wrong key the fake OpenAI server refuses, and that must not be logged',
  'tests/assistant/chatProviders.test.ts': 'keys the fake provider servers expect',
  'tests/assistant/routing.test.ts': 'the key the fake OpenAI server expects',
  'tests/assistant/stabilityImages.test.ts': 'a wrong key the fake Stability server refuses',
};

/** File names that are secrets by nature, whatever they contain. */
const SECRET_FILE = /(^|\/)(\.env|\.env\.(?!example$)[^/]+|id_rsa|id_ed25519|master\.key|mariadb-keyfile|keyfile|[^/]+\.(pem|key|p12|pfx|jks|keystore))$/;

const tracked = execFileSync('git', ['ls-files', '-z'], { cwd: ROOT, encoding: 'utf8' })
  .split('\0')
  .filter(Boolean);

describe('tracked files', () => {
  it('are listed (the scan below really covers the repository)', () => {
    expect(tracked.length).toBeGreaterThan(100);
    expect(tracked).toContain('api/config.ts');
  });

  it('include no file that is a secret by its name (.env, keys, certificates with keys, key stores)', () => {
    expect(tracked.filter((f) => SECRET_FILE.test(f) && !f.startsWith('env/.env.'))).toEqual([]);
    // env/ holds the Teams Toolkit's per-environment files: ids and URLs, with secrets only in *.user files.
    expect(tracked.filter((f) => /^env\/.*\.user$/.test(f))).toEqual([]);
  });

  it('hold no private key, issuer-format token or high-entropy secret outside the explicit allow list', () => {
    const found: string[] = [];
    for (const file of tracked) {
      if (file === 'package-lock.json') continue; // integrity hashes only (sha512-…), checked by npm
      const full = path.join(ROOT, file);
      if (!fs.existsSync(full)) continue; // deleted in the work tree, not yet committed
      const bytes = fs.readFileSync(full);
      if (bytes.includes(0)) continue; // binary (images, fonts)
      const hits = findSecrets(bytes.toString('utf8'));
      if (hits.length && !ALLOWED[file]) found.push(...hits.map((h) => `${file}:${h.line} ${h.kind} ${h.excerpt}`));
    }
    expect(found).toEqual([]);
  });

  it('allow-list only files that exist and still need it', () => {
    for (const file of Object.keys(ALLOWED)) {
      expect([file, tracked.includes(file)]).toEqual([file, true]);
      expect([file, findSecrets(fs.readFileSync(path.join(ROOT, file), 'utf8')).length > 0]).toEqual([file, true]);
    }
  });
});

describe('findSecrets', () => {
  // Built at run time so this file does not itself hold the shapes it looks for.
  const dash = '-'.repeat(5);
  it.each([
    ['a PEM private key', `${dash}BEGIN RSA PRIVATE${' '}KEY${dash}\nMIIEow`, 'private-key'],
    ['an OpenSSH private key', `${dash}BEGIN OPENSSH PRIVATE${' '}KEY${dash}`, 'private-key'],
    ['an AWS access key id', `aws_id = ${'AKIA'}${'Q7XK2M9P4R8T1WZC'}`, 'aws-access-key'],
    ['a GitHub token', `${'ghp'}_${'a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8'}`, 'github-token'],
    ['an OpenAI project key', `OPENAI_API_KEY=${'sk'}-proj-${'Zq8Lm2Xv9Rt4Wb7Kc1Np5Hy3'}`, 'openai-anthropic-key'],
    ['a Google API key', `${'AIza'}${'Sy9f8e7d6c5b4a3Z2Y1X0W9V8U7T6S5R4Q3'}`, 'google-api-key'],
    ['a hex master key in an env file', `MASTER_KEY=${'9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08'}`, 'high-entropy-assignment'],
    ['a base64 secret in code', `clientSecret: "${'Xk3vQ9pL2mZr8TnB4wYc7HsJ1dFg6Ke5'}"`, 'high-entropy-assignment'],
  ])('finds %s', (_name, text, kind) => {
    const hits = findSecrets(`before\n${text}\nafter`);
    expect(hits.map((h) => h.kind)).toContain(kind);
    expect(hits[0]!.line).toBe(2);
    // The report masks the value.
    expect(hits.map((h) => h.excerpt).join(' ')).not.toContain(text.slice(-12));
  });

  it.each([
    ['a placeholder', 'MASTER_KEY='],
    ['an interpolation', 'MASTER_KEY: ${MASTER_KEY:?set MASTER_KEY}'],
    ['a low-entropy repeated key', `MASTER_KEY=${'ab'.repeat(32)}`],
    ['a setting name', 'const key = "MINIO_SECRET_KEY_REQUIRED_WHEN_BLOB_STORE"'],
    ['ordinary prose about passwords', 'The password reset token expires after thirty minutes.'],
    ['a content hash', 'integrity: sha512-abc'],
  ])('leaves %s alone', (_name, text) => {
    expect(findSecrets(text)).toEqual([]);
  });

  it('measures entropy', () => {
    expect(entropy('aaaa')).toBe(0);
    expect(entropy('abcd')).toBe(2);
    expect(looksRandom('0123456789abcdef0123456789abcdef')).toBe(true);
    expect(looksRandom('a'.repeat(40))).toBe(false);
  });
});
