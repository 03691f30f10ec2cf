/**
 * Stores that a fault-injection test can stop and start again while Kluis keeps running:
 *
 * - a private MariaDB server (never the test run's shared one) on a fixed port, so the same URL
 *   answers again after a restart and Kluis's connection pool can reconnect to it;
 * - an S3-protocol server (s3rver, as in tests/fakes/s3Server.ts) that keeps its folder and port
 *   across a restart, so the objects written before the stop are there again;
 * - a switch over a SearchIndex. The default index, LanceDB, runs inside the Kluis process and has
 *   no server to stop, so its outage is injected at the port: while the switch is on, every call
 *   fails as the Qdrant adapter fails when its server refuses connections (`store_unavailable`).
 *   The switch patches the index object itself, so the knowledge module, the indexers, the eraser
 *   and /readyz of a running Kluis, which all hold that object, see the outage together.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { startEmbeddedMariadb, type EmbeddedMariadb } from '../../api/db/embeddedMariadb';
import { migrateDatabase } from '../../api/db/migrate';
import { fail } from '../../api/errors';
import type { SearchIndex } from '../../api/knowledge/ports';

/* ------------------------------------------------------------------ MariaDB */

export interface StoppableMariadb {
  /** The migrated database's URL; the same before and after a restart. */
  url: string;
  port: number;
  running(): boolean;
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Stops the server for good and removes its folder. */
  close(): Promise<void>;
}

export async function startStoppableMariadb(database = 'kluis_faults'): Promise<StoppableMariadb> {
  // Under the project's .data (as the test run's own server): mariadbd runs as the mysql user when
  // we are root and must reach the folder, and the socket path must stay short.
  const dir = path.resolve(__dirname, '..', '..', '.data', `faults-${process.pid}-${randomBytes(3).toString('hex')}`);
  let instance: EmbeddedMariadb | undefined = await startEmbeddedMariadb({ dir });
  const port = instance.port;
  const url = await instance.createDatabase(database);
  await migrateDatabase(url);
  const handle: StoppableMariadb = {
    url,
    port,
    running: () => instance !== undefined,
    async stop() {
      const current = instance;
      instance = undefined;
      await current?.stop();
    },
    async start() {
      if (instance) return;
      instance = await startEmbeddedMariadb({ dir, port });
    },
    async close() {
      await handle.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  return handle;
}

/* ------------------------------------------------------------------ S3 */

interface S3rverInstance {
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
}
// s3rver ships no type declarations; this is the part of its API used here.
const S3rver = createRequire(__filename)('s3rver') as new (options: { address: string; port: number; silent: boolean; directory: string }) => S3rverInstance;

export interface StoppableS3 {
  /** Kluis's BLOB_STORE=minio settings for this server. */
  env: Record<string, string>;
  endPoint: string;
  port: number;
  accessKey: string;
  secretKey: string;
  running(): boolean;
  stop(): Promise<void>;
  start(): Promise<void>;
  close(): Promise<void>;
}

export async function startStoppableS3(): Promise<StoppableS3> {
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'kluis-faults-s3-'));
  let server: S3rverInstance | undefined = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory });
  const { port } = await server.run();
  const handle: StoppableS3 = {
    env: { BLOB_STORE: 'minio', MINIO_ENDPOINT: '127.0.0.1', MINIO_PORT: String(port), MINIO_USE_SSL: 'false', MINIO_ACCESS_KEY: 'S3RVER', MINIO_SECRET_KEY: 'S3RVER' },
    endPoint: '127.0.0.1',
    port,
    accessKey: 'S3RVER',
    secretKey: 'S3RVER',
    running: () => server !== undefined,
    async stop() {
      const current = server;
      server = undefined;
      await current?.close();
    },
    async start() {
      if (server) return;
      const next = new S3rver({ address: '127.0.0.1', port, silent: true, directory });
      await next.run();
      server = next;
    },
    async close() {
      await handle.stop();
      fs.rmSync(directory, { recursive: true, force: true });
    },
  };
  return handle;
}

/* ------------------------------------------------------------------ search index */

type IndexOperation = Exclude<keyof SearchIndex, 'close'>;
const INDEX_OPERATIONS: IndexOperation[] = ['replaceDocument', 'deleteDocument', 'deleteWorkspace', 'search', 'countChunks', 'ping'];

export interface IndexFault {
  /** Every call fails from now on (`store_unavailable`, as a refused connection). */
  down(): void;
  /** Every call from now on waits for ever, as a store behind a network that drops packets. */
  hang(): void;
  /** The index answers again. */
  up(): void;
  /** The index goes down right before the `n`-th call of `operation` from now (1 = the next one). */
  downAt(operation: IndexOperation, n: number): void;
  isDown(): boolean;
  /** Calls that failed because of the fault, per operation. */
  refused: Partial<Record<IndexOperation, number>>;
}

/** Puts an outage switch on `index` in place (see the file comment for why in place). */
export function injectIndexFault(index: SearchIndex): IndexFault {
  let isDown = false;
  let hanging = false;
  let trigger: { operation: IndexOperation; remaining: number } | undefined;
  const refused: IndexFault['refused'] = {};
  const target = index as unknown as Record<IndexOperation, (...args: unknown[]) => Promise<unknown>>;
  for (const operation of INDEX_OPERATIONS) {
    const original = target[operation].bind(index);
    target[operation] = async (...args: unknown[]) => {
      if (trigger?.operation === operation && --trigger.remaining === 0) {
        trigger = undefined;
        isDown = true;
      }
      if (hanging) return new Promise(() => undefined);
      if (isDown) {
        refused[operation] = (refused[operation] ?? 0) + 1;
        fail('store_unavailable', `Search index ${operation} failed (connect ECONNREFUSED)`);
      }
      return original(...args);
    };
  }
  return {
    down: () => void (isDown = true),
    hang: () => void (hanging = true),
    up: () => {
      isDown = false;
      hanging = false;
      trigger = undefined;
    },
    downAt: (operation, n) => void (trigger = { operation, remaining: n }),
    isDown: () => isDown,
    refused,
  };
}

/* ------------------------------------------------------------------ readiness */

export interface Readiness {
  status: number;
  checks: Record<string, { ok: boolean }>;
}

export async function readiness(baseUrl: string): Promise<Readiness> {
  const response = await fetch(`${baseUrl}/readyz`);
  const body = (await response.json()) as { checks: Record<string, { ok: boolean }> };
  return { status: response.status, checks: body.checks };
}

/** Polls /readyz until it answers 200 (or the attempts run out, then the last answer). */
export async function waitUntilReady(baseUrl: string, attempts = 600, pauseMs = 50): Promise<Readiness> {
  let last = await readiness(baseUrl);
  for (let i = 1; i < attempts && last.status !== 200; i++) {
    await new Promise((resolve) => setTimeout(resolve, pauseMs));
    last = await readiness(baseUrl);
  }
  return last;
}
