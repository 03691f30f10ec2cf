/**
 * Workspace data keys (envelope encryption, NIST SP 800-57 key hierarchy): each workspace gets a
 * random 256-bit data key, stored only wrapped by the key-encryption key (KEK). Blob contents and
 * stored chunk text are sealed with it, so destroying the key erases them from every copy that
 * exists, backups included (crypto-shredding).
 *
 * Sealed format: version byte (1) | 12-byte random nonce | AES-256-GCM ciphertext | 16-byte tag.
 * The workspace id and the caller's `context` (a blob name, a chunk id) are the associated data,
 * so a sealed value moved to another workspace or another place fails to open.
 *
 * Unwrapped keys are cached in memory, bounded in number and for a short time: `destroy` evicts
 * the key here at once, other replicas' caches forget it within the TTL.
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { fail, isKluisError } from '../errors';
import type { DataKeyStore, KeyEncryptionKeys, SearchTokenKeys, WorkspaceDataKeys } from './ports';

const VERSION = 1;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const KEY_BYTES = 32;

/** How long an unwrapped key stays in memory, and how many at most. */
export const DEFAULT_CACHE_TTL_MS = 60_000;
export const DEFAULT_CACHE_MAX_KEYS = 1000;

export interface DataKeyOptions {
  cacheTtlMs?: number;
  cacheMaxKeys?: number;
  now?: () => number;
}

export interface WorkspaceDataKeyService extends WorkspaceDataKeys, SearchTokenKeys {
  /**
   * Re-wraps every live data key wrapped by a retired KEK with the current one (after a KEK
   * rotation). `unknownKek` counts live keys wrapped by a KEK this service does not know: they
   * stay as they are, and the old KEK must not be thrown away while it is above zero.
   */
  rewrapAll(): Promise<{ rewrapped: number; unknownKek: number }>;
}

/**
 * The associated data of a sealed value. JSON keeps the parts unambiguous: with a separator,
 * ("a:b", "c") and ("a", "b:c") would share it.
 */
function associatedData(workspaceId: string, context: string): Buffer {
  return Buffer.from(JSON.stringify(['kluis-sealed', VERSION, workspaceId, context]));
}

/** Seals with an unwrapped data key (exported for the benchmark and tests of the format). */
export function sealWithKey(key: Buffer, workspaceId: string, plaintext: Buffer, context: string): Buffer {
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, nonce);
  cipher.setAAD(associatedData(workspaceId, context));
  return Buffer.concat([Buffer.from([VERSION]), nonce, cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
}

export function openWithKey(key: Buffer, workspaceId: string, sealed: Buffer, context: string): Buffer {
  if (sealed.length < 1 + NONCE_BYTES + TAG_BYTES || sealed[0] !== VERSION) fail('ciphertext_invalid', 'Sealed data has an unknown version or is truncated');
  const decipher = createDecipheriv('aes-256-gcm', key, sealed.subarray(1, 1 + NONCE_BYTES));
  decipher.setAAD(associatedData(workspaceId, context));
  decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
  try {
    return Buffer.concat([decipher.update(sealed.subarray(1 + NONCE_BYTES, sealed.length - TAG_BYTES)), decipher.final()]);
  } catch (error) {
    fail('ciphertext_invalid', 'Sealed data failed its integrity check (altered, or sealed for another workspace or context)', { cause: error });
  }
}

export function createWorkspaceDataKeys(store: DataKeyStore, keks: KeyEncryptionKeys, options: DataKeyOptions = {}): WorkspaceDataKeyService {
  const ttl = options.cacheTtlMs ?? DEFAULT_CACHE_TTL_MS;
  const maxKeys = Math.max(1, options.cacheMaxKeys ?? DEFAULT_CACHE_MAX_KEYS);
  const now = options.now ?? Date.now;
  // Map keeps insertion order: the first entry is the oldest, evicted first when full. Keys are not
  // zeroed on eviction: a seal may still hold the Buffer, and a JS heap gives no wiping guarantee.
  const cache = new Map<string, { key: Buffer; expiresAt: number }>();
  const loading = new Map<string, Promise<Buffer>>();
  // Bumped by destroy, so a load that started before it cannot put the key back into the cache.
  const generation = new Map<string, number>();

  function cached(workspaceId: string): Buffer | undefined {
    const entry = cache.get(workspaceId);
    if (!entry) return undefined;
    if (entry.expiresAt <= now()) {
      cache.delete(workspaceId);
      return undefined;
    }
    return entry.key;
  }

  function remember(workspaceId: string, key: Buffer): void {
    cache.delete(workspaceId);
    while (cache.size >= maxKeys) {
      cache.delete(cache.keys().next().value as string);
    }
    cache.set(workspaceId, { key, expiresAt: now() + ttl });
  }

  /** The stored key, unwrapped; creates one if `create` and the workspace never had one. */
  async function load(workspaceId: string, create: boolean): Promise<Buffer> {
    let row = await store.find(workspaceId);
    if (!row && create) {
      // Two replicas may get here at once: both insert, the primary key keeps the first, and
      // both use what the re-read returns, so every value of a workspace is sealed with one key.
      const fresh = randomBytes(KEY_BYTES);
      const { wrapped, kekId } = await keks.wrap(workspaceId, fresh);
      fresh.fill(0);
      await store.insertIfAbsent(workspaceId, wrapped, kekId);
      row = await store.find(workspaceId);
      if (!row) fail('not_found', 'No data key could be created: the workspace does not exist');
    }
    if (!row) fail('data_key_destroyed', 'The workspace has no data key, so nothing sealed for it can be opened');
    if (row.destroyedAt || !row.wrappedKey) fail('data_key_destroyed', 'The workspace data key was destroyed');
    const key = await keks.unwrap(workspaceId, row.wrappedKey, row.kekId);
    if (key.length !== KEY_BYTES) fail('ciphertext_invalid', 'An unwrapped data key is not 32 bytes');
    return key;
  }

  async function keyOf(workspaceId: string, create: boolean): Promise<Buffer> {
    const hit = cached(workspaceId);
    if (hit) return hit;
    const flight = `${create ? 'c' : 'o'}:${workspaceId}`;
    let pending = loading.get(flight);
    if (!pending) {
      const startedIn = generation.get(workspaceId) ?? 0;
      pending = load(workspaceId, create)
        .then((key) => {
          if ((generation.get(workspaceId) ?? 0) === startedIn) remember(workspaceId, key);
          return key;
        })
        .finally(() => loading.delete(flight));
      loading.set(flight, pending);
    }
    return pending;
  }

  return {
    async seal(workspaceId, plaintext, context) {
      return sealWithKey(await keyOf(workspaceId, true), workspaceId, plaintext, context);
    },
    async open(workspaceId, sealed, context) {
      return openWithKey(await keyOf(workspaceId, false), workspaceId, sealed, context);
    },
    async tokenKey(workspaceId) {
      // HKDF under its own label: the data key itself never keys anything but AES-GCM.
      return Buffer.from(hkdfSync('sha256', await keyOf(workspaceId, true), Buffer.alloc(0), 'kluis:search-tokens:v1', 32));
    },
    async destroy(workspaceId) {
      generation.set(workspaceId, (generation.get(workspaceId) ?? 0) + 1);
      cache.delete(workspaceId);
      await store.destroy(workspaceId);
      // Evict again: a seal that raced the destroy may have cached the key meanwhile.
      cache.delete(workspaceId);
    },
    async renew(workspaceId) {
      const fresh = randomBytes(KEY_BYTES);
      const { wrapped, kekId } = await keks.wrap(workspaceId, fresh);
      fresh.fill(0);
      generation.set(workspaceId, (generation.get(workspaceId) ?? 0) + 1);
      cache.delete(workspaceId);
      if (!(await store.renewDestroyed(workspaceId, wrapped, kekId))) fail('internal', 'Only a destroyed data key can be renewed');
    },
    async exists(workspaceId) {
      const row = await store.find(workspaceId);
      return !!row && !row.destroyedAt && !!row.wrappedKey;
    },
    async rewrapAll() {
      let rewrapped = 0;
      let unknownKek = 0;
      const retired = new Set(keks.retiredKeyIds);
      for (const workspaceId of await store.wrappedByOtherThan(keks.currentKeyId)) {
        const row = await store.find(workspaceId);
        if (!row?.wrappedKey || row.destroyedAt || row.kekId === keks.currentKeyId) continue;
        if (!retired.has(row.kekId)) {
          unknownKek++;
          continue;
        }
        let key: Buffer;
        try {
          key = await keks.unwrap(workspaceId, row.wrappedKey, row.kekId);
        } catch (error) {
          if (isKluisError(error)) fail(error.id, `The data key of workspace ${workspaceId} cannot be unwrapped with any known key-encryption key (${row.kekId})`, { cause: error });
          throw error;
        }
        const next = await keks.wrap(workspaceId, key);
        key.fill(0);
        if (await store.replaceWrapping(workspaceId, { wrappedKey: row.wrappedKey, kekId: row.kekId }, { wrappedKey: next.wrapped, kekId: next.kekId })) rewrapped++;
      }
      return { rewrapped, unknownKek };
    },
  };
}
