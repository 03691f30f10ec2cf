/**
 * Runs `prisma generate` offline.
 *
 * The Prisma CLI downloads a native schema engine before every command, from a host that is not
 * always reachable. `generate` never uses that engine, and pointing PRISMA_SCHEMA_ENGINE_BINARY
 * at any existing file makes the CLI skip the download.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';

const root = path.resolve(__dirname, '..');
const cli = path.join(root, 'node_modules', 'prisma', 'build', 'index.js');
const result = spawnSync(process.execPath, [cli, 'generate'], {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, PRISMA_SCHEMA_ENGINE_BINARY: process.env.PRISMA_SCHEMA_ENGINE_BINARY ?? process.execPath, PRISMA_HIDE_UPDATE_MESSAGE: '1', CHECKPOINT_DISABLE: '1' },
});
process.exit(result.status ?? 1);
