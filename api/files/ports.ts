/** The blob store port: file contents per workspace. Keys never leave the workspace's namespace. */
export interface BlobStore {
  put(workspaceId: string, key: string, bytes: Buffer): Promise<void>;
  /** The bytes, or undefined when there is no such blob in this workspace. */
  get(workspaceId: string, key: string): Promise<Buffer | undefined>;
  delete(workspaceId: string, key: string): Promise<void>;
  deleteWorkspace(workspaceId: string): Promise<void>;
  /** How many blobs the workspace holds (the erasure's residue scan asks this). */
  count(workspaceId: string): Promise<number>;
  /** Throws when the store cannot be reached or written. */
  ping(): Promise<void>;
}
