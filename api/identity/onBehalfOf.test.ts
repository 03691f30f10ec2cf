/**
 * On-Behalf-Of to Microsoft Graph through @azure/identity's OnBehalfOfCredential, against a local
 * Entra token endpoint over real HTTPS (wire format of "Microsoft identity platform and OAuth 2.0
 * On-Behalf-Of flow"). Tests are named after the failure or attack they stop.
 */
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { AzureLogger, getLogLevel, setLogLevel } from '@azure/logger';
import { decodeJwt } from 'jose';
import { isKluisError, type KluisError } from '../errors';
import { createLogger } from '../logger';
import { startFakeEntraIssuer, type FakeEntraIssuer } from '../../tests/fakes/entraIssuer';
import { createGraphTokenBroker, type OnBehalfOfOptions } from './onBehalfOf';

let issuer: FakeEntraIssuer;

beforeAll(async () => {
  issuer = await startFakeEntraIssuer();
});

afterAll(async () => {
  await issuer.close();
});

function brokerFor(overrides: Partial<OnBehalfOfOptions> = {}) {
  return createGraphTokenBroker({
    clientId: issuer.clientId,
    clientSecret: issuer.clientSecret,
    authorityHost: issuer.tlsAuthorityHost,
    trustedCaCertificates: issuer.caCertificate,
    ...overrides,
  });
}

/** A user with a fresh Kluis API token (the assertion) from the fake issuer. */
async function signedInUser(tenantId = issuer.tenantId) {
  const identity = { tenantId, objectId: randomUUID() };
  const assertion = await issuer.issueAccessToken({ tid: tenantId, oid: identity.objectId });
  return { identity, assertion };
}

async function failureOf(promise: Promise<unknown>): Promise<KluisError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!isKluisError(error)) throw new Error(`expected a KluisError, got ${String(error)}`);
  return error;
}

describe('token exchange', () => {
  test('returns a Graph token for the user from their home tenant and caches it (second call makes no request)', async () => {
    const broker = brokerFor();
    const { identity, assertion } = await signedInUser();
    const before = issuer.requestLog.length;

    const token = await broker.graphTokenFor(identity, assertion);
    expect(decodeJwt(token)).toMatchObject({ aud: 'https://graph.microsoft.com', tid: identity.tenantId, oid: identity.objectId });

    const exchange = issuer.tokenRequests.at(-1);
    expect(exchange).toMatchObject({
      tenant: identity.tenantId,
      grantType: 'urn:ietf:params:oauth:grant-type:jwt-bearer',
      requestedTokenUse: 'on_behalf_of',
      clientId: issuer.clientId,
      clientSecretValid: true,
      assertionOid: identity.objectId,
    });
    expect(exchange?.scope?.split(' ')).toEqual(expect.arrayContaining(['https://graph.microsoft.com/Files.Read.All', 'https://graph.microsoft.com/Sites.Read.All']));
    // No instance discovery (it would go to login.microsoftonline.com): only the tenant's metadata and token endpoint.
    const wire = issuer.requestLog.slice(before);
    expect(wire).toContain(`POST /${identity.tenantId}/oauth2/v2.0/token`);
    expect(wire.every((line) => line.startsWith(`GET /${identity.tenantId}/v2.0/.well-known/openid-configuration`) || line.startsWith(`POST /${identity.tenantId}/oauth2/`))).toBe(true);

    const afterFirst = issuer.requestLog.length;
    await expect(broker.graphTokenFor(identity, assertion)).resolves.toBe(token);
    // A later request of the same user with a new Kluis token reuses the cached Graph token too.
    const newerAssertion = await issuer.issueAccessToken({ tid: identity.tenantId, oid: identity.objectId });
    await expect(broker.graphTokenFor(identity, newerAssertion)).resolves.toBe(token);
    expect(issuer.requestLog.length).toBe(afterFirst);
  });

  test('keeps users apart: user B never receives user A’s cached token (cross-user token leak)', async () => {
    const broker = brokerFor();
    const a = await signedInUser();
    const b = await signedInUser();
    const otherTenant = await signedInUser(randomUUID());

    const tokenA = await broker.graphTokenFor(a.identity, a.assertion);
    const tokenB = await broker.graphTokenFor(b.identity, b.assertion);
    const tokenC = await broker.graphTokenFor(otherTenant.identity, otherTenant.assertion);

    expect(new Set([tokenA, tokenB, tokenC]).size).toBe(3);
    expect(decodeJwt(tokenB).oid).toBe(b.identity.objectId);
    expect(decodeJwt(tokenC)).toMatchObject({ tid: otherTenant.identity.tenantId, oid: otherTenant.identity.objectId });
    expect(issuer.tokenRequests.at(-1)?.tenant).toBe(otherTenant.identity.tenantId);
  });

  test('refuses an assertion that belongs to another user than the identity given (cache poisoning across users)', async () => {
    const broker = brokerFor();
    const a = await signedInUser();
    const b = await signedInUser();
    await broker.graphTokenFor(a.identity, a.assertion);
    const before = issuer.tokenRequests.length;

    const error = await failureOf(broker.graphTokenFor(a.identity, b.assertion));
    expect(error.id).toBe('internal');
    expect(error.message).toMatch(/belongs to another identity/);
    expect(issuer.tokenRequests.length).toBe(before);
  });

  test('shares one exchange between concurrent requests of the same user (request stampede)', async () => {
    const broker = brokerFor();
    const { identity, assertion } = await signedInUser();
    const before = issuer.tokenRequests.length;
    const tokens = await Promise.all([broker.graphTokenFor(identity, assertion), broker.graphTokenFor(identity, assertion), broker.graphTokenFor(identity, assertion)]);
    expect(new Set(tokens).size).toBe(1);
    expect(issuer.tokenRequests.length).toBe(before + 1);
  });

  test('does not cache a token that expires within the safety margin (using a token about to expire)', async () => {
    const broker = brokerFor();
    const { identity, assertion } = await signedInUser();
    issuer.enqueueTokenReply({ kind: 'token', expiresIn: 120 }, { kind: 'token', expiresIn: 3599 });
    const before = issuer.tokenRequests.length;
    const first = await broker.graphTokenFor(identity, assertion);
    const second = await broker.graphTokenFor(identity, assertion);
    expect(second).not.toBe(first);
    expect(issuer.tokenRequests.length).toBe(before + 2);
  });
});

describe('forget (erasure)', () => {
  test('drops the cached tokens of one user only, then of a whole tenant; the next request exchanges again', async () => {
    const broker = brokerFor();
    const a = await signedInUser();
    const b = await signedInUser();
    const otherTenant = await signedInUser(randomUUID());
    const tokenA = await broker.graphTokenFor(a.identity, a.assertion);
    const tokenB = await broker.graphTokenFor(b.identity, b.assertion);
    await broker.graphTokenFor(otherTenant.identity, otherTenant.assertion);

    expect(broker.forget({ tenantId: a.identity.tenantId.toUpperCase(), objectId: a.identity.objectId })).toBe(1);
    expect(broker.forget({ tenantId: a.identity.tenantId, objectId: a.identity.objectId })).toBe(0);
    const before = issuer.tokenRequests.length;
    await expect(broker.graphTokenFor(b.identity, b.assertion)).resolves.toBe(tokenB);
    expect(issuer.tokenRequests.length).toBe(before);
    expect(await broker.graphTokenFor(a.identity, a.assertion)).not.toBe(tokenA);
    expect(issuer.tokenRequests.length).toBe(before + 1);

    // The tenant: A and B go, the other tenant's user stays cached.
    expect(broker.forget({ tenantId: a.identity.tenantId })).toBe(2);
    const afterTenant = issuer.tokenRequests.length;
    await broker.graphTokenFor(otherTenant.identity, otherTenant.assertion);
    expect(issuer.tokenRequests.length).toBe(afterTenant);
  });
});

describe('failures', () => {
  test('invalid_grant with suberror consent_required becomes consent_required, passing the claims challenge through', async () => {
    const broker = brokerFor();
    const { identity, assertion } = await signedInUser();
    const claims = JSON.stringify({ access_token: { polids: { essential: true, values: [randomUUID()] } } });
    issuer.enqueueTokenReply({ kind: 'invalid_grant', suberror: 'consent_required', claims });

    const error = await failureOf(broker.graphTokenFor(identity, assertion));
    expect(error).toMatchObject({ id: 'consent_required', status: 401, claims });
    expect(error.message).toMatch(/invalid_grant suberror consent_required AADSTS65001 HTTP 400/);
    expect(error.publicMessage).toMatch(/permission/);

    // Nothing was cached: once the user consents, the next call asks Entra again.
    const token = await broker.graphTokenFor(identity, assertion);
    expect(decodeJwt(token).oid).toBe(identity.objectId);
  });

  test('interaction_required (Conditional Access, e.g. MFA) becomes consent_required with the claims challenge', async () => {
    const broker = brokerFor();
    const { identity, assertion } = await signedInUser();
    const claims = '{"access_token":{"capolids":{"essential":true,"values":["9ab03e19-ed42-4168-b6b7-7001fb3e933a"]}}}';
    issuer.enqueueTokenReply({ kind: 'interaction_required', claims });
    const error = await failureOf(broker.graphTokenFor(identity, assertion));
    expect(error).toMatchObject({ id: 'consent_required', claims });
    expect(error.message).toMatch(/interaction_required AADSTS50079/);

    issuer.enqueueTokenReply({ kind: 'interaction_required' });
    const withoutClaims = await failureOf(broker.graphTokenFor(identity, assertion));
    expect(withoutClaims.id).toBe('consent_required');
    expect(withoutClaims.claims).toBeUndefined();
  });

  test('an assertion Entra refuses as expired becomes unauthenticated, not a consent prompt (expiry inside the clock skew)', async () => {
    const broker = brokerFor();
    const { identity, assertion } = await signedInUser();
    issuer.enqueueTokenReply({ kind: 'invalid_grant', errorCodes: [500133], description: 'Assertion is not within its valid time range.' });
    await expect(broker.graphTokenFor(identity, assertion)).rejects.toMatchObject({ id: 'unauthenticated' });
  });

  test('429 becomes identity_provider_unavailable with Retry-After, after a single request (no retry storm)', async () => {
    const broker = brokerFor();
    const { identity, assertion } = await signedInUser();
    issuer.enqueueTokenReply({ kind: 'throttled', retryAfterSeconds: 7 });
    const before = issuer.tokenRequests.length;
    const error = await failureOf(broker.graphTokenFor(identity, assertion));
    expect(error).toMatchObject({ id: 'identity_provider_unavailable', status: 503, retryAfterSeconds: 7 });
    expect(issuer.tokenRequests.length).toBe(before + 1);
  });

  test('500 becomes identity_provider_unavailable', async () => {
    const broker = brokerFor();
    const { identity, assertion } = await signedInUser();
    issuer.enqueueTokenReply({ kind: 'server_error' });
    await expect(broker.graphTokenFor(identity, assertion)).rejects.toMatchObject({ id: 'identity_provider_unavailable', status: 503 });
  });

  test('a token endpoint that accepts the request and never answers costs one attempt timeout, then counts as unavailable', async () => {
    const broker = brokerFor({ attemptTimeoutMs: 300 });
    const { identity, assertion } = await signedInUser();
    issuer.enqueueTokenReply({ kind: 'hang' });
    await expect(broker.graphTokenFor(identity, assertion)).rejects.toMatchObject({ id: 'identity_provider_unavailable', status: 503 });
    // The next request of the same user is not stuck behind the lost one.
    await expect(broker.graphTokenFor(identity, assertion)).resolves.toEqual(expect.any(String));
  });

  test('an unreachable authority becomes identity_provider_unavailable (Entra outage is not a sign-in failure)', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const { port } = closed.address() as AddressInfo;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const { identity, assertion } = await signedInUser();
    await expect(brokerFor({ authorityHost: `https://127.0.0.1:${port}` }).graphTokenFor(identity, assertion)).rejects.toMatchObject({ id: 'identity_provider_unavailable' });
  });

  test('a wrong or expired client secret becomes config_invalid (not blamed on the user)', async () => {
    const broker = brokerFor({ clientSecret: 'not-the-secret' });
    const { identity, assertion } = await signedInUser();
    await expect(broker.graphTokenFor(identity, assertion)).rejects.toMatchObject({ id: 'config_invalid' });
  });

  test('refuses a plain-http authority host (client secret sent in clear)', () => {
    expect(() => brokerFor({ authorityHost: issuer.authorityHost })).toThrow(expect.objectContaining({ id: 'config_invalid' }));
  });
});

describe('secrets', () => {
  let azureLines: string[];
  let originalAzureLog: typeof AzureLogger.log;
  let originalLevel: ReturnType<typeof getLogLevel>;

  beforeEach(() => {
    azureLines = [];
    originalAzureLog = AzureLogger.log;
    originalLevel = getLogLevel();
    AzureLogger.log = (...args: unknown[]) => {
      azureLines.push(args.map((a) => (typeof a === 'string' ? a : JSON.stringify(a))).join(' '));
    };
    setLogLevel('verbose');
  });

  afterEach(() => {
    AzureLogger.log = originalAzureLog;
    setLogLevel(originalLevel);
  });

  test('the user assertion and the client secret never appear in errors or logs (credential leak via logs)', async () => {
    const kluisLines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        kluisLines.push(chunk.toString('utf8'));
        done();
      },
    });
    const logger = createLogger('debug', sink);
    const broker = brokerFor({ logger });
    const wrongSecretBroker = brokerFor({ logger, clientSecret: `wrong~${randomUUID()}` });
    const { identity, assertion } = await signedInUser();

    const errors: unknown[] = [];
    issuer.enqueueTokenReply(
      { kind: 'invalid_grant', suberror: 'consent_required', claims: '{"access_token":{"xms_cc":{"values":["cp1"]}}}' },
      { kind: 'interaction_required' },
      { kind: 'throttled', retryAfterSeconds: 3 },
      { kind: 'server_error' },
    );
    for (let i = 0; i < 4; i++) errors.push(await broker.graphTokenFor(identity, assertion).catch((e: unknown) => e));
    errors.push(await wrongSecretBroker.graphTokenFor(identity, assertion).catch((e: unknown) => e));
    await broker.graphTokenFor(identity, assertion);

    expect(errors.map((e) => (isKluisError(e) ? e.id : 'not a KluisError'))).toEqual([
      'consent_required',
      'consent_required',
      'identity_provider_unavailable',
      'identity_provider_unavailable',
      'config_invalid',
    ]);
    expect(kluisLines.length).toBe(5);
    expect(azureLines.length).toBeGreaterThan(0);

    const secrets = [assertion, ...assertion.split('.').filter((part) => part.length > 16), issuer.clientSecret];
    const surfaces = [
      ...errors.map((e) => {
        const error = e as KluisError;
        return [error.message, error.stack ?? '', JSON.stringify(error), String(error.cause ?? '')].join('\n');
      }),
      ...kluisLines,
      ...azureLines,
    ];
    for (const surface of surfaces) for (const secret of secrets) expect(surface).not.toContain(secret);
  });
});
