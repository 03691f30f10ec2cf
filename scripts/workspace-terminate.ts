/**
 * `npm run workspace:terminate -- --tenant <tenant id>`: marks an organisation's workspace as
 * terminated (its contract ended). From then on nobody of that tenant signs in, and the retention
 * sweeper erases the whole workspace TERMINATED_WORKSPACE_ERASE_DAYS later (within the promised 30
 * days). `--undo` lifts the mark, as long as the erasure has not run yet.
 */
import { ConfigError, loadConfig } from '../api/config';
import { createDatabase } from '../api/db/client';
import { isKluisError } from '../api/errors';
import { DAY_MS } from '../api/privacy/sweeper';
import { createPrismaWorkspaceTermination } from '../api/tenancy/prismaWorkspaceDirectory';

const USAGE = 'usage: npm run workspace:terminate -- --tenant <tenant id> [--undo]';
const TENANT_ID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12,13}$/;

export type TerminateCommand = { tenantId: string; undo: boolean } | { problem: string };

/** Reads the command line; anything unexpected is a problem, never guessed at. */
export function parseTerminateArgs(argv: readonly string[]): TerminateCommand {
  let tenantId: string | undefined;
  let undo = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--undo') undo = true;
    else if (arg === '--tenant' && tenantId === undefined && argv[i + 1] !== undefined) tenantId = argv[++i];
    else return { problem: `unexpected argument "${arg.slice(0, 60)}". ${USAGE}` };
  }
  if (!tenantId) return { problem: USAGE };
  if (!TENANT_ID.test(tenantId)) return { problem: `"${tenantId.slice(0, 60)}" is not a tenant id (a GUID). ${USAGE}` };
  return { tenantId: tenantId.toLowerCase(), undo };
}

async function main(): Promise<number> {
  const command = parseTerminateArgs(process.argv.slice(2));
  if ('problem' in command) {
    console.error(`kluis: ${command.problem}`);
    return 2;
  }
  const config = loadConfig(process.env, { profile: 'local' });
  if (!config.database.url) {
    console.error('kluis: set DATABASE_URL to the database of the Kluis deployment.');
    return 2;
  }
  const db = createDatabase(config.database.url, 1);
  try {
    const termination = createPrismaWorkspaceTermination(db);
    if (command.undo) {
      if (!(await termination.undo(command.tenantId))) {
        console.error(`kluis: no workspace for tenant ${command.tenantId}.`);
        return 1;
      }
      console.log(`kluis: the workspace of tenant ${command.tenantId} is active again.`);
      return 0;
    }
    const marked = await termination.terminate(command.tenantId, new Date());
    if (!marked) {
      console.error(`kluis: no workspace for tenant ${command.tenantId}.`);
      return 1;
    }
    const eraseAfter = new Date(marked.terminatedAt.getTime() + config.retention.terminatedWorkspaceEraseDays * DAY_MS);
    console.log(
      `kluis: workspace ${marked.workspaceId} of tenant ${command.tenantId} terminated at ${marked.terminatedAt.toISOString()}; sign-ins are refused, and the retention sweeper erases it after ${eraseAfter.toISOString()}.`,
    );
    return 0;
  } finally {
    await db.$disconnect();
  }
}

if (require.main === module) {
  main().then(
    (code) => process.exit(code),
    (error) => {
      console.error(`kluis: ${error instanceof ConfigError || isKluisError(error) ? error.message : (error as Error).stack}`);
      process.exit(1);
    },
  );
}
