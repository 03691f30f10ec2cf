/**
 * Both blob stores against the shared BlobStore conformance suite: the encrypted folder (embedded)
 * on a temporary directory, and the MinIO store on a real S3-protocol server (s3rver) on a free
 * local port. Then what only the MinIO store can get wrong: its bucket and object naming, what
 * reaches the storage, credentials in errors, and a storage that is down or stalls.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { Client } from 'minio';
import { createEncryptedFolderStore } from '../../api/files/encryptedFolderStore';
import { bucketNameFor, createMinioStore, objectNameFor, type MinioStoreOptions } from '../../api/files/minioStore';
import type { BlobStore } from '../../api/files/ports';
import { blobStoreConformance, type Tamper } from '../conformance/blobStore.suite';
import { startS3Server, type TestS3Server } from '../fakes/s3Server';
import { errorId, everythingSaidAbout, kluisRejection } from '../support/errors';

const PREFIX = 'kluis-';
const encryptionKey = randomBytes(32);
let folderDir: string;
let s3: TestS3Server;
let raw: Client;

beforeAll(async () => {
  folderDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kluis-blob-conformance-'));
  s3 = await startS3Server();
  raw = s3.client();
});

afterAll(async () => {
  fs.rmSync(folderDir, { recursive: true, force: true });
  await s3.close();
});

function minioOptions(overrides: Partial<MinioStoreOptions> = {}): MinioStoreOptions {
  return { endPoint: s3.endPoint, port: s3.port, useSSL: false, pathStyle: true, region: s3.region, accessKey: s3.accessKey, secretKey: s3.secretKey, bucketPrefix: PREFIX, encryptionKey, ...overrides };
}

async function readObject(bucket: string, object: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of await raw.getObject(bucket, object)) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function objectsIn(bucket: string): Promise<string[]> {
  const page = await raw.listObjectsQuery(bucket, '', '', { Delimiter: '', MaxKeys: 1000 });
  return page.objects.map((o) => o.name!);
}

/** The folder store's file for a blob, by its documented layout (a missing file fails the read). */
const tamperFolder: Tamper = async (workspaceId, name, change) => {
  const hash = (text: string) => createHash('sha256').update(text).digest('hex');
  const file = path.join(folderDir, hash(`ws:${workspaceId}`).slice(0, 32), hash(`blob:${JSON.stringify(name)}`));
  fs.writeFileSync(file, change(fs.readFileSync(file)));
};

/** The MinIO store's object for a blob, rewritten over the S3 API as the storage's operator could. */
const tamperMinio: Tamper = async (workspaceId, name, change) => {
  const bucket = bucketNameFor(PREFIX, workspaceId);
  const object = objectNameFor(name);
  const changed = change(await readObject(bucket, object));
  await raw.putObject(bucket, object, changed, changed.length);
};

blobStoreConformance('encrypted folder', async () => createEncryptedFolderStore(folderDir), { tamper: tamperFolder });

blobStoreConformance('MinIO (S3 protocol)', async () => createMinioStore(minioOptions()), { tamper: tamperMinio });

describe('MinIO blob store specifics', () => {
  let store: BlobStore;
  let workspace: string;

  beforeEach(() => {
    store = createMinioStore(minioOptions());
    workspace = randomUUID();
  });

  afterEach(async () => {
    await store.deleteWorkspace(workspace);
  });

  describe('naming', () => {
    it('names the bucket prefix + workspace UUID without dashes, and creates it on the first write only', async () => {
      const expected = `kluis-${workspace.replaceAll('-', '')}`;
      expect(bucketNameFor(PREFIX, workspace)).toBe(expected);
      expect(await raw.bucketExists(expected)).toBe(false);

      await store.get(workspace, 'read before any write');
      await store.delete(workspace, 'delete before any write');
      expect(await raw.bucketExists(expected)).toBe(false);

      await store.put(workspace, 'first', Buffer.from('x'));
      expect(await raw.bucketExists(expected)).toBe(true);
    });

    it('stores each blob as one object named by the SHA-256 of the JSON-encoded name, never the name itself', async () => {
      const names = ['uploads/contract-acme.pdf', '../../escape', ''];
      for (const n of names) await store.put(workspace, n, Buffer.from('x'));

      const objects = await objectsIn(bucketNameFor(PREFIX, workspace));

      const expected = names.map((n) => createHash('sha256').update(JSON.stringify(n)).digest('hex'));
      expect(objects.sort()).toEqual(expected.sort());
      for (const o of objects) expect(o).toMatch(/^[0-9a-f]{64}$/);
    });

    it('keeps names apart that differ only in a lone surrogate (which UTF-8 would turn into the same U+FFFD)', async () => {
      await store.put(workspace, 'a\uD800', Buffer.from('high'));
      await store.put(workspace, 'a\uDC00', Buffer.from('low'));

      expect((await store.get(workspace, 'a\uD800'))?.toString()).toBe('high');
      expect((await store.get(workspace, 'a\uDC00'))?.toString()).toBe('low');
    });

    it('removes the bucket itself on deleteWorkspace', async () => {
      await store.put(workspace, 'one', Buffer.from('x'));

      await store.deleteWorkspace(workspace);

      expect(await raw.bucketExists(bucketNameFor(PREFIX, workspace))).toBe(false);
    });

    it('fits the longest allowed prefix and a UUID into the 63 characters S3 allows, without shortening the UUID', () => {
      const prefix = `k${'x'.repeat(30)}`;

      const bucket = bucketNameFor(prefix, workspace);

      expect(bucket).toHaveLength(63);
      expect(bucket.endsWith(workspace.replaceAll('-', ''))).toBe(true);
    });

    it.each(['', 'Kluis-', 'kluis.', '-kluis', 'kluis_', `k${'x'.repeat(31)}`, 'xn--kluis', 'sthree-kluis', 'amzn-s3-demo-kluis', 'klüis-'])(
      'refuses the bucket prefix %j',
      (prefix) => {
        expect(errorId(() => createMinioStore(minioOptions({ bucketPrefix: prefix })))).toBe('config_invalid');
      },
    );

    it.each([0, 16, 31, 33, 64])('refuses an encryption key of %d bytes', (length) => {
      expect(errorId(() => createMinioStore(minioOptions({ encryptionKey: randomBytes(length) })))).toBe('config_invalid');
    });

    it.each([
      ['an upper-case UUID', () => randomUUID().toUpperCase()],
      ['a UUID without dashes', () => randomUUID().replaceAll('-', '')],
      ['a name', () => 'workspace-a'],
      ['a bucket name in disguise', () => 'kluis-other-bucket'],
      ['a path', () => '../kluis-00000000000000000000000000000000'],
    ])('refuses %s as a workspace id in every call, creating no bucket', async (_label, build) => {
      const hostile = build();
      const before = (await raw.listBuckets()).map((b) => b.name).sort();

      for (const call of [
        () => store.put(hostile, 'file', Buffer.from('x')),
        () => store.get(hostile, 'file'),
        () => store.delete(hostile, 'file'),
        () => store.deleteWorkspace(hostile),
      ]) {
        expect((await kluisRejection(call())).id).toBe('request_malformed');
      }

      expect((await raw.listBuckets()).map((b) => b.name).sort()).toEqual(before);
    });
  });

  describe('what reaches the storage', () => {
    it('never sends the plaintext or the name to the storage (a storage operator learns nothing)', async () => {
      const canary = 'CANARY-5d1e7b-plaintext-must-not-leak';
      const nameCanary = 'NAMECANARY-merger-plans-2025.docx';
      await store.put(workspace, nameCanary, Buffer.from(`Confidential: ${canary}. ${canary}.`));
      await store.put(workspace, 'utf16', Buffer.from(canary, 'utf16le'));

      const revealing = (needle: string) => filesRevealing(s3.directory, needle);

      expect(revealing(canary)).toEqual([]);
      expect(revealing(nameCanary)).toEqual([]);
      // Control: the scan does find a canary that the storage holds in plain.
      await raw.putObject(bucketNameFor(PREFIX, workspace), 'control', Buffer.from(`plain ${canary}`));
      expect(revealing(canary)).not.toEqual([]);
    });

    it('a store with another encryption key cannot open the blobs (a copied bucket without its key is useless)', async () => {
      await store.put(workspace, 'secret', Buffer.from('sealed'));

      const thief = createMinioStore(minioOptions({ encryptionKey: randomBytes(32) }));

      expect((await kluisRejection(thief.get(workspace, 'secret'))).id).toBe('store_unavailable');
    });
  });

  describe('when the storage fails', () => {
    it('wrong credentials fail every call with store_unavailable, and no error carries the keys', async () => {
      const accessKey = 'ACCESSCANARY7Q2';
      const secretKey = 'SECRETCANARY-9x8w7v';
      const locked = createMinioStore(minioOptions({ accessKey, secretKey }));

      for (const call of [
        () => locked.ping(),
        () => locked.put(workspace, 'file', Buffer.from('x')),
        () => locked.get(workspace, 'file'),
        () => locked.delete(workspace, 'file'),
        () => locked.deleteWorkspace(workspace),
      ]) {
        const error = await kluisRejection(call());
        expect(error.id).toBe('store_unavailable');
        const said = everythingSaidAbout(error);
        expect(said).not.toContain(accessKey);
        expect(said).not.toContain(secretKey);
      }
    });

    it('an endpoint nobody listens on fails with store_unavailable', async () => {
      const port = await closedPort();
      const down = createMinioStore(minioOptions({ port }));

      expect((await kluisRejection(down.ping())).id).toBe('store_unavailable');
      expect((await kluisRejection(down.get(workspace, 'file'))).id).toBe('store_unavailable');
      expect((await kluisRejection(down.put(workspace, 'file', Buffer.from('x')))).id).toBe('store_unavailable');
    });

    describe('a storage that stalls', () => {
      let stalled: net.Server;
      const sockets = new Set<net.Socket>();

      beforeEach(async () => {
        stalled = net.createServer((socket) => sockets.add(socket));
        await new Promise<void>((resolve) => stalled.listen(0, '127.0.0.1', resolve));
      });

      // Here, not in the test: if the store hung, the test times out and this still frees the port.
      afterEach(async () => {
        for (const socket of sockets) socket.destroy();
        await new Promise<void>((resolve) => stalled.close(() => resolve()));
      });

      it('fails ping in time instead of hanging the health check (accepts the connection, never answers)', async () => {
        const hung = createMinioStore(minioOptions({ port: (stalled.address() as net.AddressInfo).port, requestTimeoutMs: 300 }));
        const started = Date.now();

        const error = await kluisRejection(hung.ping());

        expect(error.id).toBe('store_unavailable');
        expect(Date.now() - started).toBeLessThan(5_000);
      }, 10_000);
    });
  });
});

/** A port on 127.0.0.1 that was free a moment ago and has no listener now. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Files below `dir` whose path or content gives `canary` away, in UTF-8, UTF-16, hex or base64. */
function filesRevealing(dir: string, canary: string): string[] {
  const needles = [Buffer.from(canary, 'utf8'), Buffer.from(canary, 'utf16le'), Buffer.from(Buffer.from(canary).toString('hex')), Buffer.from(Buffer.from(canary).toString('base64'))];
  const found: string[] = [];
  const walk = (at: string) => {
    for (const entry of fs.readdirSync(at, { withFileTypes: true })) {
      const full = path.join(at, entry.name);
      if (path.relative(dir, full).includes(canary)) found.push(full);
      else if (entry.isDirectory()) walk(full);
      else if (needles.some((needle) => fs.readFileSync(full).includes(needle))) found.push(full);
    }
  };
  walk(dir);
  return found;
}
