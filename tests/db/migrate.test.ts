/**
 * The migration runner (api/db/migrate.ts) against a real, empty scratch database.
 *
 * Kluis applies its SQL migrations itself and records them the way Prisma does, so these tests
 * check the bookkeeping Prisma relies on (`prisma migrate deploy` must later see the same
 * migrations as applied), and the protections that keep a half-migrated or edited schema from
 * going unnoticed: MySQL DDL cannot be rolled back, so a failure has to stop every later start.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import mariadb from 'mariadb';
import { isKluisError, type KluisError } from '../../api/errors';
import { connectionOptions, migrateDatabase, MIGRATIONS_DIR, readMigrations, type Migration } from '../../api/db/migrate';
import { scratchDatabaseUrl } from '../support/database';

const SCHEMA_TABLES = ['AuditChainHead', 'AuditEvent', 'Conversation', 'Credential', 'Document', 'ErasureJob', 'Image', 'Invitation', 'Job', 'KnowledgeSource', 'LoginAttempt', 'Membership', 'Message', 'MessageFeedback', 'PasswordResetToken', 'QueueJob', 'QueueSchedule', 'RateLimiterFlexible', 'RetentionPolicy', 'SecurityEvent', 'Session', 'Upload', 'UsageBudget', 'UsageDaily', 'User', 'Workspace', 'WorkspaceAssistantSettings', 'WorkspaceDataKey', 'WorkspaceRoutingPolicy'];

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** A migration that exists only in memory, named like the ones on disk. */
function migration(name: string, sql: string): Migration {
  expect(name).toMatch(/^\d{14}_[a-z0-9_]+$/);
  return { name, sql, checksum: sha256(sql) };
}

async function rejection(promise: Promise<unknown>): Promise<KluisError> {
  try {
    await promise;
  } catch (error) {
    if (isKluisError(error)) return error;
    throw error;
  }
  throw new Error('expected the migration run to fail, it succeeded');
}

interface MigrationRow {
  id: string;
  checksum: string;
  finished_at: Date | null;
  migration_name: string;
  logs: string | null;
  rolled_back_at: Date | null;
  started_at: Date;
  applied_steps_count: number;
}

describe('migrateDatabase', () => {
  const url = scratchDatabaseUrl();
  let db: mariadb.Connection;

  const tables = async () =>
    (
      await db.query<Array<{ TABLE_NAME: string }>>(
        "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE = 'BASE TABLE' ORDER BY TABLE_NAME",
      )
    ).map((r) => r.TABLE_NAME);
  const migrationRows = () => db.query<MigrationRow[]>('SELECT * FROM `_prisma_migrations` ORDER BY started_at, migration_name');

  beforeAll(async () => {
    db = await mariadb.createConnection({ ...connectionOptions(url), multipleStatements: true });
  });

  afterAll(async () => {
    await db?.end();
  });

  beforeEach(async () => {
    const existing = await tables();
    if (existing.length > 0) {
      await db.query(`SET FOREIGN_KEY_CHECKS = 0; DROP TABLE ${existing.map((t) => `\`${t}\``).join(', ')}; SET FOREIGN_KEY_CHECKS = 1`);
    }
  });

  it('applies every migration on an empty database and records each one like Prisma does', async () => {
    const migrations = readMigrations();
    expect(migrations.length).toBeGreaterThan(0);

    const report = await migrateDatabase(url);

    expect(report).toEqual({ applied: migrations.map((m) => m.name), alreadyApplied: [] });
    expect(await tables()).toEqual([...SCHEMA_TABLES, '_prisma_migrations'].sort());

    const rows = await migrationRows();
    expect(rows.map((r) => r.migration_name)).toEqual(migrations.map((m) => m.name));
    for (const row of rows) {
      // The checksum is computed here from the file itself, not taken from readMigrations().
      const file = fs.readFileSync(path.join(MIGRATIONS_DIR, row.migration_name, 'migration.sql'), 'utf8');
      expect(row.checksum).toBe(sha256(file));
      expect(row.checksum).toMatch(/^[0-9a-f]{64}$/);
      expect(row.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
      expect(row.finished_at).toBeInstanceOf(Date);
      expect(row.finished_at!.getTime()).toBeGreaterThanOrEqual(row.started_at.getTime());
      expect(row.rolled_back_at).toBeNull();
      expect(row.logs).toBeNull();
      expect(Number(row.applied_steps_count)).toBe(1);
    }
  });

  it('lays out _prisma_migrations exactly like Prisma, so prisma migrate deploy can read it', async () => {
    await migrateDatabase(url);

    const columns = await db.query<Array<{ COLUMN_NAME: string; COLUMN_TYPE: string; IS_NULLABLE: string; COLUMN_DEFAULT: string | null }>>(
      "SELECT COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE, COLUMN_DEFAULT FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = '_prisma_migrations' ORDER BY ORDINAL_POSITION",
    );
    const layout = columns.map((c) => ({
      name: c.COLUMN_NAME,
      // MariaDB shows integer display widths (int(10) unsigned); Prisma's table says INTEGER UNSIGNED.
      type: c.COLUMN_TYPE.toLowerCase().replace(/^int\(\d+\)/, 'int'),
      nullable: c.IS_NULLABLE === 'YES',
      default: c.COLUMN_DEFAULT === 'NULL' ? null : c.COLUMN_DEFAULT,
    }));
    expect(layout).toEqual([
      { name: 'id', type: 'varchar(36)', nullable: false, default: null },
      { name: 'checksum', type: 'varchar(64)', nullable: false, default: null },
      { name: 'finished_at', type: 'datetime(3)', nullable: true, default: null },
      { name: 'migration_name', type: 'varchar(255)', nullable: false, default: null },
      { name: 'logs', type: 'text', nullable: true, default: null },
      { name: 'rolled_back_at', type: 'datetime(3)', nullable: true, default: null },
      { name: 'started_at', type: 'datetime(3)', nullable: false, default: 'current_timestamp(3)' },
      { name: 'applied_steps_count', type: 'int unsigned', nullable: false, default: '0' },
    ]);

    const primaryKey = await db.query<Array<{ COLUMN_NAME: string }>>(
      "SELECT COLUMN_NAME FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = '_prisma_migrations' AND INDEX_NAME = 'PRIMARY' ORDER BY SEQ_IN_INDEX",
    );
    expect(primaryKey.map((k) => k.COLUMN_NAME)).toEqual(['id']);
    const [table] = await db.query<Array<{ TABLE_COLLATION: string }>>(
      "SELECT TABLE_COLLATION FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = '_prisma_migrations'",
    );
    expect(table?.TABLE_COLLATION).toBe('utf8mb4_unicode_ci');
  });

  it('applies nothing on a second run and reports every migration as already applied', async () => {
    const names = readMigrations().map((m) => m.name);
    await migrateDatabase(url);
    const before = await migrationRows();

    const report = await migrateDatabase(url);

    expect(report).toEqual({ applied: [], alreadyApplied: names });
    expect(await migrationRows()).toEqual(before);
  });

  it('applies only the new migration when one is added after the others', async () => {
    const migrations = readMigrations();
    await migrateDatabase(url, migrations);
    const added = migration('20991231000000_add_setting', 'CREATE TABLE `Setting` (`id` CHAR(36) NOT NULL, PRIMARY KEY (`id`));');

    const report = await migrateDatabase(url, [...migrations, added]);

    expect(report).toEqual({ applied: [added.name], alreadyApplied: migrations.map((m) => m.name) });
    expect(await tables()).toContain('Setting');
  });

  it('stops an edited migration from passing as applied: a changed checksum fails the run', async () => {
    const migrations = readMigrations();
    await migrateDatabase(url, migrations);
    const before = await migrationRows();
    const [first, ...rest] = migrations as [Migration, ...Migration[]];
    const edited = { ...first, sql: `${first.sql}\nALTER TABLE \`Workspace\` ADD COLUMN \`plan\` VARCHAR(16) NULL;\n` };
    edited.checksum = sha256(edited.sql);

    const error = await rejection(migrateDatabase(url, [edited, ...rest]));

    expect(error.id).toBe('migration_failed');
    expect(error.message).toContain(first.name);
    expect(error.message).toMatch(/was changed after it was applied/);
    // Nothing of the edit reached the database and the bookkeeping is untouched.
    const columns = await db.query<Array<{ COLUMN_NAME: string }>>(
      "SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'Workspace' AND COLUMN_NAME = 'plan'",
    );
    expect(columns).toEqual([]);
    expect(await migrationRows()).toEqual(before);
  });

  it('stops a half-applied migration from being built on: it stays unfinished with its error logged and later runs refuse', async () => {
    const migrations = readMigrations();
    // MySQL commits each DDL statement, so the first statement sticks when the second fails.
    const broken = migration(
      '20991231000000_broken',
      'CREATE TABLE `Half` (`id` CHAR(36) NOT NULL, PRIMARY KEY (`id`));\nALTER TABLE `DoesNotExist` ADD COLUMN `x` INT NULL;\n',
    );
    const later = migration('20991231000001_later', 'CREATE TABLE `Later` (`id` CHAR(36) NOT NULL, PRIMARY KEY (`id`));');

    const error = await rejection(migrateDatabase(url, [...migrations, broken, later]));

    expect(error.id).toBe('migration_failed');
    expect(error.message).toContain(broken.name);
    expect(error.message).toContain('DoesNotExist');
    const tablesAfterFailure = await tables();
    expect(tablesAfterFailure).toContain('Half');
    expect(tablesAfterFailure).not.toContain('Later');

    const rows = await migrationRows();
    const failed = rows.filter((r) => r.migration_name === broken.name);
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({ checksum: broken.checksum, finished_at: null, rolled_back_at: null });
    expect(Number(failed[0]?.applied_steps_count)).toBe(0);
    expect(failed[0]?.logs).toContain('DoesNotExist');
    expect(rows.some((r) => r.migration_name === later.name)).toBe(false);

    // The next start refuses, says which migration and what to do, and changes nothing.
    const again = await rejection(migrateDatabase(url, [...migrations, broken, later]));
    expect(again.id).toBe('migration_failed');
    expect(again.message).toContain(broken.name);
    expect(again.message).toMatch(/did not finish/);
    expect(again.message).toMatch(/rolled_back_at/);
    expect(await tables()).toEqual(tablesAfterFailure);
    expect(await migrationRows()).toEqual(rows);

    // Fixing the SQL is not enough: the half-applied attempt still has to be resolved by hand.
    const fixed = migration(broken.name, 'CREATE TABLE `Half` (`id` CHAR(36) NOT NULL, PRIMARY KEY (`id`));\n');
    expect((await rejection(migrateDatabase(url, [...migrations, fixed, later]))).message).toMatch(/did not finish/);
  });

  it('applies a failed migration again once the failed attempt is marked rolled back', async () => {
    const migrations = readMigrations();
    const broken = migration('20991231000000_retry', 'CREATE TABLE `Half` (`id` CHAR(36) NOT NULL, PRIMARY KEY (`id`));\nSELECT * FROM `DoesNotExist`;\n');
    await rejection(migrateDatabase(url, [...migrations, broken]));

    // The documented way out: repair the schema by hand, then mark the attempt rolled back.
    await db.query('DROP TABLE `Half`');
    await db.query('UPDATE `_prisma_migrations` SET rolled_back_at = NOW(3) WHERE migration_name = ? AND finished_at IS NULL', [broken.name]);
    const fixed = migration(broken.name, 'CREATE TABLE `Half` (`id` CHAR(36) NOT NULL, PRIMARY KEY (`id`));\n');

    const report = await migrateDatabase(url, [...migrations, fixed]);

    expect(report.applied).toEqual([fixed.name]);
    const attempts = (await migrationRows()).filter((r) => r.migration_name === fixed.name);
    expect(attempts).toHaveLength(2);
    expect(attempts.filter((r) => r.rolled_back_at !== null).map((r) => r.checksum)).toEqual([broken.checksum]);
    expect(attempts.filter((r) => r.finished_at !== null).map((r) => r.checksum)).toEqual([fixed.checksum]);
  });

  it('stops concurrent replicas from applying a migration twice: parallel runs apply each migration exactly once', async () => {
    // The slow migration widens the window in which a second runner without the lock would start
    // it too; its CREATE TABLE would then fail, and the row count would show two attempts.
    const migrations = [
      ...readMigrations(),
      migration('20991231000000_slow', 'DO SLEEP(0.5);\nCREATE TABLE `Slow` (`id` CHAR(36) NOT NULL, PRIMARY KEY (`id`));\n'),
    ];
    const names = migrations.map((m) => m.name);

    const reports = await Promise.all([1, 2, 3, 4].map(() => migrateDatabase(url, migrations)));

    const appliers = reports.filter((r) => r.applied.length > 0);
    expect(appliers).toEqual([{ applied: names, alreadyApplied: [] }]);
    for (const report of reports.filter((r) => r.applied.length === 0)) expect(report.alreadyApplied).toEqual(names);
    const counts = await db.query<Array<{ migration_name: string; attempts: bigint | number }>>(
      'SELECT migration_name, COUNT(*) AS attempts FROM `_prisma_migrations` GROUP BY migration_name ORDER BY migration_name',
    );
    expect(counts.map((c) => [c.migration_name, Number(c.attempts)])).toEqual(names.map((n) => [n, 1]));
  });

  it('waits for the migration lock held by another process before touching the database', async () => {
    const holder = await mariadb.createConnection(connectionOptions(url));
    try {
      const [lock] = await holder.query<Array<{ got: bigint | number }>>("SELECT GET_LOCK('kluis_migrate', 5) AS got");
      expect(Number(lock?.got)).toBe(1);

      let settled = false;
      const run = migrateDatabase(url).finally(() => {
        settled = true;
      });
      await new Promise((resolve) => setTimeout(resolve, 700));
      expect(settled).toBe(false);
      expect(await tables()).toEqual([]);

      await holder.query("SELECT RELEASE_LOCK('kluis_migrate')");
      const report = await run;
      expect(report.applied).toEqual(readMigrations().map((m) => m.name));
    } finally {
      await holder.end();
    }
  });
});

describe('connectionOptions', () => {
  const url = scratchDatabaseUrl();
  const withQuery = (query: string) => `${url.split('?')[0]}?${query}`;

  it('connects without TLS to the private test server, which has no TLS, while sslaccept=strict demands it and is refused there', async () => {
    expect(connectionOptions(url).ssl).toBeUndefined();
    expect(connectionOptions(withQuery('sslaccept=strict')).ssl).toEqual({ rejectUnauthorized: true });
    const plain = await mariadb.createConnection(connectionOptions(url));
    await plain.end();
    // The driver asks the server for TLS before sending the password; a server without it is left.
    await expect(mariadb.createConnection(connectionOptions(withQuery('sslaccept=strict')))).rejects.toThrow(/ssl/i);
  });

  it('refuses an sslaccept other than strict with a clear error instead of connecting unverified', () => {
    let error: unknown;
    try {
      connectionOptions(withQuery('sslaccept=accept_invalid_certs'));
    } catch (e) {
      error = e;
    }
    expect(isKluisError(error) && [error.id, error.message]).toEqual(['config_invalid', expect.stringContaining('sslaccept=accept_invalid_certs is not supported')]);
  });
});
