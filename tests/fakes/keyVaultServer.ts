/**
 * A local stand-in for Azure Key Vault (keys) and for the App Service managed identity endpoint,
 * spoken over real HTTP(S) so @azure/keyvault-keys and @azure/identity run as they would in Azure.
 *
 * Wire formats as Microsoft documents them:
 * - "Azure Key Vault authentication" (challenge-based): a request without a bearer token gets 401
 *   with `WWW-Authenticate: Bearer authorization="https://login.microsoftonline.com/<tenant>",
 *   resource="https://vault.azure.net"`; the client asks its credential for that resource and
 *   sends the request again. Only tokens the fake identity endpoint issued for that resource pass.
 * - Key Vault REST API (keys), `?api-version=...`: `GET /keys/{name}/{version?}` (KeyBundle:
 *   `{ key: JWK with kid, kty, key_ops, n, e; attributes: { enabled, created, updated, recoveryLevel } }`),
 *   `GET /keys/{name}/versions` (`{ value: [KeyItem], nextLink }`), `POST /keys/{name}/{version}/wrapkey`
 *   and `/unwrapkey` (`{ alg, value }` base64url, answered with `{ kid, value }`). RSA-OAEP-256 is
 *   done for real with node:crypto (SHA-256 for OAEP and MGF1), so a wrong key or an altered
 *   ciphertext really fails. Errors carry `{ "error": { "code", "message" } }`: 401 Unauthorized,
 *   403 Forbidden (inner error ForbiddenByRbac, or KeyDisabled), 404 KeyNotFound, 400 BadParameter, 429 Throttled with Retry-After.
 * - "App Service managed identity REST protocol" (api-version 2019-08-01): `GET IDENTITY_ENDPOINT
 *   ?resource=...&api-version=2019-08-01[&client_id=...]` with header `X-IDENTITY-HEADER` equal to
 *   IDENTITY_HEADER, answered with `{ access_token, expires_on, resource, token_type, client_id }`.
 *
 * The vault listens on https://127.0.0.1 with a throw-away self-signed certificate (`caCertificate`);
 * the identity endpoint on plain http://127.0.0.1, as App Service's own does.
 */
import { constants, generateKeyPairSync, privateDecrypt, publicEncrypt, randomBytes, randomUUID, type KeyObject } from 'node:crypto';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import { selfSignedCertificate } from './entraIssuer';
import { closeServer, listenOnLoopback } from './fakeHttpService';

export const KEY_VAULT_RESOURCE = 'https://vault.azure.net';

interface KeyVersion {
  version: string;
  kid: string;
  publicKey: KeyObject;
  privateKey: KeyObject;
  enabled: boolean;
  created: number;
  updated: number;
}

export interface FakeKeyVault {
  /** https://127.0.0.1:port */
  vaultUrl: string;
  /** PEM certificate the vault presents. */
  caCertificate: string;
  tenantId: string;
  /** The versionless key identifier of `name` (DATA_KEY_VAULT_KEY). */
  keyUrl(name: string): string;
  /** Creates the key, or a new version of it (a rotation); returns the new version's kid. */
  createKeyVersion(name: string): string;
  /** Enables or disables one version (kid). */
  setEnabled(kid: string, enabled: boolean): void;
  /** Takes the role "Key Vault Crypto User" from a principal (a client id, or 'system' for the system-assigned identity), or gives it back. */
  setAccess(principal: string, allowed: boolean): void;
  /** The next `count` authenticated key requests get 429 with this Retry-After. */
  throttle(count: number, retryAfterSeconds: number): void;
  /** While true, every connection to the vault is dropped (unreachable). */
  setUnreachable(down: boolean): void;
  /** The managed identity endpoint. */
  identityEndpoint: string;
  /** The secret the identity endpoint expects in X-IDENTITY-HEADER; changing it makes the clients' header wrong. */
  identityHeader: string;
  setIdentityHeader(header: string): void;
  /** `METHOD path` of every vault request (no query), `401 challenge` marks challenges answered. */
  requestLog: string[];
  /** Every identity endpoint request: its query and whether the header matched. */
  identityRequests: Array<{ resource?: string; clientId?: string; apiVersion?: string; headerValid: boolean }>;
  /** Wrap/unwrap operations per kid. */
  operations: Array<{ op: 'wrapkey' | 'unwrapkey'; kid: string; ok: boolean }>;
  close(): Promise<void>;
}

const b64url = (buffer: Buffer) => buffer.toString('base64url');

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

const vaultError = (res: ServerResponse, status: number, code: string, message: string, headers: Record<string, string> = {}, inner?: string) =>
  send(res, status, { error: { code, message, ...(inner ? { innererror: { code: inner } } : {}) } }, headers);

async function bodyOf(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}



export async function startFakeKeyVault(): Promise<FakeKeyVault> {
  const tls = await selfSignedCertificate();
  const tenantId = randomUUID();
  const keys = new Map<string, KeyVersion[]>();
  /** access token -> principal and resource */
  const tokens = new Map<string, { principal: string; resource: string }>();
  const denied = new Set<string>();
  let throttled: { count: number; retryAfterSeconds: number } = { count: 0, retryAfterSeconds: 0 };
  let unreachable = false;
  let identityHeader = randomBytes(16).toString('hex');
  let vaultUrl = '';
  const requestLog: string[] = [];
  const identityRequests: FakeKeyVault['identityRequests'] = [];
  const operations: FakeKeyVault['operations'] = [];

  const bundleOf = (name: string, v: KeyVersion) => {
    const jwk = v.publicKey.export({ format: 'jwk' }) as { n: string; e: string };
    return {
      key: { kid: v.kid, kty: 'RSA', key_ops: ['encrypt', 'decrypt', 'sign', 'verify', 'wrapKey', 'unwrapKey'], n: jwk.n, e: jwk.e },
      attributes: { enabled: v.enabled, created: v.created, updated: v.updated, recoveryLevel: 'Recoverable+Purgeable', recoverableDays: 90 },
      tags: { purpose: name },
    };
  };
  const itemOf = (v: KeyVersion) => ({ kid: v.kid, attributes: { enabled: v.enabled, created: v.created, updated: v.updated, recoveryLevel: 'Recoverable+Purgeable', recoverableDays: 90 } });

  const challenge = {
    'www-authenticate': `Bearer authorization="https://login.microsoftonline.com/${tenantId}", resource="${KEY_VAULT_RESOURCE}"`,
  };

  async function handleVault(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', vaultUrl);
    const body = await bodyOf(req);
    const method = req.method ?? 'GET';
    requestLog.push(`${method} ${url.pathname}`);
    if (!url.searchParams.get('api-version')) return vaultError(res, 400, 'BadParameter', 'The api-version query parameter (?api-version=) is required for all requests');
    const auth = req.headers.authorization;
    if (!auth?.startsWith('Bearer ')) {
      requestLog.push('401 challenge');
      return vaultError(res, 401, 'Unauthorized', 'AKV10000: Request is missing a Bearer or PoP token.', challenge);
    }
    const token = tokens.get(auth.slice('Bearer '.length));
    if (!token) return vaultError(res, 401, 'Unauthorized', 'AKV10032: Invalid issuer.', challenge);
    if (token.resource !== KEY_VAULT_RESOURCE) return vaultError(res, 401, 'Unauthorized', 'AKV10022: Invalid audience.', challenge);
    if (throttled.count > 0) {
      throttled.count--;
      return vaultError(res, 429, 'Throttled', 'Request was not allowed because the request rate is too high.', { 'retry-after': String(throttled.retryAfterSeconds) });
    }
    if (denied.has(token.principal)) {
      return vaultError(res, 403, 'Forbidden', `Caller is not authorized to perform action on resource. If role assignments were recently changed, please wait several minutes. Caller: appid=${token.principal}; Assignment: (not found) DenyAssignmentId: null Vault: fake;location=local`, {}, 'ForbiddenByRbac');
    }
    const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    if (parts[0] !== 'keys' || !parts[1]) return vaultError(res, 404, 'NotFound', 'Unknown path');
    const name = parts[1];
    const versions = keys.get(name);
    if (!versions?.length) return vaultError(res, 404, 'KeyNotFound', `A key with (name/id) ${name} was not found in this key vault.`);
    if (method === 'GET' && parts[2] === 'versions' && parts.length === 3) {
      return send(res, 200, { value: versions.map(itemOf), nextLink: null });
    }
    const version = parts[2] ? versions.find((v) => v.version === parts[2]) : versions[versions.length - 1];
    if (!version) return vaultError(res, 404, 'KeyNotFound', `A key with (name/id) ${name}/${parts[2]} was not found in this key vault.`);
    const op = parts[3];
    if (!version.enabled) return vaultError(res, 403, 'Forbidden', `Operation ${op ?? 'get'} is not allowed on a disabled key.`, {}, 'KeyDisabled');
    if (method === 'GET' && parts.length <= 3) return send(res, 200, bundleOf(name, version));
    if (method === 'POST' && (op === 'wrapkey' || op === 'unwrapkey') && parts.length === 4) {
      let request: { alg?: string; value?: string };
      try {
        request = JSON.parse(body.toString('utf8')) as { alg?: string; value?: string };
      } catch {
        return vaultError(res, 400, 'BadParameter', 'The request body is not JSON.');
      }
      if (request.alg !== 'RSA-OAEP-256' && request.alg !== 'RSA-OAEP') return vaultError(res, 400, 'BadParameter', `Invalid algorithm ${request.alg}.`);
      if (typeof request.value !== 'string') return vaultError(res, 400, 'BadParameter', 'Property value is required.');
      const input = Buffer.from(request.value, 'base64url');
      const padding = { padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: request.alg === 'RSA-OAEP-256' ? 'sha256' : 'sha1' };
      try {
        const output = op === 'wrapkey' ? publicEncrypt({ key: version.publicKey, ...padding }, input) : privateDecrypt({ key: version.privateKey, ...padding }, input);
        operations.push({ op, kid: version.kid, ok: true });
        return send(res, 200, { kid: version.kid, value: b64url(output) });
      } catch {
        operations.push({ op, kid: version.kid, ok: false });
        return vaultError(res, 400, 'BadParameter', 'Bad parameter: the ciphertext could not be decrypted.');
      }
    }
    return vaultError(res, 405, 'MethodNotAllowed', `${method} is not allowed here.`);
  }

  const vault = createHttpsServer({ cert: tls.certPem, key: tls.keyPem }, (req, res) => {
    handleVault(req, res).catch((error: unknown) => vaultError(res, 500, 'InternalServerError', String(error)));
  });
  vault.on('connection', (socket: Socket) => {
    if (unreachable) socket.destroy();
  });
  const vaultPort = await listenOnLoopback(vault);
  vaultUrl = `https://127.0.0.1:${vaultPort}`;

  const identity = createHttpServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const resource = url.searchParams.get('resource') ?? undefined;
    const clientId = url.searchParams.get('client_id') ?? undefined;
    const apiVersion = url.searchParams.get('api-version') ?? undefined;
    const headerValid = req.headers['x-identity-header'] === identityHeader;
    identityRequests.push({ resource, clientId, apiVersion, headerValid });
    if (url.pathname !== '/msi/token' || req.method !== 'GET') return send(res, 404, { statusCode: 404, message: 'Not found' });
    if (apiVersion !== '2019-08-01') return send(res, 400, { statusCode: 400, message: 'Unsupported api-version', correlationId: randomUUID() });
    if (!headerValid) return send(res, 401, { statusCode: 401, message: 'The X-IDENTITY-HEADER is missing or wrong.', correlationId: randomUUID() });
    if (!resource) return send(res, 400, { statusCode: 400, message: 'resource is required', correlationId: randomUUID() });
    const accessToken = randomBytes(24).toString('base64url');
    tokens.set(accessToken, { principal: clientId ?? 'system', resource: resource.replace(/\/+$/, '') });
    const expiresOn = Math.floor(Date.now() / 1000) + 3600;
    return send(res, 200, { access_token: accessToken, expires_on: String(expiresOn), resource, token_type: 'Bearer', client_id: clientId ?? randomUUID() });
  });
  const identityPort = await listenOnLoopback(identity);

  return {
    vaultUrl,
    caCertificate: tls.certPem,
    tenantId,
    keyUrl: (name) => `${vaultUrl}/keys/${name}`,
    createKeyVersion(name) {
      const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
      const version = randomBytes(16).toString('hex');
      const now = Math.floor(Date.now() / 1000);
      const entry = { version, kid: `${vaultUrl}/keys/${name}/${version}`, publicKey, privateKey, enabled: true, created: now, updated: now };
      keys.set(name, [...(keys.get(name) ?? []), entry]);
      return entry.kid;
    },
    setEnabled(kid, enabled) {
      const entry = [...keys.values()].flat().find((v) => v.kid === kid);
      if (!entry) throw new Error(`no key version ${kid}`);
      entry.enabled = enabled;
      entry.updated = Math.floor(Date.now() / 1000);
    },
    setAccess(principal, allowed) {
      if (allowed) denied.delete(principal);
      else denied.add(principal);
    },
    throttle(count, retryAfterSeconds) {
      throttled = { count, retryAfterSeconds };
    },
    setUnreachable(down) {
      unreachable = down;
      if (down) vault.closeAllConnections();
    },
    identityEndpoint: `http://127.0.0.1:${identityPort}/msi/token`,
    get identityHeader() {
      return identityHeader;
    },
    setIdentityHeader(header) {
      identityHeader = header;
    },
    requestLog,
    identityRequests,
    operations,
    async close() {
      await Promise.all([closeServer(vault as unknown as Server), closeServer(identity)]);
    },
  };
}
