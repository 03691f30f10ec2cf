/** The reconciler's bookkeeping: order of removal, grace cutoff, and failures kept apart per workspace and leftover. */
import { fail } from '../errors';
import { createUploadLeftoverReconciler, UPLOAD_LEFTOVER_GRACE_MS, type UploadLeftover, type UploadLeftoverStore } from './uploadLeftovers';

const NOW = new Date('2026-03-01T12:00:00Z');

function world(leftovers: Record<string, UploadLeftover[]>, options: { unlistable?: string[]; indexDownFor?: string[] } = {}) {
  const steps: string[] = [];
  const cutoffs: Date[] = [];
  const store: UploadLeftoverStore = {
    workspaceIds: async () => Object.keys(leftovers),
    async find(workspaceId, cutoff, limit) {
      cutoffs.push(cutoff);
      if (options.unlistable?.includes(workspaceId)) fail('store_unavailable', 'database down');
      return leftovers[workspaceId]!.slice(0, limit);
    },
    async remove(leftover) {
      steps.push(`record ${leftover.documentId}`);
      const list = leftovers[leftover.workspaceId]!;
      const at = list.findIndex((l) => l.documentId === leftover.documentId);
      if (at < 0) return false;
      list.splice(at, 1);
      return true;
    },
  };
  const reconciler = createUploadLeftoverReconciler({
    leftovers: store,
    index: {
      async deleteDocument(workspaceId, documentId) {
        if (options.indexDownFor?.includes(documentId)) fail('store_unavailable', 'index down');
        steps.push(`chunks ${workspaceId}/${documentId}`);
      },
    },
    blobs: { delete: async (workspaceId, key) => void steps.push(`blob ${workspaceId}/${key}`) },
    now: () => NOW,
  });
  return { reconciler, steps, cutoffs, leftovers };
}

const leftover = (workspaceId: string, documentId: string): UploadLeftover => ({ workspaceId, documentId, uploadId: `u-${documentId}` });

describe('upload leftovers', () => {
  it('removes chunks, then the blob of the upload, then the record, with the grace period as cutoff', async () => {
    const { reconciler, steps, cutoffs } = world({ w1: [leftover('w1', 'd1')] });

    expect(await reconciler.reconcile()).toEqual({ removed: [{ workspaceId: 'w1', documentIds: ['d1'] }], failures: [], total: 1 });

    expect(steps).toEqual(['chunks w1/d1', 'blob w1/uploads/u-d1', 'record d1']);
    expect(cutoffs).toEqual([new Date(NOW.getTime() - UPLOAD_LEFTOVER_GRACE_MS)]);
  });

  it('keeps a leftover whose store fails and a workspace it cannot list, and still removes the rest', async () => {
    const { reconciler, leftovers } = world({ w1: [leftover('w1', 'd1'), leftover('w1', 'd2')], w2: [leftover('w2', 'd3')], w3: [leftover('w3', 'd4')] }, { unlistable: ['w2'], indexDownFor: ['d1'] });

    const report = await reconciler.reconcile();

    expect(report).toEqual({
      removed: [
        { workspaceId: 'w1', documentIds: ['d2'] },
        { workspaceId: 'w3', documentIds: ['d4'] },
      ],
      failures: [
        { workspaceId: 'w1', documentId: 'd1', errorId: 'store_unavailable' },
        { workspaceId: 'w2', errorId: 'store_unavailable' },
      ],
      total: 2,
    });
    expect(leftovers).toEqual({ w1: [leftover('w1', 'd1')], w2: [leftover('w2', 'd3')], w3: [] });
  });

  it('counts nothing for a record that was gone by the time it was to be removed (another run took it)', async () => {
    const reconciler = createUploadLeftoverReconciler({
      leftovers: { workspaceIds: async () => ['w1'], find: async () => [leftover('w1', 'd1')], remove: async () => false },
      index: { deleteDocument: async () => undefined },
      blobs: { delete: async () => undefined },
    });

    expect(await reconciler.reconcile()).toEqual({ removed: [], failures: [], total: 0 });
  });
});
