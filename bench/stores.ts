/**
 * The stores a benchmark runs on, as Kluis's embedded defaults: a private MariaDB (migrated), a
 * LanceDB index and an encrypted blob folder, all in one temporary folder removed afterwards.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createDatabase, type Database } from '../api/db/client';
import { startEmbeddedMariadb, type EmbeddedMariadb } from '../api/db/embeddedMariadb';
import { migrateDatabase } from '../api/db/migrate';
import { createEncryptedFolderStore } from '../api/files/encryptedFolderStore';
import { openLanceDbIndex } from '../api/knowledge/lancedbIndex';
import type { SearchIndex } from '../api/knowledge/ports';

export interface BenchStores {
  db: Database;
  index: SearchIndex;
  blobs: ReturnType<typeof createEncryptedFolderStore>;
}

export async function withBenchStores<T>(name: string, work: (stores: BenchStores) => Promise<T>): Promise<T> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), `kluis-bench-${name}-`));
  // mariadbd runs as the mysql user when we are root, and must be able to enter the folder.
  fs.chmodSync(root, 0o755);
  let mariadb: EmbeddedMariadb | undefined;
  let db: Database | undefined;
  let index: SearchIndex | undefined;
  try {
    mariadb = await startEmbeddedMariadb({ dir: path.join(root, 'mariadb') });
    const databaseUrl = await mariadb.createDatabase(`kluis_bench_${name}`);
    await migrateDatabase(databaseUrl);
    db = createDatabase(databaseUrl);
    index = await openLanceDbIndex(path.join(root, 'index'));
    return await work({ db, index, blobs: createEncryptedFolderStore(path.join(root, 'blobs')) });
  } finally {
    await index?.close().catch(() => undefined);
    await db?.$disconnect().catch(() => undefined);
    await mariadb?.stop().catch(() => undefined);
    fs.rmSync(root, { recursive: true, force: true });
  }
}
