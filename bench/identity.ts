/**
 * Identity costs per request: what a credentials login, an Entra bearer token and the login
 * throttle add to a request, each set against the one thing it cannot do without.
 *
 * 1. Credentials login over HTTP (POST /api/auth/login) with Kluis started in-process, at the
 *    default bcrypt cost (12) and at the minimum (10). Baseline: a bare `verifyPassword` at the
 *    same cost in the same process, i.e. the bcrypt share of a login. Sequential logins give the
 *    latency; four at a time give the throughput. A failed login for an unknown address is timed
 *    alongside, because it must cost about what a real one does (no account enumeration by time).
 * 2. Entra access token validation with a warm key cache. Baseline: jose `jwtVerify` with the
 *    public key already imported (no key set, no Entra checks) on the same tokens. Over HTTP:
 *    GET /api/me with a bearer token against GET /healthz.
 * 3. The login throttle's database work per request: `waitSeconds` (every login asks it) and
 *    `recordFailure` (every failed login). Baseline: `SELECT 1` through the same Prisma client.
 *
 * Everything runs against a private MariaDB in a temporary folder, a local Have I Been Pwned
 * range API and a local Entra issuer, so nothing leaves the machine.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { importJWK, jwtVerify, type JWK } from 'jose';
import { loadConfig } from '../api/config';
import { createDatabase as openDatabase, type Database } from '../api/db/client';
import { startEmbeddedMariadb, type EmbeddedMariadb } from '../api/db/embeddedMariadb';
import { migrateDatabase } from '../api/db/migrate';
import { createEntraTokenValidator } from '../api/identity/entraTokens';
import { createLoginThrottle } from '../api/identity/loginThrottle';
import { hashPassword, verifyPassword } from '../api/identity/passwords';
import { createLogger } from '../api/logger';
import { startKluis, type Kluis } from '../api/main';
import { startFakeEntraIssuer, type FakeEntraIssuer } from '../tests/fakes/entraIssuer';
import { startFakeHibp, type FakeHibp } from '../tests/fakes/hibpServer';
import { REPO_ROOT } from './corpus';
import { summarize, type BenchContext, type BenchResult, type Figure, type Summary } from './stats';

const BENCH = 'identity';
const PASSWORD = 'correct horse battery staple 42';
const CONCURRENCY = 4;
const REQUIRED_SCOPE = 'access_as_user';

interface Shared {
  root: string;
  databaseUrl: string;
  hibp: FakeHibp;
  issuer: FakeEntraIssuer;
  apiUri: string;
  localTenantId: string;
}

/** A distinct client address per request (sent as X-Forwarded-For), so no IP counter fills up. */
let ipCounter = 0;
function nextIp(): string {
  const n = ++ipCounter;
  return `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`;
}

async function startBenchKluis(shared: Shared, bcryptCost: number): Promise<Kluis> {
  const config = loadConfig(
    {
      LOCAL_MODE: 'true',
      PORT: '0',
      DATABASE_URL: shared.databaseUrl,
      DATA_DIR: path.join(shared.root, 'data'),
      KNOWLEDGE_WATCH: 'false',
      LOG_LEVEL: 'silent',
      LOCAL_TENANT_ID: shared.localTenantId,
      BCRYPT_COST: String(bcryptCost),
      HIBP_BASE_URL: shared.hibp.baseUrl,
      LOGIN_FREE_ATTEMPTS_PER_ACCOUNT: '100',
      LOGIN_FREE_ATTEMPTS_PER_IP: '10000',
      TRUST_PROXY: 'true',
      ENTRA_CLIENT_ID: shared.issuer.clientId,
      ENTRA_API_URI: shared.apiUri,
      ENTRA_AUTHORITY_HOST: shared.issuer.authorityHost,
      ONBOARD_TENANTS: `${shared.issuer.tenantId}=Bench tenant`,
    },
    { dotenv: false, cwd: REPO_ROOT },
  );
  return startKluis(config, { logger: createLogger(config.logLevel) });
}

/** POST /api/auth/login; the clock runs from the request to the end of the response body. */
async function login(baseUrl: string, email: string, password: string): Promise<{ ms: number; status: number; body: string }> {
  const started = performance.now();
  const response = await fetch(`${baseUrl}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-forwarded-for': nextIp() },
    body: JSON.stringify({ email, password }),
  });
  const body = await response.text();
  return { ms: performance.now() - started, status: response.status, body };
}

async function expectLogin(baseUrl: string, email: string, expected: 200 | 401): Promise<number> {
  const r = await login(baseUrl, email, PASSWORD);
  if (r.status !== expected) throw new Error(`login for ${expected === 200 ? 'the registered account' : 'an unknown address'} answered ${r.status} (expected ${expected}): ${r.body.slice(0, 200)}`);
  if (expected === 401 && !r.body.includes('"login_failed"')) throw new Error(`failed login answered an unexpected body: ${r.body.slice(0, 200)}`);
  return r.ms;
}

async function timed(task: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await task();
  return performance.now() - started;
}

/** Runs `total` tasks with at most `concurrency` in flight; returns the wall time in ms. */
async function runConcurrently(total: number, concurrency: number, task: (i: number) => Promise<unknown>): Promise<number> {
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let i = next++; i < total; i = next++) await task(i);
    }),
  );
  return performance.now() - started;
}

const fmt = (s: Summary, digits = 1) => `p50 ${s.p50.toFixed(digits)}, p95 ${s.p95.toFixed(digits)}, mean ${s.mean.toFixed(digits)}`;

/* ------------------------------------------------------------------ 1. credentials login */

async function measureLogins(shared: Shared, cost: number, n: number, warmup: number, log: (line: string) => void): Promise<{ figures: Figure[]; notes: string[]; okP50: number }> {
  let kluis: Kluis | undefined;
  try {
    let started = performance.now();
    kluis = await startBenchKluis(shared, cost);
    const workspace = await kluis.modules.directory.findByTenant(shared.localTenantId);
    if (!workspace) throw new Error('the local workspace was not onboarded');
    const email = `bench.cost${cost}.${randomUUID().slice(0, 8)}@partner.example`;
    const { token } = await kluis.modules.credentials.invite({ workspaceId: workspace.id, email, role: 'user' });
    const registered = await fetch(`${kluis.url}/api/auth/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-forwarded-for': nextIp() },
      body: JSON.stringify({ invitationToken: token, email, password: PASSWORD }),
    });
    const registerBody = await registered.text();
    if (registered.status !== 202) throw new Error(`registration answered ${registered.status}: ${registerBody.slice(0, 200)}`);
    await kluis.modules.credentials.settled();
    log(`  cost ${cost}: Kluis started and one account registered by invitation in ${((performance.now() - started) / 1000).toFixed(1)} s`);

    const url = kluis.url;
    const hash = await hashPassword(PASSWORD, cost);
    let unknown = 0;
    const unknownEmail = () => `nobody.${cost}.${unknown++}.${randomUUID().slice(0, 8)}@partner.example`;
    const bcrypt = async () => {
      const started = performance.now();
      if (!(await verifyPassword(PASSWORD, hash))) throw new Error('verifyPassword refused the right password');
      return performance.now() - started;
    };

    for (let i = 0; i < warmup; i++) {
      await expectLogin(url, email, 200);
      await expectLogin(url, unknownEmail(), 401);
      await bcrypt();
    }

    // Sequential and interleaved, the order rotating each round, so drift in machine load and any
    // order effect fall on the three alike.
    const ok: number[] = [];
    const failed: number[] = [];
    const bare: number[] = [];
    const steps = [async () => ok.push(await expectLogin(url, email, 200)), async () => failed.push(await expectLogin(url, unknownEmail(), 401)), async () => bare.push(await bcrypt())];
    started = performance.now();
    for (let i = 0; i < n; i++) for (let k = 0; k < steps.length; k++) await steps[(i + k) % steps.length]!();
    const o = summarize(ok);
    const f = summarize(failed);
    const b = summarize(bare);
    log(`  cost ${cost}: ${n} of each in ${((performance.now() - started) / 1000).toFixed(1)} s; login ms ${fmt(o)}; unknown-address login ms ${fmt(f)}; verifyPassword ms ${fmt(b)}`);

    // Throughput: four in flight at once, logins first, then bare verifications.
    const loginWall = await runConcurrently(n, CONCURRENCY, () => expectLogin(url, email, 200));
    const bcryptWall = await runConcurrently(n, CONCURRENCY, () => bcrypt());
    const loginRate = (n * 1000) / loginWall;
    const bcryptRate = (n * 1000) / bcryptWall;
    log(`  cost ${cost}: ${CONCURRENCY} concurrent: ${loginRate.toFixed(2)} logins/s, ${bcryptRate.toFixed(2)} verifyPassword/s`);

    return {
      okP50: o.p50,
      figures: [
        { benchmark: BENCH, metric: `login p50, cost ${cost} (HTTP, sequential)`, value: o.p50, unit: 'ms', baseline: { label: `verifyPassword p50, cost ${cost}`, value: b.p50 } },
        { benchmark: BENCH, metric: `login p95, cost ${cost} (HTTP, sequential)`, value: o.p95, unit: 'ms', baseline: { label: `verifyPassword p95, cost ${cost}`, value: b.p95 } },
        {
          benchmark: BENCH,
          metric: `login throughput, cost ${cost}, ${CONCURRENCY} concurrent: time per login (1000/rate)`,
          value: 1000 / loginRate,
          unit: 'ms',
          baseline: { label: `verifyPassword, ${CONCURRENCY} concurrent`, value: 1000 / bcryptRate },
          note: `${loginRate.toFixed(2)} logins/s vs ${bcryptRate.toFixed(2)} verifications/s`,
        },
        { benchmark: BENCH, metric: `failed login p50, unknown address, cost ${cost}`, value: f.p50, unit: 'ms', baseline: { label: `successful login p50, cost ${cost}`, value: o.p50 } },
        { benchmark: BENCH, metric: `failed (unknown) minus successful login p50, cost ${cost}`, value: f.p50 - o.p50, unit: 'ms', note: `p95 difference ${(f.p95 - o.p95).toFixed(1)} ms` },
      ],
      notes: [
        `${BENCH}: cost ${cost}: ${n} successful logins, ${n} unknown-address logins and ${n} bare verifyPassword calls, interleaved and sequential after ${warmup} warm-up rounds; then ${n} logins and ${n} verifications with ${CONCURRENCY} in flight. One account, a fresh X-Forwarded-For per request.`,
      ],
    };
  } finally {
    await kluis?.stop().catch(() => undefined);
  }
}

/* ------------------------------------------------------------------ 2. Entra tokens */

async function measureTokenValidation(shared: Shared, m: number, log: (line: string) => void): Promise<{ figures: Figure[]; notes: string[] }> {
  const { issuer } = shared;
  const validator = createEntraTokenValidator({
    clientId: issuer.clientId,
    audiences: [issuer.clientId, shared.apiUri],
    requiredScope: REQUIRED_SCOPE,
    isTenantAllowed: async () => true,
    authorityHost: issuer.authorityHost,
  });
  let started = performance.now();
  const tokens: string[] = [];
  for (let i = 0; i < m; i++) tokens.push(await issuer.issueAccessToken());
  log(`  ${m} access tokens issued in ${((performance.now() - started) / 1000).toFixed(1)} s`);

  // The baseline's key: the same public key, fetched once and imported outside the clock.
  const jwks = (await (await fetch(`${issuer.authorityHost}/common/discovery/v2.0/keys`)).json()) as { keys: JWK[] };
  const localKey = await importJWK(jwks.keys[0]!, 'RS256');
  const verifyOptions = {
    algorithms: ['RS256'],
    issuer: `${issuer.authorityHost}/${issuer.tenantId}/v2.0`,
    audience: [issuer.clientId, shared.apiUri],
    clockTolerance: 60,
    requiredClaims: ['exp', 'nbf', 'iat'],
  };

  // The first validation downloads the key set; everything after it should come from the cache.
  await validator.validate(tokens[0]!);
  const fetchesAfterWarm = issuer.jwksFetches();
  const warmup = Math.min(100, m);
  for (let i = 0; i < warmup; i++) {
    await validator.validate(tokens[i]!);
    await jwtVerify(tokens[i]!, localKey, verifyOptions);
  }

  const kluisUs: number[] = [];
  const joseUs: number[] = [];
  started = performance.now();
  for (let i = 0; i < m; i++) {
    const token = tokens[i]!;
    const a = async () => kluisUs.push((await timed(() => validator.validate(token))) * 1000);
    const b = async () => joseUs.push((await timed(() => jwtVerify(token, localKey, verifyOptions))) * 1000);
    if (i % 2 === 0) {
      await a();
      await b();
    } else {
      await b();
      await a();
    }
  }
  const fetchesDuring = issuer.jwksFetches() - fetchesAfterWarm;
  const k = summarize(kluisUs);
  const j = summarize(joseUs);
  const kRate = 1e6 / k.mean;
  const jRate = 1e6 / j.mean;
  log(`  ${m} validations each in ${((performance.now() - started) / 1000).toFixed(1)} s; Kluis validator µs ${fmt(k, 0)}; jose local key µs ${fmt(j, 0)}; ${fetchesDuring} key-set downloads during the timed loop`);

  return {
    figures: [
      { benchmark: BENCH, metric: 'token validation mean (µs, cached JWKS)', value: k.mean, unit: 'count', baseline: { label: 'jose jwtVerify, local key, mean (µs)', value: j.mean } },
      { benchmark: BENCH, metric: 'token validation p50 (µs, cached JWKS)', value: k.p50, unit: 'count', baseline: { label: 'jose jwtVerify, local key, p50 (µs)', value: j.p50 } },
      { benchmark: BENCH, metric: 'token validation p95 (µs, cached JWKS)', value: k.p95, unit: 'count', baseline: { label: 'jose jwtVerify, local key, p95 (µs)', value: j.p95 } },
      { benchmark: BENCH, metric: 'token validations per second (one at a time)', value: kRate, unit: 'count', baseline: { label: 'jose jwtVerify per second', value: jRate }, note: 'rate: below 1x means slower' },
    ],
    notes: [
      `${BENCH}: ${m} distinct RS256 access tokens from the local Entra issuer, each validated by createEntraTokenValidator (tenant check answering true at once) and by jose jwtVerify with the imported public key and the same issuer, audience, clock and required-claim options, interleaved, after ${warmup} warm-up pairs; ${fetchesDuring} key-set downloads during the timed loop (expected 0).`,
    ],
  };
}

async function measureBearerRequests(shared: Shared, r: number, log: (line: string) => void): Promise<{ figures: Figure[]; notes: string[] }> {
  let kluis: Kluis | undefined;
  try {
    kluis = await startBenchKluis(shared, 12);
    const url = kluis.url;
    // Ten users with a token each, rotating, as a few Teams tabs polling the API would.
    const tokens: string[] = [];
    for (let i = 0; i < 10; i++) tokens.push(await shared.issuer.issueAccessToken({ oid: randomUUID() }));
    const get = async (pathname: string, token?: string): Promise<number> => {
      const started = performance.now();
      const response = await fetch(`${url}${pathname}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
      const body = await response.text();
      const elapsed = performance.now() - started;
      if (response.status !== 200) throw new Error(`GET ${pathname} answered ${response.status}: ${body.slice(0, 200)}`);
      return elapsed;
    };
    // Warm-up: the first request per user provisions the user and its membership.
    for (let i = 0; i < 30; i++) {
      await get('/api/me', tokens[i % tokens.length]);
      await get('/healthz');
    }
    const me: number[] = [];
    const health: number[] = [];
    const started = performance.now();
    for (let i = 0; i < r; i++) {
      if (i % 2 === 0) {
        me.push(await get('/api/me', tokens[i % tokens.length]));
        health.push(await get('/healthz'));
      } else {
        health.push(await get('/healthz'));
        me.push(await get('/api/me', tokens[i % tokens.length]));
      }
    }
    const a = summarize(me);
    const h = summarize(health);
    log(`  ${r} requests each in ${((performance.now() - started) / 1000).toFixed(1)} s; GET /api/me (bearer) ms ${fmt(a, 2)}; GET /healthz ms ${fmt(h, 2)}`);
    return {
      figures: [
        { benchmark: BENCH, metric: 'GET /api/me with bearer token p50', value: a.p50, unit: 'ms', baseline: { label: 'GET /healthz p50', value: h.p50 } },
        { benchmark: BENCH, metric: 'GET /api/me with bearer token p95', value: a.p95, unit: 'ms', baseline: { label: 'GET /healthz p95', value: h.p95 } },
        { benchmark: BENCH, metric: 'bearer request overhead (p50 difference)', value: a.p50 - h.p50, unit: 'ms' },
      ],
      notes: [
        `${BENCH}: ${r} GET /api/me (10 users, one token each, rotating: validation plus principal lookup) and ${r} GET /healthz over HTTP, interleaved and sequential, after 30 warm-up pairs.`,
      ],
    };
  } finally {
    await kluis?.stop().catch(() => undefined);
  }
}

/* ------------------------------------------------------------------ 3. login throttle */

async function measureThrottle(db: Database, t: number, log: (line: string) => void): Promise<{ figures: Figure[]; notes: string[] }> {
  // Free attempts high enough that no key is blocked: this times the common path, not a block.
  const throttle = createLoginThrottle(db, { freeAttemptsPerAccount: 100_000, freeAttemptsPerIp: 100_000, maxWaitSeconds: 900 });
  const KEYS = 50;
  const keysFor = (i: number) => ({ account: `bench-account-${i % KEYS}`, ip: `192.0.2.${(i % KEYS) + 1}` });
  const select1 = () => db.$queryRawUnsafe('SELECT 1');
  const warmup = 30;
  for (let i = 0; i < warmup; i++) {
    await select1();
    await throttle.waitSeconds(keysFor(i));
    await throttle.recordFailure(keysFor(i));
  }
  const baseline: number[] = [];
  const wait: number[] = [];
  const failure: number[] = [];
  const started = performance.now();
  const steps = [
    async (_i: number) => baseline.push(await timed(select1)),
    async (i: number) => wait.push(await timed(() => throttle.waitSeconds(keysFor(i)))),
    async (i: number) => failure.push(await timed(() => throttle.recordFailure(keysFor(i)))),
  ];
  for (let i = 0; i < t; i++) for (let k = 0; k < steps.length; k++) await steps[(i + k) % steps.length]!(i);
  const s = summarize(baseline);
  const w = summarize(wait);
  const f = summarize(failure);
  log(`  ${t} calls each in ${((performance.now() - started) / 1000).toFixed(1)} s; SELECT 1 ms ${fmt(s, 3)}; waitSeconds ms ${fmt(w, 3)}; recordFailure ms ${fmt(f, 3)}`);
  return {
    figures: [
      { benchmark: BENCH, metric: 'throttle waitSeconds p50 (2 reads)', value: w.p50, unit: 'ms', baseline: { label: 'SELECT 1 p50 (same Prisma client)', value: s.p50 } },
      { benchmark: BENCH, metric: 'throttle waitSeconds p95 (2 reads)', value: w.p95, unit: 'ms', baseline: { label: 'SELECT 1 p95 (same Prisma client)', value: s.p95 } },
      { benchmark: BENCH, metric: 'throttle recordFailure p50 (2 x delete + upsert)', value: f.p50, unit: 'ms', baseline: { label: 'SELECT 1 p50 (same Prisma client)', value: s.p50 } },
      { benchmark: BENCH, metric: 'throttle recordFailure p95 (2 x delete + upsert)', value: f.p95, unit: 'ms', baseline: { label: 'SELECT 1 p95 (same Prisma client)', value: s.p95 } },
    ],
    notes: [
      `${BENCH}: createLoginThrottle on the bench database (rate-limiter-flexible's Prisma store), ${t} calls each of SELECT 1, waitSeconds and recordFailure, interleaved and sequential, keys rotating over ${KEYS} accounts and ${KEYS} IPs, after ${warmup} warm-up rounds; no key reached a block.`,
    ],
  };
}

/* ------------------------------------------------------------------ the benchmark */

export async function runIdentity(context: BenchContext): Promise<BenchResult> {
  const { quick, log } = context;
  const loginsAt12 = quick ? 10 : 40;
  // Cost 10 is four times cheaper, so twice the samples still take half the time.
  const loginsAt10 = loginsAt12 * 2;
  const loginWarmup = quick ? 2 : 3;
  const tokens = quick ? 300 : 2000;
  const bearerRequests = quick ? 100 : 500;
  const throttleCalls = quick ? 100 : 500;

  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'kluis-bench-identity-'));
  // mariadbd runs as the mysql user when we are root, and must be able to enter the folder.
  fs.chmodSync(root, 0o755);
  let mariadb: EmbeddedMariadb | undefined;
  let hibp: FakeHibp | undefined;
  let issuer: FakeEntraIssuer | undefined;
  let db: Database | undefined;
  const figures: Figure[] = [];
  const notes: string[] = [];
  try {
    let started = performance.now();
    mariadb = await startEmbeddedMariadb({ dir: path.join(root, 'mariadb') });
    const databaseUrl = await mariadb.createDatabase('kluis_bench_identity');
    await migrateDatabase(databaseUrl);
    log(`  private MariaDB ready and migrated in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    hibp = await startFakeHibp();
    issuer = await startFakeEntraIssuer();
    const shared: Shared = { root, databaseUrl, hibp, issuer, apiUri: `api://kluis.bench/${issuer.clientId}`, localTenantId: randomUUID() };

    log('  login throttle:');
    db = openDatabase(databaseUrl);
    const throttle = await measureThrottle(db, throttleCalls, log);

    log('  Entra token validation:');
    const validation = await measureTokenValidation(shared, tokens, log);
    const bearer = await measureBearerRequests(shared, bearerRequests, log);

    log('  credentials login:');
    started = performance.now();
    const at12 = await measureLogins(shared, 12, loginsAt12, loginWarmup, log);
    const at10 = await measureLogins(shared, 10, loginsAt10, loginWarmup, log);
    log(`  logins took ${((performance.now() - started) / 1000).toFixed(1)} s`);

    figures.push(...at12.figures, ...at10.figures);
    figures.push({ benchmark: BENCH, metric: 'login p50 at cost 12 (default)', value: at12.okP50, unit: 'ms', baseline: { label: 'login p50 at cost 10', value: at10.okP50 }, note: 'each cost step doubles bcrypt work' });
    figures.push(...validation.figures, ...bearer.figures, ...throttle.figures);
    notes.push(...at12.notes, ...at10.notes, ...validation.notes, ...bearer.notes, ...throttle.notes);
    notes.push(
      `${BENCH}: Kluis, the HTTP client and bcryptjs (pure JavaScript) share one Node thread here, so ${CONCURRENCY} logins in flight take turns on one core: throughput is bounded by bcrypt time per login, not by the number of cores.`,
      `${BENCH}: a failed login for an unknown address runs bcrypt against a dummy hash of the same cost, then records the failure for the account and the IP (two deletes and two upserts) and the attempt; a successful one reads the throttle, clears the account counter, creates a session and writes the attempt and an audit record.`,
    );
    return { figures, notes };
  } finally {
    await db?.$disconnect().catch(() => undefined);
    await issuer?.close().catch(() => undefined);
    await hibp?.close().catch(() => undefined);
    await mariadb?.stop().catch(() => undefined);
    fs.rmSync(root, { recursive: true, force: true });
  }
}
