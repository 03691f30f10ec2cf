/** `npm run migrate`: apply pending migrations to DATABASE_URL (Kluis also does this at start). */
import { ConfigError, loadConfig } from '../api/config';
import { migrateDatabase } from '../api/db/migrate';
import { isKluisError } from '../api/errors';

async function main(): Promise<void> {
  // Only the database setting matters here, so the local profile spares the bot settings.
  const config = loadConfig(process.env, { profile: 'local' });
  if (!config.database.url) {
    console.error('kluis: set DATABASE_URL to the server to migrate (the private instance of npm start migrates itself).');
    process.exit(2);
  }
  const report = await migrateDatabase(config.database.url);
  console.log(`kluis: ${report.applied.length} migration(s) applied${report.applied.length ? `: ${report.applied.join(', ')}` : ''}; ${report.alreadyApplied.length} already applied.`);
}

main().catch((error) => {
  console.error(`kluis: ${error instanceof ConfigError || isKluisError(error) ? error.message : (error as Error).stack}`);
  process.exit(1);
});
