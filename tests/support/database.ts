/** Test access to the migrated test database started by tests/setup/globalSetup.ts. */
import { randomUUID } from 'node:crypto';
import { createDatabase, type Database } from '../../api/db/client';

export function testDatabaseUrl(): string {
  const url = process.env.KLUIS_TEST_DATABASE_URL;
  if (!url) throw new Error('KLUIS_TEST_DATABASE_URL is not set: tests must run through jest with tests/setup/globalSetup.ts');
  return url;
}

export function scratchDatabaseUrl(): string {
  const url = process.env.KLUIS_TEST_SCRATCH_DATABASE_URL;
  if (!url) throw new Error('KLUIS_TEST_SCRATCH_DATABASE_URL is not set');
  return url;
}

export function openTestDatabase(): Database {
  return createDatabase(testDatabaseUrl(), 4);
}

/** A fresh, random Entra-style tenant id, so tests never share a workspace. */
export function randomTenantId(): string {
  return randomUUID();
}

/** The private Redis server of this test run (tests/setup/globalSetup.ts). */
export function testRedisUrl(): string {
  const url = process.env.KLUIS_TEST_REDIS_URL;
  if (!url) throw new Error('KLUIS_TEST_REDIS_URL is not set: tests must run through jest with tests/setup/globalSetup.ts');
  return url;
}
