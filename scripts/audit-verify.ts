/**
 * `npm run audit:verify [-- --workspace <id>]`: walks every workspace's audit hash chain (or one)
 * from its anchor to its head and prints, per workspace, either the head (seq and hash: keep them
 * outside the database to compare later) or the first broken link. Exits 1 when a chain is broken,
 * 2 on a usage error.
 */
import { ConfigError, loadConfig } from '../api/config';
import { verifyAuditChains, type ChainVerdict } from '../api/audit/chain';
import { createPrismaAuditChainSource } from '../api/audit/prismaAuditChainSource';
import { createDatabase } from '../api/db/client';
import { isKluisError } from '../api/errors';

const WORKSPACE_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const EXPLAINED: Record<string, string> = {
  'head-missing': 'events carry hashes but the chain head is gone',
  gap: 'an event is missing or out of order (deleted, reordered or inserted)',
  'prev-hash-mismatch': 'the event does not link to the one before it (inserted, reordered or replaced)',
  'hash-mismatch': 'the event was changed after it was written',
  unchained: 'an event without a hash inside the chain',
  'head-mismatch': 'the newest events do not match the chain head (deleted or added outside Kluis)',
};

function parseArguments(argv: string[]): { workspaceId?: string } {
  if (argv.length === 0) return {};
  if (argv.length === 2 && argv[0] === '--workspace' && WORKSPACE_ID.test(argv[1]!)) return { workspaceId: argv[1]!.toLowerCase() };
  throw new UsageError('usage: npm run audit:verify [-- --workspace <workspace id>]');
}

class UsageError extends Error {}

function describeVerdict(v: ChainVerdict): string {
  if (v.ok && v.unsealed) return `ok      ${v.workspaceId}  ${v.unsealed} event(s) from before the chain; they are chained at the next event of this workspace`;
  if (v.ok) return `ok      ${v.workspaceId}  ${v.checked} event(s)${v.head ? `, head seq ${v.head.seq} hash ${v.head.hash}` : ''}`;
  const b = v.firstBreak!;
  return `BROKEN  ${v.workspaceId}  first broken link at seq ${b.seq}${b.eventId ? ` (event ${b.eventId})` : ''}: ${b.reason}, ${EXPLAINED[b.reason]}; ${v.checked} event(s) before it verified`;
}

async function main(): Promise<number> {
  const args = parseArguments(process.argv.slice(2));
  const config = loadConfig(process.env, { profile: 'local' });
  if (!config.database.url) {
    console.error('kluis: set DATABASE_URL to the database whose audit log to verify.');
    return 2;
  }
  const db = createDatabase(config.database.url, 2);
  try {
    const verdicts = await verifyAuditChains(createPrismaAuditChainSource(db), args);
    for (const verdict of verdicts) console.log(describeVerdict(verdict));
    const broken = verdicts.filter((v) => !v.ok).length;
    console.log(`kluis: ${verdicts.length} workspace chain(s) verified, ${broken} broken.`);
    return broken > 0 ? 1 : 0;
  } finally {
    await db.$disconnect();
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`kluis: ${error instanceof UsageError || error instanceof ConfigError || isKluisError(error) ? (error as Error).message : (error as Error).stack}`);
    process.exit(error instanceof UsageError ? 2 : 1);
  },
);
