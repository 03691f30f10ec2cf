/**
 * A real S3-protocol server for tests: s3rver, on 127.0.0.1 and a free port, keeping its buckets in
 * a fresh temporary directory. It speaks the wire protocol the minio client speaks to MinIO, so the
 * adapter's requests, paging and error answers run for real.
 *
 * Known gaps against MinIO (so tests do not lean on them): it does not check request signatures,
 * only that the access key id is known (`S3RVER`) and the request not expired; it has no lifecycle,
 * bucket encryption or bucket policies; ListObjectsV2 past 1,000 keys needs an OpenSSL legacy
 * cipher (ListObjects v1 paging does not); parallel bulk deletes on one bucket can fail with 500.
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'minio';

interface S3rverOptions {
  address: string;
  port: number;
  silent: boolean;
  directory: string;
}

interface S3rverInstance {
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
}

// s3rver ships no type declarations; this is the part of its API used here.
const S3rver = createRequire(__filename)('s3rver') as new (options: S3rverOptions) => S3rverInstance;

export interface TestS3Server {
  endPoint: string;
  port: number;
  useSSL: false;
  pathStyle: true;
  region: string;
  accessKey: string;
  secretKey: string;
  /** Where the server keeps bucket contents on disk, for tests that look at what reached storage. */
  directory: string;
  /** A client straight to the server, for tests that act as whoever runs the storage. */
  client(): Client;
  close(): Promise<void>;
}

export async function startS3Server(): Promise<TestS3Server> {
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'kluis-s3-'));
  const server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory });
  const { port } = await server.run();
  const settings = { endPoint: '127.0.0.1', port, useSSL: false as const, pathStyle: true as const, region: 'us-east-1', accessKey: 'S3RVER', secretKey: 'S3RVER' };
  return {
    ...settings,
    directory,
    client: () => new Client(settings),
    async close() {
      await server.close();
      fs.rmSync(directory, { recursive: true, force: true });
    },
  };
}
