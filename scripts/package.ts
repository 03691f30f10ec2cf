/**
 * `npm run package [-- --env <name>] [--out <folder>]`: build appPackage.<name>.zip (default dev,
 * into appPackage/build) from appPackage/manifest.json and env/.env.<name>, validated offline.
 * Exit code 1 with one line per problem when the package is refused, 2 on a usage error.
 * See README, "App package".
 */
import path from 'node:path';
import { AppPackageProblems, buildAppPackage } from './appPackage/build';

const USAGE = 'usage: npm run package [-- --env <name>] [--out <folder>]   (reads env/.env.<name>, default dev)';

function parseArgs(args: string[]): { environment: string; outDir?: string } | undefined {
  const options: { environment: string; outDir?: string } = { environment: 'dev' };
  for (let i = 0; i < args.length; i += 2) {
    const value = args[i + 1];
    if (value === undefined || value.startsWith('--')) return undefined;
    if (args[i] === '--env') options.environment = value;
    else if (args[i] === '--out') options.outDir = value;
    else return undefined;
  }
  return options;
}

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  if (!options) {
    console.error(`kluis: ${USAGE}`);
    process.exit(2);
  }
  const root = path.resolve(__dirname, '..');
  const built = await buildAppPackage({ root, environment: options.environment, processEnv: process.env, outDir: options.outDir && path.resolve(options.outDir) });
  console.log(`kluis: app package for "${options.environment}" written to ${path.relative(process.cwd(), built.zipPath)} (${built.zip.length} bytes, manifest ${String(built.manifest.manifestVersion)}, validated offline)`);
}

main().catch((error) => {
  if (error instanceof AppPackageProblems) {
    console.error(`kluis: ${error.message}`);
    process.exit(1);
  }
  console.error(`kluis: ${(error as Error).stack}`);
  process.exit(1);
});
