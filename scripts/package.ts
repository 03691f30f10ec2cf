/**
 * `npm run package [-- --env <name>]`: build appPackage/build/appPackage.<name>.zip (default dev)
 * from appPackage/manifest.json and env/.env.<name>, validated offline. See README, "App package".
 */
import path from 'node:path';
import { AppPackageProblems, buildAppPackage } from './appPackage/build';

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const at = args.indexOf('--env');
  const environment = at >= 0 ? args[at + 1] : 'dev';
  if (!environment || args.some((a, i) => a.startsWith('-') && a !== '--env' && i !== at + 1)) {
    console.error('kluis: usage: npm run package [-- --env <name>]   (reads env/.env.<name>, default dev)');
    process.exit(2);
  }
  const root = path.resolve(__dirname, '..');
  const built = await buildAppPackage({ root, environment, processEnv: process.env });
  console.log(`kluis: app package for "${environment}" written to ${path.relative(root, built.zipPath)} (${built.zip.length} bytes, manifest ${String(built.manifest.manifestVersion)}, validated offline)`);
}

main().catch((error) => {
  if (error instanceof AppPackageProblems) {
    console.error(`kluis: ${error.message}`);
    process.exit(1);
  }
  console.error(`kluis: ${(error as Error).stack}`);
  process.exit(1);
});
