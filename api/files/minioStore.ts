/**
 * The production blob store: MinIO, or any S3-compatible object storage.
 *
 * Contents are sealed here, before they leave the process, with AES-256-GCM (a random 12-byte IV
 * per write, the auth tag checked on every read), because the statement promises encryption at
 * rest even where the storage offers no server-side encryption, and because whoever runs the
 * storage should learn nothing from it. The workspace id and the name are bound as associated
 * data, so a blob copied to another name or into another workspace fails to open.
 *
 * Layout, so an operator can find (and remove) a workspace's data by hand:
 * - one bucket per workspace, named `bucketPrefix` + the workspace UUID without its dashes
 *   (see `bucketNameFor`); created on the first write, removed with everything in it by
 *   `deleteWorkspace`;
 * - each blob is one object named hex(sha256(UTF-8 of JSON.stringify(name))), so no caller-chosen
 *   string ever becomes an object path, and the storage never sees the name.
 *
 * Every failure of the storage or the network surfaces as `store_unavailable`, with a detail that
 * names the operation and the storage's error code but never the credentials.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { Readable } from 'node:stream';
import { Client } from 'minio';
import { fail } from '../errors';
import type { BlobStore } from './ports';

export interface MinioStoreOptions {
  endPoint: string;
  port?: number;
  useSSL: boolean;
  accessKey: string;
  secretKey: string;
  /** Defaults to us-east-1, which MinIO accepts unless it was configured with another. */
  region?: string;
  /** Path-style requests (http://host/bucket/object); MinIO and most self-hosted servers want them. */
  pathStyle?: boolean;
  /** Lower-case letters, digits and dashes, at most 31 characters, e.g. 'kluis-'. */
  bucketPrefix: string;
  /** 32 bytes; derive it for this purpose only (see api/identity/keys.ts). */
  encryptionKey: Buffer;
  /** How long a request may go without any progress before it fails; 30 seconds unless set. */
  requestTimeoutMs?: number;
}

const MAGIC = Buffer.from('KLB1');
const IV_BYTES = 12;
const TAG_BYTES = 16;
const DEFAULT_TIMEOUT_MS = 30_000;
/** A delete racing a write can leave the bucket non-empty; this many sweeps before giving up. */
const DELETE_SWEEPS = 3;
/** The most keys one listing page and one bulk delete may carry (an S3 limit). */
const PAGE_SIZE = 1000;
/**
 * Workspace ids are lower-case UUIDs (randomUUID, CHAR(36) in the database). Only that exact form
 * is accepted: an upper-case spelling would reach the same bucket under different associated
 * data, and anything else has no safe bucket name at all.
 */
const WORKSPACE_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/**
 * 31 characters at most, so prefix plus the 32 hex digits of the UUID fit the 63 S3 allows
 * without ever shortening the UUID (a shortened one could put two workspaces in one bucket).
 * No dots: they break TLS for virtual-hosted buckets. It starts with a letter or digit, and the
 * name always ends with a hex digit, as S3 requires.
 */
const BUCKET_PREFIX = /^[a-z0-9][a-z0-9-]{0,30}$/;
/** Prefixes S3 reserves for its own bucket names. */
const RESERVED_PREFIXES = ['xn--', 'sthree-', 'amzn-s3-demo-'];

/**
 * The bucket of a workspace: `bucketPrefix` followed by the workspace UUID without dashes, e.g.
 * 'kluis-' and 3f2a…-…-9c1d give 'kluis-3f2a…9c1d' (38 characters). One-to-one, so no two
 * workspaces ever share a bucket. A workspace id that is not a lower-case UUID is refused.
 */
export function bucketNameFor(bucketPrefix: string, workspaceId: string): string {
  checkBucketPrefix(bucketPrefix);
  if (typeof workspaceId !== 'string' || !WORKSPACE_ID.test(workspaceId)) {
    fail('request_malformed', `Workspace id is not a lower-case UUID: ${JSON.stringify(String(workspaceId).slice(0, 40))}`);
  }
  return bucketPrefix + workspaceId.replaceAll('-', '');
}

/** The object that holds a blob. JSON first, so lone surrogates stay distinct instead of all becoming U+FFFD. */
export function objectNameFor(name: string): string {
  return createHash('sha256').update(JSON.stringify(name), 'utf8').digest('hex');
}

function checkBucketPrefix(prefix: string): void {
  if (typeof prefix !== 'string' || !BUCKET_PREFIX.test(prefix) || RESERVED_PREFIXES.some((reserved) => prefix.startsWith(reserved))) {
    fail('config_invalid', `The bucket prefix ${JSON.stringify(String(prefix).slice(0, 40))} is not 1-31 lower-case letters, digits or dashes starting with a letter or digit (or it is reserved by S3)`);
  }
}

/** Same associated data as the folder store: JSON keeps ("a\nb", "c") and ("a", "b\nc") apart. */
function associatedData(workspaceId: string, name: string): Buffer {
  return Buffer.from(JSON.stringify([workspaceId, name]));
}

function seal(key: Buffer, workspaceId: string, name: string, bytes: Buffer): Buffer {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(associatedData(workspaceId, name));
  return Buffer.concat([MAGIC, iv, cipher.update(bytes), cipher.final(), cipher.getAuthTag()]);
}

function unseal(key: Buffer, workspaceId: string, name: string, sealed: Buffer): Buffer {
  if (sealed.length < MAGIC.length + IV_BYTES + TAG_BYTES || !sealed.subarray(0, MAGIC.length).equals(MAGIC)) {
    fail('store_unavailable', 'A blob in object storage is damaged (bad header)');
  }
  const iv = sealed.subarray(MAGIC.length, MAGIC.length + IV_BYTES);
  const tag = sealed.subarray(sealed.length - TAG_BYTES);
  const decipher = createDecipheriv('aes-256-gcm', key, iv);
  decipher.setAAD(associatedData(workspaceId, name));
  decipher.setAuthTag(tag);
  try {
    return Buffer.concat([decipher.update(sealed.subarray(MAGIC.length + IV_BYTES, sealed.length - TAG_BYTES)), decipher.final()]);
  } catch (error) {
    fail('store_unavailable', 'A blob in object storage failed its integrity check', { cause: error });
  }
}

/**
 * The minio client sets no timeout, so a storage that accepts the connection and then stalls
 * would hang every caller (and the health check) for good. This transport ends any request that
 * makes no progress for `timeoutMs`.
 */
function transportWithTimeout(useSSL: boolean, timeoutMs: number): Pick<typeof http, 'request'> {
  const base = useSSL ? https : http;
  const request = (options: http.RequestOptions, callback?: (response: http.IncomingMessage) => void): http.ClientRequest => {
    const outgoing = base.request(options, callback);
    outgoing.setTimeout(timeoutMs, () => outgoing.destroy(Object.assign(new Error(`No progress for ${timeoutMs} ms`), { code: 'ETIMEDOUT' })));
    return outgoing;
  };
  return { request: request as typeof http.request };
}

function codeOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string));
  return Buffer.concat(chunks);
}

export function createMinioStore(options: MinioStoreOptions): BlobStore {
  checkBucketPrefix(options.bucketPrefix);
  if (!Buffer.isBuffer(options.encryptionKey) || options.encryptionKey.length !== 32) fail('config_invalid', 'The blob encryption key must be 32 bytes');
  const key = Buffer.from(options.encryptionKey);
  const region = options.region ?? 'us-east-1';
  const { accessKey, secretKey, bucketPrefix } = options;

  let client: Client;
  try {
    client = new Client({
      endPoint: options.endPoint,
      port: options.port,
      useSSL: options.useSSL,
      accessKey,
      secretKey,
      // With the region fixed, the client never asks the server where a bucket lives first.
      region,
      pathStyle: options.pathStyle ?? true,
      transport: transportWithTimeout(options.useSSL, options.requestTimeoutMs ?? DEFAULT_TIMEOUT_MS),
    });
  } catch {
    // The client's own message would be safe, but the constructor sees the keys; say only what is wrong.
    fail('config_invalid', `Object storage endpoint ${JSON.stringify(options.endPoint)} (port ${String(options.port)}) is not valid`);
  }

  /**
   * The detail of a storage failure: the operation, and the storage's error code or HTTP status.
   * Never the error itself: S3 errors echo the access key id back (an InvalidAccessKeyId answer
   * carries it), and log lines outlive rotated keys.
   */
  function unavailable(operation: string, error: unknown): never {
    let reason = codeOf(error);
    const retried = error instanceof Error ? /HTTP status: (\d{3})/.exec(error.message) : null;
    if (reason === undefined && retried) reason = `HTTP ${retried[1]}`;
    if (reason === undefined || !/^[A-Za-z0-9_.-]{1,64}$/.test(reason) || (accessKey !== '' && reason.includes(accessKey)) || (secretKey !== '' && reason.includes(secretKey))) {
      reason = error instanceof Error && /^[A-Za-z]{1,40}$/.test(error.name) ? error.name : 'unknown error';
    }
    fail('store_unavailable', `Object storage ${operation} failed (${reason})`);
  }

  async function createBucket(bucket: string): Promise<void> {
    try {
      await client.makeBucket(bucket, region);
    } catch (error) {
      // Another writer may have created it a moment ago. If someone else owns it, the write that
      // follows is refused and reported, so nothing is written into a stranger's bucket unnoticed.
      const code = codeOf(error);
      if (code !== 'BucketAlreadyOwnedByYou' && code !== 'BucketAlreadyExists') unavailable('create bucket', error);
    }
  }

  /** One listing page of a bucket: its object names and the marker of the next page; undefined when the bucket does not exist. */
  async function listPage(bucket: string, marker: string): Promise<{ names: string[]; next?: string } | undefined> {
    let page: Awaited<ReturnType<Client['listObjectsQuery']>>;
    try {
      page = await client.listObjectsQuery(bucket, '', marker, { Delimiter: '', MaxKeys: PAGE_SIZE });
    } catch (error) {
      if (codeOf(error) === 'NoSuchBucket') return undefined;
      unavailable('list', error);
    }
    const names = page.objects.map((o) => o.name).filter((n): n is string => typeof n === 'string' && n !== '');
    // Without a delimiter S3 need not send NextMarker; the last key serves (S3 ListObjects v1).
    const next = page.isTruncated && names.length > 0 ? page.nextMarker || names[names.length - 1]! : undefined;
    return { names, next };
  }

  /** One sweep over the bucket, a page at a time; false when the bucket does not exist. */
  async function removeAllObjects(bucket: string): Promise<boolean> {
    let marker = '';
    for (;;) {
      const page = await listPage(bucket, marker);
      if (!page) return false;
      if (page.names.length > 0) {
        // One page per request, one request at a time: parallel bulk deletes overload small servers.
        let failures: Awaited<ReturnType<Client['removeObjects']>>;
        try {
          failures = await client.removeObjects(bucket, page.names);
        } catch (error) {
          if (codeOf(error) === 'NoSuchBucket') return false;
          unavailable('bulk delete', error);
        }
        const refused = failures.find((f) => f?.Error);
        if (refused) unavailable('bulk delete', { code: refused.Error?.Code });
      }
      if (page.next === undefined) return true;
      marker = page.next;
    }
  }

  return {
    async put(workspaceId, name, bytes) {
      const bucket = bucketNameFor(bucketPrefix, workspaceId);
      const object = objectNameFor(name);
      const sealed = seal(key, workspaceId, name, bytes);
      try {
        await client.putObject(bucket, object, sealed, sealed.length, { 'Content-Type': 'application/octet-stream' });
        return;
      } catch (error) {
        if (codeOf(error) !== 'NoSuchBucket') unavailable('write', error);
      }
      // The first write of a workspace creates its bucket; every later one skips this.
      await createBucket(bucket);
      try {
        await client.putObject(bucket, object, sealed, sealed.length, { 'Content-Type': 'application/octet-stream' });
      } catch (error) {
        unavailable('write', error);
      }
    },

    async get(workspaceId, name) {
      const bucket = bucketNameFor(bucketPrefix, workspaceId);
      let sealed: Buffer;
      try {
        sealed = await readAll(await client.getObject(bucket, objectNameFor(name)));
      } catch (error) {
        const code = codeOf(error);
        if (code === 'NoSuchKey' || code === 'NoSuchBucket' || code === 'NotFound') return undefined;
        unavailable('read', error);
      }
      return unseal(key, workspaceId, name, sealed);
    },

    async delete(workspaceId, name) {
      const bucket = bucketNameFor(bucketPrefix, workspaceId);
      try {
        await client.removeObject(bucket, objectNameFor(name));
      } catch (error) {
        const code = codeOf(error);
        if (code === 'NoSuchKey' || code === 'NoSuchBucket' || code === 'NotFound') return;
        unavailable('delete', error);
      }
    },

    async deleteWorkspace(workspaceId) {
      const bucket = bucketNameFor(bucketPrefix, workspaceId);
      for (let sweep = 0; sweep < DELETE_SWEEPS; sweep++) {
        if (!(await removeAllObjects(bucket))) return;
        try {
          await client.removeBucket(bucket);
          return;
        } catch (error) {
          const code = codeOf(error);
          if (code === 'NoSuchBucket') return;
          // A write landed during the sweep: sweep again.
          if (code !== 'BucketNotEmpty') unavailable('delete bucket', error);
        }
      }
      fail('store_unavailable', `Object storage delete bucket failed (still receiving writes after ${DELETE_SWEEPS} sweeps)`);
    },

    async count(workspaceId) {
      const bucket = bucketNameFor(bucketPrefix, workspaceId);
      let total = 0;
      for (let marker: string | undefined = ''; marker !== undefined; ) {
        const page = await listPage(bucket, marker);
        if (!page) return total;
        total += page.names.length;
        marker = page.next;
      }
      return total;
    },

    async ping() {
      // A HEAD on a bucket that no workspace can have (workspace buckets end in 32 hex digits):
      // it needs only the permissions Kluis has on its own buckets, and is refused when the
      // credentials are, so a wrong key shows up in the health check rather than on first upload.
      try {
        await client.bucketExists(`${bucketPrefix}ping`);
      } catch (error) {
        unavailable('ping', error);
      }
    },
  };
}
