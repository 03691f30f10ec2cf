/**
 * Credentials login over real HTTP, against a real MariaDB, a local SMTP server and a local
 * Have I Been Pwned range API. Each test is named after what it stops.
 */
import { randomUUID } from 'node:crypto';
import { generateSync } from 'otplib';
import { startFakeHibp, type FakeHibp } from '../fakes/hibpServer';
import { startFakeSmtp, type FakeSmtp } from '../fakes/smtpServer';
import { openTestDatabase } from '../support/database';
import { startTestKluis } from '../support/kluis';

jest.setTimeout(120000);

const tenantId = randomUUID();
const db = openTestDatabase();
let kluis: Awaited<ReturnType<typeof startTestKluis>>;
let hibp: FakeHibp;
let smtp: FakeSmtp;
let workspaceId: string;
const STRONG = 'correct horse battery staple 42';

interface Reply {
  status: number;
  body: any;
  cookie?: string;
  setCookie?: string;
  retryAfter?: string | null;
}

async function call(method: string, path: string, body?: unknown, options: { cookie?: string; ip?: string; raw?: string; contentType?: string } = {}): Promise<Reply> {
  const response = await fetch(`${kluis.url}${path}`, {
    method,
    headers: {
      ...(body !== undefined || options.raw !== undefined ? { 'content-type': options.contentType ?? 'application/json' } : {}),
      ...(options.cookie ? { cookie: options.cookie } : {}),
      'x-forwarded-for': options.ip ?? '198.51.100.7',
    },
    body: options.raw ?? (body === undefined ? undefined : JSON.stringify(body)),
  });
  const text = await response.text();
  const setCookie = response.headers.get('set-cookie') ?? undefined;
  return { status: response.status, body: text ? JSON.parse(text) : undefined, setCookie, cookie: setCookie?.split(';')[0], retryAfter: response.headers.get('retry-after') };
}

async function invite(email: string, role: 'admin' | 'user' = 'user') {
  return (await kluis.modules.credentials.invite({ workspaceId, email, role })).token;
}

async function registered(email: string, password = STRONG, role: 'admin' | 'user' = 'user') {
  const r = await call('POST', '/api/auth/register', { invitationToken: await invite(email, role), email, password });
  expect(r.status).toBe(202);
  await kluis.modules.credentials.settled();
}

const uniqueEmail = () => `person.${randomUUID().slice(0, 8)}@partner.example`;
const uniqueIp = () => `203.0.113.${Math.floor(Math.random() * 250) + 1}`;

beforeAll(async () => {
  hibp = await startFakeHibp({ breached: { 'Zomer2024!': 51234 } });
  smtp = await startFakeSmtp();
  kluis = await startTestKluis({
    LOCAL_TENANT_ID: tenantId,
    TRUST_PROXY: 'true',
    BCRYPT_COST: '10',
    HIBP_BASE_URL: hibp.baseUrl,
    HIBP_TIMEOUT_MS: '300',
    SMTP_URL: smtp.url,
    MAIL_FROM: 'kluis@vandaele-peeters.example',
    LOGIN_FREE_ATTEMPTS_PER_ACCOUNT: '5',
    LOGIN_FREE_ATTEMPTS_PER_IP: '20',
  });
  workspaceId = (await kluis.modules.directory.findByTenant(tenantId))!.id;
});

afterAll(async () => {
  await kluis?.stop();
  await hibp?.close();
  await smtp?.close();
  await db.workspace.deleteMany({ where: { tenantId } });
  await db.$disconnect();
});

describe('register and sign in', () => {
  it('registers with an invitation, signs in with a session cookie that ends with the browser, and knows who is asking', async () => {
    const email = uniqueEmail();
    await registered(email);
    const login = await call('POST', '/api/auth/login', { email, password: STRONG });
    expect(login.status).toBe(200);
    expect(login.setCookie).toMatch(/^kluis_session=[^;]+; Path=\/; HttpOnly; SameSite=Strict$/);
    const me = await call('GET', '/api/me', undefined, { cookie: login.cookie });
    expect(me.status).toBe(200);
    expect(me.body).toEqual({ workspaceId, tenantId, userId: login.body.userId, roles: ['user'], authMethod: 'credentials' });
  });

  it('never stores the plain email address (encrypted column, blind index)', async () => {
    const email = uniqueEmail();
    await registered(email);
    const rows = await db.$queryRawUnsafe<Array<Record<string, unknown>>>('SELECT * FROM `Credential` WHERE workspaceId = ?', workspaceId);
    const attempts = await db.$queryRawUnsafe<Array<Record<string, unknown>>>('SELECT * FROM `LoginAttempt`');
    expect(JSON.stringify(rows)).not.toContain(email);
    expect(JSON.stringify(attempts)).not.toContain(email);
  });

  it('refuses a registration without a valid invitation (self sign-up into a workspace)', async () => {
    const r = await call('POST', '/api/auth/register', { invitationToken: 'x'.repeat(43), email: uniqueEmail(), password: STRONG });
    expect(r.status).toBe(400);
    expect(r.body.error.id).toBe('invitation_invalid');
    const other = await invite(uniqueEmail());
    const misuse = await call('POST', '/api/auth/register', { invitationToken: other, email: uniqueEmail(), password: STRONG });
    expect(misuse.body.error.id).toBe('invitation_invalid');
  });

  it('refuses a breached password found through k-anonymity, sending only 5 hex characters', async () => {
    const r = await call('POST', '/api/auth/register', { invitationToken: await invite('breach@partner.example'), email: 'breach@partner.example', password: 'Zomer2024!' });
    expect(r.status).toBe(400);
    expect(r.body.error.id).toBe('password_rejected');
    const last = hibp.requests.at(-1)!;
    expect(last.path).toMatch(/^\/range\/[0-9A-F]{5}$/);
  });

  it('falls back to the local list of common passwords when the breach service is down', async () => {
    hibp.failNext({ kind: 'status', status: 500 }, { kind: 'status', status: 500 }, { kind: 'status', status: 500 });
    const email = uniqueEmail();
    const r = await call('POST', '/api/auth/register', { invitationToken: await invite(email), email, password: 'password123' });
    expect(r.status).toBe(400);
    expect(r.body.error.id).toBe('password_rejected');
  });
});

describe('no user enumeration', () => {
  it('answers an unknown address, a wrong password and a disabled account identically', async () => {
    const known = uniqueEmail();
    const disabled = uniqueEmail();
    await registered(known);
    await registered(disabled);
    const disabledLogin = await call('POST', '/api/auth/login', { email: disabled, password: STRONG }, { ip: uniqueIp() });
    expect(disabledLogin.status).toBe(200);
    await db.user.updateMany({ where: { workspaceId, id: disabledLogin.body.userId }, data: { disabledAt: new Date() } });
    const replies = [
      await call('POST', '/api/auth/login', { email: uniqueEmail(), password: STRONG }, { ip: uniqueIp() }),
      await call('POST', '/api/auth/login', { email: known, password: 'wrong password here' }, { ip: uniqueIp() }),
      await call('POST', '/api/auth/login', { email: disabled, password: STRONG }, { ip: uniqueIp() }),
    ];
    for (const r of replies) {
      expect(r.status).toBe(401);
      expect(r.body).toEqual({ error: { id: 'login_failed', message: 'The email address or password is not correct.' } });
      expect(r.setCookie).toBeUndefined();
    }
  });

  it('takes the same time for unknown and known accounts (median difference under 5 ms, or 5% of a login, over 200 tries)', async () => {
    const known = uniqueEmail();
    await registered(known);
    const unknownTimes: number[] = [];
    const knownTimes: number[] = [];
    for (let i = 0; i < 100; i++) {
      // The order alternates, so neither kind always runs right after the other.
      const pair = [[`nobody.${i}@partner.example`, unknownTimes], [known, knownTimes]] as const;
      for (const [email, times] of i % 2 ? [pair[1], pair[0]] : pair) {
        const started = performance.now();
        // A fresh IP each time keeps the IP throttle out of the measurement; the account one is reset by the next success.
        const r = await call('POST', '/api/auth/login', { email, password: `not the password ${i}` }, { ip: `192.0.2.${(i % 250) + 1}` });
        times.push(performance.now() - started);
        expect(r.status === 401 || r.status === 429).toBe(true);
      }
      if (i % 4 === 3) await call('POST', '/api/auth/login', { email: known, password: STRONG }, { ip: uniqueIp() });
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    // The leak this guards against is a skipped password-hash check for unknown accounts: the whole
    // bcrypt time (well over 100 ms at cost 12). 5% of a login's own time, never less than 5 ms,
    // tells that apart from the jitter of a machine shared with other work.
    const limit = Math.max(5, 0.05 * median([...unknownTimes, ...knownTimes]));
    expect(Math.abs(median(unknownTimes) - median(knownTimes))).toBeLessThan(limit);
  });

  it('answers register and reset requests the same for existing and new addresses', async () => {
    const existing = uniqueEmail();
    await registered(existing);
    const again = await call('POST', '/api/auth/register', { invitationToken: await invite(existing), email: existing, password: STRONG });
    const fresh = uniqueEmail();
    const first = await call('POST', '/api/auth/register', { invitationToken: await invite(fresh), email: fresh, password: STRONG });
    expect(again.status).toBe(first.status);
    expect(again.body).toEqual(first.body);
    const resetKnown = await call('POST', '/api/auth/reset-request', { email: existing });
    const resetUnknown = await call('POST', '/api/auth/reset-request', { email: uniqueEmail() });
    expect(resetKnown.status).toBe(202);
    expect(resetKnown.body).toEqual(resetUnknown.body);
    await kluis.modules.credentials.settled();
  });
});

describe('throttling', () => {
  it('slows a brute force of one account from many IPs (per-account growing waits)', async () => {
    const email = uniqueEmail();
    await registered(email);
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) statuses.push((await call('POST', '/api/auth/login', { email, password: `guess ${i}` }, { ip: uniqueIp() })).status);
    expect(statuses.slice(0, 5)).toEqual([401, 401, 401, 401, 401]);
    expect(statuses.slice(6)).toContain(429);
    // Even the right password waits while throttled; the answer says how long.
    const blocked = await call('POST', '/api/auth/login', { email, password: STRONG }, { ip: uniqueIp() });
    expect(blocked.status).toBe(429);
    expect(Number(blocked.retryAfter)).toBeGreaterThan(0);
  });

  it('slows one IP trying many accounts (per-IP growing waits)', async () => {
    const ip = '198.18.0.77';
    const statuses: number[] = [];
    for (let i = 0; i < 24; i++) statuses.push((await call('POST', '/api/auth/login', { email: `spray.${i}@partner.example`, password: 'Welkom01!' }, { ip })).status);
    expect(statuses.slice(0, 20).every((s) => s === 401)).toBe(true);
    expect(statuses.slice(21)).toContain(429);
  });

  it('records every attempt with its IP', async () => {
    const rows = await db.$queryRawUnsafe<Array<{ n: bigint }>>("SELECT COUNT(*) AS n FROM `LoginAttempt` WHERE ip = '198.18.0.77'");
    expect(Number(rows[0]!.n)).toBeGreaterThanOrEqual(24);
  });
});

describe('sessions', () => {
  async function signedIn(email = uniqueEmail()) {
    await registered(email);
    const login = await call('POST', '/api/auth/login', { email, password: STRONG }, { ip: uniqueIp() });
    expect(login.status).toBe(200);
    return { email, cookie: login.cookie!, userId: login.body.userId as string };
  }

  it('refuses a session after logout (server-side revocation)', async () => {
    const { cookie } = await signedIn();
    expect((await call('POST', '/api/auth/logout', {}, { cookie })).status).toBe(204);
    const after = await call('GET', '/api/me', undefined, { cookie });
    expect(after.status).toBe(401);
  });

  it('ends an idle session', async () => {
    const { cookie, userId } = await signedIn();
    await db.session.updateMany({ where: { workspaceId, userId }, data: { lastSeenAt: new Date(Date.now() - 31 * 60_000) } });
    const r = await call('GET', '/api/me', undefined, { cookie });
    expect(r.status).toBe(401);
    expect(r.body.error.id).toBe('session_expired');
  });

  it('ends a session at its absolute lifetime, however active', async () => {
    const { cookie, userId } = await signedIn();
    await db.session.updateMany({ where: { workspaceId, userId }, data: { expiresAt: new Date(Date.now() - 1000) } });
    expect((await call('GET', '/api/me', undefined, { cookie })).body.error.id).toBe('session_expired');
  });

  it('refuses a forged session cookie', async () => {
    expect((await call('GET', '/api/me', undefined, { cookie: 'kluis_session=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl' })).status).toBe(401);
  });

  it('gives a new session on every login (session fixation) and ends every session on a password change', async () => {
    const { email, cookie } = await signedIn();
    const second = await call('POST', '/api/auth/login', { email, password: STRONG }, { ip: uniqueIp() });
    expect(second.cookie).not.toBe(cookie);
    const changed = await call('POST', '/api/auth/password', { currentPassword: STRONG, newPassword: 'a different long passphrase 7' }, { cookie: second.cookie });
    expect(changed.status).toBe(204);
    expect((await call('GET', '/api/me', undefined, { cookie })).status).toBe(401);
    expect((await call('GET', '/api/me', undefined, { cookie: second.cookie })).status).toBe(401);
    expect((await call('GET', '/api/me', undefined, { cookie: changed.cookie })).status).toBe(200);
  });

  it('ends a disabled user\'s session at once', async () => {
    const { cookie, userId } = await signedIn();
    await db.user.updateMany({ where: { workspaceId, id: userId }, data: { disabledAt: new Date() } });
    expect((await call('GET', '/api/me', undefined, { cookie })).status).toBe(401);
  });
});

describe('password reset by mail', () => {
  it('mails a one-time link; the new password works, the old sessions and the used link do not', async () => {
    const email = uniqueEmail();
    await registered(email);
    const before = await call('POST', '/api/auth/login', { email, password: STRONG }, { ip: uniqueIp() });
    const mailsBefore = smtp.received.length;
    await call('POST', '/api/auth/reset-request', { email });
    await kluis.modules.credentials.settled();
    expect(smtp.received.length).toBe(mailsBefore + 1);
    const mail = smtp.received.at(-1)!;
    expect(mail.to).toContain(email);
    const token = decodeURIComponent(/token=([A-Za-z0-9_%-]+)/.exec(mail.text)![1]!);
    expect((await call('POST', '/api/auth/reset', { token, newPassword: 'brand new passphrase 2026' })).status).toBe(204);
    expect((await call('GET', '/api/me', undefined, { cookie: before.cookie })).status).toBe(401);
    expect((await call('POST', '/api/auth/login', { email, password: 'brand new passphrase 2026' }, { ip: uniqueIp() })).status).toBe(200);
    const replay = await call('POST', '/api/auth/reset', { token, newPassword: 'yet another passphrase 9' });
    expect(replay.body.error.id).toBe('reset_token_invalid');
  });
});

describe('TOTP second factor', () => {
  it('requires the code after enrolment and refuses a replayed code', async () => {
    const email = uniqueEmail();
    await registered(email);
    const login = await call('POST', '/api/auth/login', { email, password: STRONG }, { ip: uniqueIp() });
    const begin = await call('POST', '/api/auth/totp/begin', {}, { cookie: login.cookie });
    expect(begin.body.uri).toMatch(/^otpauth:\/\/totp\//);
    const code = generateSync({ secret: begin.body.secret });
    const confirm = await call('POST', '/api/auth/totp/confirm', { code }, { cookie: login.cookie });
    expect(confirm.status).toBe(200);
    expect(confirm.body.recoveryCodes).toHaveLength(10);

    const withoutCode = await call('POST', '/api/auth/login', { email, password: STRONG }, { ip: uniqueIp() });
    expect(withoutCode.body.error.id).toBe('second_factor_required');
    const replayed = await call('POST', '/api/auth/login', { email, password: STRONG, totpCode: code }, { ip: uniqueIp() });
    expect(replayed.status).toBe(401);
    const recovery = await call('POST', '/api/auth/login', { email, password: STRONG, totpCode: confirm.body.recoveryCodes[0] }, { ip: uniqueIp() });
    expect(recovery.status).toBe(200);
    const reused = await call('POST', '/api/auth/login', { email, password: STRONG, totpCode: confirm.body.recoveryCodes[0] }, { ip: uniqueIp() });
    expect(reused.status).toBe(401);
  });
});

describe('workspace limited to Microsoft login', () => {
  it('refuses credentials login when the workspace allows Microsoft login only', async () => {
    const email = uniqueEmail();
    await registered(email);
    await db.workspace.update({ where: { id: workspaceId }, data: { credentialsLogin: false } });
    try {
      const r = await call('POST', '/api/auth/login', { email, password: STRONG }, { ip: uniqueIp() });
      expect(r.status).toBe(403);
      expect(r.body.error.id).toBe('credentials_login_disabled');
    } finally {
      await db.workspace.update({ where: { id: workspaceId }, data: { credentialsLogin: true } });
    }
  });
});

describe('bad input at /api/auth', () => {
  it.each<[string, { raw: string; contentType?: string }, number, string]>([
    ['a body that is not JSON', { raw: '{"email":', contentType: 'application/json' }, 400, 'request_malformed'],
    ['a form post (cross-site request forgery)', { raw: 'email=a&password=b', contentType: 'application/x-www-form-urlencoded' }, 415, 'unsupported_media_type'],
    ['a body over 64 KB', { raw: JSON.stringify({ email: 'a@b.c', password: 'x'.repeat(70000) }) }, 413, 'request_too_large'],
    ['unknown fields (mass assignment)', { raw: JSON.stringify({ email: 'a@b.example', password: STRONG, role: 'admin' }) }, 400, 'request_malformed'],
    ['a header-injection email', { raw: JSON.stringify({ email: 'a@b.example\r\nBcc: all@x.example', password: STRONG }) }, 400, 'request_malformed'],
    ['a missing password', { raw: JSON.stringify({ email: 'a@b.example' }) }, 400, 'request_malformed'],
  ])('refuses %s', async (_name, init, status, id) => {
    const r = await call('POST', '/api/auth/login', undefined, { raw: init.raw, contentType: init.contentType, ip: uniqueIp() });
    expect(r.status).toBe(status);
    expect(r.body.error.id).toBe(id);
  });

  it('refuses an API call without credentials, and a non-Bearer Authorization header', async () => {
    expect((await call('GET', '/api/me')).status).toBe(401);
    const r = await fetch(`${kluis.url}/api/me`, { headers: { authorization: 'Basic YTpi' } });
    expect(r.status).toBe(401);
  });
});
