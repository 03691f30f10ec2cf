export default async function globalTeardown(): Promise<void> {
  await globalThis.__kluisTestDatabase?.stop();
  globalThis.__kluisTestDatabase = undefined;
}
