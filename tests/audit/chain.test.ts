/** The audit hash chain on the real MariaDB: tampering of every kind is found, concurrent writers keep it whole. */
import { randomUUID } from 'node:crypto';
import { createDatabase, type Database } from '../../api/db/client';
import { chainHash, verifyAuditChains, verifyWorkspaceChain } from '../../api/audit/chain';
import { createPrismaAuditChainSource } from '../../api/audit/prismaAuditChainSource';
import { createPrismaAuditLog } from '../../api/audit/prismaAuditLog';
import { openTestDatabase, testDatabaseUrl } from '../support/database';

let db: Database;
beforeAll(() => {
  db = openTestDatabase();
});
afterAll(async () => {
  await db.$disconnect();
});

async function workspaceWithEvents(count: number) {
  const workspaceId = randomUUID();
  await db.workspace.create({ data: { id: workspaceId, name: 'w', tenantId: randomUUID() } });
  const log = createPrismaAuditLog(db);
  for (let i = 1; i <= count; i++) await log.record({ workspaceId, actorUserId: randomUUID(), kind: 'knowledge.source_added', outcome: 'success', detail: { n: i, note: 'café' }, ip: '192.0.2.7' });
  return { workspaceId, log };
}

const verify = (workspaceId: string) => verifyWorkspaceChain(createPrismaAuditChainSource(db), workspaceId);
const exec = (sql: string, ...values: unknown[]) => db.$executeRawUnsafe(sql, ...values);

async function row(workspaceId: string, seq: number) {
  const found = await db.auditEvent.findFirst({ where: { workspaceId, seq } });
  if (!found) throw new Error(`no event ${seq}`);
  return found;
}

describe('the audit hash chain', () => {
  it('links every event to the one before it and verifies from the first to the head', async () => {
    const { workspaceId } = await workspaceWithEvents(5);
    const verdict = await verify(workspaceId);
    expect(verdict).toMatchObject({ ok: true, checked: 5, head: { seq: 5 } });
    const [first, second] = [await row(workspaceId, 1), await row(workspaceId, 2)];
    expect(first.prevHash).toBe('0'.repeat(64));
    expect(second.prevHash).toBe(first.hash);
    expect(verdict.head?.hash).toBe((await row(workspaceId, 5)).hash);
  });

  it('finds an edited detail (hash mismatch at that event)', async () => {
    const { workspaceId } = await workspaceWithEvents(5);
    await exec('UPDATE `AuditEvent` SET detail = ? WHERE workspaceId = ? AND seq = 3', JSON.stringify({ n: 3, note: 'nothing happened' }), workspaceId);
    expect(await verify(workspaceId)).toMatchObject({ ok: false, firstBreak: { reason: 'hash-mismatch', seq: 3 } });
  });

  it('finds an edited outcome, actor or time just the same', async () => {
    for (const [column, value] of [['outcome', 'failure'], ['actorUserId', randomUUID()], ['createdAt', new Date('2020-01-01T00:00:00Z')], ['ip', '198.51.100.1'], ['ipDigest', 'f'.repeat(64)]] as const) {
      const { workspaceId } = await workspaceWithEvents(3);
      await exec(`UPDATE \`AuditEvent\` SET ${column} = ? WHERE workspaceId = ? AND seq = 2`, value, workspaceId);
      expect(await verify(workspaceId)).toMatchObject({ ok: false, firstBreak: { reason: 'hash-mismatch', seq: 2 } });
    }
  });

  it('finds an event deleted in the middle (gap)', async () => {
    const { workspaceId } = await workspaceWithEvents(5);
    await exec('DELETE FROM `AuditEvent` WHERE workspaceId = ? AND seq = 3', workspaceId);
    expect(await verify(workspaceId)).toMatchObject({ ok: false, checked: 2, firstBreak: { reason: 'gap', seq: 3 } });
  });

  it('finds the newest events deleted (the head remembers them)', async () => {
    const { workspaceId } = await workspaceWithEvents(5);
    await exec('DELETE FROM `AuditEvent` WHERE workspaceId = ? AND seq >= 4', workspaceId);
    expect(await verify(workspaceId)).toMatchObject({ ok: false, checked: 3, firstBreak: { reason: 'head-mismatch', seq: 3 } });
  });

  it('finds two events swapped (reordering)', async () => {
    const { workspaceId } = await workspaceWithEvents(5);
    await exec('UPDATE `AuditEvent` SET seq = -1 WHERE workspaceId = ? AND seq = 2', workspaceId);
    await exec('UPDATE `AuditEvent` SET seq = 2 WHERE workspaceId = ? AND seq = 3', workspaceId);
    await exec('UPDATE `AuditEvent` SET seq = 3 WHERE workspaceId = ? AND seq = -1', workspaceId);
    expect(await verify(workspaceId)).toMatchObject({ ok: false, checked: 1, firstBreak: { reason: 'prev-hash-mismatch', seq: 2 } });
  });

  it('finds a forged event slipped into the middle with a correctly computed hash', async () => {
    const { workspaceId } = await workspaceWithEvents(5);
    const before = await row(workspaceId, 2);
    // Make room at seq 3 (from the top down, the (workspaceId, seq) key is unique) and forge a link to event 2.
    for (const seq of [5, 4, 3]) await exec('UPDATE `AuditEvent` SET seq = ? WHERE workspaceId = ? AND seq = ?', seq + 1, workspaceId, seq);
    const forged = { workspaceId, seq: 3, createdAt: new Date(before.createdAt.getTime() + 1), actorUserId: null, kind: 'role.changed', outcome: 'success', detail: { to: 'admin' }, ipDigest: null, prevHash: before.hash! };
    await exec('INSERT INTO `AuditEvent` (id, workspaceId, seq, createdAt, kind, outcome, detail, prevHash, hash) VALUES (?, ?, 3, ?, ?, ?, ?, ?, ?)', randomUUID(), workspaceId, forged.createdAt, forged.kind, forged.outcome, JSON.stringify(forged.detail), forged.prevHash, chainHash(forged));
    // The forged link itself verifies; the event after it no longer does.
    expect(await verify(workspaceId)).toMatchObject({ ok: false, checked: 3, firstBreak: { reason: 'prev-hash-mismatch', seq: 4 } });
  });

  it('finds a forged event appended after the head', async () => {
    const { workspaceId } = await workspaceWithEvents(3);
    const last = await row(workspaceId, 3);
    const forged = { workspaceId, seq: 4, createdAt: new Date(), actorUserId: null, kind: 'identity.login', outcome: 'success', detail: null, ipDigest: null, prevHash: last.hash! };
    await exec('INSERT INTO `AuditEvent` (id, workspaceId, seq, createdAt, kind, outcome, prevHash, hash) VALUES (?, ?, 4, ?, ?, ?, ?, ?)', randomUUID(), workspaceId, forged.createdAt, forged.kind, forged.outcome, forged.prevHash, chainHash(forged));
    expect(await verify(workspaceId)).toMatchObject({ ok: false, checked: 4, firstBreak: { reason: 'head-mismatch', seq: 4 } });
  });

  it('finds a deleted chain head and an unchained event inside a sealed chain', async () => {
    const a = await workspaceWithEvents(2);
    await exec('DELETE FROM `AuditChainHead` WHERE workspaceId = ?', a.workspaceId);
    expect(await verify(a.workspaceId)).toMatchObject({ ok: false, firstBreak: { reason: 'head-missing', seq: 1 } });
    const b = await workspaceWithEvents(2);
    await exec('UPDATE `AuditEvent` SET hash = NULL WHERE workspaceId = ? AND seq = 2', b.workspaceId);
    expect(await verify(b.workspaceId)).toMatchObject({ ok: false, firstBreak: { reason: 'unchained', seq: 2 } });
  });

  it('keeps each workspace\'s chain apart: tampering in one leaves the other valid', async () => {
    const a = await workspaceWithEvents(3);
    const b = await workspaceWithEvents(3);
    await exec('UPDATE `AuditEvent` SET kind = ? WHERE workspaceId = ? AND seq = 1', 'identity.logout', a.workspaceId);
    const verdicts = await verifyAuditChains(createPrismaAuditChainSource(db));
    expect(verdicts.find((v) => v.workspaceId === a.workspaceId)).toMatchObject({ ok: false, firstBreak: { reason: 'hash-mismatch', seq: 1 } });
    expect(verdicts.find((v) => v.workspaceId === b.workspaceId)).toMatchObject({ ok: true, checked: 3 });
  });

  it('keeps one valid chain under 200 parallel appends from two database clients', async () => {
    const { workspaceId } = await workspaceWithEvents(0);
    const second = createDatabase(testDatabaseUrl(), 4);
    try {
      const logs = [createPrismaAuditLog(db), createPrismaAuditLog(second)];
      await Promise.all(Array.from({ length: 200 }, (_, i) => logs[i % 2]!.record({ workspaceId, kind: 'api.request', outcome: 'success', detail: { i } })));
    } finally {
      await second.$disconnect();
    }
    expect(await verify(workspaceId)).toMatchObject({ ok: true, checked: 200, head: { seq: 200 } });
    const details = (await db.auditEvent.findMany({ where: { workspaceId }, select: { detail: true } })).map((r) => (r.detail as { i: number }).i);
    expect(new Set(details).size).toBe(200);
  });

  it('chains events written before the chain existed on the first append', async () => {
    const workspaceId = randomUUID();
    await db.workspace.create({ data: { id: workspaceId, name: 'w', tenantId: randomUUID() } });
    for (const seq of [1, 2, 3]) {
      await exec('INSERT INTO `AuditEvent` (id, workspaceId, seq, createdAt, kind, outcome, detail) VALUES (?, ?, ?, ?, ?, ?, ?)', randomUUID(), workspaceId, seq, new Date(Date.now() - 1000 + seq), 'retention.changed', 'success', JSON.stringify({ b: seq, a: 'x' }));
    }
    expect(await verify(workspaceId)).toEqual({ workspaceId, ok: true, checked: 0, unsealed: 3 });
    await createPrismaAuditLog(db).record({ workspaceId, kind: 'identity.login', outcome: 'success' });
    expect(await verify(workspaceId)).toMatchObject({ ok: true, checked: 4, head: { seq: 4 } });
  });

  it('erases IPs after the login log period and the chain still verifies, while a changed IP is still found', async () => {
    const { workspaceId, log } = await workspaceWithEvents(3);
    await new Promise((r) => setTimeout(r, 5));
    const cutoff = new Date();
    await new Promise((r) => setTimeout(r, 5));
    await log.record({ workspaceId, kind: 'identity.login', outcome: 'failure', ip: '203.0.113.9' });
    const other = await workspaceWithEvents(1);
    expect(await log.eraseIpsOlderThan(cutoff, { workspaceId })).toBe(3);
    // Only the workspace named: another workspace's IP of the same age is kept.
    expect((await row(other.workspaceId, 1)).ip).toBe('192.0.2.7');
    const rows = await db.auditEvent.findMany({ where: { workspaceId }, orderBy: { seq: 'asc' } });
    expect(rows.map((r) => [r.ip, r.ipSalt === null])).toEqual([[null, true], [null, true], [null, true], ['203.0.113.9', false]]);
    expect(JSON.stringify(rows.slice(0, 3))).not.toContain('192.0.2.7');
    expect(rows.every((r) => /^[0-9a-f]{64}$/.test(r.ipDigest ?? ''))).toBe(true);
    expect(await verify(workspaceId)).toMatchObject({ ok: true, checked: 4 });
    await exec('UPDATE `AuditEvent` SET ip = ? WHERE workspaceId = ? AND seq = 4', '203.0.113.10', workspaceId);
    expect(await verify(workspaceId)).toMatchObject({ ok: false, firstBreak: { reason: 'hash-mismatch', seq: 4 } });
  });

  it('refuses an event for a workspace that does not exist', async () => {
    await expect(createPrismaAuditLog(db).record({ workspaceId: randomUUID(), kind: 'identity.login', outcome: 'success' })).rejects.toMatchObject({ id: 'audit_chain_unavailable' });
  });
});

describe('pruning the audit log for retention', () => {
  it('deletes the events before the cutoff and the rest still verifies from the anchor', async () => {
    const { workspaceId, log } = await workspaceWithEvents(4);
    await new Promise((r) => setTimeout(r, 5));
    const cutoff = new Date();
    await new Promise((r) => setTimeout(r, 5));
    await log.record({ workspaceId, kind: 'identity.login', outcome: 'success' });
    await log.record({ workspaceId, kind: 'identity.logout', outcome: 'success' });

    expect(await log.pruneOlderThan(cutoff, { workspaceId })).toEqual({ workspaces: 1, deleted: 4, failed: [] });
    expect((await db.auditEvent.findMany({ where: { workspaceId }, orderBy: { seq: 'asc' } })).map((e) => [e.seq, e.kind])).toEqual([[5, 'identity.login'], [6, 'identity.logout'], [7, 'audit.pruned']]);
    expect(await verify(workspaceId)).toMatchObject({ ok: true, checked: 3, head: { seq: 7 } });
    // Nothing more to prune; a second run changes nothing.
    expect(await log.pruneOlderThan(cutoff, { workspaceId })).toEqual({ workspaces: 0, deleted: 0, failed: [] });

    // The pruned chain still detects deletion of its oldest kept event.
    await exec('DELETE FROM `AuditEvent` WHERE workspaceId = ? AND seq = 5', workspaceId);
    expect(await verify(workspaceId)).toMatchObject({ ok: false, firstBreak: { reason: 'gap', seq: 5 } });
  });

  it('prunes a whole chain to its head and appends continue on top of it', async () => {
    const { workspaceId, log } = await workspaceWithEvents(3);
    await new Promise((r) => setTimeout(r, 5));
    // Across all workspaces: chains other tests tampered with are reported, not fatal to this one.
    const report = await log.pruneOlderThan(new Date());
    expect(report.deleted).toBeGreaterThanOrEqual(3);
    expect(report.failed).not.toContain(workspaceId);
    expect(await verify(workspaceId)).toMatchObject({ ok: true, checked: 1, head: { seq: 4 } });
    await log.record({ workspaceId, kind: 'identity.login', outcome: 'success' });
    expect(await verify(workspaceId)).toMatchObject({ ok: true, checked: 2, head: { seq: 5 } });
  });
});
