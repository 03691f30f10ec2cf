/**
 * A local stand-in for the Microsoft identity platform (Entra ID) v2.0 endpoints, spoken over real
 * HTTP so token validation (jose's remote JWKS) and On-Behalf-Of (@azure/identity and MSAL) run
 * exactly as they would against login.microsoftonline.com.
 *
 * Wire formats as Microsoft documents them:
 * - "OpenID Connect on the Microsoft identity platform": `/{tenant}/v2.0/.well-known/openid-configuration`
 *   and the signing keys at `/common/discovery/v2.0/keys` (one key set shared by every tenant; each
 *   key names its issuer as `https://login.microsoftonline.com/{tenantid}/v2.0`).
 * - "Access tokens in the Microsoft identity platform" / "Access token claims reference": the v2.0
 *   claims (aud, iss, tid, oid, scp, roles, idtyp, ver, uti, ...), RS256 signatures with a `kid` header.
 * - "Microsoft identity platform and OAuth 2.0 On-Behalf-Of flow": `POST /{tenant}/oauth2/v2.0/token`
 *   with grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer and requested_token_use=on_behalf_of;
 *   the success JSON `{ token_type, scope, expires_in, ext_expires_in, access_token }` and the error
 *   JSON `{ error, error_description, error_codes, timestamp, trace_id, correlation_id, suberror?, claims? }`.
 *
 * It listens twice on 127.0.0.1: plain HTTP (`authorityHost`), used by the token validator, and
 * HTTPS (`tlsAuthorityHost`) with a throw-away self-signed certificate (`caCertificate`), because
 * MSAL and @azure/identity refuse any authority that is not https.
 */
import { createHmac, generateKeyPair as generateNodeKeyPair, randomBytes, randomUUID, sign as signBytes, type KeyObject } from 'node:crypto';
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { promisify } from 'node:util';
import { decodeJwt, exportJWK, exportSPKI, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import { closeServer, listenOnLoopback } from './fakeHttpService';

/** The app id Microsoft Graph tokens carry as their audience ("Microsoft Graph" first-party app). */
export const GRAPH_APP_ID = '00000003-0000-0000-c000-000000000000';
/** The Teams web client, one of the Microsoft clients that asks for tokens for a Teams tab's API. */
export const TEAMS_WEB_CLIENT_ID = '5e3ce6c0-2b1f-4285-8d4b-75ee78787346';

/** Claims to set on an issued token; a claim set to `undefined` is left out of the token. */
export type ClaimOverrides = Record<string, unknown>;

export interface IssueOptions {
  /** Header `alg`; RS256 unless an attack needs another (ES256 signs with a throw-away EC key). */
  alg?: 'RS256' | 'PS256' | 'ES256';
  /** Header `kid`; defaults to the kid of the signing key. */
  kid?: string;
  /** Sign with the key added by `rotateKeys()` instead of the original one. */
  key?: 'primary' | 'rotated';
}

/** One scripted answer for the next token-endpoint request. */
export type TokenReply =
  /** 200 with a token, optionally with a chosen lifetime. */
  | { kind: 'token'; expiresIn?: number }
  /** 400 invalid_grant, e.g. AADSTS65001 with suberror consent_required, or a Conditional Access challenge. */
  | { kind: 'invalid_grant'; suberror?: string; errorCodes?: number[]; claims?: string; description?: string }
  /** 400 interaction_required, e.g. AADSTS50079 (MFA enrolment) with a claims challenge. */
  | { kind: 'interaction_required'; errorCodes?: number[]; claims?: string; description?: string }
  /** 429 with Retry-After. */
  | { kind: 'throttled'; retryAfterSeconds: number }
  /** 500 server_error. */
  | { kind: 'server_error' }
  /** The request is accepted and never answered (until close). */
  | { kind: 'hang' };

export interface TokenRequestRecord {
  tenant: string;
  grantType: string | undefined;
  requestedTokenUse: string | undefined;
  scope: string | undefined;
  clientId: string | undefined;
  /** Whether client_secret matched; the secret itself is not kept. */
  clientSecretValid: boolean;
  /** tid and oid read from the assertion; the assertion itself is not kept. */
  assertionTid?: string;
  assertionOid?: string;
}

export interface FakeEntraIssuer {
  /** http://127.0.0.1:port, for the token validator. */
  authorityHost: string;
  /** https://127.0.0.1:port, for MSAL / @azure/identity (which require https). */
  tlsAuthorityHost: string;
  /** PEM certificate the HTTPS listener presents; trust it as the only CA in tests. */
  caCertificate: string;
  /** The API's app id (default audience) and the OBO client credentials the token endpoint accepts. */
  clientId: string;
  clientSecret: string;
  tenantId: string;
  /** Number of JWKS downloads (common and tenant paths) since start. */
  jwksFetches(): number;
  tokenRequests: TokenRequestRecord[];
  /** Every request seen, as `METHOD path` (no query, no body), for checking what went over the wire. */
  requestLog: string[];
  /** The Kluis settings that make a Kluis trust this issuer (ENTRA_CLIENT_ID, ENTRA_API_URI, ENTRA_AUTHORITY_HOST). */
  kluisSettings(): Record<'ENTRA_CLIENT_ID' | 'ENTRA_API_URI' | 'ENTRA_AUTHORITY_HOST', string>;
  /** A user access token of `tid`/`oid` with these app roles, issued by the tenant's v2.0 issuer. */
  bearerFor(tid: string, oid: string, roles?: string[]): Promise<string>;
  /** A v2.0 user access token for Kluis's API, signed and issued as Entra would (see DEFAULT claims). */
  issueAccessToken(claims?: ClaimOverrides, options?: IssueOptions): Promise<string>;
  /** The claims `issueAccessToken` would use, for tests that build tokens by hand. */
  accessTokenClaims(claims?: ClaimOverrides): Record<string, unknown>;
  /** An unsigned token, header `{"alg":"none"}` (RFC 7519 "Unsecured JWT"). */
  unsignedToken(claims?: ClaimOverrides): string;
  /** HS256 keyed with the public signing key's bytes (PEM or JWK JSON): the key-confusion attack. */
  hmacTokenWithPublicKey(claims?: ClaimOverrides, secretForm?: 'pem' | 'jwk'): Promise<string>;
  /**
   * Publish a second signing key with a new kid, as Entra does before it rolls over; with
   * `onlyForTenant` the key's issuer names that one tenant instead of the `{tenantid}` template.
   */
  rotateKeys(options?: { onlyForTenant?: string }): Promise<{ kid: string }>;
  /** Make JWKS downloads answer with this status (e.g. 500) until cleared with `null`. */
  failJwks(status: number | null): void;
  enqueueTokenReply(...replies: TokenReply[]): void;
  /**
   * The app-only Graph token the client credentials grant issues for this tenant (one per tenant,
   * so a fake Graph can be told to accept it).
   */
  appTokenFor(tenant: string): Promise<string>;
  close(): Promise<void>;
}

interface SigningKey {
  kid: string;
  /** Set for a key Entra publishes for one tenant only (e.g. an app's own signing key). */
  issuerTenant?: string;
  privateKey: CryptoKey;
  publicJwk: JWK;
  publicPem: string;
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export async function startFakeEntraIssuer(
  options: { clientId?: string; clientSecret?: string; tenantId?: string } = {},
): Promise<FakeEntraIssuer> {
  const clientId = options.clientId ?? randomUUID();
  const clientSecret = options.clientSecret ?? `secret~${randomBytes(18).toString('base64url')}`;
  const tenantId = options.tenantId ?? randomUUID();

  const primary = await newSigningKey();
  let rotated: SigningKey | undefined;
  let jwksFetchCount = 0;
  let jwksFailureStatus: number | null = null;
  const tokenRequests: TokenRequestRecord[] = [];
  const requestLog: string[] = [];
  const tokenQueue: TokenReply[] = [];

  const tls = await selfSignedCertificate();
  const plain = createHttpServer((req, res) => dispatch(req, res, 'http'));
  const secure = createHttpsServer({ key: tls.keyPem, cert: tls.certPem }, (req, res) => dispatch(req, res, 'https'));
  const httpPort = await listenOnLoopback(plain);
  const httpsPort = await listenOnLoopback(secure);
  const authorityHost = `http://127.0.0.1:${httpPort}`;
  const tlsAuthorityHost = `https://127.0.0.1:${httpsPort}`;

  function dispatch(req: IncomingMessage, res: ServerResponse, scheme: 'http' | 'https'): void {
    void handle(req, res, scheme === 'http' ? authorityHost : tlsAuthorityHost).catch(() => {
      if (!res.headersSent) sendJson(res, 500, entraError('server_error', 50000, 'There was an error issuing a token.'));
      else res.destroy();
    });
  }

  async function handle(req: IncomingMessage, res: ServerResponse, origin: string): Promise<void> {
    const raw = await readBody(req);
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    requestLog.push(`${req.method ?? 'GET'} ${path}`);
    const segments = path.split('/').filter((s) => s.length > 0);

    // Keys: /common/discovery/v2.0/keys (and the tenant-specific /{tenant}/discovery/v2.0/keys).
    if (req.method === 'GET' && segments.length === 4 && segments.slice(1).join('/') === 'discovery/v2.0/keys') {
      jwksFetchCount += 1;
      if (jwksFailureStatus !== null) {
        sendJson(res, jwksFailureStatus, entraError('server_error', 50000, 'The signing keys are unavailable.'));
        return;
      }
      sendJson(res, 200, { keys: publishedKeys().map((key) => jwksEntry(key, origin)) });
      return;
    }

    // OpenID Connect metadata for one tenant, addressed on whichever listener was asked.
    if (req.method === 'GET' && segments.length === 4 && segments.slice(1).join('/') === 'v2.0/.well-known/openid-configuration') {
      const tenant = segments[0] ?? 'common';
      sendJson(res, 200, openIdConfiguration(origin, tenant));
      return;
    }

    if (req.method === 'POST' && segments.length === 4 && segments.slice(1).join('/') === 'oauth2/v2.0/token') {
      await tokenEndpoint(res, segments[0] ?? '', new URLSearchParams(raw));
      return;
    }

    sendJson(res, 404, entraError('invalid_request', 90002, `The endpoint ${path} does not exist.`));
  }

  async function tokenEndpoint(res: ServerResponse, tenant: string, form: URLSearchParams): Promise<void> {
    const assertion = form.get('assertion') ?? undefined;
    let assertionClaims: Record<string, unknown> | undefined;
    try {
      assertionClaims = assertion === undefined ? undefined : (decodeJwt(assertion) as Record<string, unknown>);
    } catch {
      assertionClaims = undefined;
    }
    const record: TokenRequestRecord = {
      tenant,
      grantType: form.get('grant_type') ?? undefined,
      requestedTokenUse: form.get('requested_token_use') ?? undefined,
      scope: form.get('scope') ?? undefined,
      clientId: form.get('client_id') ?? undefined,
      clientSecretValid: form.get('client_secret') === clientSecret,
      assertionTid: typeof assertionClaims?.tid === 'string' ? assertionClaims.tid : undefined,
      assertionOid: typeof assertionClaims?.oid === 'string' ? assertionClaims.oid : undefined,
    };
    tokenRequests.push(record);

    if (!GUID.test(tenant)) {
      sendJson(res, 400, entraError('invalid_request', 90002, `Tenant '${tenant}' not found.`));
      return;
    }
    if (record.clientId !== clientId) {
      sendJson(res, 400, entraError('unauthorized_client', 700016, `Application with identifier '${record.clientId ?? ''}' was not found in the directory.`));
      return;
    }
    if (!record.clientSecretValid) {
      sendJson(res, 401, entraError('invalid_client', 7000215, 'Invalid client secret provided.'));
      return;
    }
    if (record.grantType === 'client_credentials') {
      await clientCredentials(res, tenant, record.scope ?? '');
      return;
    }
    if (record.grantType !== 'urn:ietf:params:oauth:grant-type:jwt-bearer' || record.requestedTokenUse !== 'on_behalf_of') {
      sendJson(res, 400, entraError('unsupported_grant_type', 70003, 'The app requested an unsupported grant type.'));
      return;
    }
    if (assertionClaims === undefined || record.assertionOid === undefined || record.assertionTid !== tenant) {
      sendJson(res, 400, entraError('invalid_grant', 50013, 'Assertion failed signature validation.'));
      return;
    }
    const scope = record.scope ?? '';
    if (scope.trim() === '') {
      sendJson(res, 400, entraError('invalid_scope', 70011, 'The provided value for the input parameter scope is not valid.'));
      return;
    }

    const reply = tokenQueue.shift() ?? { kind: 'token' };
    if (reply.kind !== 'token' && replyFailure(res, reply)) return;
    switch (reply.kind) {
      case 'token': {
        const expiresIn = reply.expiresIn ?? 3599;
        const accessToken = await downstreamToken(tenant, assertionClaims, scope, expiresIn);
        sendJson(res, 200, {
          token_type: 'Bearer',
          // Entra answers with the resource's scopes without the resource prefix and without offline_access.
          scope: scope
            .split(' ')
            .filter((s) => s && !['openid', 'profile', 'offline_access'].includes(s))
            .map((s) => s.replace(/^https:\/\/graph\.microsoft\.com\//, ''))
            .join(' '),
          expires_in: expiresIn,
          ext_expires_in: expiresIn,
          access_token: accessToken,
        });
        return;
      }
      case 'invalid_grant':
        sendJson(res, 400, {
          ...entraError(
            'invalid_grant',
            reply.errorCodes ?? [reply.suberror === 'consent_required' ? 65001 : 50076],
            reply.description ??
              (reply.suberror === 'consent_required'
                ? `The user or administrator has not consented to use the application with ID '${clientId}' named 'Kluis'. Send an interactive authorization request for this user and resource.`
                : 'Due to a configuration change made by your administrator, or because you moved to a new location, you must use multi-factor authentication to access this resource.'),
          ),
          ...(reply.suberror === undefined ? {} : { suberror: reply.suberror }),
          ...(reply.claims === undefined ? {} : { claims: reply.claims }),
        });
        return;
      case 'interaction_required':
        sendJson(res, 400, {
          ...entraError(
            'interaction_required',
            reply.errorCodes ?? [50079],
            reply.description ?? 'Due to a configuration change made by your administrator, or because you moved to a new location, you must enroll in multi-factor authentication to access this resource.',
          ),
          ...(reply.claims === undefined ? {} : { claims: reply.claims }),
        });
        return;
    }
  }

  /** Answers the replies every grant shares (throttling, outage, no answer); false for the others. */
  function replyFailure(res: ServerResponse, reply: TokenReply): boolean {
    switch (reply.kind) {
      case 'throttled':
        sendJson(res, 429, entraError('temporarily_unavailable', 90055, 'There are too many incoming requests. Please try again later.'), {
          'retry-after': String(reply.retryAfterSeconds),
        });
        return true;
      case 'server_error':
        sendJson(res, 500, entraError('server_error', 50000, 'There was an error issuing a token or an issue with our sign-in service.'));
        return true;
      case 'hang':
        return true;
      default:
        return false;
    }
  }

  /**
   * "Microsoft identity platform and the OAuth 2.0 client credentials flow": the scope must be a
   * resource's `/.default` (AADSTS1002012 otherwise); the answer has no refresh token and no scope.
   */
  async function clientCredentials(res: ServerResponse, tenant: string, scope: string): Promise<void> {
    if (scope !== 'https://graph.microsoft.com/.default') {
      sendJson(res, 400, entraError('invalid_scope', 1002012, `The provided value for scope ${scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).`));
      return;
    }
    const reply = tokenQueue.shift() ?? { kind: 'token' };
    if (replyFailure(res, reply)) return;
    if (reply.kind !== 'token') {
      sendJson(res, 400, entraError('invalid_grant', 50000, 'The grant is not valid for the client credentials flow.'));
      return;
    }
    sendJson(res, 200, { token_type: 'Bearer', expires_in: 3599, ext_expires_in: 3599, access_token: await appTokenFor(tenant) });
  }

  /** A v1.0 Graph access token of this tenant, as Entra issues them for either grant. */
  function graphToken(tenant: string, claims: Record<string, unknown>, expiresIn: number): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ aud: 'https://graph.microsoft.com', iss: `https://sts.windows.net/${tenant}/`, tid: tenant, ...claims, appid: clientId, ver: '1.0', uti: randomBytes(16).toString('base64url') })
      .setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid: primary.kid })
      .setIssuedAt(now)
      .setNotBefore(now)
      .setExpirationTime(now + expiresIn)
      .sign(primary.privateKey);
  }

  const appTokens = new Map<string, Promise<string>>();
  function appTokenFor(tenant: string): Promise<string> {
    let token = appTokens.get(tenant);
    if (!token) {
      token = graphToken(tenant, { oid: randomUUID(), roles: ['Files.Read.All', 'Sites.Read.All', 'GroupMember.Read.All'], idtyp: 'app' }, 3599);
      appTokens.set(tenant, token);
    }
    return token;
  }

  function downstreamToken(tenant: string, assertion: Record<string, unknown>, scope: string, expiresIn: number): Promise<string> {
    const scp = scope
      .split(' ')
      .map((s) => s.replace(/^https:\/\/graph\.microsoft\.com\//, ''))
      .join(' ');
    return graphToken(tenant, { oid: assertion.oid, scp }, expiresIn);
  }

  function publishedKeys(): SigningKey[] {
    return rotated === undefined ? [primary] : [primary, rotated];
  }

  function accessTokenClaims(overrides: ClaimOverrides = {}): Record<string, unknown> {
    const now = Math.floor(Date.now() / 1000);
    const tid = typeof overrides.tid === 'string' ? overrides.tid : tenantId;
    const claims: Record<string, unknown> = {
      aud: clientId,
      iss: `${authorityHost}/${tid}/v2.0`,
      iat: now,
      nbf: now,
      exp: now + 3600,
      aio: randomBytes(24).toString('base64url'),
      azp: TEAMS_WEB_CLIENT_ID,
      azpacr: '0',
      idtyp: 'user',
      name: 'Ada Lovelace',
      oid: randomUUID(),
      preferred_username: 'ada@contoso.example',
      rh: '0.AAAA',
      scp: 'access_as_user',
      sub: randomBytes(24).toString('base64url'),
      tid,
      uti: randomBytes(16).toString('base64url'),
      ver: '2.0',
    };
    for (const [name, value] of Object.entries(overrides)) {
      if (value === undefined) delete claims[name];
      else claims[name] = value;
    }
    return claims;
  }

  async function issueAccessToken(overrides: ClaimOverrides = {}, issue: IssueOptions = {}): Promise<string> {
    const claims = accessTokenClaims(overrides);
    const alg = issue.alg ?? 'RS256';
    const key = issue.key === 'rotated' ? rotated : primary;
    if (key === undefined) throw new Error('rotateKeys() first');
    const signer = new SignJWT(claims).setProtectedHeader({ alg, typ: 'JWT', kid: issue.kid ?? key.kid });
    if (alg === 'ES256') return signer.sign((await generateKeyPair('ES256')).privateKey);
    if (alg === 'PS256') return signer.sign((await generateKeyPair('PS256')).privateKey);
    return signer.sign(key.privateKey);
  }

  return {
    authorityHost,
    tlsAuthorityHost,
    caCertificate: tls.certPem,
    clientId,
    clientSecret,
    tenantId,
    jwksFetches: () => jwksFetchCount,
    tokenRequests,
    requestLog,
    issueAccessToken,
    kluisSettings: () => ({ ENTRA_CLIENT_ID: clientId, ENTRA_API_URI: `api://kluis.example/${clientId}`, ENTRA_AUTHORITY_HOST: authorityHost }),
    bearerFor: (tid, oid, roles = ['Kluis.User']) => issueAccessToken({ tid, oid, iss: `${authorityHost}/${tid}/v2.0`, aud: clientId, roles }),
    accessTokenClaims,
    unsignedToken: (overrides = {}) => `${b64json({ alg: 'none', typ: 'JWT' })}.${b64json(accessTokenClaims(overrides))}.`,
    hmacTokenWithPublicKey: async (overrides = {}, secretForm = 'pem') => {
      const signingInput = `${b64json({ alg: 'HS256', typ: 'JWT', kid: primary.kid })}.${b64json(accessTokenClaims(overrides))}`;
      const secret = secretForm === 'pem' ? primary.publicPem : JSON.stringify(primary.publicJwk);
      return `${signingInput}.${createHmac('sha256', secret).update(signingInput).digest('base64url')}`;
    },
    rotateKeys: async (rotation = {}) => {
      rotated = { ...(await newSigningKey()), issuerTenant: rotation.onlyForTenant };
      return { kid: rotated.kid };
    },
    failJwks: (status) => {
      jwksFailureStatus = status;
    },
    appTokenFor,
    enqueueTokenReply: (...replies) => {
      tokenQueue.push(...replies);
    },
    close: async () => {
      await Promise.all([closeServer(plain), closeServer(secure)]);
    },
  };
}

async function newSigningKey(): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair('RS256');
  // Entra's kids are base64url thumbprints; any unique string serves.
  const kid = randomBytes(20).toString('base64url');
  return { kid, privateKey, publicJwk: await exportJWK(publicKey), publicPem: await exportSPKI(publicKey) };
}

/**
 * A JWKS entry in Entra's shape: kty, use, kid, n, e and the issuer the key may sign for, a template
 * with `{tenantid}` for the keys every tenant shares (Entra writes its own host; this fake writes its own).
 */
function jwksEntry(key: SigningKey, origin: string): Record<string, unknown> {
  return {
    kty: 'RSA',
    use: 'sig',
    kid: key.kid,
    n: key.publicJwk.n,
    e: key.publicJwk.e,
    cloud_instance_name: 'microsoftonline.com',
    issuer: `${origin}/${key.issuerTenant ?? '{tenantid}'}/v2.0`,
  };
}

function openIdConfiguration(origin: string, tenant: string): Record<string, unknown> {
  return {
    token_endpoint: `${origin}/${tenant}/oauth2/v2.0/token`,
    token_endpoint_auth_methods_supported: ['client_secret_post', 'private_key_jwt', 'client_secret_basic'],
    jwks_uri: `${origin}/${tenant}/discovery/v2.0/keys`,
    response_modes_supported: ['query', 'fragment', 'form_post'],
    subject_types_supported: ['pairwise'],
    id_token_signing_alg_values_supported: ['RS256'],
    response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
    scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
    issuer: `${origin}/${tenant}/v2.0`,
    request_uri_parameter_supported: false,
    userinfo_endpoint: 'https://graph.microsoft.com/oidc/userinfo',
    authorization_endpoint: `${origin}/${tenant}/oauth2/v2.0/authorize`,
    device_authorization_endpoint: `${origin}/${tenant}/oauth2/v2.0/devicecode`,
    http_logout_supported: true,
    frontchannel_logout_supported: true,
    end_session_endpoint: `${origin}/${tenant}/oauth2/v2.0/logout`,
    claims_supported: ['sub', 'iss', 'cloud_instance_name', 'cloud_instance_host_name', 'cloud_graph_host_name', 'msgraph_host', 'aud', 'exp', 'iat', 'auth_time', 'acr', 'nonce', 'preferred_username', 'name', 'tid', 'ver', 'at_hash', 'c_hash', 'email'],
    kerberos_endpoint: `${origin}/${tenant}/kerberos`,
    tenant_region_scope: 'EU',
    cloud_instance_name: 'microsoftonline.com',
    cloud_graph_host_name: 'graph.windows.net',
    msgraph_host: 'graph.microsoft.com',
    rbac_url: 'https://pas.windows.net',
  };
}

/** Entra's error body (RFC 6749 section 5.2 plus error_codes, timestamp, trace_id and correlation_id). */
function entraError(error: string, codes: number | number[], description: string): Record<string, unknown> {
  const errorCodes = Array.isArray(codes) ? codes : [codes];
  const traceId = randomUUID();
  const correlationId = randomUUID();
  const timestamp = new Date().toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
  return {
    error,
    error_description: `AADSTS${errorCodes[0] ?? 0}: ${description} Trace ID: ${traceId} Correlation ID: ${correlationId} Timestamp: ${timestamp}`,
    error_codes: errorCodes,
    timestamp,
    trace_id: traceId,
    correlation_id: correlationId,
    error_uri: 'https://login.microsoftonline.com/error?code=' + String(errorCodes[0] ?? 0),
  };
}

function b64json(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store, no-cache', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}



// --- A throw-away self-signed TLS certificate for 127.0.0.1 (X.509 v3, ECDSA P-256 / SHA-256). ---
// Node can verify certificates but not make them, so the DER is assembled here (RFC 5280 section 4.1)
// rather than committing a private key to the repository or shelling out to openssl.

export async function selfSignedCertificate(): Promise<{ certPem: string; keyPem: string }> {
  const { publicKey, privateKey } = await promisify(generateNodeKeyPair)('ec', { namedCurve: 'P-256' });
  const ecdsaWithSha256 = seq(oid('1.2.840.10045.4.3.2'));
  const name = seq(set(seq(oid('2.5.4.3'), tlv(0x0c, Buffer.from('Kluis test issuer')))));
  const serial = randomBytes(16);
  serial[0] = ((serial[0] ?? 0) & 0x7f) | 0x01;
  const now = Date.now();
  const tbs = seq(
    tlv(0xa0, int(Buffer.from([2]))),
    int(serial),
    ecdsaWithSha256,
    name,
    seq(utcTime(new Date(now - 3_600_000)), utcTime(new Date(now + 86_400_000))),
    name,
    spki(publicKey),
    tlv(
      0xa3,
      seq(
        seq(oid('2.5.29.19'), tlv(0x01, Buffer.from([0xff])), tlv(0x04, seq(tlv(0x01, Buffer.from([0xff]))))),
        seq(oid('2.5.29.17'), tlv(0x04, seq(tlv(0x87, Buffer.from([127, 0, 0, 1])), tlv(0x82, Buffer.from('localhost'))))),
      ),
    ),
  );
  const signature = signBytes('sha256', tbs, privateKey);
  const certificate = seq(tbs, ecdsaWithSha256, tlv(0x03, Buffer.concat([Buffer.from([0]), signature])));
  const certPem = `-----BEGIN CERTIFICATE-----\n${certificate.toString('base64').replace(/.{64}/g, '$&\n').replace(/\n$/, '')}\n-----END CERTIFICATE-----\n`;
  const keyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  return { certPem, keyPem };
}

function spki(publicKey: KeyObject): Buffer {
  return publicKey.export({ type: 'spki', format: 'der' });
}

function tlv(tag: number, content: Buffer): Buffer {
  const length = content.length;
  let header: Buffer;
  if (length < 0x80) header = Buffer.from([tag, length]);
  else if (length < 0x100) header = Buffer.from([tag, 0x81, length]);
  else header = Buffer.from([tag, 0x82, length >> 8, length & 0xff]);
  return Buffer.concat([header, content]);
}

function seq(...parts: Buffer[]): Buffer {
  return tlv(0x30, Buffer.concat(parts));
}

function set(...parts: Buffer[]): Buffer {
  return tlv(0x31, Buffer.concat(parts));
}

function int(value: Buffer): Buffer {
  return tlv(0x02, (value[0] ?? 0) & 0x80 ? Buffer.concat([Buffer.from([0]), value]) : value);
}

function oid(dotted: string): Buffer {
  const [first = 0, second = 0, ...rest] = dotted.split('.').map(Number);
  const bytes = [first * 40 + second];
  for (const arc of rest) {
    const chunk = [arc & 0x7f];
    for (let v = arc >> 7; v > 0; v >>= 7) chunk.unshift((v & 0x7f) | 0x80);
    bytes.push(...chunk);
  }
  return tlv(0x06, Buffer.from(bytes));
}

function utcTime(date: Date): Buffer {
  const text = date.toISOString().replace(/[-:T]/g, '').slice(2, 14) + 'Z';
  return tlv(0x17, Buffer.from(text));
}
