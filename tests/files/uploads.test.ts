/**
 * Uploaded files and their download links over real HTTP, against both blob stores: the encrypted
 * folder, and the MinIO store on a real S3-protocol server (s3rver). The same cases run for each:
 * every accepted format, indexing (documents) and not (images, video), limits and hostile input
 * at the door, roles and workspaces, and download links that are tampered, expired, someone
 * else's, another workspace's or for a deleted file.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { createDownloadLinkSigner } from '../../api/files/downloadLinks';
import { bucketNameFor } from '../../api/files/minioStore';
import { deriveKeys } from '../../api/identity/keys';
import { startFakeEntraIssuer, type FakeEntraIssuer } from '../fakes/entraIssuer';
import { startS3Server, type TestS3Server } from '../fakes/s3Server';
import { openTestDatabase } from '../support/database';
import { startTestKluis } from '../support/kluis';

const fixture = (name: string) => fs.readFileSync(path.join(__dirname, '..', 'fixtures', 'documents', name));
/** A real 1x1 PNG and the ftyp box that opens an MP4: enough for a store-only file. */
const PNG = Buffer.from('89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d4944415478da63f8ffff3f0005fe02fea7d6a4e40000000049454e44ae426082', 'hex');
const MP4 = Buffer.concat([Buffer.from('00000018', 'hex'), Buffer.from('ftypisom'), Buffer.from('00000200', 'hex'), Buffer.from('isommp41'), randomBytes(64)]);
const MAX_UPLOAD_MB = 0.25;
const MAX_UPLOAD_BYTES = Math.round(MAX_UPLOAD_MB * 1024 * 1024);
const masterKey = randomBytes(32);
const db = openTestDatabase();

interface Part {
  name: string;
  filename?: string;
  /** RFC 5987 extended form (`filename*=UTF-8''...`), which carries any character percent-encoded. */
  filenameStar?: string;
  contentType?: string;
  data: Buffer | string;
}

/** A multipart/form-data body built by hand, so tests control every byte of its headers. */
function multipart(parts: Part[]): { body: Buffer; contentType: string } {
  const boundary = `----kluis${randomBytes(8).toString('hex')}`;
  const chunks: Buffer[] = [];
  for (const part of parts) {
    const star = part.filenameStar === undefined ? '' : `; filename*=UTF-8''${encodeURIComponent(part.filenameStar)}`;
    const disposition = `form-data; name="${part.name}"${part.filename === undefined ? '' : `; filename="${part.filename}"`}${star}`;
    chunks.push(Buffer.from(`--${boundary}\r\nContent-Disposition: ${disposition}\r\n${part.contentType ? `Content-Type: ${part.contentType}\r\n` : ''}\r\n`, 'utf8'));
    chunks.push(Buffer.isBuffer(part.data) ? part.data : Buffer.from(part.data));
    chunks.push(Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { body: Buffer.concat(chunks), contentType: `multipart/form-data; boundary=${boundary}` };
}

const onePart = (filename: string, data: Buffer) => multipart([{ name: 'file', filename, contentType: 'application/octet-stream', data }]);

type Store = 'encrypted folder' | 'MinIO (s3rver)';

describe.each<Store>(['encrypted folder', 'MinIO (s3rver)'])('uploads and download links on the %s blob store', (storeKind) => {
  const tenantA = randomUUID();
  const tenantB = randomUUID();
  let issuer: FakeEntraIssuer;
  let s3: TestS3Server | undefined;
  let kluis: Awaited<ReturnType<typeof startTestKluis>>;
  let workspaceA: string;
  let workspaceB: string;
  const managerA = randomUUID();
  const userA = randomUUID();
  const viewerA = randomUUID();

  const token = (tid: string, role: string, oid: string = randomUUID()) => issuer.bearerFor(tid, oid, [role]);
  const asManagerA = () => token(tenantA, 'Kluis.Manager', managerA);

  async function send(method: string, url: string, bearer: string | undefined, body?: { body: Buffer; contentType: string } | Record<string, unknown>, headers: Record<string, string> = {}) {
    const raw = body && 'contentType' in body && Buffer.isBuffer(body.body) ? (body as { body: Buffer; contentType: string }) : undefined;
    const response = await fetch(url.startsWith('http') ? url : `${kluis.url}${url}`, {
      method,
      headers: {
        ...(bearer ? { authorization: `Bearer ${bearer}` } : {}),
        ...(raw ? { 'content-type': raw.contentType } : body ? { 'content-type': 'application/json' } : {}),
        ...headers,
      },
      body: raw ? raw.body : body ? JSON.stringify(body) : undefined,
    });
    const bytes = Buffer.from(await response.arrayBuffer());
    const json = response.headers.get('content-type')?.startsWith('application/json') ? JSON.parse(bytes.toString()) : undefined;
    return { status: response.status, headers: response.headers, bytes, body: json };
  }

  const upload = async (filename: string, data: Buffer, bearer?: string) => send('POST', '/api/knowledge/uploads', bearer ?? (await asManagerA()), onePart(filename, data));
  const uploadsOf = (workspaceId: string) => db.upload.findMany({ where: { workspaceId } });

  /** Every blob the store holds for a workspace, read from the storage itself. */
  async function storedBlobs(workspaceId: string): Promise<number> {
    if (storeKind === 'encrypted folder') {
      const dir = path.join(kluis.dataDir, 'blobs', createHash('sha256').update(`ws:${workspaceId}`).digest('hex').slice(0, 32));
      return fs.existsSync(dir) ? fs.readdirSync(dir).length : 0;
    }
    const client = s3!.client();
    const bucket = bucketNameFor('kluis-', workspaceId);
    if (!(await client.bucketExists(bucket))) return 0;
    const page = await client.listObjectsQuery(bucket, '', '', { Delimiter: '', MaxKeys: 1000 });
    return page.objects.length;
  }

  async function link(fileId: string, bearer: string): Promise<string> {
    const response = await send('POST', `/api/files/${fileId}/link`, bearer, {});
    expect(response.status).toBe(201);
    return response.body.url as string;
  }

  const refusedDownloads = (workspaceId: string) => db.auditEvent.findMany({ where: { workspaceId, kind: 'file.download_refused' } });

  beforeAll(async () => {
    issuer = await startFakeEntraIssuer();
    const env: Record<string, string> = {
      LOCAL_TENANT_ID: randomUUID(),
      ONBOARD_TENANTS: `${tenantA}=Contoso,${tenantB}=Fabrikam`,
      ...issuer.kluisSettings(),
      MASTER_KEY: masterKey.toString('hex'),
      UPLOAD_MAX_FILE_MB: String(MAX_UPLOAD_MB),
      DOWNLOAD_LINK_SECONDS: '60',
    };
    if (storeKind === 'MinIO (s3rver)') {
      s3 = await startS3Server();
      Object.assign(env, { BLOB_STORE: 'minio', MINIO_ENDPOINT: s3.endPoint, MINIO_PORT: String(s3.port), MINIO_USE_SSL: 'false', MINIO_ACCESS_KEY: s3.accessKey, MINIO_SECRET_KEY: s3.secretKey });
    }
    kluis = await startTestKluis(env);
    workspaceA = (await db.workspace.findUniqueOrThrow({ where: { tenantId: tenantA } })).id;
    workspaceB = (await db.workspace.findUniqueOrThrow({ where: { tenantId: tenantB } })).id;
  }, 60_000);

  afterAll(async () => {
    await kluis?.stop();
    await s3?.close();
    await issuer?.close();
    await db.workspace.deleteMany({ where: { tenantId: { in: [tenantA, tenantB] } } });
  });

  describe('uploading', () => {
    it.each([
      ['headings.docx', 'document', 'indexed'],
      ['slides.pptx', 'document', 'indexed'],
      ['sheets.xlsx', 'document', 'indexed'],
      ['two-pages.pdf', 'document', 'indexed'],
      ['page.html', 'document', 'indexed'],
      ['notes.md', 'document', 'indexed'],
      ['latin1.txt', 'document', 'indexed'],
    ])('stores and indexes %s', async (name, kind, indexStatus) => {
      const response = await upload(name, fixture(name));

      expect(response.status).toBe(201);
      expect(response.body).toMatchObject({ fileName: name, kind, indexStatus, sizeBytes: fixture(name).length });
      const record = await db.upload.findFirstOrThrow({ where: { workspaceId: workspaceA, id: response.body.id } });
      expect(await kluis.modules.index.countChunks(workspaceA, record.documentId!)).toBeGreaterThan(0);
    });

    it('makes the text of an uploaded Word document findable by every member, and the assistant answers from it', async () => {
      await upload('reiskosten.docx', fixture('headings.docx'));

      const hits = await kluis.modules.index.search(workspaceA, 'kilometervergoeding per kilometer', { limit: 5 });

      expect(hits.some((h) => h.text.includes('0,4280 euro per kilometer'))).toBe(true);
      // Workspace B finds nothing of it.
      expect(await kluis.modules.index.search(workspaceB, 'kilometervergoeding per kilometer', { limit: 5 })).toEqual([]);

      // The assistant answers a plain member from it, citing the uploaded file.
      const asker = await kluis.modules.principals.resolve({ tenantId: tenantA, entraObjectId: userA, authMethod: 'entra-token', appRoles: ['Kluis.User'] });
      const answer = await kluis.modules.assistant.answer(asker, 'Hoeveel bedraagt de kilometervergoeding per kilometer?', { channel: 'test', conversationExternalId: randomUUID() });
      expect(answer.nothingFound).toBe(false);
      expect(answer.citations.some((c) => c.passage.includes('0,4280'))).toBe(true);
      const outsider = await kluis.modules.principals.resolve({ tenantId: tenantB, entraObjectId: randomUUID(), authMethod: 'entra-token', appRoles: ['Kluis.Admin'] });
      expect((await kluis.modules.assistant.answer(outsider, 'Hoeveel bedraagt de kilometervergoeding per kilometer?', { channel: 'test', conversationExternalId: randomUUID() })).nothingFound).toBe(true);
    });

    it.each([
      ['photo.png', PNG, 'image', 'image/png'],
      ['clip.mp4', MP4, 'video', 'video/mp4'],
    ])('stores and lists %s, but indexes nothing of it', async (name, bytes, kind, mimeType) => {
      const chunksBefore = await kluis.modules.index.countChunks(workspaceA);

      const response = await upload(name, bytes);

      expect(response.status).toBe(201);
      expect(response.body).toMatchObject({ fileName: name, kind, mimeType, indexStatus: 'not_indexed' });
      expect(await kluis.modules.index.countChunks(workspaceA)).toBe(chunksBefore);
      expect(await db.document.findMany({ where: { workspaceId: workspaceA, sourceKind: 'upload', sourceRef: response.body.id } })).toEqual([]);
      const list = await send('GET', '/api/knowledge/uploads', await token(tenantA, 'Kluis.Viewer', viewerA));
      expect(list.body.uploads.find((u: { id: string }) => u.id === response.body.id)).toMatchObject({ fileName: name, kind, indexStatus: 'not_indexed' });
    });

    it('refuses a file over the limit with 413 and keeps nothing of it (no blob, no row)', async () => {
      const [rowsBefore, blobsBefore] = [(await uploadsOf(workspaceA)).length, await storedBlobs(workspaceA)];
      const big = Buffer.concat([Buffer.from('%PDF-1.7\n'), randomBytes(MAX_UPLOAD_BYTES + 10)]);

      const response = await upload('big.pdf', big);

      expect(response.status).toBe(413);
      expect(response.body.error.id).toBe('upload_too_large');
      expect((await uploadsOf(workspaceA)).length).toBe(rowsBefore);
      expect(await storedBlobs(workspaceA)).toBe(blobsBefore);
      const refused = await db.auditEvent.findMany({ where: { workspaceId: workspaceA, kind: 'upload.refused' } });
      expect(refused.some((e) => (e.detail as { reason?: string }).reason === 'upload_too_large')).toBe(true);
    });

    it('refuses a body that says up front it is far too large, without reading it', async () => {
      const big = onePart('huge.pdf', Buffer.concat([Buffer.from('%PDF-1.7\n'), randomBytes(MAX_UPLOAD_BYTES * 3)]));

      const [rowsBefore, blobsBefore] = [(await uploadsOf(workspaceA)).length, await storedBlobs(workspaceA)];

      const response = await send('POST', '/api/knowledge/uploads', await asManagerA(), big);

      expect(response.status).toBe(413);
      expect(response.headers.get('connection')).toBe('close');
      expect((await uploadsOf(workspaceA)).length).toBe(rowsBefore);
      expect(await storedBlobs(workspaceA)).toBe(blobsBefore);
    });

    it('stops parsing a streamed body without a declared length once it runs past the limit, answers 413 and keeps nothing', async () => {
      const [rowsBefore, blobsBefore] = [(await uploadsOf(workspaceA)).length, await storedBlobs(workspaceA)];
      const { body, contentType } = onePart('streamed.pdf', Buffer.concat([Buffer.from('%PDF-1.7\n'), randomBytes(MAX_UPLOAD_BYTES * 4)]));
      const stream = new ReadableStream<Uint8Array>({
        start(controller) {
          for (let at = 0; at < body.length; at += 16_384) controller.enqueue(body.subarray(at, at + 16_384));
          controller.close();
        },
      });

      const response = await fetch(`${kluis.url}/api/knowledge/uploads`, { method: 'POST', headers: { authorization: `Bearer ${await asManagerA()}`, 'content-type': contentType }, body: stream, duplex: 'half' } as RequestInit);

      expect(response.status).toBe(413);
      expect(((await response.json()) as { error: { id: string } }).error.id).toBe('upload_too_large');
      expect((await uploadsOf(workspaceA)).length).toBe(rowsBefore);
      expect(await storedBlobs(workspaceA)).toBe(blobsBefore);
    });

    it('answers a viewer who sends a large file 403 (read and discarded, not a reset connection)', async () => {
      const response = await upload('big.pdf', Buffer.concat([Buffer.from('%PDF-1.7\n'), randomBytes(MAX_UPLOAD_BYTES * 2)]), await token(tenantA, 'Kluis.Viewer'));
      expect(response.status).toBe(403);
    });

    it.each([
      ['a PNG named .pdf', 'report.pdf', PNG],
      ['a Windows executable named .docx', 'memo.docx', Buffer.from('MZ\x90\x00\x03\x00\x00\x00\x04\x00', 'latin1')],
      ['a presentation named .xlsx', 'budget.xlsx', fixture('slides.pptx')],
      ['a PDF named .png', 'photo.png', fixture('two-pages.pdf')],
    ])('refuses %s with 415 (magic bytes do not match the extension) and keeps nothing', async (_label, name, bytes) => {
      const [rowsBefore, blobsBefore] = [(await uploadsOf(workspaceA)).length, await storedBlobs(workspaceA)];

      const response = await upload(name, bytes);

      expect(response.status).toBe(415);
      expect(response.body.error.id).toBe('upload_type_mismatch');
      expect((await uploadsOf(workspaceA)).length).toBe(rowsBefore);
      expect(await storedBlobs(workspaceA)).toBe(blobsBefore);
    });

    it.each(['payload.exe', 'vector.svg', 'archive.zip', 'README'])('refuses the unsupported type of %s with 415', async (name) => {
      const response = await upload(name, Buffer.from('<svg onload="alert(1)"/>'));
      expect(response.status).toBe(415);
      expect(response.body.error.id).toBe('upload_type_unsupported');
    });

    it.each([
      ['a parent-directory walk', '../../../etc/passwd.txt', 'passwd.txt'],
      ['a Windows path', 'C:\\Windows\\System32\\notes.md', 'notes.md'],
      ['a right-to-left override (exe shown as txt)', 'evil\u202Eexe.txt', 'evilexe.txt'],
      ['control characters', 'a\u0001b\u0007c\u001b[31m.txt', 'abc[31m.txt'],
      ['a quote and a semicolon (header injection)', 'x"; filename=evil.html; .txt', 'x_; filename=evil.html; .txt'],
      ['a 1,000-character name', `${'n'.repeat(1000)}.txt`, `${'n'.repeat(196)}.txt`],
    ])('cleans %s, stores the file under its id, and downloads it under the clean name', async (_label, hostile, clean) => {
      const content = Buffer.from(`hostile name test ${randomUUID()}`);
      // filename* carries every character as sent, control characters included.
      const response = await send('POST', '/api/knowledge/uploads', await asManagerA(), multipart([{ name: 'file', filenameStar: hostile, data: content }]));

      expect(response.status).toBe(201);
      expect(response.body.fileName).toBe(clean);
      const download = await send('GET', await link(response.body.id, await asManagerA()), await asManagerA());
      expect(download.status).toBe(200);
      expect(download.bytes.equals(content)).toBe(true);
      expect(download.headers.get('content-disposition')).toBe(`attachment; filename="${clean.replace(/[^\x20-\x7e]|["\\%]/g, '_')}"; filename*=UTF-8''${encodeURIComponent(clean).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)}`);
      if (storeKind === 'encrypted folder') expect(fs.existsSync(path.join(kluis.dataDir, 'blobs', 'passwd.txt'))).toBe(false);
    });

    it('refuses a NUL byte hiding a second extension (report.txt\\0.exe) as the .exe it is', async () => {
      const response = await send('POST', '/api/knowledge/uploads', await asManagerA(), multipart([{ name: 'file', filenameStar: 'report.txt\u0000.exe', data: 'text' }]));
      expect(response.status).toBe(415);
      expect(response.body.error.id).toBe('upload_type_unsupported');
    });

    it.each([
      ['no file part', () => multipart([{ name: 'comment', data: 'hello' }])],
      ['two files in one request', () => multipart([{ name: 'file', filename: 'a.txt', data: 'one' }, { name: 'file', filename: 'b.txt', data: 'two' }])],
      ['too many parts', () => multipart([...Array.from({ length: 10 }, (_, i) => ({ name: `f${i}`, data: 'x' })), { name: 'file', filename: 'a.txt', data: 'one' }])],
      ['an over-long field', () => multipart([{ name: 'note', data: 'x'.repeat(5000) }, { name: 'file', filename: 'a.txt', data: 'one' }])],
      ['an empty file', () => multipart([{ name: 'file', filename: 'empty.txt', data: '' }])],
      ['a name with nothing left once cleaned', () => multipart([{ name: 'file', filename: '../..', data: 'x' }])],
      ['a truncated body', () => { const m = onePart('cut.txt', Buffer.from('some text')); return { ...m, body: m.body.subarray(0, m.body.length - 20) }; }],
      ['a multipart type without a boundary', () => ({ body: Buffer.from('x'), contentType: 'multipart/form-data' })],
      ['JSON instead of multipart', () => ({ body: Buffer.from('{"file":"x"}'), contentType: 'application/json' })],
    ])('refuses %s with 400 and keeps nothing', async (_label, build) => {
      const [rowsBefore, blobsBefore] = [(await uploadsOf(workspaceA)).length, await storedBlobs(workspaceA)];

      const response = await send('POST', '/api/knowledge/uploads', await asManagerA(), build());

      expect(response.status).toBe(400);
      expect(response.body.error.id).toBe('upload_malformed');
      expect((await uploadsOf(workspaceA)).length).toBe(rowsBefore);
      expect(await storedBlobs(workspaceA)).toBe(blobsBefore);
    });

    it('refuses a multipart upload a browser marks as cross-site (cross-site request forgery)', async () => {
      const response = await send('POST', '/api/knowledge/uploads', await asManagerA(), onePart('a.txt', Buffer.from('x')), { 'sec-fetch-site': 'cross-site' });
      expect(response.status).toBe(403);
    });

    it.each([['Kluis.User'], ['Kluis.Viewer']])('refuses an upload by a %s with 403, and lets them list', async (role) => {
      const bearer = await token(tenantA, role);
      const before = (await uploadsOf(workspaceA)).length;

      const response = await upload('notes.md', fixture('notes.md'), bearer);

      expect(response.status).toBe(403);
      expect((await uploadsOf(workspaceA)).length).toBe(before);
      expect((await send('GET', '/api/knowledge/uploads', bearer)).status).toBe(200);
    });

    it.each([
      ['a small file', fixture('notes.md')],
      ['a file twice the limit (read and dropped, so the 401 arrives)', Buffer.concat([Buffer.from('# x\n'), Buffer.alloc(MAX_UPLOAD_BYTES * 2, 0x61)])],
    ])('refuses an upload without credentials with 401: %s', async (_label, bytes) => {
      expect((await upload('notes.md', bytes, '')).status).toBe(401);
    });

    it('audits uploads with metadata only, never the file name or content', async () => {
      const canary = `CANARY${randomBytes(6).toString('hex')}`;
      await upload(`${canary}.txt`, Buffer.from(`secret text ${canary}`));

      const events = await db.auditEvent.findMany({ where: { workspaceId: workspaceA, kind: { startsWith: 'upload.' } } });

      expect(events.some((e) => e.kind === 'upload.stored' && e.outcome === 'success')).toBe(true);
      expect(JSON.stringify(events)).not.toContain(canary);
    });
  });

  describe('workspaces and deleting', () => {
    it("answers 404 to another workspace's admin for every operation on an upload, and lists only their own", async () => {
      const mine = await upload('notes.md', fixture('notes.md'));
      const adminB = await token(tenantB, 'Kluis.Admin');

      expect((await send('DELETE', `/api/knowledge/uploads/${mine.body.id}`, adminB, {})).status).toBe(404);
      expect((await send('POST', `/api/files/${mine.body.id}/link`, adminB, {})).status).toBe(404);
      expect((await send('GET', '/api/knowledge/uploads', adminB)).body.uploads).toEqual([]);
      expect(await db.upload.count({ where: { workspaceId: workspaceA, id: mine.body.id } })).toBe(1);
    });

    it('lets a manager delete an upload: record, blob and chunks go; a user may not', async () => {
      const created = await upload('headings.docx', fixture('headings.docx'));
      const record = await db.upload.findFirstOrThrow({ where: { workspaceId: workspaceA, id: created.body.id } });
      const blobsBefore = await storedBlobs(workspaceA);

      expect((await send('DELETE', `/api/knowledge/uploads/${created.body.id}`, await token(tenantA, 'Kluis.User'), {})).status).toBe(403);
      const deleted = await send('DELETE', `/api/knowledge/uploads/${created.body.id}`, await asManagerA(), {});

      expect(deleted.status).toBe(204);
      expect(await db.upload.count({ where: { workspaceId: workspaceA, id: created.body.id } })).toBe(0);
      expect(await db.document.count({ where: { workspaceId: workspaceA, id: record.documentId! } })).toBe(0);
      expect(await kluis.modules.index.countChunks(workspaceA, record.documentId!)).toBe(0);
      expect(await storedBlobs(workspaceA)).toBe(blobsBefore - 1);
      expect((await send('DELETE', `/api/knowledge/uploads/${created.body.id}`, await asManagerA(), {})).status).toBe(404);
    });

    it.each(['not-a-uuid', '..%2F..%2Fetc', randomUUID().toUpperCase()])('answers 404 to the malformed upload id %s', async (id) => {
      expect((await send('DELETE', `/api/knowledge/uploads/${id}`, await asManagerA(), {})).status).toBe(404);
      expect((await send('POST', `/api/files/${id}/link`, await asManagerA(), {})).status).toBe(404);
    });
  });

  describe('download links', () => {
    let fileId: string;
    const content = fixture('two-pages.pdf');

    beforeAll(async () => {
      fileId = (await upload('Begroting – 2026.pdf', content)).body.id;
    });

    it('downloads the decrypted file as an attachment that is neither sniffed nor cached, and audits it', async () => {
      const bearer = await token(tenantA, 'Kluis.User', userA);
      const response = await send('POST', `/api/files/${fileId}/link`, bearer, {});
      expect(response.status).toBe(201);
      const expiresIn = Date.parse(response.body.expiresAt) - Date.now();
      expect(expiresIn).toBeGreaterThan(0);
      expect(expiresIn).toBeLessThanOrEqual(60_000);
      expect(response.body.url.startsWith(`${kluis.url}/api/files/download/`)).toBe(true);

      const download = await send('GET', response.body.url, bearer);

      expect(download.status).toBe(200);
      expect(download.bytes.equals(content)).toBe(true);
      expect(download.headers.get('content-type')).toBe('application/pdf');
      expect(download.headers.get('content-disposition')).toBe(`attachment; filename="Begroting _ 2026.pdf"; filename*=UTF-8''Begroting%20%E2%80%93%202026.pdf`);
      expect(download.headers.get('x-content-type-options')).toBe('nosniff');
      expect(download.headers.get('cache-control')).toBe('no-store');
      const audited = await db.auditEvent.findMany({ where: { workspaceId: workspaceA, kind: 'file.downloaded' } });
      expect(audited.some((e) => (e.detail as { uploadId?: string }).uploadId === fileId && e.outcome === 'success')).toBe(true);
    });

    it('never exposes the stored form: the blob at rest is not the file', async () => {
      if (storeKind === 'encrypted folder') {
        const dir = path.join(kluis.dataDir, 'blobs', createHash('sha256').update(`ws:${workspaceA}`).digest('hex').slice(0, 32));
        expect(fs.readdirSync(dir).some((f) => fs.readFileSync(path.join(dir, f)).includes(content.subarray(0, 64)))).toBe(false);
      } else {
        const client = s3!.client();
        const bucket = bucketNameFor('kluis-', workspaceA);
        const page = await client.listObjectsQuery(bucket, '', '', { Delimiter: '', MaxKeys: 1000 });
        for (const object of page.objects) {
          const chunks: Buffer[] = [];
          for await (const chunk of await client.getObject(bucket, object.name!)) chunks.push(chunk as Buffer);
          expect(Buffer.concat(chunks).includes(content.subarray(0, 64))).toBe(false);
        }
      }
    });

    it.each([
      ['a flipped character in the payload', (t: string) => `${t.slice(0, 10)}${t[10] === 'A' ? 'B' : 'A'}${t.slice(11)}`],
      ['a flipped character in the signature', (t: string) => `${t.slice(0, -3)}${t.at(-3) === 'A' ? 'B' : 'A'}${t.slice(-2)}`],
      ['the signature removed', (t: string) => t.split('.')[0]!],
      ['garbage', () => 'not-a-link'],
    ])('refuses a tampered link (%s) with 403 and audits the refusal', async (_label, tamper) => {
      const bearer = await token(tenantA, 'Kluis.User', userA);
      const url = await link(fileId, bearer);
      const token0 = url.slice(url.lastIndexOf('/') + 1);
      const before = (await refusedDownloads(workspaceA)).length;

      const response = await send('GET', `/api/files/download/${tamper(token0)}`, bearer);

      expect(response.status).toBe(403);
      expect(response.body.error.id).toBe('download_link_invalid');
      expect(response.bytes.includes(content.subarray(0, 16))).toBe(false);
      expect((await refusedDownloads(workspaceA)).length).toBe(before + 1);
    });

    it('refuses an expired link, correctly signed, with 410 and audits it', async () => {
      const bearer = await token(tenantA, 'Kluis.User', userA);
      const url = await link(fileId, bearer);
      const payload = JSON.parse(Buffer.from(url.slice(url.lastIndexOf('/') + 1).split('.')[0]!, 'base64url').toString()) as { w: string; f: string; u: string };
      // Signed with the real key (derived from the test's MASTER_KEY), 61 seconds ago with a 60-second lifetime.
      const signer = createDownloadLinkSigner(deriveKeys(masterKey).downloadLinkSigning, 60);
      const expired = signer.sign({ workspaceId: payload.w, fileId: payload.f, userId: payload.u }, new Date(Date.now() - 61_000));
      const stillValid = signer.sign({ workspaceId: payload.w, fileId: payload.f, userId: payload.u }, new Date(Date.now() - 30_000));
      const before = (await refusedDownloads(workspaceA)).length;

      const response = await send('GET', `/api/files/download/${expired.token}`, bearer);

      expect(response.status).toBe(410);
      expect(response.body.error.id).toBe('download_link_expired');
      expect((await refusedDownloads(workspaceA)).length).toBe(before + 1);
      // Control: the same key and grant, not yet expired, downloads.
      expect((await send('GET', `/api/files/download/${stillValid.token}`, bearer)).status).toBe(200);
    });

    it("refuses another user's link, even to a manager of the same workspace (a forwarded link)", async () => {
      const url = await link(fileId, await token(tenantA, 'Kluis.User', userA));
      const before = (await refusedDownloads(workspaceA)).length;

      const response = await send('GET', url, await asManagerA());

      expect(response.status).toBe(403);
      expect(response.body.error.id).toBe('download_link_invalid');
      expect((await refusedDownloads(workspaceA)).length).toBe(before + 1);
    });

    it("refuses a link of another workspace (cross-tenant replay) and audits it in the caller's workspace", async () => {
      const url = await link(fileId, await token(tenantA, 'Kluis.User', userA));
      const before = (await refusedDownloads(workspaceB)).length;

      const response = await send('GET', url, await token(tenantB, 'Kluis.Admin'));

      expect(response.status).toBe(403);
      expect(response.body.error.id).toBe('download_link_invalid');
      expect((await refusedDownloads(workspaceB)).length).toBe(before + 1);
    });

    it('refuses a link without credentials with 401', async () => {
      const url = await link(fileId, await token(tenantA, 'Kluis.User', userA));
      expect((await send('GET', url, undefined)).status).toBe(401);
    });

    it('refuses the link of a deleted file with 404 and audits it', async () => {
      const doomed = (await upload('doomed.txt', Buffer.from('short-lived'))).body.id as string;
      const bearer = await token(tenantA, 'Kluis.User', userA);
      const url = await link(doomed, bearer);
      expect((await send('DELETE', `/api/knowledge/uploads/${doomed}`, await asManagerA(), {})).status).toBe(204);
      const before = (await refusedDownloads(workspaceA)).length;

      const response = await send('GET', url, bearer);

      expect(response.status).toBe(404);
      expect((await refusedDownloads(workspaceA)).length).toBe(before + 1);
    });
  });
});

afterAll(async () => {
  await db.$disconnect();
});
