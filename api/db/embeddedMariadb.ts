/**
 * A private, throw-away MariaDB server that Kluis runs under its own data folder when no
 * DATABASE_URL is configured (local `npm start` and the test suite's global setup).
 *
 * It never touches the system database: every file it uses (configuration, data, socket, pid
 * file, logs, encryption key) lives under `options.dir`, and the server is started with
 * `--defaults-file`, so no system option file is read.
 *
 * Layout of `options.dir`:
 *   my.cnf            rewritten at every start (a fresh loopback port each time, unless `port` is given)
 *   credentials.json  the app user's password, created once (mode 0600)
 *   owner.json        which process owns the running server
 *   initialised       written after the data folder was set up completely
 *   data/ run/ tmp/ keys/ log/
 *
 * A server left behind by a process that has died is stopped and started again rather than
 * reused: a fresh start applies the current my.cnf (encryption settings, port), and the instance
 * has exactly one owner whose `stop()` ends it. A server whose owner is still alive is never
 * touched; starting fails instead, because stopping it would pull the database from under that
 * process.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import mariadb from 'mariadb';
import { z } from 'zod';
import { fail } from '../errors';

const execFileAsync = promisify(execFile);

export interface EmbeddedMariadbOptions {
  /** The instance's own folder, e.g. `<dataDir>/mariadb`. */
  dir: string;
  /** The app database; default `kluis`. */
  database?: string;
  log?: (message: string) => void;
  /**
   * A fixed loopback port instead of a fresh one: a server started again on the same folder then
   * answers at the same URL, so clients that stayed up reconnect (fault-injection tests).
   */
  port?: number;
  /** internal, for the encryption test's control run only */
  encryption?: boolean;
  /**
   * Binary logging (log_bin in the data folder, ROW format, server_id 1), as a production server
   * runs it for point-in-time recovery; off unless asked for (the backup tests' source server).
   */
  binlog?: boolean;
}

export interface EmbeddedMariadb {
  /** mysql://kluis:<pw>@127.0.0.1:<port>/<database> */
  url: string;
  port: number;
  pid: number;
  /** creates (if missing) another database on this instance, grants the app user on it, returns its url */
  createDatabase(name: string): Promise<string>;
  dropDatabase(name: string): Promise<void>;
  stop(): Promise<void>;
}

const INSTALL_HINT =
  'MariaDB server is not installed. Install it with: apt-get install -y --no-install-recommends mariadb-server (or set DATABASE_URL to an existing MySQL/MariaDB server).';

const APP_USER = 'kluis';
const READY_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 60_000;
/** Unix domain socket paths are limited to 108 bytes including the terminating zero. */
const MAX_SOCKET_PATH_BYTES = 107;

/** Debian and Ubuntu place the server in sbin and the tools in bin; /usr/local covers source builds. */
const BINARY_DIRS = ['/usr/sbin', '/usr/bin', '/usr/local/sbin', '/usr/local/bin', '/sbin', '/bin'];

export function findMariadbBinaries(): { mariadbd: string; installDb: string; admin: string } | undefined {
  const find = (name: string): string | undefined =>
    BINARY_DIRS.map((dir) => path.join(dir, name)).find((candidate) => {
      try {
        fs.accessSync(candidate, fs.constants.X_OK);
        return fs.statSync(candidate).isFile();
      } catch {
        return false;
      }
    });
  const mariadbd = find('mariadbd');
  const installDb = find('mariadb-install-db');
  const admin = find('mariadb-admin');
  return mariadbd && installDb && admin ? { mariadbd, installDb, admin } : undefined;
}

interface Layout {
  dir: string;
  cnf: string;
  credentials: string;
  owner: string;
  initialised: string;
  data: string;
  run: string;
  tmp: string;
  keys: string;
  logDir: string;
  keyFile: string;
  socket: string;
  pidFile: string;
  errorLog: string;
}

function layoutOf(dir: string): Layout {
  const abs = path.resolve(dir);
  const run = path.join(abs, 'run');
  const keys = path.join(abs, 'keys');
  const logDir = path.join(abs, 'log');
  return {
    dir: abs,
    cnf: path.join(abs, 'my.cnf'),
    credentials: path.join(abs, 'credentials.json'),
    owner: path.join(abs, 'owner.json'),
    initialised: path.join(abs, 'initialised'),
    data: path.join(abs, 'data'),
    run,
    tmp: path.join(abs, 'tmp'),
    keys,
    logDir,
    keyFile: path.join(keys, 'keyfile'),
    socket: path.join(run, 'mysqld.sock'),
    pidFile: path.join(run, 'mysqld.pid'),
    errorLog: path.join(logDir, 'error.log'),
  };
}

/** The OS account the server runs as when Kluis runs as root; mariadbd refuses to run as root. */
interface ServerAccount {
  uid: number;
  gid: number;
}

const isRoot = (): boolean => process.getuid?.() === 0;

async function mysqlAccount(): Promise<ServerAccount> {
  try {
    const [uid, gid] = await Promise.all([execFileAsync('id', ['-u', 'mysql']), execFileAsync('id', ['-g', 'mysql'])]);
    return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
  } catch (cause) {
    return fail(
      'database_setup_failed',
      'Kluis runs as root, so its MariaDB server must run as the system user "mysql", which does not exist. Reinstall it with: apt-get install -y --no-install-recommends mariadb-server (or set DATABASE_URL).',
      { cause },
    );
  }
}

/**
 * mariadbd drops to the mysql user right away, so it must be able to walk down to its folder; a
 * private parent such as /root would otherwise surface as an obscure "can't create/write" error.
 */
function assertReachable(dir: string, account: ServerAccount): void {
  let current = path.dirname(dir);
  for (;;) {
    const stat = fs.statSync(current);
    const searchable =
      (stat.uid === account.uid && (stat.mode & 0o100) !== 0) ||
      (stat.gid === account.gid && (stat.mode & 0o010) !== 0) ||
      (stat.mode & 0o001) !== 0;
    if (!searchable) {
      fail(
        'database_setup_failed',
        `The embedded MariaDB server runs as the system user "mysql", which cannot enter ${current}. Allow it with "chmod o+x ${current}", move DATA_DIR to a folder it can reach, or set DATABASE_URL.`,
      );
    }
    const parent = path.dirname(current);
    if (parent === current) return;
    current = parent;
  }
}

function prepareFolders(layout: Layout, account: ServerAccount | undefined): void {
  if (Buffer.byteLength(layout.socket) > MAX_SOCKET_PATH_BYTES) {
    fail('database_setup_failed', `The MariaDB socket path ${layout.socket} is too long for a Unix socket. Choose a shorter DATA_DIR.`);
  }
  fs.mkdirSync(layout.dir, { recursive: true });
  if (account) assertReachable(layout.dir, account);
  // The server needs to pass through the instance folder, but nobody else needs to list it.
  fs.chmodSync(layout.dir, 0o711);
  for (const sub of [layout.data, layout.run, layout.tmp, layout.keys, layout.logDir]) {
    fs.mkdirSync(sub, { recursive: true, mode: 0o700 });
    fs.chmodSync(sub, 0o700);
    if (account) fs.chownSync(sub, account.uid, account.gid);
  }
}

function ensureKeyFile(layout: Layout, account: ServerAccount | undefined, initialised: boolean): void {
  if (fs.existsSync(layout.keyFile)) {
    fs.chmodSync(layout.keyFile, 0o400);
    if (account) fs.chownSync(layout.keyFile, account.uid, account.gid);
    return;
  }
  if (initialised) {
    fail(
      'database_setup_failed',
      `The encryption key ${layout.keyFile} is missing, so the embedded database in ${layout.data} cannot be read. Restore the key file, or delete ${layout.dir} to start with an empty database.`,
    );
  }
  fs.writeFileSync(layout.keyFile, `1;${randomBytes(32).toString('hex')}\n`, { mode: 0o400, flag: 'wx' });
  fs.chmodSync(layout.keyFile, 0o400);
  if (account) fs.chownSync(layout.keyFile, account.uid, account.gid);
}

const credentialsSchema = z.object({ user: z.literal(APP_USER), password: z.string().regex(/^[0-9a-f]{32,}$/) });
type Credentials = z.infer<typeof credentialsSchema>;

function loadOrCreateCredentials(layout: Layout): Credentials {
  if (fs.existsSync(layout.credentials)) {
    const parsed = credentialsSchema.safeParse(safeJson(fs.readFileSync(layout.credentials, 'utf8')));
    if (!parsed.success) {
      fail('database_setup_failed', `${layout.credentials} is damaged. Delete it; a new password is set for the database user at the next start.`);
    }
    fs.chmodSync(layout.credentials, 0o600);
    return parsed.data;
  }
  const credentials: Credentials = { user: APP_USER, password: randomBytes(24).toString('hex') };
  fs.writeFileSync(layout.credentials, `${JSON.stringify(credentials, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
  return credentials;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function writeConfig(layout: Layout, port: number, encryption: boolean, binlog: boolean): void {
  const lines = [
    '# Written by Kluis at every start of its embedded server; edits here are overwritten.',
    '[client]',
    `socket = ${layout.socket}`,
    '',
    '[mysqld]',
    ...(isRoot() ? ['user = mysql'] : []),
    `datadir = ${layout.data}`,
    `socket = ${layout.socket}`,
    `pid-file = ${layout.pidFile}`,
    `log-error = ${layout.errorLog}`,
    `tmpdir = ${layout.tmp}`,
    `port = ${port}`,
    'bind-address = 127.0.0.1',
    'skip-name-resolve',
    'local-infile = 0',
    'character-set-server = utf8mb4',
    'collation-server = utf8mb4_unicode_ci',
    'innodb_buffer_pool_size = 64M',
    ...(binlog ? ['log_bin = kluis-bin', 'server_id = 1', 'binlog_format = ROW'] : []),
    ...(encryption
      ? [
          'plugin_load_add = file_key_management',
          `file_key_management_filename = ${layout.keyFile}`,
          'file_key_management_encryption_algorithm = AES_CBC',
          // FORCE refuses tables created with ENCRYPTED=NO, so nothing can opt out by accident.
          'innodb_encrypt_tables = FORCE',
          'innodb_encrypt_log = ON',
          'innodb_encrypt_temporary_tables = ON',
          // Background threads are what encrypt the system tablespace (undo records live there).
          'innodb_encryption_threads = 2',
          'encrypt_tmp_files = ON',
          'encrypt_tmp_disk_tables = ON',
          'aria_encrypt_tables = ON',
          'encrypt_binlog = ON',
        ]
      : []),
    '',
  ];
  fs.writeFileSync(layout.cnf, lines.join('\n'), { mode: 0o644 });
  fs.chmodSync(layout.cnf, 0o644);
}

async function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0 }, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/* ---------------------------------------------------------------- processes */

function procStat(pid: number): { state: string; startTicks: string } | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name in parentheses may itself contain spaces or parentheses.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const state = rest[0];
    const startTicks = rest[19];
    return state && startTicks ? { state, startTicks } : undefined;
  } catch {
    return undefined;
  }
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  // A zombie still answers signal 0 although it has already exited.
  return procStat(pid)?.state !== 'Z';
}

function commandLine(pid: number): string[] {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  } catch {
    return [];
  }
}

/** Servers of this instance are recognised by the option file they were started with. */
function isServerOf(pid: number, layout: Layout): boolean {
  return commandLine(pid).includes(`--defaults-file=${layout.cnf}`) && isRunning(pid);
}

function serversOf(layout: Layout): number[] {
  const pids = new Set<number>();
  const fromPidFile = readPidFile(layout);
  if (fromPidFile !== undefined && isServerOf(fromPidFile, layout)) pids.add(fromPidFile);
  // The pid file can be gone while the server still runs, so look at every process too.
  let entries: string[] = [];
  try {
    entries = fs.readdirSync('/proc');
  } catch {
    entries = [];
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid !== process.pid && isServerOf(pid, layout)) pids.add(pid);
  }
  return [...pids];
}

function readPidFile(layout: Layout): number | undefined {
  try {
    const pid = Number(fs.readFileSync(layout.pidFile, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function waitUntilGone(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (isRunning(pid)) {
    if (Date.now() > deadline) return false;
    await sleep(50);
  }
  return true;
}

/** SIGTERM makes mariadbd shut down cleanly; only a server that hangs past the timeout is killed. */
async function stopServer(pid: number, log: (message: string) => void): Promise<void> {
  try {
    process.kill(pid, 'SIGTERM');
    if (!(await waitUntilGone(pid, STOP_TIMEOUT_MS))) {
      log(`MariaDB server ${pid} did not stop within ${STOP_TIMEOUT_MS / 1000} s; killing it (InnoDB recovers at the next start)`);
      process.kill(pid, 'SIGKILL');
      await waitUntilGone(pid, 10_000);
    }
  } catch {
    // already gone
  } finally {
    runningServers.delete(pid);
  }
}

/* ---------------------------------------------------------------- ownership */

const ownerSchema = z.object({ pid: z.number().int().positive(), startTicks: z.string(), token: z.string().optional() });
type Owner = z.infer<typeof ownerSchema>;

function readOwner(layout: Layout): Owner | undefined {
  try {
    const parsed = ownerSchema.safeParse(safeJson(fs.readFileSync(layout.owner, 'utf8')));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

function ownerStillRunning(layout: Layout): number | undefined {
  const owner = readOwner(layout);
  if (!owner) return undefined;
  // Comparing start times tells a reused pid (after a crash or reboot) from the real owner.
  const stat = procStat(owner.pid);
  return stat && stat.state !== 'Z' && stat.startTicks === owner.startTicks ? owner.pid : undefined;
}

/** The token lets a handle release only its own claim, not that of a later start in this process. */
function claimOwnership(layout: Layout): string {
  const token = randomBytes(8).toString('hex');
  const owner: Owner = { pid: process.pid, startTicks: procStat(process.pid)?.startTicks ?? '', token };
  fs.writeFileSync(layout.owner, `${JSON.stringify(owner)}\n`, { mode: 0o644 });
  return token;
}

function releaseOwnership(layout: Layout, token: string): void {
  if (readOwner(layout)?.token === token) fs.rmSync(layout.owner, { force: true });
}

/**
 * Servers still running when this process exits would otherwise outlive it; SIGTERM is all that
 * can be sent synchronously, and mariadbd finishes its clean shutdown on its own.
 */
const runningServers = new Set<number>();
let exitHookInstalled = false;
function trackServer(pid: number): void {
  runningServers.add(pid);
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const serverPid of runningServers) {
      try {
        process.kill(serverPid, 'SIGTERM');
      } catch {
        // already gone
      }
    }
  });
}

/* ---------------------------------------------------------------- logs */

/** Reads only the end of the log, which keeps growing across restarts. */
function errorLogTail(layout: Layout, lines = 25): string {
  let fd: number | undefined;
  try {
    fd = fs.openSync(layout.errorLog, 'r');
    const size = fs.fstatSync(fd).size;
    const length = Math.min(size, 64 * 1024);
    const buffer = Buffer.alloc(length);
    fs.readSync(fd, buffer, 0, length, size - length);
    const text = buffer.toString('utf8').trimEnd();
    return text ? text.split('\n').slice(-lines).join('\n') : '(the error log is empty)';
  } catch {
    return '(the error log is missing)';
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

function failWithLog(layout: Layout, summary: string, cause?: unknown): never {
  return fail('database_setup_failed', `${summary} Last lines of ${layout.errorLog}:\n${errorLogTail(layout)}`, cause === undefined ? undefined : { cause });
}

/* ---------------------------------------------------------------- server life cycle */

function adminUser(): string {
  return isRoot() ? 'root' : os.userInfo().username;
}

async function initialiseDataFolder(
  layout: Layout,
  binaries: NonNullable<ReturnType<typeof findMariadbBinaries>>,
  account: ServerAccount | undefined,
  log: (message: string) => void,
): Promise<void> {
  // Without the marker the last initialisation did not finish; its leftovers would make the next
  // one fail, and there is no data in them worth keeping.
  for (const entry of fs.readdirSync(layout.data)) fs.rmSync(path.join(layout.data, entry), { recursive: true, force: true });
  log(`initialising the embedded MariaDB data folder ${layout.data}`);
  try {
    await execFileAsync(
      binaries.installDb,
      [
        `--defaults-file=${layout.cnf}`,
        '--skip-test-db',
        '--skip-name-resolve',
        // Only the OS account running Kluis can log in as the administrator, over the socket.
        `--auth-root-socket-user=${adminUser()}`,
      ],
      { timeout: 120_000, maxBuffer: 16 * 1024 * 1024 },
    );
  } catch (cause) {
    const output = cause && typeof cause === 'object' ? `${String((cause as { stdout?: unknown }).stdout ?? '')}${String((cause as { stderr?: unknown }).stderr ?? '')}` : '';
    failWithLog(
      layout,
      `mariadb-install-db could not initialise ${layout.data}${output ? `:\n${output.trim().split('\n').slice(-15).join('\n')}\n` : '.'} Fix the cause, then start again (the folder is set up anew).`,
      cause,
    );
  }
  if (account) fs.chownSync(layout.data, account.uid, account.gid);
  fs.writeFileSync(layout.initialised, `${new Date().toISOString()}\n`, { mode: 0o644 });
}

/** Waits until the server answers; tells whether a failure was a lost race for the port. */
async function waitUntilReady(
  child: ChildProcess,
  layout: Layout,
  admin: string,
): Promise<{ ready: true } | { ready: false; portTaken: boolean }> {
  let exited = false;
  child.once('exit', () => {
    exited = true;
  });
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (exited) {
      return { ready: false, portTaken: /Address already in use|Do you already have another .* running/i.test(errorLogTail(layout, 15)) };
    }
    try {
      // ping exits 0 as soon as the server accepts connections, even before authentication.
      await execFileAsync(admin, [`--defaults-file=${layout.cnf}`, '--connect-timeout=2', 'ping'], { timeout: 5_000 });
      if (!exited) return { ready: true };
    } catch {
      // not up yet
    }
    await sleep(100);
  }
  return { ready: false, portTaken: false };
}

async function adminConnection(layout: Layout): Promise<mariadb.Connection> {
  try {
    return await mariadb.createConnection({ socketPath: layout.socket, user: adminUser(), connectTimeout: 10_000 });
  } catch (cause) {
    return failWithLog(layout, `Could not log in to the embedded MariaDB server as ${adminUser()} over ${layout.socket}.`, cause);
  }
}

const DATABASE_NAME = /^[A-Za-z0-9_]{1,64}$/;

function assertDatabaseName(name: string): void {
  if (!DATABASE_NAME.test(name)) {
    fail('database_setup_failed', `"${name}" is not a usable database name: use 1 to 64 letters, digits or underscores.`);
  }
}

async function provisionDatabase(connection: mariadb.Connection, database: string): Promise<void> {
  await connection.query(`CREATE DATABASE IF NOT EXISTS \`${database}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
  for (const host of ['127.0.0.1', 'localhost']) {
    await connection.query(`GRANT ALL PRIVILEGES ON \`${database}\`.* TO ?@?`, [APP_USER, host]);
  }
}

async function provisionAppUser(connection: mariadb.Connection, credentials: Credentials): Promise<void> {
  for (const host of ['127.0.0.1', 'localhost']) {
    await connection.query('CREATE USER IF NOT EXISTS ?@? IDENTIFIED BY ?', [APP_USER, host, credentials.password]);
    // Keeps the account in step with credentials.json when that file was recreated.
    await connection.query('ALTER USER ?@? IDENTIFIED BY ?', [APP_USER, host, credentials.password]);
  }
}

async function assertEncryptionActive(connection: mariadb.Connection, layout: Layout): Promise<void> {
  const rows: Array<{ status: string }> = await connection.query(
    "SELECT PLUGIN_STATUS AS status FROM information_schema.PLUGINS WHERE PLUGIN_NAME = 'FILE_KEY_MANAGEMENT'",
  );
  if (rows[0]?.status !== 'ACTIVE') {
    failWithLog(layout, 'The embedded MariaDB server started without its encryption key plugin, so data would be stored unencrypted.');
  }
}

export async function startEmbeddedMariadb(options: EmbeddedMariadbOptions): Promise<EmbeddedMariadb> {
  const log = options.log ?? (() => undefined);
  const database = options.database ?? 'kluis';
  const encryption = options.encryption ?? true;
  assertDatabaseName(database);

  const binaries = findMariadbBinaries();
  if (!binaries) return fail('database_setup_failed', INSTALL_HINT);

  const layout = layoutOf(options.dir);
  const account = isRoot() ? await mysqlAccount() : undefined;
  prepareFolders(layout, account);

  const owner = ownerStillRunning(layout);
  const leftovers = serversOf(layout);
  if (owner !== undefined && leftovers.length > 0) {
    fail(
      'database_setup_failed',
      owner === process.pid
        ? `The embedded MariaDB server in ${layout.dir} is already running in this process; stop() it before starting it again.`
        : `The embedded MariaDB server in ${layout.dir} belongs to another running Kluis process (pid ${owner}). Stop that process first, or give this one its own DATA_DIR.`,
    );
  }
  for (const pid of leftovers) {
    log(`stopping MariaDB server ${pid} left behind by an earlier run in ${layout.dir}`);
    await stopServer(pid, log);
  }
  // No server of this instance runs any more, so whatever a crashed one left in run/ is stale.
  for (const stale of [layout.pidFile, layout.socket, `${layout.socket}.lock`]) fs.rmSync(stale, { force: true });
  const ownerToken = claimOwnership(layout);

  try {
    const initialised = fs.existsSync(layout.initialised);
    if (encryption) ensureKeyFile(layout, account, initialised);
    const credentials = loadOrCreateCredentials(layout);

    let started: { child: ChildProcess; port: number } | undefined;
    // The free port is only reserved until we close it; another process can take it before
    // mariadbd binds, so a lost race is retried with a new port.
    for (let attempt = 1; attempt <= 3 && !started; attempt++) {
      const port = options.port ?? (await freeLoopbackPort());
      writeConfig(layout, port, encryption, options.binlog ?? false);
      if (!fs.existsSync(layout.initialised)) await initialiseDataFolder(layout, binaries, account, log);
      const child = spawn(binaries.mariadbd, [`--defaults-file=${layout.cnf}`], { detached: true, stdio: 'ignore' });
      child.unref();
      child.once('error', () => undefined);
      const result = await waitUntilReady(child, layout, binaries.admin);
      if (result.ready) {
        started = { child, port };
      } else {
        if (child.pid !== undefined && isRunning(child.pid)) await stopServer(child.pid, log);
        if (!result.portTaken || attempt === 3 || options.port !== undefined) {
          failWithLog(layout, `The embedded MariaDB server in ${layout.dir} did not start.`);
        }
        log(`port ${port} was taken before MariaDB could bind it; retrying with another port`);
      }
    }
    if (!started || started.child.pid === undefined) return failWithLog(layout, `The embedded MariaDB server in ${layout.dir} did not start.`);
    const pid = started.child.pid;
    const port = started.port;
    trackServer(pid);

    try {
      const connection = await adminConnection(layout);
      try {
        if (encryption) await assertEncryptionActive(connection, layout);
        await provisionAppUser(connection, credentials);
        await provisionDatabase(connection, database);
      } finally {
        await connection.end();
      }
    } catch (error) {
      await stopServer(pid, log);
      throw error;
    }

    log(`embedded MariaDB server ${pid} listening on 127.0.0.1:${port}`);
    return makeHandle(layout, credentials, database, pid, port, ownerToken, log);
  } catch (error) {
    releaseOwnership(layout, ownerToken);
    throw error;
  }
}

function makeHandle(
  layout: Layout,
  credentials: Credentials,
  database: string,
  pid: number,
  port: number,
  ownerToken: string,
  log: (message: string) => void,
): EmbeddedMariadb {
  const urlFor = (name: string): string =>
    `mysql://${encodeURIComponent(credentials.user)}:${encodeURIComponent(credentials.password)}@127.0.0.1:${port}/${encodeURIComponent(name)}`;
  let stopping: Promise<void> | undefined;
  const withAdmin = async <T>(work: (connection: mariadb.Connection) => Promise<T>): Promise<T> => {
    if (stopping) fail('database_setup_failed', `The embedded MariaDB server in ${layout.dir} has been stopped; start it again first.`);
    const connection = await adminConnection(layout);
    try {
      return await work(connection);
    } finally {
      await connection.end();
    }
  };
  return {
    url: urlFor(database),
    port,
    pid,
    async createDatabase(name) {
      assertDatabaseName(name);
      await withAdmin((connection) => provisionDatabase(connection, name));
      return urlFor(name);
    },
    async dropDatabase(name) {
      assertDatabaseName(name);
      await withAdmin((connection) => connection.query(`DROP DATABASE IF EXISTS \`${name}\``));
    },
    stop() {
      stopping ??= (async () => {
        // After a crash or a takeover the pid may belong to another process by now.
        if (isServerOf(pid, layout)) {
          log(`stopping embedded MariaDB server ${pid}`);
          await stopServer(pid, log);
        }
        releaseOwnership(layout, ownerToken);
      })();
      return stopping;
    },
  };
}
