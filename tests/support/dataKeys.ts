/**
 * Workspace data keys for tests that need sealing but no database: the real service and the real
 * local key-encryption key over a key store held in a Map (the MySQL store has its own tests in
 * tests/privacy/dataKeys.test.ts). `calls` counts store reads, so cache behaviour can be observed.
 */
import { randomBytes } from 'node:crypto';
import { createWorkspaceDataKeys, type DataKeyOptions, type WorkspaceDataKeyService } from '../../api/privacy/dataKeys';
import { createLocalKeyEncryptionKeys } from '../../api/privacy/dataKeysLocalKek';
import type { DataKeyStore, KeyEncryptionKeys, StoredDataKey } from '../../api/privacy/ports';

export interface MemoryDataKeyStore extends DataKeyStore {
  rows: Map<string, StoredDataKey>;
  calls: { find: number };
}

export function memoryDataKeyStore(): MemoryDataKeyStore {
  const rows = new Map<string, StoredDataKey>();
  const calls = { find: 0 };
  return {
    rows,
    calls,
    async find(workspaceId) {
      calls.find++;
      const row = rows.get(workspaceId);
      return row && { ...row };
    },
    async insertIfAbsent(workspaceId, wrappedKey, kekId) {
      if (!rows.has(workspaceId)) rows.set(workspaceId, { wrappedKey, kekId, destroyedAt: null });
    },
    async destroy(workspaceId) {
      const row = rows.get(workspaceId);
      rows.set(workspaceId, { wrappedKey: null, kekId: row?.kekId ?? 'destroyed', destroyedAt: row?.destroyedAt ?? new Date() });
    },
    async renewDestroyed(workspaceId, wrappedKey, kekId) {
      if (!rows.get(workspaceId)?.destroyedAt) return false;
      rows.set(workspaceId, { wrappedKey, kekId, destroyedAt: null });
      return true;
    },
    async wrappedByOtherThan(kekId) {
      return [...rows].filter(([, r]) => r.wrappedKey && !r.destroyedAt && r.kekId !== kekId).map(([id]) => id);
    },
    async replaceWrapping(workspaceId, from, to) {
      const row = rows.get(workspaceId);
      if (!row?.wrappedKey || row.destroyedAt || row.kekId !== from.kekId || !row.wrappedKey.equals(from.wrappedKey)) return false;
      rows.set(workspaceId, { ...row, ...to });
      return true;
    },
  };
}

export function memoryDataKeys(options: DataKeyOptions & { store?: DataKeyStore; keks?: KeyEncryptionKeys } = {}): WorkspaceDataKeyService {
  return createWorkspaceDataKeys(options.store ?? memoryDataKeyStore(), options.keks ?? createLocalKeyEncryptionKeys(randomBytes(32)), options);
}
