import fs from 'node:fs';

export default async function globalTeardown(): Promise<void> {
  const redis = globalThis.__kluisTestRedis;
  globalThis.__kluisTestRedis = undefined;
  await redis?.stop();
  const database = globalThis.__kluisTestDatabase;
  globalThis.__kluisTestDatabase = undefined;
  if (!database) return;
  await database.instance.stop();
  fs.rmSync(database.dir, { recursive: true, force: true });
}
