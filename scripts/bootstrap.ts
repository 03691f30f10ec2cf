/**
 * Checks the system packages `npm start` and `npm test` need on a fresh Debian or Ubuntu machine
 * and installs the missing ones when it can (as root, with apt-get).
 *
 *   npx tsx scripts/bootstrap.ts            MariaDB server for the embedded database
 *   npx tsx scripts/bootstrap.ts --browser  also Chromium, for the browser tests
 *
 * MariaDB is needed only when DATABASE_URL is not set, but it is checked regardless because the
 * test suite always runs its own embedded server.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { findMariadbBinaries } from '../api/db/embeddedMariadb';
import { fail } from '../api/errors';

export const CHROMIUM_PATH = '/usr/bin/chromium';

const APT_GET_CANDIDATES = ['/usr/bin/apt-get', '/bin/apt-get'];

export interface PrerequisiteOptions {
  browser: boolean;
  log: (message: string) => void;
}

interface Prerequisite {
  what: string;
  aptPackage: string;
  present: () => boolean;
}

const mariadbServer: Prerequisite = { what: 'MariaDB server', aptPackage: 'mariadb-server', present: () => findMariadbBinaries() !== undefined };
const chromium: Prerequisite = { what: 'Chromium', aptPackage: 'chromium', present: () => isExecutable(CHROMIUM_PATH) };

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

function run(command: string, args: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      stdio: 'inherit',
      // Without it a package's configuration step may stop and wait for answers nobody gives.
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
    child.once('error', reject);
    child.once('close', (code) => resolve(code ?? 1));
  });
}

function installInstructions(missing: Prerequisite[], aptGet: string | undefined, root: boolean): string {
  const packages = missing.map((item) => item.aptPackage).join(' ');
  const names = missing.map((item) => `${item.what} (${item.aptPackage})`).join(', ');
  const command = aptGet
    ? `${root ? '' : 'sudo '}apt-get update && ${root ? '' : 'sudo '}apt-get install -y --no-install-recommends ${packages}`
    : `install the packages ${packages} with this system's package manager`;
  const alternative = missing.includes(mariadbServer) ? ' Instead of installing MariaDB you can set DATABASE_URL to an existing MySQL/MariaDB server for npm start.' : '';
  return `Missing: ${names}. Install with: ${command}.${alternative}`;
}

/** Installs what is missing, or fails with the exact command to run when it cannot. */
export async function ensurePrerequisites(options: PrerequisiteOptions): Promise<void> {
  const wanted = options.browser ? [mariadbServer, chromium] : [mariadbServer];
  const missing = wanted.filter((item) => !item.present());
  const failureId = missing.includes(mariadbServer) ? 'database_setup_failed' : 'config_invalid';
  if (missing.length === 0) {
    options.log(`Prerequisites present: ${wanted.map((item) => item.what).join(', ')}.`);
    return;
  }

  const root = process.getuid?.() === 0;
  const aptGet = APT_GET_CANDIDATES.find(isExecutable);
  if (!root || !aptGet) fail(failureId, installInstructions(missing, aptGet, root));

  const packages = missing.map((item) => item.aptPackage);
  options.log(`Installing ${packages.join(', ')} with apt-get ...`);
  const updated = await run(aptGet, ['update', '-qq']);
  if (updated !== 0) {
    fail(failureId, `apt-get update failed (exit code ${updated}); check the network and the apt sources, then run this again. ${installInstructions(missing, aptGet, root)}`);
  }
  const installed = await run(aptGet, ['install', '-y', '-qq', '--no-install-recommends', ...packages]);
  if (installed !== 0) {
    fail(failureId, `apt-get install failed (exit code ${installed}); see its output above. ${installInstructions(missing, aptGet, root)}`);
  }

  const stillMissing = missing.filter((item) => !item.present());
  if (stillMissing.length > 0) {
    fail(failureId, `apt-get finished, but ${stillMissing.map((item) => item.what).join(', ')} is still not where Kluis looks for it. ${installInstructions(stillMissing, aptGet, root)}`);
  }
  options.log(`Installed ${packages.join(', ')}.`);
}

const USAGE = 'Usage: npx tsx scripts/bootstrap.ts [--browser]';

if (require.main === module) {
  const args = process.argv.slice(2);
  const unknown = args.filter((arg) => arg !== '--browser');
  if (unknown.length > 0) {
    console.error(`Unknown argument ${unknown.join(' ')}. ${USAGE}`);
    process.exit(2);
  }
  ensurePrerequisites({ browser: args.includes('--browser'), log: (message) => console.log(message) }).then(
    () => process.exit(0),
    (error: unknown) => {
      console.error(error instanceof Error ? error.message : String(error));
      process.exit(1);
    },
  );
}
