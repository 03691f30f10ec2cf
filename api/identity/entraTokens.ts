/**
 * Validation of the Entra ID (Microsoft identity platform) v2.0 access tokens that Kluis's Teams tab,
 * Outlook add-in and API clients send as `Authorization: Bearer`.
 *
 * Implements "Microsoft identity platform access tokens: validate tokens" and the "Access token
 * claims reference", for a multi-tenant API:
 * - the signature (RS256 only) is checked with the signing keys Entra publishes for all tenants at
 *   `/common/discovery/v2.0/keys` ("OpenID Connect on the Microsoft identity platform");
 * - because those keys are shared, a valid signature proves only that Entra issued the token, not for
 *   which organisation, so the issuer is checked per token as `{authority}/{tid}/v2.0` with the
 *   token's own `tid`, and the tenant must be one Kluis has onboarded ("Convert single-tenant app to
 *   multitenant: update your code to handle multiple issuer values");
 * - the user is `tid` + `oid` ("Access token claims reference": oid is the immutable identifier of
 *   the user across applications; email, upn and preferred_username are mutable and can be reused, so
 *   they never identify anyone here);
 * - delegated access is proven by `scp`, application access by `roles` with `idtyp=app`
 *   ("Protected web API: verify scopes and app roles"); user doors accept delegated tokens only.
 *
 * Every refusal is KluisError 'unauthenticated' whose detail says why (for the log) without the
 * token; when the keys cannot be fetched the answer is 'identity_provider_unavailable' (503), so an
 * outage at Entra is not mistaken for a bad token.
 */
import { createRemoteJWKSet, decodeJwt, decodeProtectedHeader, errors as joseErrors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { fail, isKluisError } from '../errors';

export interface EntraTokenValidatorOptions {
  /** Kluis API's application (client) id. */
  clientId: string;
  /** Accepted `aud` values: the client id and the Application ID URI (`api://...`). */
  audiences: string[];
  /** The delegated scope user doors require, e.g. 'access_as_user'. */
  requiredScope: string;
  /** Whether a tenant is onboarded; asked before any key is fetched or signature checked. */
  isTenantAllowed(tenantId: string): Promise<boolean>;
  /** Default https://login.microsoftonline.com; tests point this at a local issuer. */
  authorityHost?: string;
  /** Allowed clock skew for exp and nbf, in seconds. Default 60. */
  clockToleranceSeconds?: number;
  /** Minimum time between key-set downloads caused by an unknown kid. Default 30000 ms. */
  jwksRefreshCooldownMs?: number;
}

export interface EntraIdentity {
  tenantId: string;
  objectId: string;
  /** `${tenantId}:${objectId}`: the only stable key for a user. */
  userKey: string;
  roles: string[];
  scopes: string[];
  /** Display name, for greetings only; never for identity or authorisation. */
  name?: string;
  /** The token's `uti` (Entra's token identifier), for audit trails. */
  tokenId?: string;
}

export interface EntraTokenValidator {
  validate(token: string): Promise<EntraIdentity>;
}

export const DEFAULT_AUTHORITY_HOST = 'https://login.microsoftonline.com';

/**
 * Entra access tokens are a few kilobytes even with many claims (groups overage replaces long group
 * lists: "Access token claims reference", groups); anything larger is refused before it is parsed.
 */
export const MAX_TOKEN_LENGTH = 16 * 1024;

/** Microsoft identity platform tokens are signed with RS256 ("Access tokens: validate the signature"). */
const ACCEPTED_ALGORITHM = 'RS256';
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;
const JWKS_TIMEOUT_MS = 5_000;
/** Entra asks clients to cache metadata and keys for about 24 hours; an unknown kid refreshes sooner. */
const JWKS_CACHE_MAX_AGE_MS = 24 * 60 * 60 * 1000;

export function createEntraTokenValidator(options: EntraTokenValidatorOptions): EntraTokenValidator {
  const authorityHost = normaliseAuthorityHost(options.authorityHost ?? DEFAULT_AUTHORITY_HOST);
  if (!GUID.test(options.clientId)) fail('config_invalid', 'Entra token validator: clientId must be a GUID');
  const audiences = [...new Set(options.audiences.filter((a) => a.trim() !== ''))];
  if (audiences.length === 0) fail('config_invalid', 'Entra token validator: at least one audience is required');
  const requiredScope = options.requiredScope.trim();
  if (requiredScope === '' || /\s/.test(requiredScope)) fail('config_invalid', 'Entra token validator: requiredScope must be one scope name');
  const clockTolerance = options.clockToleranceSeconds ?? 60;
  const cooldownDuration = options.jwksRefreshCooldownMs ?? 30_000;

  // One key set for every tenant: Entra signs all tenants' tokens with the keys at /common.
  const remoteKeys = createRemoteJWKSet(new URL(`${authorityHost}/common/discovery/v2.0/keys`), {
    cooldownDuration,
    cacheMaxAge: JWKS_CACHE_MAX_AGE_MS,
    timeoutDuration: JWKS_TIMEOUT_MS,
  });

  // jose reports a failed download with the same error types as a bad key set; separate the two so
  // an Entra outage answers 503 and only a key that is genuinely unknown answers 401.
  const signingKey: JWTVerifyGetKey = async (header, token) => {
    try {
      return await remoteKeys(header, token);
    } catch (error) {
      if (error instanceof joseErrors.JWKSNoMatchingKey || error instanceof joseErrors.JWKSMultipleMatchingKeys) throw error;
      return fail('identity_provider_unavailable', `Entra signing keys could not be fetched: ${describe(error)}`);
    }
  };

  return {
    async validate(token: string): Promise<EntraIdentity> {
      // 1. Shape and size, before any parsing.
      if (typeof token !== 'string' || token.length === 0) reject('no token');
      if (token.length > MAX_TOKEN_LENGTH) reject(`token is ${token.length} characters, over the ${MAX_TOKEN_LENGTH} limit`);
      if (!COMPACT_JWS.test(token)) reject('not a compact JWS (three base64url parts)');

      // 2. Unverified header and payload: only to refuse cheaply and to pick the issuer to expect.
      let header: ReturnType<typeof decodeProtectedHeader>;
      let unverified: JWTPayload;
      try {
        header = decodeProtectedHeader(token);
        unverified = decodeJwt(token);
      } catch {
        return reject('header or payload is not valid JSON');
      }
      // Algorithm confusion (alg none, HS256 keyed with the public key, ES256, PS256): only RS256.
      if (header.alg !== ACCEPTED_ALGORITHM) reject(`algorithm ${printable(header.alg)} is not accepted`);
      if (typeof header.kid !== 'string' || header.kid === '') reject('no kid in the header');
      const unverifiedTid = unverified.tid;
      if (typeof unverifiedTid !== 'string' || !GUID.test(unverifiedTid)) reject('tid is missing or not a GUID');
      // Cross-tenant bypass: any Entra tenant can mint a signature-valid token for a multi-tenant
      // app, so an organisation that is not onboarded is refused before keys are fetched at all.
      if (!(await options.isTenantAllowed(unverifiedTid.toLowerCase()))) reject(`tenant ${unverifiedTid} is not on the allow list`);

      // 3. Signature, issuer, audience and lifetime.
      const expectedIssuer = `${authorityHost}/${unverifiedTid}/v2.0`;
      let payload: JWTPayload;
      try {
        ({ payload } = await jwtVerify(token, signingKey, {
          algorithms: [ACCEPTED_ALGORITHM],
          issuer: expectedIssuer,
          audience: audiences,
          clockTolerance,
          requiredClaims: ['exp', 'nbf', 'iat'],
        }));
      } catch (error) {
        if (isKluisError(error)) throw error;
        return reject(verificationFailure(error, unverified, authorityHost));
      }

      // 4. Entra specifics, on verified claims only.
      const tenantId = unverifiedTid.toLowerCase();
      // Kluis's app manifest asks for v2.0 tokens (accessTokenAcceptedVersion 2); a v1.0 token has
      // other claim semantics and issuer, so it is not read as if it were v2.0.
      if (payload.ver !== '2.0') reject(`token version ${printable(payload.ver)} is not 2.0`);
      if (typeof payload.aud !== 'string') reject('aud is not a single value');
      checkSigningKeyIssuer(remoteKeys, header.kid, tenantId, payload.iss);

      const oid = payload.oid;
      if (typeof oid !== 'string' || oid === '') reject('oid is missing');
      if (!GUID.test(oid)) reject('oid is not a GUID');

      const roles = stringList(payload.roles);
      const scp = payload.scp;
      if (scp === undefined) {
        // "Protected web API: verify scopes and app roles": a token with roles and no scp is an
        // application acting as itself (idtyp=app), with no user behind it.
        reject(payload.idtyp === 'app' || roles.length > 0 ? 'app-only token (no scp) at a user door' : 'scp is missing');
      }
      if (typeof scp !== 'string') return reject('scp is not a string');
      // Exact scope names split on spaces: 'access_as_user_admin' or 'xaccess_as_user' must not match.
      const scopes = scp.split(' ').filter((s) => s !== '');
      if (!scopes.includes(requiredScope)) reject(`scope ${requiredScope} is not granted`);
      if (payload.idtyp !== undefined && payload.idtyp !== 'user') reject(`idtyp ${printable(payload.idtyp)} is not a user`);

      const objectId = oid.toLowerCase();
      return {
        tenantId,
        objectId,
        userKey: `${tenantId}:${objectId}`,
        roles,
        scopes,
        ...(typeof payload.name === 'string' ? { name: payload.name } : {}),
        ...(typeof payload.uti === 'string' ? { tokenId: payload.uti } : typeof payload.jti === 'string' ? { tokenId: payload.jti } : {}),
      };
    },
  };
}

/**
 * Each key in Entra's key set names the issuer it may sign for, usually the `{tenantid}` template
 * shared by all tenants. Microsoft's own validators (Microsoft.IdentityModel's Entra ID signing-key
 * issuer check) compare it with the token's issuer, so a key published for one tenant only cannot
 * vouch for another tenant's tokens; Kluis does the same.
 */
function checkSigningKeyIssuer(keys: ReturnType<typeof createRemoteJWKSet>, kid: string, tenantId: string, tokenIssuer: unknown): void {
  const jwk = keys.jwks()?.keys.find((k) => k.kid === kid) as { issuer?: unknown } | undefined;
  if (jwk === undefined || jwk.issuer === undefined) return;
  if (typeof jwk.issuer !== 'string' || jwk.issuer.replace('{tenantid}', tenantId).toLowerCase() !== String(tokenIssuer).toLowerCase()) {
    reject('the signing key is not published for this tenant (signing-key issuer mismatch)');
  }
}

/** A log-friendly reason for a failed jwtVerify; never includes the token. */
function verificationFailure(error: unknown, unverified: JWTPayload, authorityHost: string): string {
  if (error instanceof joseErrors.JWTExpired) return 'token has expired';
  if (error instanceof joseErrors.JWTClaimValidationFailed) {
    if (error.claim === 'iss') {
      const iss = typeof unverified.iss === 'string' ? unverified.iss : '';
      const match = /^(.*)\/([0-9a-f-]{36})\/v2\.0$/i.exec(iss);
      if (match && match[1] === authorityHost) return `issuer names tenant ${printable(match[2])} but tid is ${printable(unverified.tid)} (issuer/tid mismatch)`;
      return `issuer ${printable(iss)} is not the expected Entra v2.0 issuer for this tenant`;
    }
    if (error.claim === 'aud') return `audience ${printable(Array.isArray(unverified.aud) ? unverified.aud.join(',') : unverified.aud)} is not Kluis`;
    if (error.reason === 'missing') return `claim ${printable(error.claim)} is missing`;
    if (error.claim === 'nbf') return 'token is not yet valid (nbf in the future)';
    return `claim ${printable(error.claim)} failed: ${printable(error.reason)}`;
  }
  if (error instanceof joseErrors.JWSSignatureVerificationFailed) return 'signature does not verify';
  if (error instanceof joseErrors.JWKSNoMatchingKey) return 'no published Entra signing key has this kid';
  if (error instanceof joseErrors.JWKSMultipleMatchingKeys) return 'several published signing keys match this kid';
  if (error instanceof joseErrors.JOSEAlgNotAllowed) return 'algorithm is not accepted';
  if (error instanceof joseErrors.JOSEError) return `token rejected (${error.code})`;
  return 'token rejected';
}

function reject(detail: string): never {
  return fail('unauthenticated', `Entra access token refused: ${detail}`);
}

function stringList(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

/** Token fields are attacker-controlled: keep them short and printable before they reach a log. */
function printable(value: unknown): string {
  const text = typeof value === 'string' ? value : value === undefined ? '(none)' : JSON.stringify(value) ?? String(value);
  return text.replace(/[^\x20-\x7e]/g, '?').slice(0, 80);
}

function describe(error: unknown): string {
  if (error instanceof joseErrors.JOSEError) return `${error.code}: ${error.message}`;
  if (error instanceof Error) return error.cause instanceof Error ? `${error.message} (${error.cause.message})` : error.message;
  return 'unknown error';
}

function normaliseAuthorityHost(host: string): string {
  let url: URL;
  try {
    url = new URL(host);
  } catch {
    return fail('config_invalid', 'Entra authority host is not a URL');
  }
  // Keys fetched over plain http could be swapped in transit; only a local test issuer may use it.
  const loopback = url.hostname === '127.0.0.1' || url.hostname === 'localhost' || url.hostname === '[::1]';
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback)) fail('config_invalid', 'Entra authority host must use https');
  if (url.pathname !== '/' || url.search !== '' || url.hash !== '') fail('config_invalid', 'Entra authority host must be an origin without a path');
  return url.origin;
}
