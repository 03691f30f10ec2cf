/** An in-memory SyncStateStore (copies on load and save, like a database would). */
import type { SyncState, SyncStateStore } from '../../api/knowledge/sharepoint/ports';

export function memoryStateStore(): SyncStateStore {
  const states = new Map<string, SyncState>();
  return {
    async load(workspaceId, sourceId) {
      const state = states.get(`${workspaceId}/${sourceId}`);
      return state && structuredClone(state);
    },
    async save(workspaceId, sourceId, state) {
      states.set(`${workspaceId}/${sourceId}`, structuredClone(state));
    },
  };
}
