/**
 * Chunk text as the search indexes store it: sealed with the workspace's data key and kept as
 * `sealed:v1:<base64>`, the chunk id bound as context, so a passage copied onto another chunk or
 * workspace fails to open. Without data keys (an index opened by a tool or a test) text is stored
 * as it is. Text stored before sealing was switched on has no prefix and is read as it is, until
 * its document is indexed again.
 */
import type { WorkspaceDataKeys } from './ports';

const PREFIX = 'sealed:v1:';

export interface ChunkTextSealer {
  seal(workspaceId: string, chunkId: string, text: string): Promise<string>;
  open(workspaceId: string, chunkId: string, stored: string): Promise<string>;
}

export function chunkTextSealer(keys: WorkspaceDataKeys | undefined): ChunkTextSealer {
  const context = (chunkId: string) => `chunk:${chunkId}`;
  return {
    async seal(workspaceId, chunkId, text) {
      if (!keys) return text;
      return PREFIX + (await keys.seal(workspaceId, Buffer.from(text, 'utf8'), context(chunkId))).toString('base64');
    },
    async open(workspaceId, chunkId, stored) {
      if (!keys || !stored.startsWith(PREFIX)) return stored;
      return (await keys.open(workspaceId, Buffer.from(stored.slice(PREFIX.length), 'base64'), context(chunkId))).toString('utf8');
    },
  };
}
