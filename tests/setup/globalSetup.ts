/**
 * Test-run set-up: a private MariaDB instance under .data/test-mariadb-<pid> (never the system
 * database; one per run, so two runs on one machine never meet), unless TEST_DATABASE_URL points
 * at one; and a private Redis server (tests/support/privateRedis.ts) unless TEST_REDIS_URL points at
 * one. The migrated test database's URL and a
 * scratch database's URL reach the tests through the environment.
 */
import path from 'node:path';
import { startEmbeddedMariadb, type EmbeddedMariadb } from '../../api/db/embeddedMariadb';
import { migrateDatabase } from '../../api/db/migrate';
import { startPrivateRedis, type PrivateRedis } from '../support/privateRedis';

declare global {
  // Shared with globalTeardown, which runs in the same process.
  var __kluisTestDatabase: { instance: EmbeddedMariadb; dir: string } | undefined;
  var __kluisTestRedis: PrivateRedis | undefined;
}

export default async function globalSetup(): Promise<void> {
  let url = process.env.TEST_DATABASE_URL;
  let scratch = process.env.TEST_SCRATCH_DATABASE_URL;
  if (!url) {
    const dir = path.resolve(__dirname, '..', '..', '.data', `test-mariadb-${process.pid}`);
    const instance = await startEmbeddedMariadb({ dir });
    globalThis.__kluisTestDatabase = { instance, dir };
    await instance.dropDatabase('kluis_test');
    await instance.dropDatabase('kluis_scratch');
    url = await instance.createDatabase('kluis_test');
    scratch = await instance.createDatabase('kluis_scratch');
  }
  await migrateDatabase(url);
  // A private Redis for the job queue's and the shared counters' Redis adapters, unless
  // TEST_REDIS_URL points at one.
  let redisUrl = process.env.TEST_REDIS_URL;
  if (!redisUrl) {
    globalThis.__kluisTestRedis = await startPrivateRedis();
    redisUrl = globalThis.__kluisTestRedis.url;
  }
  process.env.KLUIS_TEST_REDIS_URL = redisUrl;
  process.env.KLUIS_TEST_DATABASE_URL = url;
  if (scratch) process.env.KLUIS_TEST_SCRATCH_DATABASE_URL = scratch;
}
