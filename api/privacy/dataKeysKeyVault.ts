/**
 * The key-encryption key (KEK) in Azure Key Vault (or a Managed HSM): an RSA key (RSA or RSA-HSM)
 * that never leaves the vault. Data keys are wrapped and unwrapped by the vault itself with
 * RSA-OAEP-256 ("wrapKey" and "unwrapKey" of the Key Vault REST API, through @azure/keyvault-keys).
 *
 * Versions. At start Kluis reads the key (GET without a version), so it wraps under the key's
 * current version; `kekId` is `kv:` plus the full versioned key identifier
 * (`https://<vault>/keys/<name>/<version>`), stored beside each wrapped key, and a data key is
 * unwrapped by the version its `kekId` names, so a Key Vault rotation (a new version) never breaks a
 * read. The other enabled versions at start are the retired ids `rewrapAll` (`npm run keys:rotate`)
 * moves onto the current one; a version created after this replica started (another replica already
 * wraps under it) still unwraps.
 *
 * Binding the workspace. RSA-OAEP has no associated data, so the vault wraps 64 bytes:
 * SHA-256 of the workspace id (under its own label) followed by the 32-byte data key. Unwrapping
 * checks that prefix against the workspace asked for: a wrapped key moved to another workspace's row
 * unwraps, but is refused as `ciphertext_invalid`, as the local KEK's associated data refuses it.
 * OAEP is non-malleable, so nobody without the vault key can make a ciphertext for another
 * workspace's prefix from this one. (An HMAC stored beside the key would need a key of its own; the
 * prefix needs none and costs nothing: OAEP-256 with a 2048-bit key takes up to 190 bytes.)
 *
 * Access. Kluis authenticates with the TokenCredential it is given (a managed identity in
 * production, `keyVaultCredential`); the identity needs the role "Key Vault Crypto User" on the key
 * (or the vault), or an access policy with get, list, wrapKey and unwrapKey. Key Vault answers
 * every first request with a challenge naming its resource (challenge-based authentication, done
 * by the SDK). Errors map to the catalogue: 401/403 (no role, a disabled version) and 404 to
 * `config_invalid` with what to fix; 429, 5xx and an unreachable vault to `key_vault_unavailable`
 * (503, "try again shortly"), after the SDK's own retries, which honour Retry-After but are bounded
 * here by a deadline per operation, so a user waits seconds, not minutes.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { ManagedIdentityCredential, type TokenCredential } from '@azure/identity';
import { CryptographyClient, KeyClient, type CryptographyClientOptions, type KeyVaultKey } from '@azure/keyvault-keys';
import { fail, isKluisError } from '../errors';
import type { KeyEncryptionKeys } from './ports';

export const KEY_VAULT_KEK_PREFIX = 'kv:';
const ALGORITHM = 'RSA-OAEP-256';
const BINDING_LABEL = 'kluis:data-key-workspace:v1';
const DATA_KEY_BYTES = 32;
const BINDING_BYTES = 32;
/** The kekId column holds 191 characters: `kv:` + the key URL + `/` + a 32-character version. */
export const MAX_KEY_URL_LENGTH = 191 - KEY_VAULT_KEK_PREFIX.length - 33;

/** Hosts of Azure Key Vault and Managed HSM in the Azure clouds: the challenge's resource is checked against them. */
const AZURE_KEY_HOSTS = /\.(vault\.azure\.net|vault\.azure\.cn|vault\.usgovcloudapi\.net|managedhsm\.azure\.net|managedhsm\.azure\.cn|managedhsm\.usgovcloudapi\.net)$/i;

/**
 * Splits a versionless key identifier, `https://<vault>/keys/<name>`, into the vault's origin and
 * the key's name; undefined for anything else (http, a version, a query, other paths).
 */
export function parseKeyVaultKeyUrl(keyUrl: string): { vaultUrl: string; name: string } | undefined {
  let url: URL;
  try {
    url = new URL(keyUrl);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'https:' || url.search || url.hash || url.username || url.password) return undefined;
  const match = /^\/keys\/([0-9A-Za-z-]{1,127})\/?$/.exec(url.pathname);
  if (!match?.[1]) return undefined;
  return { vaultUrl: url.origin, name: match[1] };
}

/** Whether the host is an Azure Key Vault or Managed HSM host (else: a Key Vault-compatible server the operator named). */
export function isAzureKeyVaultHost(vaultUrl: string): boolean {
  return AZURE_KEY_HOSTS.test(new URL(vaultUrl).hostname);
}

/**
 * The credential Kluis uses in Azure: its managed identity, a user-assigned one when
 * `identityClientId` (DATA_KEY_VAULT_IDENTITY) is set. On App Service and Functions the SDK asks
 * the local identity endpoint (IDENTITY_ENDPOINT with IDENTITY_HEADER, set by the platform); on a
 * VM, AKS or Container Apps the instance metadata service or workload identity.
 */
export function keyVaultCredential(identityClientId?: string): TokenCredential {
  return new ManagedIdentityCredential({ ...(identityClientId ? { clientId: identityClientId } : {}), retryOptions: { maxRetries: 2 } });
}

export interface KeyVaultKekOptions {
  /** DATA_KEY_VAULT_KEY: the versionless key identifier. */
  keyUrl: string;
  credential: TokenCredential;
  /** TLS trust for a vault behind a private certificate authority (tests). */
  tlsOptions?: { ca?: string | string[] };
  /** The longest one operation may take, retries and Retry-After waits included (default 10 s). */
  deadlineMs?: number;
  /** Retries of the SDK per request (default 2). */
  maxRetries?: number;
}

function binding(workspaceId: string): Buffer {
  return createHash('sha256').update(BINDING_LABEL).update('\0').update(workspaceId).digest();
}

interface RestErrorLike {
  name: string;
  statusCode?: number;
  code?: string;
  message: string;
  response?: { headers?: { get(name: string): string | undefined } };
}

function restErrorOf(error: unknown): RestErrorLike | undefined {
  return error instanceof Error && error.name === 'RestError' ? (error as RestErrorLike) : undefined;
}

function retryAfterOf(error: RestErrorLike): number | undefined {
  const value = Number(error.response?.headers?.get('retry-after'));
  return Number.isFinite(value) && value > 0 ? Math.ceil(value) : undefined;
}

/** A failed vault call as a catalogued error; `what` names the operation and key for the log. */
function vaultFailure(error: unknown, what: string, unwrapping: boolean): never {
  if (isKluisError(error)) throw error;
  const rest = restErrorOf(error);
  const status = rest?.statusCode;
  const detail = rest ? `${status ?? 'no answer'}${rest.code ? ` ${rest.code}` : ''}: ${rest.message}` : error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  if (status === 401) {
    fail('config_invalid', `Azure Key Vault did not accept Kluis's token for ${what} (${detail}): the managed identity (DATA_KEY_VAULT_IDENTITY) may belong to another tenant than the vault`, { cause: error });
  }
  if (status === 403) {
    if (/disabled/i.test(rest?.message ?? '')) {
      fail('config_invalid', `${what}: the key version is disabled in Azure Key Vault (${detail}). Enable it again: data keys wrapped under it cannot be opened while it is disabled`, { cause: error });
    }
    fail('config_invalid', `Azure Key Vault refused ${what} (${detail}): give the identity Kluis runs as (DATA_KEY_VAULT_IDENTITY, else the system-assigned identity) the role "Key Vault Crypto User" on the key or the vault (or an access policy with get, list, wrapKey and unwrapKey)`, { cause: error });
  }
  if (status === 404) {
    fail('config_invalid', `${what}: the key or key version does not exist in Azure Key Vault (${detail}). Check DATA_KEY_VAULT_KEY; a deleted key can be recovered while the vault keeps it (soft delete)`, { cause: error });
  }
  if (status === 400 && unwrapping) fail('ciphertext_invalid', `${what}: Azure Key Vault could not unwrap the data key (${detail}): altered, or wrapped by another key`, { cause: error });
  if (!rest && error instanceof Error) {
    // No token from the identity endpoint: unavailable when it could not be reached, else misconfigured.
    if (/AuthenticationError|CredentialUnavailableError/.test(error.name) && !/network|ECONNREFUSED|ETIMEDOUT|ENOTFOUND|unreachable|timed? ?out/i.test(error.message)) {
      fail('config_invalid', `No token for Azure Key Vault for ${what} (${detail}): check the managed identity (DATA_KEY_VAULT_IDENTITY is the client id of a user-assigned identity attached to this app)`, { cause: error });
    }
    // The SDK's own checks of the key it read (expired, not yet valid, operation not permitted).
    if (error.name === 'Error') fail('config_invalid', `Azure Key Vault key unusable for ${what} (${detail})`, { cause: error });
  }
  if (status === 429 || status === undefined || status >= 500) {
    // Throttled past the retries, down, unreachable, or past the deadline (AbortError).
    fail('key_vault_unavailable', `Azure Key Vault is unavailable for ${what} (${detail})`, { cause: error, retryAfterSeconds: rest ? retryAfterOf(rest) : undefined });
  }
  fail('config_invalid', `Azure Key Vault refused ${what} (${detail})`, { cause: error });
}

/** Opens the KEK in Key Vault: reads the key's current version and its other enabled versions. */
export async function openKeyVaultKeyEncryptionKeys(options: KeyVaultKekOptions): Promise<KeyEncryptionKeys> {
  const parsed = parseKeyVaultKeyUrl(options.keyUrl);
  if (!parsed) fail('config_invalid', `DATA_KEY_VAULT_KEY must be a versionless key identifier https://<vault>.vault.azure.net/keys/<name>, not ${options.keyUrl}`);
  const { vaultUrl, name } = parsed;
  const deadlineMs = options.deadlineMs ?? 10_000;
  const clientOptions: CryptographyClientOptions = {
    retryOptions: { maxRetries: options.maxRetries ?? 2, retryDelayInMs: 300, maxRetryDelayInMs: 3000 },
    ...(options.tlsOptions ? { tlsOptions: options.tlsOptions } : {}),
    // The SDK checks that a challenge's resource belongs to the vault's domain, which only an Azure
    // host can satisfy: another origin (a Key Vault-compatible server) is trusted as configured.
    disableChallengeResourceVerification: !isAzureKeyVaultHost(vaultUrl),
  };
  const keyClient = new KeyClient(vaultUrl, options.credential, clientOptions);
  const call = async <T>(what: string, unwrapping: boolean, work: (abortSignal: AbortSignal) => Promise<T>): Promise<T> => {
    try {
      return await work(AbortSignal.timeout(deadlineMs));
    } catch (error) {
      vaultFailure(error, what, unwrapping);
    }
  };

  const current: KeyVaultKey = await call(`reading the key ${options.keyUrl}`, false, (abortSignal) => keyClient.getKey(name, { abortSignal }));
  if (current.keyType !== 'RSA' && current.keyType !== 'RSA-HSM') {
    fail('config_invalid', `DATA_KEY_VAULT_KEY names a ${current.keyType} key: Kluis wraps data keys with RSA-OAEP-256 and needs an RSA or RSA-HSM key`);
  }
  if (!current.properties.enabled) fail('config_invalid', `The current version of ${options.keyUrl} is disabled in Azure Key Vault: enable it, or create a new version`);
  const ops = current.keyOperations;
  if (ops && !(ops.includes('wrapKey') && ops.includes('unwrapKey'))) {
    fail('config_invalid', `The key ${options.keyUrl} does not permit wrapKey and unwrapKey (its permitted operations: ${ops.join(', ')})`);
  }
  const currentKid = current.id ?? fail('config_invalid', `Azure Key Vault returned the key ${options.keyUrl} without its identifier`);
  const retired = await call(`listing the versions of ${options.keyUrl}`, false, async (abortSignal) => {
    const kids: string[] = [];
    for await (const version of keyClient.listPropertiesOfKeyVersions(name, { abortSignal })) {
      if (version.enabled && version.id && version.id !== currentKid) kids.push(version.id);
    }
    return kids;
  });

  const clients = new Map<string, CryptographyClient>([[currentKid, new CryptographyClient(current, options.credential, clientOptions)]]);
  /** The vault's client for a version of this key, `kid` as a kekId names it; undefined for any other key. */
  function clientFor(kid: string): CryptographyClient | undefined {
    const known = clients.get(kid);
    if (known) return known;
    const prefix = `${vaultUrl}/keys/${name}/`.toLowerCase();
    if (!kid.toLowerCase().startsWith(prefix) || !/^[0-9A-Za-z]{1,64}$/.test(kid.slice(prefix.length))) return undefined;
    const client = new CryptographyClient(kid, options.credential, clientOptions);
    clients.set(kid, client);
    return client;
  }

  return {
    currentKeyId: KEY_VAULT_KEK_PREFIX + currentKid,
    retiredKeyIds: retired.map((kid) => KEY_VAULT_KEK_PREFIX + kid),
    async wrap(workspaceId, dataKey) {
      const client = clients.get(currentKid)!;
      const result = await call(`wrapping a data key with ${currentKid}`, false, (abortSignal) => client.wrapKey(ALGORITHM, Buffer.concat([binding(workspaceId), dataKey]), { abortSignal }));
      return { wrapped: Buffer.from(result.result), kekId: KEY_VAULT_KEK_PREFIX + currentKid };
    },
    async unwrap(workspaceId, wrapped, kekId) {
      const client = kekId.startsWith(KEY_VAULT_KEK_PREFIX) ? clientFor(kekId.slice(KEY_VAULT_KEK_PREFIX.length)) : undefined;
      if (!client) fail('config_invalid', `Data key wrapped by an unknown key-encryption key ${kekId}: not a version of DATA_KEY_VAULT_KEY (${options.keyUrl})`);
      const result = await call(`unwrapping a data key with ${kekId.slice(KEY_VAULT_KEK_PREFIX.length)}`, true, (abortSignal) => client.unwrapKey(ALGORITHM, wrapped, { abortSignal }));
      const plain = Buffer.from(result.result);
      const expected = binding(workspaceId);
      if (plain.length !== BINDING_BYTES + DATA_KEY_BYTES || !timingSafeEqual(plain.subarray(0, BINDING_BYTES), expected)) {
        plain.fill(0);
        fail('ciphertext_invalid', 'A data key unwrapped by Azure Key Vault belongs to another workspace (or is not a Kluis data key)');
      }
      const key = Buffer.from(plain.subarray(BINDING_BYTES));
      plain.fill(0);
      return key;
    },
  };
}
