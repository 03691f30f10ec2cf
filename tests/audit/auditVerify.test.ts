/** `npm run audit:verify` as a real process against the real MariaDB: exit codes and what it names. */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { createPrismaAuditLog } from '../../api/audit/prismaAuditLog';
import { openTestDatabase, testDatabaseUrl } from '../support/database';

const root = path.resolve(__dirname, '..', '..');
const db = openTestDatabase();
const good = randomUUID();
const bad = randomUUID();

function verify(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [path.join(root, 'node_modules', 'tsx', 'dist', 'cli.mjs'), 'scripts/audit-verify.ts', ...args], { cwd: root, env: { ...process.env, DATABASE_URL: testDatabaseUrl(), LOG_LEVEL: 'silent' } }, (error, out, err) =>
      resolve({ code: error ? Number(error.code ?? 1) : 0, out, err }),
    );
  });
}

beforeAll(async () => {
  const log = createPrismaAuditLog(db);
  for (const w of [good, bad]) {
    await db.workspace.create({ data: { id: w, name: 'w', tenantId: randomUUID() } });
    for (let i = 0; i < 3; i++) await log.record({ workspaceId: w, kind: 'retention.changed', outcome: 'success', detail: { i } });
  }
  await db.$executeRawUnsafe('UPDATE `AuditEvent` SET outcome = ? WHERE workspaceId = ? AND seq = 2', 'refused', bad);
});

afterAll(async () => {
  await db.workspace.deleteMany({ where: { id: { in: [good, bad] } } });
  await db.$disconnect();
});

describe('npm run audit:verify', () => {
  it('exits 0 and prints the head of an intact chain', async () => {
    const head = await db.auditChainHead.findUnique({ where: { workspaceId: good } });
    const r = await verify('--workspace', good);
    expect(r.code).toBe(0);
    expect(r.out).toContain(`ok      ${good}  3 event(s), head seq 3 hash ${head!.hash}`);
  });

  it('exits 1 and names the first broken link of a tampered chain', async () => {
    const event = await db.auditEvent.findFirst({ where: { workspaceId: bad, seq: 2 } });
    const r = await verify('--workspace', bad);
    expect(r.code).toBe(1);
    expect(r.out).toContain(`BROKEN  ${bad}  first broken link at seq 2 (event ${event!.id}): hash-mismatch`);
  });

  it('checks every workspace without --workspace and fails when any chain is broken', async () => {
    const r = await verify();
    expect(r.code).toBe(1);
    expect(r.out).toContain(`ok      ${good}`);
    expect(r.out).toContain(`BROKEN  ${bad}`);
  });

  it.each([[['--workspace']], [['--workspace', "x' OR 1=1 --"]], [['--all']], [['--workspace', good, '--extra']]])('refuses malformed arguments %j with exit code 2 and the usage line', async (args) => {
    const r = await verify(...args);
    expect(r.code).toBe(2);
    expect(r.err).toContain('usage: npm run audit:verify');
  });
});
