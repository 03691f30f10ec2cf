/** `npm run serve`: the production start. Refuses local mode; stops cleanly on SIGTERM/SIGINT. */
import { ConfigError, loadConfig } from './config';
import { isKluisError } from './errors';
import { startKluis } from './main';

async function serve(): Promise<void> {
  let config;
  try {
    config = loadConfig(process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(`kluis: ${error.message}`);
      process.exit(2);
    }
    throw error;
  }
  if (config.localMode) {
    console.error('kluis: npm run serve is the production start and refuses LOCAL_MODE=true. Use npm start for local mode.');
    process.exit(2);
  }
  const kluis = await startKluis(config);
  const shutdown = (signal: string) => {
    kluis.logger.info({ signal }, 'shutting down');
    kluis.stop().then(() => process.exit(0), () => process.exit(1));
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
}

serve().catch((error) => {
  console.error(`kluis: start failed: ${isKluisError(error) ? `${error.id}: ${error.message}` : (error as Error).stack}`);
  process.exit(1);
});
