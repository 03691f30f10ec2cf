/**
 * Crypto-shredding end to end: Kluis running with its real wiring (encrypted folder blob store,
 * LanceDB index, MariaDB key store), files uploaded over HTTP by two workspaces. A canary string in
 * a file must not be at rest in plaintext in the blob folder (beneath the folder's own encryption
 * too) or anywhere in the index folder (passage text sealed, full-text columns keyed tokens); destroying one workspace's data key must make its files
 * and passages unreadable while the other workspace works on; deleting the workspace from the index
 * must take its words off the disk.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import * as lancedb from '@lancedb/lancedb';
import { isKluisError } from '../../api/errors';
import { createEncryptedFolderStore } from '../../api/files/encryptedFolderStore';
import { blobNameOf } from '../../api/knowledge/uploads';
import { startFakeEntraIssuer, type FakeEntraIssuer } from '../fakes/entraIssuer';
import { openTestDatabase } from '../support/database';
import { startTestKluis } from '../support/kluis';

const db = openTestDatabase();

/** Every file under `dir` whose bytes contain `needle`. */
function filesContaining(dir: string, needle: string): string[] {
  const found: string[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    const file = path.join(entry.parentPath, entry.name);
    if (fs.readFileSync(file).includes(Buffer.from(needle))) found.push(path.relative(dir, file));
  }
  return found;
}

async function failure(work: () => Promise<unknown>): Promise<unknown> {
  try {
    await work();
  } catch (error) {
    return error;
  }
  return undefined;
}

describe('workspace data keys, end to end', () => {
  const tenantA = randomUUID();
  const tenantB = randomUUID();
  const managerA = randomUUID();
  const managerB = randomUUID();
  const canaryA = `CANARYA${randomBytes(6).toString('hex')}`;
  const canaryB = `CANARYB${randomBytes(6).toString('hex')}`;
  let issuer: FakeEntraIssuer;
  let kluis: Awaited<ReturnType<typeof startTestKluis>>;
  let workspaceA: string;
  let workspaceB: string;
  let uploadA: string;
  let uploadB: string;

  const token = (tid: string, oid: string) => issuer.issueAccessToken({ tid, oid, iss: `${issuer.authorityHost}/${tid}/v2.0`, aud: issuer.clientId, roles: ['Kluis.Manager'] });

  async function upload(tid: string, oid: string, fileName: string, text: string): Promise<string> {
    const boundary = `----kluis${randomBytes(8).toString('hex')}`;
    const body = Buffer.concat([
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${fileName}"\r\nContent-Type: text/plain\r\n\r\n`),
      Buffer.from(text),
      Buffer.from(`\r\n--${boundary}--\r\n`),
    ]);
    const response = await fetch(`${kluis.url}/api/knowledge/uploads`, { method: 'POST', headers: { authorization: `Bearer ${await token(tid, oid)}`, 'content-type': `multipart/form-data; boundary=${boundary}` }, body });
    const json = (await response.json()) as { id: string; indexStatus: string };
    expect(response.status).toBe(201);
    expect(json.indexStatus).toBe('indexed');
    return json.id;
  }

  async function download(tid: string, oid: string, fileId: string): Promise<{ status: number; bytes: Buffer; errorId?: string }> {
    const bearer = await token(tid, oid);
    const linked = await fetch(`${kluis.url}/api/files/${fileId}/link`, { method: 'POST', headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json' }, body: '{}' });
    expect(linked.status).toBe(201);
    const { url } = (await linked.json()) as { url: string };
    const response = await fetch(url.startsWith('http') ? url : `${kluis.url}${url}`, { headers: { authorization: `Bearer ${bearer}` } });
    const bytes = Buffer.from(await response.arrayBuffer());
    const errorId = response.headers.get('content-type')?.startsWith('application/json') ? (JSON.parse(bytes.toString()) as { error?: { id?: string } }).error?.id : undefined;
    return { status: response.status, bytes, errorId };
  }

  async function storedPassages(workspaceId: string): Promise<string[]> {
    const connection = await lancedb.connect(path.join(kluis.dataDir, 'index'));
    try {
      const table = await connection.openTable('chunks');
      const rows = (await table.query().where(`workspace_id = '${workspaceId}'`).select(['text']).toArray()) as Array<{ text: string }>;
      table.close();
      return rows.map((r) => r.text);
    } finally {
      connection.close();
    }
  }

  beforeAll(async () => {
    issuer = await startFakeEntraIssuer();
    kluis = await startTestKluis({
      LOCAL_TENANT_ID: randomUUID(),
      ONBOARD_TENANTS: `${tenantA}=Contoso,${tenantB}=Fabrikam`,
      ENTRA_CLIENT_ID: issuer.clientId,
      ENTRA_API_URI: `api://kluis.example/${issuer.clientId}`,
      ENTRA_AUTHORITY_HOST: issuer.authorityHost,
      MASTER_KEY: randomBytes(32).toString('hex'),
    });
    workspaceA = (await db.workspace.findUniqueOrThrow({ where: { tenantId: tenantA } })).id;
    workspaceB = (await db.workspace.findUniqueOrThrow({ where: { tenantId: tenantB } })).id;
    uploadA = await upload(tenantA, managerA, 'salaries.txt', `Salary review 2026. The bonus code is ${canaryA} for every department.`);
    uploadB = await upload(tenantB, managerB, 'parking.txt', `Parking permits 2026. The gate code is ${canaryB} at reception.`);
  }, 60_000);

  afterAll(async () => {
    await kluis?.stop();
    await issuer?.close();
    await db.workspace.deleteMany({ where: { tenantId: { in: [tenantA, tenantB] } } });
    await db.$disconnect();
  });

  it('keeps the canary out of the blob folder, beneath the folder store\'s own encryption too', async () => {
    const blobDir = path.join(kluis.dataDir, 'blobs');
    expect(filesContaining(blobDir, canaryA)).toEqual([]);

    // What the folder store holds once its own layer is removed is still sealed with the workspace key.
    const below = await createEncryptedFolderStore(blobDir).get(workspaceA, blobNameOf(uploadA));
    expect(below![0]).toBe(1);
    expect(below!.includes(Buffer.from(canaryA))).toBe(false);
  });

  it('keeps the canary out of every file of the index: passage text sealed, searchable words stored as keyed tokens', async () => {
    expect(filesContaining(path.join(kluis.dataDir, 'index'), canaryA)).toEqual([]);
    // ...nor any other word of the passage.
    expect(filesContaining(path.join(kluis.dataDir, 'index'), 'department')).toEqual([]);
  });

  it('stores the passage text sealed in the index, and a search opens it again', async () => {
    const passages = await storedPassages(workspaceA);
    expect(passages.length).toBeGreaterThan(0);
    for (const text of passages) {
      expect(text).toMatch(/^sealed:v1:/);
      expect(text).not.toContain(canaryA);
    }

    const hits = await kluis.modules.index.search(workspaceA, 'bonus code salary review', { limit: 5 });
    expect(hits.some((h) => h.text.includes(canaryA))).toBe(true);
    expect((await download(tenantA, managerA, uploadA)).bytes.toString()).toContain(canaryA);
  });

  it('after the data key of workspace A is destroyed, its file and passages are unreadable and workspace B works on', async () => {
    await kluis.modules.dataKeys.destroy(workspaceA);

    const refused = await download(tenantA, managerA, uploadA);
    expect(refused.status).toBe(410);
    expect(refused.errorId).toBe('data_key_destroyed');
    expect(refused.bytes.includes(Buffer.from(canaryA))).toBe(false);
    const searchError = await failure(() => kluis.modules.index.search(workspaceA, 'bonus code salary review', { limit: 5 }));
    expect(isKluisError(searchError, 'data_key_destroyed')).toBe(true);
    // Nothing new can be sealed for A either: an upload is refused, not stored under a fresh key.
    const late = await fetch(`${kluis.url}/api/knowledge/uploads`, {
      method: 'POST',
      headers: { authorization: `Bearer ${await token(tenantA, managerA)}`, 'content-type': 'multipart/form-data; boundary=x' },
      body: Buffer.from('--x\r\nContent-Disposition: form-data; name="file"; filename="late.txt"\r\nContent-Type: text/plain\r\n\r\nlate text\r\n--x--\r\n'),
    });
    expect(late.status).toBe(410);

    const b = await download(tenantB, managerB, uploadB);
    expect(b.status).toBe(200);
    expect(b.bytes.toString()).toContain(canaryB);
    const hitsB = await kluis.modules.index.search(workspaceB, 'gate code parking permits', { limit: 5 });
    expect(hitsB.some((h) => h.text.includes(canaryB))).toBe(true);
  });

  it('deleting workspace A from the index takes its words off the disk (old versions and full-text postings included), B stays searchable', async () => {
    await kluis.modules.index.deleteWorkspace(workspaceA);

    expect(filesContaining(path.join(kluis.dataDir, 'index'), canaryA)).toEqual([]);
    expect(await kluis.modules.index.countChunks(workspaceA)).toBe(0);
    const hitsB = await kluis.modules.index.search(workspaceB, 'gate code parking permits', { limit: 5 });
    expect(hitsB.some((h) => h.text.includes(canaryB))).toBe(true);
  });
});
