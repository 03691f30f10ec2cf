#!/usr/bin/env node
/**
 * Makes `npm start` and `npm test` the only commands a fresh clone needs: installs the npm
 * packages from the lockfile when they are missing or older than the lockfile, generates the
 * database client when it is missing, builds the tab and add-in pages, and with --browser checks the OS prerequisites of the
 * tests (scripts/bootstrap.ts: mariadb-server and Chromium). Plain JavaScript: it runs before any package is there.
 */
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const root = path.resolve(__dirname, '..');
const run = (command, args) => {
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit', env: { ...process.env, npm_config_yes: 'true' } });
  if (result.status !== 0) process.exit(result.status ?? 1);
};

const installed = path.join(root, 'node_modules', '.package-lock.json');
const lockfile = path.join(root, 'package-lock.json');
if (!fs.existsSync(installed) || fs.statSync(installed).mtimeMs < fs.statSync(lockfile).mtimeMs) {
  // `npm install` keeps to the lockfile; `npm ci` refuses lockfiles that lack other platforms' optional binaries.
  console.log('kluis: installing npm packages from package-lock.json ...');
  run('npm', ['install', '--no-audit', '--no-fund']);
}
if (!fs.existsSync(path.join(root, 'api', 'db', 'generated', 'client.ts'))) {
  run(process.execPath, [path.join(root, 'node_modules', 'tsx', 'dist', 'cli.mjs'), 'scripts/prisma-generate.ts']);
}
// The tab and add-in pages (dist/web): rebuilt on every start and test run (esbuild takes well under a second).
run(process.execPath, [path.join(root, 'node_modules', 'tsx', 'dist', 'cli.mjs'), 'scripts/build-web.ts']);
// `npm start` checks the database server itself (only when it needs the private instance).
if (process.argv.length > 2) run(process.execPath, [path.join(root, 'node_modules', 'tsx', 'dist', 'cli.mjs'), 'scripts/bootstrap.ts', ...process.argv.slice(2)]);
