/**
 * Applies the SQL migrations in prisma/migrations/<stamp>_<name>/migration.sql.
 *
 * The Prisma CLI's migrate commands need a native engine that cannot be downloaded everywhere, so
 * Kluis applies its hand-written migrations itself and records them in a `_prisma_migrations`
 * table laid out exactly like Prisma's (checksum = sha256 of the file). `prisma migrate deploy`
 * on a machine that has the engine then sees them as applied. A named lock makes concurrent
 * replicas apply each migration once. MySQL DDL is not transactional: a migration that fails half
 * way is left marked unfinished, and start-up refuses to continue until someone resolves it.
 */
import { createHash, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import mariadb from 'mariadb';
import { fail } from '../errors';

export const MIGRATIONS_DIR = path.resolve(__dirname, '..', '..', 'prisma', 'migrations');

export interface Migration {
  name: string;
  sql: string;
  checksum: string;
}

export interface MigrationReport {
  applied: string[];
  alreadyApplied: string[];
}

export function readMigrations(dir: string = MIGRATIONS_DIR): Migration[] {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && /^\d{14}_[a-z0-9_]+$/.test(d.name))
    .map((d) => d.name)
    .sort()
    .map((name) => {
      const sql = fs.readFileSync(path.join(dir, name, 'migration.sql'), 'utf8');
      return { name, sql, checksum: createHash('sha256').update(sql).digest('hex') };
    });
}

const MIGRATIONS_TABLE = `CREATE TABLE IF NOT EXISTS \`_prisma_migrations\` (
    \`id\` VARCHAR(36) NOT NULL,
    \`checksum\` VARCHAR(64) NOT NULL,
    \`finished_at\` DATETIME(3) NULL,
    \`migration_name\` VARCHAR(255) NOT NULL,
    \`logs\` TEXT NULL,
    \`rolled_back_at\` DATETIME(3) NULL,
    \`started_at\` DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    \`applied_steps_count\` INTEGER UNSIGNED NOT NULL DEFAULT 0,
    PRIMARY KEY (\`id\`)
) DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`;

interface AppliedRow {
  migration_name: string;
  checksum: string;
  finished_at: Date | null;
  rolled_back_at: Date | null;
}

/** Apply every pending migration to the database at `url`. */
export async function migrateDatabase(url: string, migrations: Migration[] = readMigrations()): Promise<MigrationReport> {
  let connection: mariadb.Connection;
  try {
    connection = await mariadb.createConnection({ ...connectionOptions(url), multipleStatements: true });
  } catch (error) {
    fail('store_unavailable', `Cannot connect to the database to migrate it: ${(error as Error).message}`, { cause: error });
  }
  const report: MigrationReport = { applied: [], alreadyApplied: [] };
  try {
    const [lock] = await connection.query<Array<{ got: number | bigint | null }>>("SELECT GET_LOCK('kluis_migrate', 120) AS got");
    if (Number(lock?.got) !== 1) fail('migration_failed', 'Another process has held the migration lock for 120 s.');
    await connection.query(MIGRATIONS_TABLE);
    const rows = await connection.query<AppliedRow[]>('SELECT migration_name, checksum, finished_at, rolled_back_at FROM `_prisma_migrations`');
    const applied = new Map(rows.filter((r) => r.rolled_back_at === null).map((r) => [r.migration_name, r]));
    // A half-applied migration blocks everything, even if its folder has since been removed.
    const unfinished = rows.find((r) => r.finished_at === null && r.rolled_back_at === null);
    if (unfinished) {
      fail('migration_failed', `Migration ${unfinished.migration_name} started earlier and did not finish. Repair the schema by hand, then mark it rolled back (rolled_back_at) in _prisma_migrations.`);
    }
    for (const migration of migrations) {
      const row = applied.get(migration.name);
      if (row && row.finished_at === null) {
        fail('migration_failed', `Migration ${migration.name} started earlier and did not finish. Repair the schema by hand, then mark it rolled back (rolled_back_at) in _prisma_migrations.`);
      }
      if (row) {
        if (row.checksum !== migration.checksum) {
          fail('migration_failed', `Migration ${migration.name} was changed after it was applied (checksum differs). Add a new migration instead of editing an applied one.`);
        }
        report.alreadyApplied.push(migration.name);
        continue;
      }
      const id = randomUUID();
      await connection.query('INSERT INTO `_prisma_migrations` (id, checksum, migration_name, started_at, applied_steps_count) VALUES (?, ?, ?, NOW(3), 0)', [id, migration.checksum, migration.name]);
      try {
        await connection.query(migration.sql);
      } catch (error) {
        await connection.query('UPDATE `_prisma_migrations` SET logs = ? WHERE id = ?', [String((error as Error).message).slice(0, 16000), id]);
        fail('migration_failed', `Migration ${migration.name} failed: ${(error as Error).message}`, { cause: error });
      }
      await connection.query('UPDATE `_prisma_migrations` SET finished_at = NOW(3), applied_steps_count = 1 WHERE id = ?', [id]);
      report.applied.push(migration.name);
    }
    return report;
  } finally {
    await connection.query("SELECT RELEASE_LOCK('kluis_migrate')").catch(() => undefined);
    await connection.end().catch(() => undefined);
  }
}

/**
 * Split a mysql:// URL into driver options (the driver's own URL parser drops some escapes).
 * `?sslaccept=strict` (Prisma's name for it) connects over TLS and verifies the server's certificate
 * against the authorities Node trusts, as a server with require_secure_transport needs.
 */
export function connectionOptions(url: string): mariadb.ConnectionConfig {
  const u = new URL(url);
  const sslaccept = u.searchParams.get('sslaccept');
  if (sslaccept !== null && sslaccept !== 'strict') {
    fail('config_invalid', `DATABASE_URL: sslaccept=${sslaccept} is not supported; use sslaccept=strict (TLS with the server's certificate verified) or leave it out`);
  }
  return {
    host: u.hostname,
    port: u.port ? Number(u.port) : 3306,
    user: decodeURIComponent(u.username),
    password: decodeURIComponent(u.password),
    database: decodeURIComponent(u.pathname.replace(/^\//, '')),
    connectTimeout: 5000,
    ...(sslaccept === 'strict' ? { ssl: { rejectUnauthorized: true } } : {}),
  };
}
