/**
 * The Azure Key Vault key-encryption key (api/privacy/dataKeysKeyVault.ts) against a fake Key Vault
 * and a fake App Service managed identity endpoint (tests/fakes/keyVaultServer.ts) that speak the
 * documented wire formats: challenge-based authentication, RSA-OAEP-256 done for real, Key Vault's
 * error bodies. The credential is the real ManagedIdentityCredential, which finds the endpoint
 * through IDENTITY_ENDPOINT and IDENTITY_HEADER as on App Service.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { ConfigError, loadConfig } from '../../api/config';
import { isKluisError } from '../../api/errors';
import { createWorkspaceDataKeys } from '../../api/privacy/dataKeys';
import { openDataKeyEncryptionKeys } from '../../api/privacy/dataKeysKekSet';
import { keyVaultCredential, openKeyVaultKeyEncryptionKeys, type KeyVaultKekOptions } from '../../api/privacy/dataKeysKeyVault';
import { dataKeyEncryptionKeys } from '../../api/privacy/dataKeysLocalKek';
import { memoryDataKeyStore } from '../support/dataKeys';
import { startFakeKeyVault, type FakeKeyVault } from '../fakes/keyVaultServer';

jest.setTimeout(60000);

let vault: FakeKeyVault;
const saved = { endpoint: process.env.IDENTITY_ENDPOINT, header: process.env.IDENTITY_HEADER };

beforeAll(async () => {
  vault = await startFakeKeyVault();
  // As App Service sets them for the app; the SDK reads them (once per process) to pick the App Service source.
  process.env.IDENTITY_ENDPOINT = vault.identityEndpoint;
  process.env.IDENTITY_HEADER = vault.identityHeader;
});

afterAll(async () => {
  await vault.close();
  for (const [name, value] of [['IDENTITY_ENDPOINT', saved.endpoint], ['IDENTITY_HEADER', saved.header]] as const) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
});

/** A fresh key (its own name) and a user-assigned identity of its own (a client id never used before, so no cached token). */
function freshKey(): { name: string; kid: string; identity: string } {
  const name = `kluis-kek-${randomBytes(4).toString('hex')}`;
  return { name, kid: vault.createKeyVersion(name), identity: randomUUID() };
}

const open = (name: string, identity: string, options: Partial<KeyVaultKekOptions> = {}) =>
  openKeyVaultKeyEncryptionKeys({ keyUrl: vault.keyUrl(name), credential: keyVaultCredential(identity), tlsOptions: { ca: vault.caCertificate }, ...options });

async function errorOf(work: () => Promise<unknown>): Promise<{ id: string; message: string }> {
  try {
    await work();
  } catch (error) {
    return isKluisError(error) ? { id: error.id, message: error.message } : { id: String(error), message: String(error) };
  }
  return { id: 'no error', message: '' };
}

test('wraps under the current version and unwraps: data sealed with the data key opens again', async () => {
  const { name, kid, identity } = freshKey();
  const keks = await open(name, identity);
  expect(keks.currentKeyId).toBe(`kv:${kid}`);
  expect(keks.retiredKeyIds).toEqual([]);

  const dataKey = randomBytes(32);
  const { wrapped, kekId } = await keks.wrap('ws-1', dataKey);
  expect(kekId).toBe(`kv:${kid}`);
  expect(wrapped.length).toBe(256);
  expect(wrapped.includes(dataKey)).toBe(false);
  expect(await keks.unwrap('ws-1', wrapped, kekId)).toEqual(dataKey);

  const store = memoryDataKeyStore();
  const service = createWorkspaceDataKeys(store, keks, { cacheTtlMs: 0 });
  const sealed = await service.seal('ws-2', Buffer.from('quarterly figures'), 'blob-1');
  expect(store.rows.get('ws-2')?.kekId).toBe(`kv:${kid}`);
  expect((await service.open('ws-2', sealed, 'blob-1')).toString()).toBe('quarterly figures');

  // Challenge-based authentication: the first request went without a token and was challenged;
  // the token came from the identity endpoint, for Key Vault's resource, as this user-assigned identity.
  expect(vault.requestLog).toContain('401 challenge');
  expect(vault.identityRequests.filter((r) => r.clientId === identity)).toEqual([{ resource: 'https://vault.azure.net', clientId: identity, apiVersion: '2019-08-01', headerValid: true }]);
  // The round trip; then the service's first seal (wrap, and unwrap of the stored row) and its open.
  expect(vault.operations.filter((o) => o.kid === kid).map((o) => o.op)).toEqual(['wrapkey', 'unwrapkey', 'wrapkey', 'unwrapkey', 'unwrapkey']);
});

test('a data key wrapped for one workspace is refused for another, and an altered one is refused', async () => {
  const { name, identity } = freshKey();
  const keks = await open(name, identity);
  const { wrapped, kekId } = await keks.wrap('ws-a', randomBytes(32));
  expect((await errorOf(() => keks.unwrap('ws-b', wrapped, kekId))).id).toBe('ciphertext_invalid');

  const altered = Buffer.from(wrapped);
  altered[100] = altered[100]! ^ 1;
  expect((await errorOf(() => keks.unwrap('ws-a', altered, kekId))).id).toBe('ciphertext_invalid');

  // The same row moved between workspaces of a service: refused, not opened with the wrong key.
  const store = memoryDataKeyStore();
  const service = createWorkspaceDataKeys(store, keks, { cacheTtlMs: 0 });
  const sealed = await service.seal('ws-a', Buffer.from('secret'), 'c');
  store.rows.set('ws-b', { ...store.rows.get('ws-a')! });
  expect((await errorOf(() => service.open('ws-b', sealed, 'c'))).id).toBe('ciphertext_invalid');
  // A kekId that is not a version of this key is an unknown KEK, not a vault call.
  expect((await errorOf(() => keks.unwrap('ws-a', wrapped, `kv:${vault.vaultUrl}/keys/other-key/${'0'.repeat(32)}`))).id).toBe('config_invalid');
});

test('a Key Vault key rotation: old-version keys open before and after rewrapAll, which moves every key onto the new version', async () => {
  const { name, kid: first, identity } = freshKey();
  const store = memoryDataKeyStore();
  const before = createWorkspaceDataKeys(store, await open(name, identity), { cacheTtlMs: 0 });
  const workspaces = ['r-1', 'r-2', 'r-3'];
  const sealed = await Promise.all(workspaces.map((ws) => before.seal(ws, Buffer.from(`text of ${ws}`), 'doc')));
  await before.destroy('r-3');

  const second = vault.createKeyVersion(name);
  const afterKeks = await open(name, identity);
  expect(afterKeks.currentKeyId).toBe(`kv:${second}`);
  expect(afterKeks.retiredKeyIds).toEqual([`kv:${first}`]);
  const after = createWorkspaceDataKeys(store, afterKeks, { cacheTtlMs: 0 });
  // Before the re-wrap: wrapped under the first version, still opens.
  expect((await after.open('r-1', sealed[0]!, 'doc')).toString()).toBe('text of r-1');
  // A replica that started before the rotation opens what the new version wrapped.
  await after.seal('r-new', Buffer.from('new'), 'doc');
  expect(store.rows.get('r-new')?.kekId).toBe(`kv:${second}`);

  expect(await after.rewrapAll()).toEqual({ rewrapped: 2, unknownKek: 0 });
  expect(workspaces.slice(0, 2).map((ws) => store.rows.get(ws)?.kekId)).toEqual([`kv:${second}`, `kv:${second}`]);
  expect(store.rows.get('r-3')?.wrappedKey).toBeNull();
  expect(await after.rewrapAll()).toEqual({ rewrapped: 0, unknownKek: 0 });

  // The first version can now be disabled: every live key opens with the second alone.
  vault.setEnabled(first, false);
  const onlySecond = createWorkspaceDataKeys(store, await open(name, identity), { cacheTtlMs: 0 });
  expect((await onlySecond.open('r-2', sealed[1]!, 'doc')).toString()).toBe('text of r-2');
  expect((await errorOf(() => onlySecond.open('r-3', sealed[2]!, 'doc'))).id).toBe('data_key_destroyed');
  const stale = createWorkspaceDataKeys(store, await open(name, identity), { cacheTtlMs: 0 });
  expect((await stale.open('r-new', await stale.seal('r-new', Buffer.from('x'), 'd'), 'd')).toString()).toBe('x');
});

test('a disabled key version: its data keys are refused as config_invalid, and open again once it is enabled', async () => {
  const { name, kid, identity } = freshKey();
  const keks = await open(name, identity);
  const { wrapped, kekId } = await keks.wrap('ws-d', randomBytes(32));
  vault.setEnabled(kid, false);
  const refused = await errorOf(() => keks.unwrap('ws-d', wrapped, kekId));
  expect(refused.id).toBe('config_invalid');
  expect(refused.message).toMatch(/disabled/);
  expect((await errorOf(() => open(name, identity))).message).toMatch(/disabled/);
  vault.setEnabled(kid, true);
  expect((await keks.unwrap('ws-d', wrapped, kekId)).length).toBe(32);
});

test('moving from the local KEK to Key Vault: rewrapAll re-wraps every local data key into the vault, and the data still opens without the local roots', async () => {
  const { name, kid, identity } = freshKey();
  const masterKey = randomBytes(32);
  const root = randomBytes(32);
  const store = memoryDataKeyStore();
  const local = createWorkspaceDataKeys(store, dataKeyEncryptionKeys({ masterKey, root }), { cacheTtlMs: 0 });
  const underMaster = createWorkspaceDataKeys(store, dataKeyEncryptionKeys({ masterKey }), { cacheTtlMs: 0 });
  const sealedRoot = await local.seal('m-1', Buffer.from('under the root'), 'x');
  const sealedMaster = await underMaster.seal('m-2', Buffer.from('under the master key'), 'x');
  expect(store.rows.get('m-1')?.kekId).toMatch(/^local:/);

  const replica = createWorkspaceDataKeys(store, await openDataKeyEncryptionKeys({ masterKey, root }, { keyUrl: vault.keyUrl(name), identityClientId: identity }, { tlsOptions: { ca: vault.caCertificate } }), { cacheTtlMs: 0 });
  // Before the move: local-wrapped keys open; new ones go to the vault.
  expect((await replica.open('m-1', sealedRoot, 'x')).toString()).toBe('under the root');
  await replica.seal('m-3', Buffer.from('new'), 'x');
  expect(store.rows.get('m-3')?.kekId).toBe(`kv:${kid}`);

  expect(await replica.rewrapAll()).toEqual({ rewrapped: 2, unknownKek: 0 });
  expect([...store.rows.values()].map((r) => r.kekId)).toEqual([`kv:${kid}`, `kv:${kid}`, `kv:${kid}`]);
  // The vault alone (no DATA_KEY_ROOT, no master key) now opens everything.
  const vaultOnly = createWorkspaceDataKeys(store, await open(name, identity), { cacheTtlMs: 0 });
  expect((await vaultOnly.open('m-1', sealedRoot, 'x')).toString()).toBe('under the root');
  expect((await vaultOnly.open('m-2', sealedMaster, 'x')).toString()).toBe('under the master key');
});

test('403 from Key Vault (no "Key Vault Crypto User" role) is config_invalid with what to fix', async () => {
  const { name, identity } = freshKey();
  const keks = await open(name, identity);
  const { wrapped, kekId } = await keks.wrap('ws-f', randomBytes(32));
  vault.setAccess(identity, false);
  try {
    const refused = await errorOf(() => keks.unwrap('ws-f', wrapped, kekId));
    expect(refused.id).toBe('config_invalid');
    expect(refused.message).toMatch(/Key Vault Crypto User/);
    expect(refused.message).toMatch(/403 Forbidden/);
    expect((await errorOf(() => open(name, identity))).message).toMatch(/Key Vault Crypto User/);
  } finally {
    vault.setAccess(identity, true);
  }
});

test('429 with Retry-After is retried by the SDK and then succeeds; throttling past the deadline is key_vault_unavailable, not a hang', async () => {
  const { name, identity } = freshKey();
  const keks = await open(name, identity, { deadlineMs: 3000 });
  const { wrapped, kekId } = await keks.wrap('ws-t', randomBytes(32));
  const before = vault.requestLog.length;
  vault.throttle(1, 1);
  expect((await keks.unwrap('ws-t', wrapped, kekId)).length).toBe(32);
  // The throttled request, then the same request again.
  expect(vault.requestLog.slice(before).filter((l) => l.endsWith('/unwrapkey'))).toHaveLength(2);

  vault.throttle(100, 120);
  try {
    const throttled = await errorOf(() => keks.unwrap('ws-t', wrapped, kekId));
    expect(throttled.id).toBe('key_vault_unavailable');
  } finally {
    vault.throttle(0, 0);
  }
  expect((await keks.unwrap('ws-t', wrapped, kekId)).length).toBe(32);
});

test('an unreachable vault is key_vault_unavailable (503, "try again shortly") and loses nothing', async () => {
  const { name, identity } = freshKey();
  const store = memoryDataKeyStore();
  const service = createWorkspaceDataKeys(store, await open(name, identity, { deadlineMs: 3000 }), { cacheTtlMs: 0 });
  const sealed = await service.seal('u-1', Buffer.from('kept'), 'x');
  const row = { ...store.rows.get('u-1')! };

  vault.setUnreachable(true);
  try {
    const opening = await errorOf(() => service.open('u-1', sealed, 'x'));
    expect(opening.id).toBe('key_vault_unavailable');
    const creating = await errorOf(() => service.seal('u-2', Buffer.from('new'), 'x'));
    expect(creating.id).toBe('key_vault_unavailable');
    expect((await errorOf(() => open(name, identity))).id).toBe('key_vault_unavailable');
  } finally {
    vault.setUnreachable(false);
  }
  expect(store.rows.get('u-1')).toEqual(row);
  expect(store.rows.has('u-2')).toBe(false);
  expect((await service.open('u-1', sealed, 'x')).toString()).toBe('kept');
});

test('the identity endpoint refusing the identity header: no token, config_invalid, nothing reaches the vault with a token', async () => {
  const { name, identity } = freshKey();
  const right = vault.identityHeader;
  vault.setIdentityHeader('another-secret');
  try {
    const refused = await errorOf(() => open(name, identity));
    expect(refused.id).toBe('config_invalid');
    expect(refused.message).toMatch(/managed identity/);
    const asked = vault.identityRequests.filter((r) => r.clientId === identity);
    expect(asked.length).toBeGreaterThan(0);
    expect(asked.every((r) => !r.headerValid)).toBe(true);
  } finally {
    vault.setIdentityHeader(right);
  }
  expect((await open(name, identity)).currentKeyId).toMatch(/^kv:/);
});

describe('DATA_KEY_VAULT_KEY and DATA_KEY_VAULT_IDENTITY in the configuration', () => {
  const load = (env: Record<string, string>) => loadConfig({ LOCAL_MODE: 'true', ...env }, { dotenv: false });
  const refusal = (env: Record<string, string>) => {
    try {
      load(env);
    } catch (error) {
      if (error instanceof ConfigError) return error.message;
      throw error;
    }
    return 'accepted';
  };

  test.each([
    ['http://kluis.vault.azure.net/keys/kek', 'http'],
    ['https://kluis.vault.azure.net/keys/kek/0123456789abcdef0123456789abcdef', 'a version'],
    ['https://kluis.vault.azure.net/secrets/kek', 'a secret'],
    ['https://kluis.vault.azure.net/keys/', 'no name'],
    ['https://kluis.vault.azure.net/keys/kek?api-version=7.4', 'a query'],
    ['https://kluis.vault.azure.net/keys/kek_with_underscore', 'an invalid name'],
    ['kluis.vault.azure.net/keys/kek', 'no scheme'],
    [`https://kluis.vault.azure.net/keys/${'k'.repeat(127)}`, 'too long to store'],
  ])('refuses %s (%s)', (value) => {
    expect(refusal({ DATA_KEY_VAULT_KEY: value })).toMatch(/DATA_KEY_VAULT_KEY/);
  });

  test('accepts vault, managed HSM and other https origins; a trailing slash is dropped; the identity needs the key', () => {
    expect(load({ DATA_KEY_VAULT_KEY: 'https://kluis.vault.azure.net/keys/kluis-kek/' }).dataKeyVault).toEqual({ keyUrl: 'https://kluis.vault.azure.net/keys/kluis-kek', identityClientId: undefined });
    const identity = randomUUID();
    expect(load({ DATA_KEY_VAULT_KEY: 'https://kluis.managedhsm.azure.net/keys/kek', DATA_KEY_VAULT_IDENTITY: identity }).dataKeyVault).toEqual({ keyUrl: 'https://kluis.managedhsm.azure.net/keys/kek', identityClientId: identity });
    expect(load({ DATA_KEY_VAULT_KEY: 'https://127.0.0.1:8443/keys/kek' }).dataKeyVault?.keyUrl).toBe('https://127.0.0.1:8443/keys/kek');
    expect(load({}).dataKeyVault).toBeUndefined();
    expect(refusal({ DATA_KEY_VAULT_IDENTITY: identity })).toMatch(/DATA_KEY_VAULT_IDENTITY.*only with DATA_KEY_VAULT_KEY/);
    expect(refusal({ DATA_KEY_VAULT_KEY: 'https://kluis.vault.azure.net/keys/kek', DATA_KEY_VAULT_IDENTITY: 'not-a-guid' })).toMatch(/DATA_KEY_VAULT_IDENTITY/);
  });
});
