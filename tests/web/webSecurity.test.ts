/**
 * The security headers of the tab and add-in pages, and the API's cross-origin rules, over real
 * HTTP: a strict CSP per page (no inline script or style, frame-ancestors only for the Teams and
 * Outlook hosts), HSTS, the API's own helmet defaults, CORS only for configured origins and never
 * with a cookie.
 */
import { randomUUID } from 'node:crypto';
import { buildWeb } from '../../scripts/build-web';
import { openTestDatabase } from '../support/database';
import { startTestKluis } from '../support/kluis';

jest.setTimeout(120000);

const tenantId = randomUUID();
const db = openTestDatabase();
const OWN = 'https://intranet.example.com';
let kluis: Awaited<ReturnType<typeof startTestKluis>>;

function directives(header: string | null): Map<string, string[]> {
  const map = new Map<string, string[]>();
  for (const part of (header ?? '').split(';')) {
    const [name, ...values] = part.trim().split(/\s+/);
    if (name) map.set(name, values);
  }
  return map;
}

beforeAll(async () => {
  await buildWeb();
  kluis = await startTestKluis({ LOCAL_TENANT_ID: tenantId, ALLOWED_ORIGINS: OWN, BCRYPT_COST: '10', HIBP_BASE_URL: 'http://127.0.0.1:9', HIBP_TIMEOUT_MS: '200' });
});

afterAll(async () => {
  await kluis?.stop();
  await db.workspace.deleteMany({ where: { tenantId } });
  await db.$disconnect();
});

describe('tab and add-in pages', () => {
  it.each(['/tab/index.html', '/tab/', '/addin/taskpane.html', '/addin/dialog.html'])('serves %s with a strict CSP and HSTS', async (path) => {
    const r = await fetch(`${kluis.url}${path}`);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/^text\/html/);
    const csp = directives(r.headers.get('content-security-policy'));
    const addin = path.startsWith('/addin');
    expect(csp.get('default-src')).toEqual(["'self'"]);
    expect(csp.get('script-src')).toEqual(addin ? ["'self'", 'https://appsforoffice.microsoft.com'] : ["'self'"]);
    expect(csp.get('style-src')).toEqual(["'self'"]);
    expect(csp.get('object-src')).toEqual(["'none'"]);
    expect(r.headers.get('content-security-policy')).not.toMatch(/unsafe-inline|unsafe-eval|unsafe-hashes/);
    for (const values of csp.values()) expect(values).not.toContain('*');
    const ancestors = csp.get('frame-ancestors')!;
    for (const host of ['https://teams.microsoft.com', 'https://*.teams.microsoft.com', 'https://*.cloud.microsoft', 'https://*.office.com', 'https://*.office365.com', 'https://*.outlook.com']) expect(ancestors).toContain(host);
    expect(ancestors.every((a) => a === "'self'" || a.startsWith('https://'))).toBe(true);
    expect(csp.get('connect-src')![0]).toBe("'self'");
    expect(r.headers.get('strict-transport-security')).toMatch(/max-age=\d{7,}/);
    // frame-ancestors replaces X-Frame-Options, which could only name one host.
    expect(r.headers.get('x-frame-options')).toBeNull();
    expect(r.headers.get('x-content-type-options')).toBe('nosniff');
  });

  it('lets the add-in reach the Entra authority (MSAL) and nothing else beyond Kluis', async () => {
    const csp = directives((await fetch(`${kluis.url}/addin/taskpane.html`)).headers.get('content-security-policy'));
    expect(csp.get('connect-src')).toEqual(["'self'", 'https://login.microsoftonline.com']);
    const tab = directives((await fetch(`${kluis.url}/tab/index.html`)).headers.get('content-security-policy'));
    expect(tab.get('connect-src')).toEqual(["'self'", 'https://res.cdn.office.net']);
  });

  it('has no inline script or style in the built pages', async () => {
    for (const path of ['/tab/index.html', '/addin/taskpane.html', '/addin/dialog.html']) {
      const html = await (await fetch(`${kluis.url}${path}`)).text();
      expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/i);
      expect(html).not.toMatch(/<style|\sstyle=|\son[a-z]+=/i);
    }
  });

  it('serves the add-in icons and the pages’ sign-in configuration', async () => {
    for (const size of [16, 32, 80]) {
      const r = await fetch(`${kluis.url}/addin/assets/icon-${size}.png`);
      expect(r.status).toBe(200);
      expect(r.headers.get('content-type')).toBe('image/png');
    }
    const config = await (await fetch(`${kluis.url}/tab/config.json`)).json();
    expect(config).toEqual({ clientId: null, apiScope: null, authority: 'https://login.microsoftonline.com' });
  });

  it('answers an unknown page or a path outside the build with 404, never a file of the server', async () => {
    for (const path of ['/tab/nope.html', '/tab/../package.json', '/tab/%2e%2e/package.json', '/addin/..%2f..%2fpackage.json', '/tab/.env']) {
      const r = await fetch(`${kluis.url}${path}`);
      expect(r.status).toBe(404);
      expect(await r.text()).not.toContain('"dependencies"');
    }
  });

  it('keeps helmet’s defaults on the API (not frameable, default CSP)', async () => {
    const r = await fetch(`${kluis.url}/api/me`);
    expect(r.headers.get('x-frame-options')).toBe('SAMEORIGIN');
    expect(directives(r.headers.get('content-security-policy')).get('frame-ancestors')).toEqual(["'self'"]);
  });
});

describe('cross-origin calls to the API', () => {
  it('answers a preflight from a configured origin, without credentials', async () => {
    const r = await fetch(`${kluis.url}/api/chat`, { method: 'OPTIONS', headers: { origin: OWN, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type' } });
    expect(r.status).toBe(204);
    expect(r.headers.get('access-control-allow-origin')).toBe(OWN);
    expect(r.headers.get('access-control-allow-headers')).toMatch(/Authorization/);
    expect(r.headers.get('access-control-allow-credentials')).toBeNull();
  });

  it('gives any other origin no CORS headers', async () => {
    const r = await fetch(`${kluis.url}/api/chat`, { method: 'OPTIONS', headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' } });
    expect(r.headers.get('access-control-allow-origin')).toBeNull();
    const get = await fetch(`${kluis.url}/api/me`, { headers: { origin: 'https://evil.example' } });
    expect(get.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('never lets a session cookie authenticate a request from another origin, even an allowed one', async () => {
    const workspaceId = (await kluis.modules.directory.findByTenant(tenantId))!.id;
    const email = `web.${randomUUID().slice(0, 8)}@partner.example`;
    const password = 'correct horse battery staple 42';
    const { token } = await kluis.modules.credentials.invite({ workspaceId, email, role: 'user' });
    const post = (path: string, body: unknown) => fetch(`${kluis.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect((await post('/api/auth/register', { invitationToken: token, email, password })).status).toBe(202);
    await kluis.modules.credentials.settled();
    const login = await post('/api/auth/login', { email, password });
    expect(login.status).toBe(200);
    const cookie = login.headers.get('set-cookie')!.split(';')[0]!;
    expect((await fetch(`${kluis.url}/api/me`, { headers: { cookie } })).status).toBe(200);
    expect((await fetch(`${kluis.url}/api/me`, { headers: { cookie, origin: new URL(kluis.url).origin } })).status).toBe(200);
    for (const origin of [OWN, 'https://evil.example']) expect((await fetch(`${kluis.url}/api/me`, { headers: { cookie, origin } })).status).toBe(401);
  });
});
