/**
 * Entra ID v2.0 access-token validation against a local issuer over real HTTP (signing keys, issuer
 * and claims as "Microsoft identity platform access tokens" documents them). Each test names the
 * attack or mistake it stops.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { isKluisError, type KluisError } from '../errors';
import { GRAPH_APP_ID, startFakeEntraIssuer, type FakeEntraIssuer } from '../../tests/fakes/entraIssuer';
import { createEntraTokenValidator, MAX_TOKEN_LENGTH, type EntraTokenValidatorOptions } from './entraTokens';

let issuer: FakeEntraIssuer;
/** A second onboarded organisation, for issuer/tid mix-ups between two real tenants. */
const otherAllowedTenant = randomUUID();
let allowed: Set<string>;
let allowListQueries: string[];

beforeAll(async () => {
  issuer = await startFakeEntraIssuer();
});

afterAll(async () => {
  await issuer.close();
});

beforeEach(() => {
  allowed = new Set([issuer.tenantId, otherAllowedTenant]);
  allowListQueries = [];
});

afterEach(() => {
  jest.restoreAllMocks();
});

function validatorFor(overrides: Partial<EntraTokenValidatorOptions> = {}) {
  return createEntraTokenValidator({
    clientId: issuer.clientId,
    audiences: [issuer.clientId, `api://kluis.example/${issuer.clientId}`],
    requiredScope: 'access_as_user',
    isTenantAllowed: async (tenantId) => {
      allowListQueries.push(tenantId);
      return allowed.has(tenantId);
    },
    authorityHost: issuer.authorityHost,
    ...overrides,
  });
}

/** Expects a 401 refusal whose log detail matches `reason` and never contains the token. */
async function expectRefused(token: string, reason: RegExp, validator = validatorFor()): Promise<KluisError> {
  const error = await validator.validate(token).then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!isKluisError(error)) throw new Error(`expected a KluisError, got ${String(error)}`);
  expect(error.id).toBe('unauthenticated');
  expect(error.status).toBe(401);
  expect(error.message).toMatch(reason);
  for (const part of token.split('.')) if (part.length > 8) expect(error.message).not.toContain(part);
  expect(error.publicMessage).toBe('Authentication is required.');
  return error;
}

/** Moves only Date.now (jose's JWKS cooldown clock) forward; token lifetimes keep the real clock. */
function advanceCooldownClock(): { by(ms: number): void } {
  const realNow = Date.now.bind(Date);
  let offset = 0;
  jest.spyOn(Date, 'now').mockImplementation(() => realNow() + offset);
  return { by: (ms) => (offset += ms) };
}

const now = () => Math.floor(Date.now() / 1000);

describe('accepts', () => {
  test('a valid delegated token and yields tid, oid, userKey, roles and scopes', async () => {
    const oid = randomUUID();
    const token = await issuer.issueAccessToken({ oid, scp: 'openid access_as_user Files.Read', roles: ['Kluis.Admin'], name: 'Ada Lovelace', uti: 'uti-1' });
    const identity = await validatorFor().validate(token);
    expect(identity).toEqual({
      tenantId: issuer.tenantId,
      objectId: oid,
      userKey: `${issuer.tenantId}:${oid}`,
      roles: ['Kluis.Admin'],
      scopes: ['openid', 'access_as_user', 'Files.Read'],
      name: 'Ada Lovelace',
      tokenId: 'uti-1',
    });
  });

  test('a token addressed to the Application ID URI (api://...) as well as to the client id', async () => {
    const token = await issuer.issueAccessToken({ aud: `api://kluis.example/${issuer.clientId}` });
    await expect(validatorFor().validate(token)).resolves.toMatchObject({ tenantId: issuer.tenantId });
  });

  test('identifies users by tid and oid only, never by a reusable email or upn (account takeover by name reuse)', async () => {
    const shared = { preferred_username: 'ceo@contoso.example', email: 'ceo@contoso.example', upn: 'ceo@contoso.example' };
    const first = await validatorFor().validate(await issuer.issueAccessToken({ ...shared, oid: randomUUID() }));
    const second = await validatorFor().validate(await issuer.issueAccessToken({ ...shared, oid: randomUUID() }));
    expect(first.userKey).not.toBe(second.userKey);
    expect(JSON.stringify(first)).not.toContain('ceo@contoso.example');
  });
});

describe('algorithm confusion', () => {
  test('rejects an unsigned token with alg none (signature stripping)', async () => {
    const before = issuer.jwksFetches();
    await expectRefused(issuer.unsignedToken(), /algorithm none is not accepted/);
    expect(issuer.jwksFetches()).toBe(before);
  });

  test('rejects HS256 keyed with the public signing key, as PEM or as JWK (RS256/HS256 key confusion)', async () => {
    await expectRefused(await issuer.hmacTokenWithPublicKey({}, 'pem'), /algorithm HS256 is not accepted/);
    await expectRefused(await issuer.hmacTokenWithPublicKey({}, 'jwk'), /algorithm HS256 is not accepted/);
  });

  test('rejects ES256 and PS256 tokens (algorithm substitution)', async () => {
    await expectRefused(await issuer.issueAccessToken({}, { alg: 'ES256' }), /algorithm ES256 is not accepted/);
    await expectRefused(await issuer.issueAccessToken({}, { alg: 'PS256' }), /algorithm PS256 is not accepted/);
  });
});

describe('signing keys', () => {
  test('rejects an unknown kid after one rate-limited key refresh; more unknown kids within the cooldown fetch nothing (key-set refresh flooding)', async () => {
    const clock = advanceCooldownClock();
    const validator = validatorFor({ jwksRefreshCooldownMs: 30_000 });
    const before = issuer.jwksFetches();
    await validator.validate(await issuer.issueAccessToken());
    expect(issuer.jwksFetches()).toBe(before + 1);

    clock.by(31_000);
    await expectRefused(await issuer.issueAccessToken({}, { kid: 'unknown-kid-1' }), /no published Entra signing key has this kid/, validator);
    expect(issuer.jwksFetches()).toBe(before + 2);

    for (const kid of ['unknown-kid-2', 'unknown-kid-3', 'unknown-kid-4']) {
      await expectRefused(await issuer.issueAccessToken({}, { kid }), /no published Entra signing key has this kid/, validator);
    }
    expect(issuer.jwksFetches()).toBe(before + 2);
  });

  test('accepts a token signed with a newly published key after one refresh (key rollover)', async () => {
    const isolated = await startFakeEntraIssuer({ clientId: issuer.clientId, tenantId: issuer.tenantId });
    try {
      const clock = advanceCooldownClock();
      const validator = validatorFor({ authorityHost: isolated.authorityHost });
      const oid = randomUUID();
      await validator.validate(await isolated.issueAccessToken({ oid }));
      await isolated.rotateKeys();
      const rotatedToken = await isolated.issueAccessToken({ oid }, { key: 'rotated' });

      // Inside the cooldown the new kid is not fetched yet.
      await expectRefused(rotatedToken, /no published Entra signing key has this kid/, validator);
      expect(isolated.jwksFetches()).toBe(1);

      clock.by(31_000);
      await expect(validator.validate(rotatedToken)).resolves.toMatchObject({ objectId: oid });
      expect(isolated.jwksFetches()).toBe(2);
      // The old key stays valid while Entra still publishes it.
      await expect(validator.validate(await isolated.issueAccessToken({ oid }))).resolves.toMatchObject({ objectId: oid });
      expect(isolated.jwksFetches()).toBe(2);
    } finally {
      await isolated.close();
    }
  });

  test('rejects a token signed by a key Entra publishes for another tenant only (signing-key issuer)', async () => {
    const isolated = await startFakeEntraIssuer({ clientId: issuer.clientId, tenantId: issuer.tenantId });
    try {
      await isolated.rotateKeys({ onlyForTenant: otherAllowedTenant });
      const token = await isolated.issueAccessToken({}, { key: 'rotated' });
      await expectRefused(token, /signing-key issuer mismatch/, validatorFor({ authorityHost: isolated.authorityHost }));
      // The same key is good for the tenant it was published for.
      const own = await isolated.issueAccessToken({ tid: otherAllowedTenant }, { key: 'rotated' });
      await expect(validatorFor({ authorityHost: isolated.authorityHost }).validate(own)).resolves.toMatchObject({ tenantId: otherAllowedTenant });
    } finally {
      await isolated.close();
    }
  });

  test('rejects a token whose payload was changed after signing (signature mismatch)', async () => {
    const [header, payload, signature] = (await issuer.issueAccessToken({ roles: [] })).split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
    const forged = Buffer.from(JSON.stringify({ ...claims, roles: ['Kluis.Admin'] })).toString('base64url');
    await expectRefused(`${header}.${forged}.${signature}`, /signature does not verify/);
  });

  test('answers identity_provider_unavailable (not 401) when the signing keys cannot be downloaded', async () => {
    const token = await issuer.issueAccessToken();
    issuer.failJwks(500);
    try {
      await expect(validatorFor().validate(token)).rejects.toMatchObject({ id: 'identity_provider_unavailable', status: 503 });
    } finally {
      issuer.failJwks(null);
    }

    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const { port } = closed.address() as AddressInfo;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const error = await validatorFor({ authorityHost: `http://127.0.0.1:${port}` })
      .validate(token)
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ id: 'identity_provider_unavailable' });
    expect((error as Error).message).not.toContain(token.split('.')[2]);
  });
});

describe('lifetime', () => {
  test('rejects an expired token beyond the clock skew (replay of an old token)', async () => {
    await expectRefused(await issuer.issueAccessToken({ iat: now() - 7200, nbf: now() - 7200, exp: now() - 120 }), /expired/);
  });

  test('accepts a token that expired within the clock skew', async () => {
    const token = await issuer.issueAccessToken({ iat: now() - 3600, nbf: now() - 3600, exp: now() - 30 });
    await expect(validatorFor().validate(token)).resolves.toMatchObject({ tenantId: issuer.tenantId });
  });

  test('rejects a token not yet valid beyond the clock skew (pre-dated token)', async () => {
    await expectRefused(await issuer.issueAccessToken({ nbf: now() + 300, exp: now() + 3900 }), /not yet valid/);
  });

  test('accepts a token whose nbf is within the clock skew (small clock difference)', async () => {
    const token = await issuer.issueAccessToken({ nbf: now() + 30, exp: now() + 3630 });
    await expect(validatorFor().validate(token)).resolves.toMatchObject({ tenantId: issuer.tenantId });
  });

  test('rejects a token without exp (a token that never expires)', async () => {
    await expectRefused(await issuer.issueAccessToken({ exp: undefined }), /claim exp is missing/);
  });
});

describe('audience', () => {
  test('rejects a token issued to another application (token forwarding between apps)', async () => {
    await expectRefused(await issuer.issueAccessToken({ aud: randomUUID() }), /audience .* is not Kluis/);
  });

  test('rejects a token meant for Microsoft Graph (confused deputy with a Graph token)', async () => {
    await expectRefused(await issuer.issueAccessToken({ aud: GRAPH_APP_ID }), /audience 00000003-0000-0000-c000-000000000000 is not Kluis/);
    await expectRefused(await issuer.issueAccessToken({ aud: 'https://graph.microsoft.com' }), /audience https:\/\/graph.microsoft.com is not Kluis/);
  });
});

describe('issuer and tenant', () => {
  test('rejects a token from another issuer host (look-alike authority)', async () => {
    await expectRefused(await issuer.issueAccessToken({ iss: `https://login.microsoftonline.evil.example/${issuer.tenantId}/v2.0` }), /is not the expected Entra v2.0 issuer/);
    await expectRefused(await issuer.issueAccessToken({ iss: `https://sts.windows.net/${issuer.tenantId}/` }), /is not the expected Entra v2.0 issuer/);
  });

  test('rejects an issuer of tenant A carrying the tid of tenant B (issuer/tid mismatch)', async () => {
    const token = await issuer.issueAccessToken({ tid: otherAllowedTenant, iss: `${issuer.authorityHost}/${issuer.tenantId}/v2.0` });
    await expectRefused(token, /issuer\/tid mismatch/);
  });

  test('rejects a signature-valid token from a tenant not on the allow list, without fetching keys (cross-tenant bypass)', async () => {
    const stranger = randomUUID();
    const token = await issuer.issueAccessToken({ tid: stranger });
    const before = issuer.jwksFetches();
    await expectRefused(token, /not on the allow list/);
    expect(issuer.jwksFetches()).toBe(before);
    expect(allowListQueries).toEqual([stranger]);
  });

  test('rejects a token whose tid is missing or not a GUID (tenant smuggling)', async () => {
    await expectRefused(await issuer.issueAccessToken({ tid: undefined }), /tid is missing or not a GUID/);
    await expectRefused(await issuer.issueAccessToken({ tid: 'common' }), /tid is missing or not a GUID/);
    expect(allowListQueries).toEqual([]);
  });
});

describe('user and scope', () => {
  test('rejects a scp that only contains the required scope as a substring (scope substring attack)', async () => {
    for (const scp of ['access_as_user_admin', 'xaccess_as_user', 'access_as_users', 'Access_As_User', 'openid,access_as_user']) {
      await expectRefused(await issuer.issueAccessToken({ scp }), /scope access_as_user is not granted/);
    }
  });

  test('rejects an app-only token with roles and no scp at a user door (application impersonating a user)', async () => {
    await expectRefused(await issuer.issueAccessToken({ scp: undefined, roles: ['Files.Read.All'], idtyp: 'app' }), /app-only token/);
    await expectRefused(await issuer.issueAccessToken({ scp: undefined, idtyp: undefined }), /scp is missing/);
  });

  test('rejects a token without oid (no stable user)', async () => {
    await expectRefused(await issuer.issueAccessToken({ oid: undefined }), /oid is missing/);
  });

  test('rejects an oid that is not a GUID (identity spoofing with a name)', async () => {
    await expectRefused(await issuer.issueAccessToken({ oid: 'ceo@contoso.example' }), /oid is not a GUID/);
  });

  test('rejects a v1.0 token (claims read with the wrong semantics)', async () => {
    await expectRefused(await issuer.issueAccessToken({ ver: '1.0' }), /version 1.0 is not 2.0/);
  });
});

describe('input handling', () => {
  test('refuses a token over 16 KB before parsing it (resource exhaustion)', async () => {
    const token = await issuer.issueAccessToken({ padding: 'x'.repeat(MAX_TOKEN_LENGTH) });
    expect(token.length).toBeGreaterThan(MAX_TOKEN_LENGTH);
    const before = issuer.jwksFetches();
    await expectRefused(token, /over the 16384 limit/);
    expect(allowListQueries).toEqual([]);
    expect(issuer.jwksFetches()).toBe(before);
  });

  test('refuses tokens that are not compact JWS (malformed input)', async () => {
    for (const token of ['', 'Bearer abc.def.ghi', 'abc.def', 'a.b.c.d.e', 'eyJhbGciOiJSUzI1NiJ9.bm90IGpzb24.c2ln']) {
      await expectRefused(token, /no token|not a compact JWS|not valid JSON/);
    }
  });
});

describe('configuration', () => {
  test('refuses a plain-http authority other than a local one (keys swapped in transit)', () => {
    expect(() => validatorFor({ authorityHost: 'http://login.microsoftonline.com' })).toThrow(expect.objectContaining({ id: 'config_invalid' }));
  });
});
