/**
 * The indexer when the index write fails for a reason outside the file (an embedding service that
 * is down): the document's old chunks stay, and its record is not one a source takes for unchanged.
 */
import { randomUUID } from 'node:crypto';
import { fail, isKluisError } from '../errors';
import { contentHash, createIndexer } from './indexer';
import type { ChunkRecord, DocumentDraft, DocumentRecord, DocumentStore, SearchIndex } from './ports';

function memoryDocuments(): DocumentStore & { rows: Map<string, DocumentRecord> } {
  const rows = new Map<string, DocumentRecord>();
  return {
    rows,
    async listBySource(ws, kind) {
      return [...rows.values()].filter((r) => r.workspaceId === ws && r.sourceKind === kind);
    },
    async save(draft: DocumentDraft) {
      const existing = [...rows.values()].find((r) => r.workspaceId === draft.workspaceId && r.sourceKind === draft.sourceKind && r.sourceRef === draft.sourceRef);
      const record = { ...draft, id: existing?.id ?? randomUUID() };
      rows.set(record.id, record);
      return record;
    },
    async remove(ws, id) {
      if (rows.get(id)?.workspaceId === ws) rows.delete(id);
    },
  };
}

/** An index whose writes fail with embedding_unavailable while `down` is set, as an embedding index would. */
function flakyIndex(): SearchIndex & { chunks: Map<string, ChunkRecord[]>; down: boolean } {
  const chunks = new Map<string, ChunkRecord[]>();
  const index = {
    chunks,
    down: false,
    async replaceDocument(_ws: string, id: string, records: ChunkRecord[]) {
      if (index.down) fail('embedding_unavailable', 'embedding service down');
      chunks.set(id, records);
    },
    async deleteDocument(_ws: string, id: string) {
      chunks.delete(id);
    },
    async deleteWorkspace() {
      chunks.clear();
    },
    async search() {
      return [];
    },
    async countChunks(_ws: string, id?: string) {
      return id === undefined ? [...chunks.values()].flat().length : (chunks.get(id)?.length ?? 0);
    },
    async ping() {},
    async close() {},
  };
  return index;
}

describe('indexer', () => {
  const workspace = randomUUID();
  const file = (text: string) => ({ sourceKind: 'folder', sourceRef: 'policy.md', fileName: 'policy.md', bytes: Buffer.from(text) });

  it('records the content hash only once the chunks are written', async () => {
    const documents = memoryDocuments();
    const index = flakyIndex();
    const indexer = createIndexer({ documents, index });
    const v1 = file('# Policy\n\nHoliday rules, first version.');
    const record = await indexer.indexFile(workspace, v1);
    expect(record).toMatchObject({ status: 'indexed', contentHash: contentHash(v1.bytes), chunkCount: 1 });
    expect(documents.rows.get(record.id)?.contentHash).toBe(contentHash(v1.bytes));
    expect(index.chunks.get(record.id)?.[0]?.text).toContain('first version');
  });

  it('an index write that fails keeps the old chunks and leaves a record that matches no file, so the next sync retries', async () => {
    const documents = memoryDocuments();
    const index = flakyIndex();
    const indexer = createIndexer({ documents, index });
    const record = await indexer.indexFile(workspace, file('# Policy\n\nHoliday rules, first version.'));

    index.down = true;
    const v2 = file('# Policy\n\nHoliday rules, second version.');
    const error = await indexer.indexFile(workspace, v2).catch((e: unknown) => e);
    expect(isKluisError(error, 'embedding_unavailable')).toBe(true);
    expect(index.chunks.get(record.id)?.[0]?.text).toContain('first version');
    // Same chunk count as before, so only the hash can tell a source that this version is not in.
    expect(documents.rows.get(record.id)?.contentHash).not.toBe(contentHash(v2.bytes));

    index.down = false;
    await indexer.indexFile(workspace, v2);
    expect(documents.rows.get(record.id)?.contentHash).toBe(contentHash(v2.bytes));
    expect(index.chunks.get(record.id)?.[0]?.text).toContain('second version');
  });
});
