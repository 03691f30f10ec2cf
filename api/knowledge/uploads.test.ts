/** The uploads module below HTTP: all or nothing, roles, and what the audit log learns. */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { AuditEventInput } from '../audit/ports';
import { fail } from '../errors';
import type { BlobStore } from '../files/ports';
import type { Principal } from '../tenancy/principal';
import { kluisRejection } from '../../tests/support/errors';
import type { Indexer } from './indexer';
import { createUploads, type UploadRecord, type UploadStore } from './uploads';

const docx = fs.readFileSync(path.join(__dirname, '..', '..', 'tests', 'fixtures', 'documents', 'headings.docx'));
const PNG = Buffer.from('89504e470d0a1a0a0000000d4948445200000001000000010806000000', 'hex');

function world(options: { failRecord?: boolean; failIndex?: boolean; failStoredAudit?: boolean; failRecordRemove?: boolean } = {}) {
  const blobs = new Map<string, Buffer>();
  const indexed = new Map<string, string>();
  const records = new Map<string, UploadRecord>();
  const audit: AuditEventInput[] = [];
  const blobStore: BlobStore = {
    put: async (w, n, b) => void blobs.set(`${w}/${n}`, b),
    get: async (w, n) => blobs.get(`${w}/${n}`),
    delete: async (w, n) => void blobs.delete(`${w}/${n}`),
    deleteWorkspace: async () => undefined,
    count: async (w) => [...blobs.keys()].filter((k) => k.startsWith(`${w}/`)).length,
    ping: async () => undefined,
  };
  const indexer: Indexer = {
    async indexFile(workspaceId, file) {
      if (options.failIndex) fail('store_unavailable', 'index down');
      const id = randomUUID();
      indexed.set(id, file.sourceRef);
      return { id, workspaceId, sourceKind: file.sourceKind, sourceRef: file.sourceRef, title: file.fileName, mimeType: 'x', contentHash: 'h', sizeBytes: file.bytes.length, chunkCount: 1, status: 'indexed', indexedAt: new Date() };
    },
    removeDocument: async (_w, id) => void indexed.delete(id),
  };
  const store: UploadStore = {
    async create(record) {
      if (options.failRecord) fail('store_unavailable', 'database down');
      const full = { ...record, createdAt: new Date() };
      records.set(record.id, full);
      return full;
    },
    find: async (w, id) => (records.get(id)?.workspaceId === w ? records.get(id) : undefined),
    list: async (w) => [...records.values()].filter((r) => r.workspaceId === w),
    async remove(_w, id) {
      if (options.failRecordRemove) fail('store_unavailable', 'database down');
      records.delete(id);
    },
  };
  const recordAudit = async (e: AuditEventInput) => {
    if (options.failStoredAudit && e.kind === 'upload.stored') fail('store_unavailable', 'database down');
    audit.push(e);
  };
  const uploads = createUploads({ store, blobs: blobStore, indexer, audit: { record: recordAudit } });
  return { uploads, blobs, indexed, records, audit };
}

const principal = (role: Principal['roles'][number], workspaceId = 'w-1'): Principal => ({ workspaceId, tenantId: 't', userId: randomUUID(), roles: [role], authMethod: 'entra-token' });

describe('uploads', () => {
  it('stores, indexes and records a document, and audits sizes and types but not the name', async () => {
    const { uploads, blobs, indexed, records, audit } = world();

    const record = await uploads.accept(principal('manager'), 'Secret-Merger-Plan.docx', docx);

    expect(record).toMatchObject({ fileName: 'Secret-Merger-Plan.docx', kind: 'document', indexStatus: 'indexed' });
    expect([...blobs.keys()]).toEqual([`w-1/uploads/${record.id}`]);
    expect([...indexed.values()]).toEqual([record.id]);
    expect(records.size).toBe(1);
    expect(JSON.stringify(audit)).not.toContain('Merger');
    expect(audit.at(-1)).toMatchObject({ kind: 'upload.stored', outcome: 'success', detail: { uploadId: record.id, sizeBytes: docx.length } });
  });

  it('keeps an image without indexing it', async () => {
    const { uploads, indexed } = world();
    expect(await uploads.accept(principal('admin'), 'photo.png', PNG)).toMatchObject({ kind: 'image', indexStatus: 'not_indexed' });
    expect(indexed.size).toBe(0);
  });

  it.each([
    ['recording fails', { failRecord: true }],
    ['indexing fails', { failIndex: true }],
  ])('leaves no blob and no chunks behind when %s', async (_label, options) => {
    const { uploads, blobs, indexed, records, audit } = world(options);

    expect((await kluisRejection(uploads.accept(principal('manager'), 'plan.docx', docx))).id).toBe('store_unavailable');

    expect(blobs.size).toBe(0);
    expect(indexed.size).toBe(0);
    expect(records.size).toBe(0);
    expect(audit.at(-1)).toMatchObject({ kind: 'upload.stored', outcome: 'failure' });
  });

  it.each(['user', 'viewer'] as const)('refuses a %s, storing nothing and auditing the refusal', async (role) => {
    const { uploads, blobs, audit } = world();
    expect((await kluisRejection(uploads.accept(principal(role), 'plan.docx', docx))).id).toBe('forbidden');
    expect(blobs.size).toBe(0);
    expect(audit.at(-1)).toMatchObject({ kind: 'authorization.refused', outcome: 'refused' });
  });

  it('takes the upload record, chunks and blob back when the upload cannot be audited', async () => {
    const { uploads, blobs, indexed, records } = world({ failStoredAudit: true });

    expect((await kluisRejection(uploads.accept(principal('manager'), 'plan.docx', docx))).id).toBe('store_unavailable');

    expect([blobs.size, indexed.size, records.size]).toEqual([0, 0, 0]);
  });

  it('keeps the whole file when its upload record cannot be taken back, never a record without its blob or chunks', async () => {
    const { uploads, blobs, indexed, records } = world({ failStoredAudit: true, failRecordRemove: true });

    expect((await kluisRejection(uploads.accept(principal('manager'), 'plan.docx', docx))).id).toBe('store_unavailable');

    expect([blobs.size, indexed.size, records.size]).toEqual([1, 1, 1]);
    const [record] = [...records.values()];
    expect(blobs.has(`w-1/uploads/${record!.id}`)).toBe(true);
    expect([...indexed.keys()]).toEqual([record!.documentId]);
  });

  it("removes chunks, blob and record, and answers not_found for another workspace's upload", async () => {
    const { uploads, blobs, indexed, records } = world();
    const record = await uploads.accept(principal('manager'), 'plan.docx', docx);

    expect((await kluisRejection(uploads.remove(principal('admin', 'w-2'), record.id))).id).toBe('not_found');
    expect(records.size).toBe(1);
    await uploads.remove(principal('manager'), record.id);

    expect([blobs.size, indexed.size, records.size]).toEqual([0, 0, 0]);
  });
});
