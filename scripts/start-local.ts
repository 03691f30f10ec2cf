/**
 * `npm start`: Kluis on its embedded defaults (private MariaDB under .data/, LanceDB index,
 * encrypted blob folder, the demo documents, the extractive provider unless OPENAI_API_KEY is set)
 * in explicit local mode, plus the Microsoft 365 Agents Playground to chat with it in a browser.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { ConfigError, loadConfig } from '../api/config';
import { isKluisError } from '../api/errors';
import { startKluis } from '../api/main';
import { ensurePrerequisites } from './bootstrap';

const root = path.resolve(__dirname, '..');

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig(process.env, { profile: 'local', cwd: root });
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(`kluis: ${error.message}`);
      process.exit(2);
    }
    throw error;
  }
  if (!config.database.url) await ensurePrerequisites({ browser: false, log: (m: string) => console.log(m) });
  const kluis = await startKluis(config);

  let playground: ChildProcess | undefined;
  if (config.localMode) {
    const bin = path.join(root, 'node_modules', '.bin', 'agentsplayground');
    playground = spawn(bin, ['-e', `${kluis.url}/api/messages`, '-c', 'msteams', '-p', String(config.playgroundPort), '--dt'], {
      cwd: path.join(config.dataDir),
      env: { ...process.env, TEAMSAPPTESTER_BROWSER: 'none' },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    playground.on('exit', (code) => kluis.logger.info({ code }, 'Agents Playground stopped'));
    console.log(`\n  Kluis is ready. Chat with it in the Agents Playground: http://localhost:${config.playgroundPort}\n  Try: "What is the maximum hotel rate per night in London?" or "Hoeveel bedraagt de thuiswerkvergoeding per maand?"\n  Stop with Ctrl+C.\n`);
  }

  let stopping = false;
  const shutdown = () => {
    if (stopping) return;
    stopping = true;
    playground?.kill('SIGTERM');
    kluis.stop().then(() => process.exit(0), () => process.exit(1));
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
}

main().catch((error) => {
  console.error(`kluis: start failed: ${isKluisError(error) ? `${error.id}: ${error.message}` : (error as Error).stack}`);
  process.exit(1);
});
