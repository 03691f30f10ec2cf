import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { startFakeHibp, sha1Hex, type FakeHibp } from '../../tests/fakes/hibpServer';
import { isKluisError } from '../errors';
import { createBreachedPasswordChecker, parseRange, rangeKey, type BreachedPasswordCheckerOptions } from './breachedPasswords';

const BREACHED = 'Zomerzon2019!';
const STRONG = 'paarse-olifant-kookt-7-soepjes';

let hibp: FakeHibp;
let outages: string[];

beforeEach(async () => {
  hibp = await startFakeHibp({ breached: { [BREACHED]: 4217, password123: 2_254_650 } });
  outages = [];
});

afterEach(async () => {
  await hibp.close();
});

// Short timings keep the outage tests quick; production uses the defaults (2000 ms, 1 retry).
function checker(overrides: BreachedPasswordCheckerOptions = {}) {
  return createBreachedPasswordChecker({ baseUrl: hibp.baseUrl, timeoutMs: 300, backoffMs: 10, onOutage: (reason) => outages.push(reason), ...overrides });
}

describe('k-anonymity (HIBP range API)', () => {
  it('stops hash disclosure: only the first five hex characters of the SHA-1 leave Kluis', async () => {
    await checker().check(STRONG);
    const hash = sha1Hex(STRONG);
    expect(hibp.requests).toHaveLength(1);
    expect(hibp.requests[0]!.path).toBe(`/range/${hash.slice(0, 5)}`);
    expect(hibp.requests[0]!.path).toMatch(/^\/range\/[0-9A-F]{5}$/);
    const everythingSent = JSON.stringify(hibp.requests).toUpperCase();
    expect(everythingSent).not.toContain(hash);
    expect(everythingSent).not.toContain(hash.slice(5));
    expect(everythingSent).not.toContain(hash.slice(5, 15));
    expect(everythingSent).not.toContain(STRONG.toUpperCase());
  });

  it('stops response-size inference: asks for padding and identifies itself', async () => {
    await checker().check(STRONG);
    expect(hibp.requests[0]!.headers['add-padding']).toBe('true');
    expect(hibp.requests[0]!.headers['user-agent']).toMatch(/Kluis/);
  });

  it('finds a breached password with its count', async () => {
    await expect(checker().check(BREACHED)).resolves.toEqual({ breached: true, count: 4217, source: 'hibp' });
  });

  it('passes a password HIBP has not seen', async () => {
    await expect(checker().check(STRONG)).resolves.toEqual({ breached: false, count: 0, source: 'hibp' });
    expect(outages).toEqual([]);
  });

  it('does not reject on a padding row (count 0) that matches the suffix', async () => {
    hibp.addPaddingFor(STRONG);
    const { prefix, suffix } = rangeKey(STRONG);
    const served = await (await fetch(`${hibp.baseUrl}/range/${prefix}`, { headers: { 'Add-Padding': 'true' } })).text();
    expect(served).toContain(`${suffix}:0`);
    await expect(checker().check(STRONG)).resolves.toEqual({ breached: false, count: 0, source: 'hibp' });
  });

  it('matches suffixes whatever their case', async () => {
    hibp.setLowercase(true);
    await expect(checker().check(BREACHED)).resolves.toEqual({ breached: true, count: 4217, source: 'hibp' });
  });

  it('checks the NFKC form, so a full-width spelling of a breached password is caught', async () => {
    await expect(checker().check('ｐａｓｓｗｏｒｄ１２３')).resolves.toMatchObject({ breached: true, source: 'hibp' });
  });
});

describe('parseRange', () => {
  it('reads CRLF and LF answers and drops zero-count rows', () => {
    const suffix = 'A'.repeat(35);
    const rows = parseRange(`${suffix}:3\r\n${'b'.repeat(35)}:0\n${'c'.repeat(35)}:12\r\n`);
    expect(rows).toEqual(new Map([[suffix, 3], ['C'.repeat(35), 12]]));
  });

  it.each([
    ['an empty body', ''],
    ['an HTML page', '<html>oops</html>'],
    ['a row with a short suffix', `${'A'.repeat(34)}:3`],
    ['a row with a negative count', `${'A'.repeat(35)}:-3`],
    ['a valid row followed by a truncated one', `${'A'.repeat(35)}:3\r\n${'B'.repeat(20)}`],
  ])('refuses %s', (_name, body) => {
    expect(parseRange(body)).toBeUndefined();
  });
});

describe('retries', () => {
  it('retries once after a 500 and uses the second answer', async () => {
    hibp.failNext({ kind: 'status', status: 500 });
    await expect(checker().check(BREACHED)).resolves.toEqual({ breached: true, count: 4217, source: 'hibp' });
    expect(hibp.requests).toHaveLength(2);
    expect(outages).toEqual([]);
  });

  it('waits out a short 429 Retry-After, then asks again', async () => {
    hibp.failNext({ kind: 'rate-limit', retryAfterSeconds: 1 });
    const started = Date.now();
    await expect(checker().check(BREACHED)).resolves.toMatchObject({ breached: true, source: 'hibp' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    expect(hibp.requests).toHaveLength(2);
  });

  it('does not hold a sign-up open for a long 429 Retry-After: falls back at once', async () => {
    hibp.failNext({ kind: 'rate-limit', retryAfterSeconds: 3600 });
    const started = Date.now();
    await expect(checker().check(STRONG)).resolves.toEqual({ breached: false, count: 0, source: 'local-list' });
    expect(Date.now() - started).toBeLessThan(500);
    expect(hibp.requests).toHaveLength(1);
    expect(outages).toEqual(['rate_limited']);
  });

  it('does not retry a 4xx that cannot change', async () => {
    hibp.failNext({ kind: 'status', status: 404 });
    await expect(checker().check(STRONG)).resolves.toMatchObject({ source: 'local-list' });
    expect(hibp.requests).toHaveLength(1);
    expect(outages).toEqual(['http_404']);
  });

  it('makes exactly one attempt with retries: 0', async () => {
    hibp.failNext({ kind: 'status', status: 503 });
    await expect(checker({ retries: 0 }).check(STRONG)).resolves.toMatchObject({ source: 'local-list' });
    expect(hibp.requests).toHaveLength(1);
  });

  it('refuses nonsense settings', () => {
    let error: unknown;
    try {
      createBreachedPasswordChecker({ timeoutMs: -1 });
    } catch (e) {
      error = e;
    }
    expect(isKluisError(error, 'config_invalid')).toBe(true);
  });
});

describe('outage: falls back to the local list and reports it', () => {
  it.each([
    ['a 500 on every attempt', [{ kind: 'status', status: 500 }, { kind: 'status', status: 500 }], 'http_500'],
    ['a hang (timeout)', [{ kind: 'hang' }, { kind: 'hang' }], 'timeout'],
    ['a body that stalls after the headers (timeout)', [{ kind: 'stall-body' }, { kind: 'stall-body' }], 'timeout'],
    ['a garbage body', [{ kind: 'garbage' }, { kind: 'garbage' }], 'malformed_body'],
  ] as const)('%s', async (_name, failures, reason) => {
    hibp.failNext(...failures);
    const started = Date.now();
    await expect(checker().check(STRONG)).resolves.toEqual({ breached: false, count: 0, source: 'local-list' });
    expect(outages).toEqual([reason]);
    expect(hibp.requests).toHaveLength(2);
    // Two attempts of at most 300 ms plus backoff: a hang cannot stall sign-up.
    expect(Date.now() - started).toBeLessThan(1500);
  });

  it('reports a network error when nothing listens', async () => {
    const port = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, '127.0.0.1', () => {
        const { port: free } = probe.address() as AddressInfo;
        probe.close(() => resolve(free));
      });
    });
    const result = await checker({ baseUrl: `http://127.0.0.1:${port}` }).check(STRONG);
    expect(result.source).toBe('local-list');
    expect(outages).toEqual(['network_error']);
  });

  it('stops common passwords during an outage (case-insensitive)', async () => {
    hibp.failNext({ kind: 'status', status: 500 }, { kind: 'status', status: 500 });
    await expect(checker().check('Wachtwoord123')).resolves.toEqual({ breached: true, count: 0, source: 'local-list' });
    expect(outages).toEqual(['http_500']);
  });

  it.each(['welkom01', 'AZERTY123', 'iloveyou', 'qwerty123', 'feyenoord1908'])('stops %s during an outage', async (password) => {
    hibp.failNext({ kind: 'hang' }, { kind: 'hang' });
    await expect(checker({ timeoutMs: 100 }).check(password)).resolves.toMatchObject({ breached: true, source: 'local-list' });
  });

  it('passes a strong password during an outage', async () => {
    hibp.failNext({ kind: 'garbage' }, { kind: 'garbage' });
    await expect(checker().check(STRONG)).resolves.toEqual({ breached: false, count: 0, source: 'local-list' });
  });

  it('still answers when the outage callback itself throws', async () => {
    hibp.failNext({ kind: 'status', status: 500 }, { kind: 'status', status: 500 });
    const check = createBreachedPasswordChecker({
      baseUrl: hibp.baseUrl,
      backoffMs: 10,
      onOutage: () => {
        throw new Error('logger down');
      },
    });
    await expect(check.check('password123')).resolves.toEqual({ breached: true, count: 0, source: 'local-list' });
  });
});

describe('rangeKey', () => {
  it('splits the upper-case SHA-1 into a 5-character prefix and a 35-character suffix', () => {
    // SHA-1("password") is 5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD8 (HIBP API docs example).
    expect(rangeKey('password')).toEqual({ prefix: '5BAA6', suffix: '1E4C9B93F3F0682250B6CF8331B7EE68FD8' });
  });
});
