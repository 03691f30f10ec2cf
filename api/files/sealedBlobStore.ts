/**
 * A BlobStore decorator that seals every blob with its workspace's data key (api/privacy/dataKeys.ts)
 * before the adapter below stores it, and opens it on the way back. The adapter still applies its
 * own encryption (the folder's store key, MinIO's SSE-C key); this layer adds what those cannot:
 * a key per workspace, so destroying one workspace's key makes its blobs unreadable wherever a copy
 * of them lives. The blob name is bound as associated data, so a blob moved to another name or
 * workspace fails to open.
 *
 * The port passes whole buffers (uploads are capped by FILES_MAX_UPLOAD_BYTES), so each blob is one
 * sealed message; nothing here streams or needs to.
 */
import type { WorkspaceDataKeys } from '../privacy/ports';
import type { BlobStore } from './ports';

const contextOf = (name: string) => `blob:${name}`;

export function createSealedBlobStore(inner: BlobStore, keys: WorkspaceDataKeys): BlobStore {
  return {
    async put(workspaceId, name, bytes) {
      await inner.put(workspaceId, name, await keys.seal(workspaceId, bytes, contextOf(name)));
    },
    async get(workspaceId, name) {
      const sealed = await inner.get(workspaceId, name);
      return sealed === undefined ? undefined : keys.open(workspaceId, sealed, contextOf(name));
    },
    delete: (workspaceId, name) => inner.delete(workspaceId, name),
    deleteWorkspace: (workspaceId) => inner.deleteWorkspace(workspaceId),
    count: (workspaceId) => inner.count(workspaceId),
    ping: () => inner.ping(),
  };
}
