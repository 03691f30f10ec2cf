import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import mariadb from 'mariadb';
import { findMariadbBinaries, startEmbeddedMariadb, type EmbeddedMariadb } from './embeddedMariadb';

jest.setTimeout(60_000);

// No skipping when MariaDB is missing: .ci/run and `npm test` install it, so its absence is a failure.
if (!findMariadbBinaries()) throw new Error('MariaDB server binaries not found: run `npx tsx scripts/bootstrap.ts` (installs mariadb-server)');

const tmpDirs: string[] = [];
const started: EmbeddedMariadb[] = [];

function tmpDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kluis-mariadb-'));
  // As root the server runs as "mysql", which must be able to enter the folder mkdtemp made private.
  fs.chmodSync(dir, 0o711);
  tmpDirs.push(dir);
  return path.join(dir, 'mariadb');
}

async function start(dir: string, encryption?: boolean): Promise<EmbeddedMariadb> {
  const instance = await startEmbeddedMariadb({ dir, encryption });
  started.push(instance);
  return instance;
}

/** The driver only accepts the mariadb: scheme; Kluis keeps the mysql: form Prisma expects. */
function connect(url: string): Promise<mariadb.Connection> {
  return mariadb.createConnection(url.replace(/^mysql:/, 'mariadb:'));
}

/** The administrator account is the OS account over the instance's own socket. */
function connectAsAdmin(dir: string): Promise<mariadb.Connection> {
  const user = process.getuid?.() === 0 ? 'root' : os.userInfo().username;
  return mariadb.createConnection({ socketPath: path.join(dir, 'run', 'mysqld.sock'), user });
}

function filesUnder(root: string): string[] {
  return fs.readdirSync(root, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(root, entry.name);
    if (entry.isDirectory()) return filesUnder(full);
    return entry.isFile() ? [full] : [];
  });
}

function filesContaining(root: string, needle: Buffer): string[] {
  return filesUnder(root).filter((file) => fs.readFileSync(file).includes(needle));
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/^\d+ \(.*\) Z/.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/** A pid that surely belongs to no process: one that has just exited. */
function deadPid(): number {
  const child = spawnSync('sh', ['-c', 'echo $$']);
  return Number(child.stdout.toString().trim());
}

afterAll(async () => {
  await Promise.all(started.map((instance) => instance.stop()));
  for (const instance of started) expect(isAlive(instance.pid)).toBe(false);
  for (const dir of tmpDirs) fs.rmSync(dir, { recursive: true, force: true });
});

describe('embedded MariaDB', () => {
  it('encrypts every tablespace of the app database and keeps its key private', async () => {
    const dir = tmpDir();
    const instance = await start(dir);
    expect(instance.url).toMatch(new RegExp(`^mysql://kluis:[0-9a-f]+@127\\.0\\.0\\.1:${instance.port}/kluis$`));

    const app = await connect(instance.url);
    try {
      await app.query('CREATE TABLE notes (id INT PRIMARY KEY, body TEXT)');
      await app.query('CREATE TABLE tags (id INT PRIMARY KEY, name VARCHAR(50))');
    } finally {
      await app.end();
    }

    const admin = await connectAsAdmin(dir);
    try {
      const spaces: Array<{ NAME: string; ENCRYPTION_SCHEME: number }> = await admin.query(
        "SELECT NAME, ENCRYPTION_SCHEME FROM information_schema.INNODB_TABLESPACES_ENCRYPTION WHERE NAME LIKE 'kluis/%'",
      );
      expect(spaces.map((space) => space.NAME).sort()).toEqual(['kluis/notes', 'kluis/tags']);
      for (const space of spaces) expect(space.ENCRYPTION_SCHEME).toBe(1);
      await expect(admin.query('CREATE TABLE kluis.plain (id INT PRIMARY KEY) ENCRYPTED=NO')).rejects.toThrow();
    } finally {
      await admin.end();
    }

    const keyFile = path.join(dir, 'keys', 'keyfile');
    expect(fs.statSync(keyFile).mode & 0o777).toBe(0o400);
    if (process.getuid?.() === 0) {
      const mysqlUid = Number(spawnSync('id', ['-u', 'mysql']).stdout.toString().trim());
      expect(fs.statSync(keyFile).uid).toBe(mysqlUid);
    }
    expect(fs.readFileSync(keyFile, 'utf8')).toMatch(/^1;[0-9a-f]{64}\n$/);
    expect(fs.statSync(path.join(dir, 'credentials.json')).mode & 0o777).toBe(0o600);
  });

  async function canaryRun(encryption: boolean): Promise<{ dir: string; canary: Buffer }> {
    const dir = tmpDir();
    const instance = await start(dir, encryption);
    const canary = `KLUIS-CANARY-${randomBytes(16).toString('hex')}`;
    const app = await connect(instance.url);
    try {
      await app.query('CREATE TABLE secrets (id INT PRIMARY KEY, body VARCHAR(200))');
      await app.query('INSERT INTO secrets VALUES (1, ?)', [canary]);
    } finally {
      await app.end();
    }
    const admin = await connectAsAdmin(dir);
    try {
      // A slow shutdown purges undo records and flushes every page into the data files.
      await admin.query('SET GLOBAL innodb_fast_shutdown = 0');
    } finally {
      await admin.end();
    }
    await instance.stop();
    return { dir, canary: Buffer.from(canary) };
  }

  it('leaves no plaintext of stored data anywhere in the data folder', async () => {
    const control = await canaryRun(false);
    // Proves the scan can see plaintext, so the encrypted run below cannot pass vacuously.
    expect(filesContaining(path.join(control.dir, 'data'), control.canary).length).toBeGreaterThan(0);

    const encrypted = await canaryRun(true);
    const scanned = filesUnder(encrypted.dir).filter((file) => !file.includes(`${path.sep}keys${path.sep}`));
    expect(scanned.some((file) => file.endsWith('.ibd'))).toBe(true);
    expect(scanned.some((file) => path.basename(file).startsWith('ib_logfile'))).toBe(true);
    expect(scanned.some((file) => path.basename(file) === 'ibdata1')).toBe(true);
    expect(filesContaining(encrypted.dir, encrypted.canary)).toEqual([]);
  });

  it('creates extra databases, stops idempotently and keeps data across a warm restart', async () => {
    const dir = tmpDir();
    const first = await start(dir);

    const otherUrl = await first.createDatabase('kluis_extra');
    expect(otherUrl).toBe(first.url.replace(/\/kluis$/, '/kluis_extra'));
    expect(await first.createDatabase('kluis_extra')).toBe(otherUrl);
    const other = await connect(otherUrl);
    try {
      await other.query('CREATE TABLE t (id INT PRIMARY KEY)');
      await other.query('INSERT INTO t VALUES (7)');
    } finally {
      await other.end();
    }
    await first.createDatabase('kluis_gone');
    await first.dropDatabase('kluis_gone');
    await expect(first.createDatabase('bad-name; DROP')).rejects.toThrow(/not a usable database name/);

    const app = await connect(first.url);
    try {
      await app.query('CREATE TABLE kept (v VARCHAR(20))');
      await app.query("INSERT INTO kept VALUES ('still here')");
    } finally {
      await app.end();
    }

    await first.stop();
    await first.stop();
    expect(isAlive(first.pid)).toBe(false);
    await expect(first.createDatabase('kluis_late')).rejects.toThrow(/has been stopped/);

    const startedAt = Date.now();
    const second = await start(dir);
    expect(Date.now() - startedAt).toBeLessThan(10_000);
    expect(second.pid).not.toBe(first.pid);
    const again = await connect(second.url);
    try {
      expect(await again.query('SELECT v FROM kept')).toEqual([{ v: 'still here' }]);
      expect(await again.query('SELECT id FROM kluis_extra.t')).toEqual([{ id: 7 }]);
      const databases: Array<{ Database: string }> = await again.query('SHOW DATABASES');
      expect(databases.map((row) => row.Database)).not.toContain('kluis_gone');
    } finally {
      await again.end();
    }
    await second.stop();
  });

  it('starts over a stale pid file and replaces a server whose owner has died', async () => {
    const dir = tmpDir();
    const first = await start(dir);
    await first.stop();

    const pidFile = path.join(dir, 'run', 'mysqld.pid');
    fs.writeFileSync(pidFile, `${deadPid()}\n`);
    const second = await start(dir);
    expect(Number(fs.readFileSync(pidFile, 'utf8').trim())).toBe(second.pid);

    // Starting again while this process owns the server is refused rather than killing it.
    await expect(startEmbeddedMariadb({ dir })).rejects.toThrow(/already running in this process/);

    // Pretend the owner crashed: its record now names a process that no longer exists.
    fs.writeFileSync(path.join(dir, 'owner.json'), JSON.stringify({ pid: deadPid(), startTicks: '1' }));
    const third = await start(dir);
    expect(isAlive(second.pid)).toBe(false);
    expect(third.pid).not.toBe(second.pid);
    const app = await connect(third.url);
    try {
      expect(await app.query('SELECT 1 AS ok')).toEqual([{ ok: 1 }]);
    } finally {
      await app.end();
    }
    await third.stop();
    await second.stop();
  });
});

describe('findMariadbBinaries', () => {
  it('finds the server and its tools together or not at all', () => {
    const found = findMariadbBinaries();
    if (found) {
      for (const file of Object.values(found)) expect(fs.existsSync(file)).toBe(true);
    } else {
      expect(found).toBeUndefined();
    }
  });
});
