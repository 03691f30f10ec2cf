/** Starts Kluis in this process for a test, with the test database and throw-away data folders. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../api/config';
import { createLogger } from '../../api/logger';
import { startKluis, type Kluis } from '../../api/main';
import type { Logger } from 'pino';
import { testDatabaseUrl } from './database';

export const DEMO_KNOWLEDGE = path.resolve(__dirname, '..', '..', 'demo', 'knowledge');

/** `options.logger`: a logger of the test's own (to read what Kluis logs); else LOG_LEVEL decides. */
export async function startTestKluis(env: Record<string, string | undefined> = {}, options: { logger?: Logger } = {}): Promise<Kluis & { dataDir: string }> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kluis-test-'));
  const config = loadConfig(
    { LOCAL_MODE: 'true', PORT: '0', DATABASE_URL: testDatabaseUrl(), DATA_DIR: dataDir, KNOWLEDGE_WATCH: 'false', LOG_LEVEL: 'silent', RETENTION_SWEEP_INTERVAL_MINUTES: '0', ...env },
    { dotenv: false, cwd: path.resolve(__dirname, '..', '..') },
  );
  const kluis = await startKluis(config, { logger: options.logger ?? createLogger(config.logLevel) });
  return {
    ...kluis,
    dataDir,
    async stop() {
      await kluis.stop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
