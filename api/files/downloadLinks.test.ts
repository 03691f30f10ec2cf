/** The download link signer: only its own, unexpired, unaltered tokens pass. */
import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { errorId } from '../../tests/support/errors';
import { createDownloadLinkSigner } from './downloadLinks';

const key = randomBytes(32);
const signer = createDownloadLinkSigner(key, 300);
const grant = { workspaceId: randomUUID(), fileId: randomUUID(), userId: randomUUID() };
const at = new Date('2026-11-22T10:00:00Z');

describe('download links', () => {
  it('round-trips the grant and expires after the configured lifetime', () => {
    const { token, expiresAt } = signer.sign(grant, at);
    expect(expiresAt.toISOString()).toBe('2026-11-22T10:05:00.000Z');
    expect(signer.verify(token, new Date(at.getTime() + 299_000))).toEqual({ ...grant, expiresAt });
    expect(errorId(() => signer.verify(token, new Date(at.getTime() + 300_000)))).toBe('download_link_expired');
  });

  it('gives two links for the same grant different tokens (a nonce)', () => {
    expect(signer.sign(grant, at).token).not.toBe(signer.sign(grant, at).token);
  });

  it('refuses every single-character change of a token (tampering)', () => {
    const { token } = signer.sign(grant, at);
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    let tried = 0;
    for (let i = 0; i < token.length; i++) {
      if (token[i] === '.') continue;
      const replacement = alphabet[(alphabet.indexOf(token[i]!) + 1) % alphabet.length]!;
      const altered = token.slice(0, i) + replacement + token.slice(i + 1);
      expect([i, errorId(() => signer.verify(altered, at))]).toEqual([i, 'download_link_invalid']);
      tried++;
    }
    expect(tried).toBeGreaterThan(100);
  });

  it('refuses a payload re-signed with another key, or its expiry pushed out without a new signature (forgery)', () => {
    const { token } = signer.sign(grant, at);
    const payload = JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString()) as Record<string, unknown>;
    const longer = Buffer.from(JSON.stringify({ ...payload, e: (payload.e as number) + 86_400 })).toString('base64url');
    expect(errorId(() => signer.verify(`${longer}.${token.split('.')[1]}`, at))).toBe('download_link_invalid');
    const otherKey = createHmac('sha256', randomBytes(32)).update('kluis:download-link:v1.').update(longer).digest('base64url');
    expect(errorId(() => signer.verify(`${longer}.${otherKey}`, at))).toBe('download_link_invalid');
    expect(errorId(() => createDownloadLinkSigner(randomBytes(32), 300).verify(token, at))).toBe('download_link_invalid');
  });

  it.each([
    ['empty', ''],
    ['no separator', 'abc'],
    ['three parts', 'a.b.c'],
    ['not base64url', 'a+b/.c=='],
    ['an over-long token', `${'a'.repeat(5000)}.b`],
    ['a MAC one byte short', () => { const [p, m] = signer.sign(grant, at).token.split('.'); return `${p}.${Buffer.from(m!, 'base64url').subarray(1).toString('base64url')}`; }],
  ])('refuses %s as invalid', (_label, token) => {
    const value = typeof token === 'function' ? token() : token;
    expect(errorId(() => signer.verify(value, at))).toBe('download_link_invalid');
  });

  it('refuses a correctly signed payload that is not a grant (a key reused elsewhere)', () => {
    const payload = Buffer.from(JSON.stringify({ v: 1, w: 'not-a-uuid', f: grant.fileId, u: grant.userId, e: 9_999_999_999, n: 'abcdefghijkl' })).toString('base64url');
    const mac = createHmac('sha256', key).update('kluis:download-link:v1.').update(payload).digest('base64url');
    expect(errorId(() => signer.verify(`${payload}.${mac}`, at))).toBe('download_link_invalid');
  });
});
