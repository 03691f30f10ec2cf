/**
 * App-only Graph tokens (client credentials) through @azure/identity's ClientSecretCredential,
 * against a local Entra token endpoint over real HTTPS (wire format of "Microsoft identity platform
 * and the OAuth 2.0 client credentials flow"), including its failures: 401 invalid_client, 429 with
 * Retry-After, 500, and an endpoint that never answers.
 */
import { randomUUID } from 'node:crypto';
import { decodeJwt } from 'jose';
import { startFakeEntraIssuer, type FakeEntraIssuer } from '../../tests/fakes/entraIssuer';
import { kluisRejection } from '../../tests/support/errors';
import { createAppTokens, type AppTokenOptions } from './appTokens';

let issuer: FakeEntraIssuer;

beforeAll(async () => {
  issuer = await startFakeEntraIssuer();
});

afterAll(async () => {
  await issuer.close();
});

function tokensFor(overrides: Partial<AppTokenOptions> = {}) {
  return createAppTokens({
    clientId: issuer.clientId,
    clientSecret: issuer.clientSecret,
    authorityHost: issuer.tlsAuthorityHost,
    trustedCaCertificates: issuer.caCertificate,
    ...overrides,
  });
}


const requestsOf = (tenant: string) => issuer.tokenRequests.filter((r) => r.tenant === tenant && r.grantType === 'client_credentials');

describe('app-only Graph tokens', () => {
  test('asks the tenant for a client credentials token scoped to Graph .default, then serves it from the cache', async () => {
    const tenant = randomUUID();
    const tokens = tokensFor();
    const token = await tokens.tokenFor(tenant);
    expect(token).toBe(await issuer.appTokenFor(tenant));
    expect(decodeJwt(token)).toMatchObject({ tid: tenant, aud: 'https://graph.microsoft.com', idtyp: 'app' });
    expect(requestsOf(tenant)).toEqual([expect.objectContaining({ scope: 'https://graph.microsoft.com/.default', clientId: issuer.clientId, clientSecretValid: true })]);
    expect(await tokens.tokenFor(tenant.toUpperCase())).toBe(token);
    expect(requestsOf(tenant)).toHaveLength(1);
  });

  test('keeps tenants apart: each tenant gets its own token from its own tenant path', async () => {
    const [a, b] = [randomUUID(), randomUUID()];
    const tokens = tokensFor();
    const [ta, tb] = await Promise.all([tokens.tokenFor(a), tokens.tokenFor(b)]);
    expect(decodeJwt(ta).tid).toBe(a);
    expect(decodeJwt(tb).tid).toBe(b);
    expect(requestsOf(a)).toHaveLength(1);
    expect(requestsOf(b)).toHaveLength(1);
  });

  test('shares one exchange between concurrent requests of a tenant (stampede)', async () => {
    const tenant = randomUUID();
    const tokens = tokensFor();
    const all = await Promise.all(Array.from({ length: 8 }, () => tokens.tokenFor(tenant)));
    expect(new Set(all).size).toBe(1);
    expect(requestsOf(tenant)).toHaveLength(1);
  });

  test('a wrong secret is a configuration error whose detail and log never carry the secret', async () => {
    const warnings: unknown[] = [];
    const secret = `wrong~${randomUUID()}`;
    const error = await kluisRejection(tokensFor({ clientSecret: secret, logger: { warn: (o: unknown) => warnings.push(o) } }).tokenFor(randomUUID()));
    expect(error.id).toBe('config_invalid');
    expect(error.message).toContain('invalid_client');
    expect(JSON.stringify(warnings)).toContain('config_invalid');
    expect(`${error.message} ${JSON.stringify(warnings)}`).not.toContain(secret);
  });

  test('429 with Retry-After is Entra unavailable, carrying the wait', async () => {
    issuer.enqueueTokenReply({ kind: 'throttled', retryAfterSeconds: 7 });
    const error = await kluisRejection(tokensFor({ maxRetries: 0 }).tokenFor(randomUUID()));
    expect(error.id).toBe('identity_provider_unavailable');
    expect(error.retryAfterSeconds).toBe(7);
  });

  test('a 500 is retried by the SDK and the retry gets the token', async () => {
    const tenant = randomUUID();
    issuer.enqueueTokenReply({ kind: 'server_error' });
    const token = await tokensFor({ maxRetries: 1 }).tokenFor(tenant);
    expect(token).toBe(await issuer.appTokenFor(tenant));
    expect(requestsOf(tenant)).toHaveLength(2);
  });

  test('an endpoint that never answers costs one attempt timeout, then Entra counts as unavailable', async () => {
    const tenant = randomUUID();
    issuer.enqueueTokenReply({ kind: 'hang' });
    const error = await kluisRejection(tokensFor({ attemptTimeoutMs: 300, maxRetries: 0 }).tokenFor(tenant));
    expect(error.id).toBe('identity_provider_unavailable');
    expect(requestsOf(tenant)).toHaveLength(1);
  });

  test('a caller waiting less than the exchange gets unavailable at once; the exchange runs to its own timeout and the next call starts afresh', async () => {
    const tenant = randomUUID();
    const tokens = tokensFor({ attemptTimeoutMs: 400, maxRetries: 1 });
    issuer.enqueueTokenReply({ kind: 'hang' });
    const impatient = await kluisRejection(tokens.tokenFor(tenant, { waitMs: 50 }));
    expect(impatient.message).toContain('no answer within 50 ms');
    // Joins the exchange still in flight, which ends at its attempt timeout (a timeout is not retried).
    const joined = await kluisRejection(tokens.tokenFor(tenant));
    expect(joined.id).toBe('identity_provider_unavailable');
    expect(joined.message).not.toContain('HTTP 200');
    expect(requestsOf(tenant)).toHaveLength(1);
    expect(await tokens.tokenFor(tenant)).toBe(await issuer.appTokenFor(tenant));
    expect(requestsOf(tenant)).toHaveLength(2);
  });

  test('refuses a plain-http authority, a client id that is not a GUID and a malformed tenant', async () => {
    expect(() => tokensFor({ authorityHost: issuer.authorityHost })).toThrow(expect.objectContaining({ id: 'config_invalid' }));
    expect(() => tokensFor({ clientId: 'kluis' })).toThrow(expect.objectContaining({ id: 'config_invalid' }));
    expect(() => tokensFor({ clientSecret: ' ' })).toThrow(expect.objectContaining({ id: 'config_invalid' }));
    for (const tenant of ['', '../common', "x' OR 1=1", 'common']) {
      expect((await kluisRejection(tokensFor().tokenFor(tenant))).id).toBe('internal');
    }
  });
});
