/**
 * AuditLog and AuditRetention on MySQL through Prisma, as a hash chain per workspace.
 *
 * Every append runs in one transaction that first locks the workspace's AuditChainHead row
 * (SELECT ... FOR UPDATE), so writers in every process and on every replica take turns per
 * workspace, and a crashed writer's lock ends with its connection. A named lock (GET_LOCK) was the
 * other candidate; it is held per connection rather than per transaction, so an error between
 * taking and releasing it leaves it held for a pooled connection's lifetime, and it does not
 * travel across a Galera cluster. Workspaces do not wait for each other.
 *
 * Events written before the chain existed got their seq from the migration; the first append to
 * their workspace (or the first prune) hashes them, under the same lock, before anything new.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { Database } from '../db/client';
import { fail } from '../errors';
import { chainHash, GENESIS_HASH, ipDigestOf, type ChainHead } from './chain';
import type { AuditEventInput, AuditLog, AuditPruneReport, AuditRetention } from './ports';

type Transaction = Parameters<Parameters<Database['$transaction']>[0]>[0];

/** Appends queue behind each other per workspace; give a burst room before giving up. */
const TRANSACTION_OPTIONS = { maxWait: 15_000, timeout: 15_000 };
const DELETE_BATCH = 5000;
/** Appends to one workspace that hold a pooled connection at once in this process (see inTurn). */
const APPENDS_IN_FLIGHT_PER_WORKSPACE = 2;

interface HeadRow {
  workspaceId: string;
  seq: number | bigint;
  hash: string;
  anchorSeq: number | bigint;
  anchorPrevHash: string;
}

function toHead(row: HeadRow): ChainHead {
  return { workspaceId: row.workspaceId, seq: Number(row.seq), hash: row.hash, anchorSeq: Number(row.anchorSeq), anchorPrevHash: row.anchorPrevHash };
}

async function lockHead(tx: Transaction, workspaceId: string): Promise<ChainHead | undefined> {
  const rows = await tx.$queryRawUnsafe<HeadRow[]>('SELECT workspaceId, seq, hash, anchorSeq, anchorPrevHash FROM `AuditChainHead` WHERE workspaceId = ? FOR UPDATE', workspaceId);
  return rows[0] ? toHead(rows[0]) : undefined;
}

async function saveHead(tx: Transaction, head: ChainHead, prunedAt?: Date): Promise<void> {
  await tx.$executeRawUnsafe(
    `UPDATE \`AuditChainHead\` SET seq = ?, hash = ?, anchorSeq = ?, anchorPrevHash = ?${prunedAt ? ', prunedAt = ?' : ''} WHERE workspaceId = ?`,
    ...[head.seq, head.hash, head.anchorSeq, head.anchorPrevHash, ...(prunedAt ? [prunedAt] : []), head.workspaceId],
  );
}

/** Hashes the events written before the chain existed (seq set by the migration, hash null). */
/** A fresh salt and the digest the chain covers instead of the IP itself (see chain.ts). */
function ipFields(ip: string | null): { ip: string | null; ipSalt: string | null; ipDigest: string | null } {
  if (ip === null) return { ip: null, ipSalt: null, ipDigest: null };
  const ipSalt = randomBytes(16).toString('hex');
  return { ip, ipSalt, ipDigest: ipDigestOf(ipSalt, ip) };
}

async function chainLegacyEvents(tx: Transaction, head: ChainHead): Promise<ChainHead> {
  const legacy = await tx.auditEvent.findMany({ where: { workspaceId: head.workspaceId, hash: null }, orderBy: { seq: 'asc' } });
  let current = head;
  for (const event of legacy) {
    const prevHash = current.hash;
    const ip = ipFields(event.ip);
    const hash = chainHash({ ...event, ...ip, prevHash });
    await tx.auditEvent.update({ where: { workspaceId: head.workspaceId, id: event.id }, data: { ...ip, prevHash, hash } });
    current = { ...current, seq: event.seq, hash };
  }
  return current;
}

export function createPrismaAuditLog(db: Database): AuditLog & AuditRetention {
  const headsKnown = new Set<string>();

  async function ensureHead(workspaceId: string): Promise<void> {
    if (headsKnown.has(workspaceId)) return;
    // Outside the append transaction: two first appends would otherwise both hold a shared lock
    // from the duplicate key and deadlock when each asks for the exclusive one.
    await db.$executeRawUnsafe(
      'INSERT IGNORE INTO `AuditChainHead` (workspaceId, seq, hash, anchorSeq, anchorPrevHash) VALUES (?, 0, ?, 1, ?)',
      workspaceId, GENESIS_HASH, GENESIS_HASH,
    );
    headsKnown.add(workspaceId);
  }

  // At most two appends per workspace hold a pooled connection at a time in this process (one
  // holding the head's row lock, one waiting on it so the hand-over stays at the database); the
  // rest wait here. Waiting on the lock with a connection each, a burst in one workspace would
  // hold every connection of the pool and starve all other queries. Other processes take turns
  // with this one through the row lock.
  const slots = new Map<string, { running: number; waiting: Array<() => void> }>();
  async function inTurn<T>(workspaceId: string, work: () => Promise<T>): Promise<T> {
    let slot = slots.get(workspaceId);
    if (!slot) slots.set(workspaceId, (slot = { running: 0, waiting: [] }));
    if (slot.running < APPENDS_IN_FLIGHT_PER_WORKSPACE) slot.running++;
    else await new Promise<void>((resolve) => slot.waiting.push(resolve));
    try {
      return await work();
    } finally {
      const next = slot.waiting.shift();
      // The place goes straight to the next in line; the last one out removes the entry.
      if (next) next();
      else if (--slot.running === 0) slots.delete(workspaceId);
    }
  }

  /** Runs `work` with the workspace's chain head locked and its legacy events chained. */
  function withLockedHead<T>(workspaceId: string, work: (tx: Transaction, head: ChainHead) => Promise<T>): Promise<T> {
    return inTurn(workspaceId, () => lockedHead(workspaceId, work));
  }

  async function lockedHead<T>(workspaceId: string, work: (tx: Transaction, head: ChainHead) => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      await ensureHead(workspaceId);
      const outcome = await db.$transaction(async (tx) => {
        const locked = await lockHead(tx, workspaceId);
        if (!locked) return { missing: true as const };
        const head = locked.seq === 0 ? await chainLegacyEvents(tx, locked) : locked;
        return { missing: false as const, value: await work(tx, head) };
      }, TRANSACTION_OPTIONS);
      if (!outcome.missing) return outcome.value;
      // The head went away with its workspace, or the workspace never existed (INSERT IGNORE skips
      // the foreign key error): forget it and try once more before giving up.
      headsKnown.delete(workspaceId);
      if (attempt > 0) fail('audit_chain_unavailable', `no audit chain head for workspace ${workspaceId} (unknown or deleted workspace)`);
    }
  }

  async function append(tx: Transaction, head: ChainHead, event: AuditEventInput): Promise<ChainHead> {
    const fields = {
      workspaceId: event.workspaceId,
      seq: head.seq + 1,
      createdAt: new Date(),
      actorUserId: event.actorUserId ?? null,
      kind: event.kind,
      outcome: event.outcome,
      detail: event.detail ?? null,
      ...ipFields(event.ip ?? null),
      prevHash: head.hash,
    };
    const hash = chainHash(fields);
    // Raw SQL: this runs on every request, and a model query costs about twice the CPU.
    await tx.$executeRawUnsafe(
      'INSERT INTO `AuditEvent` (id, workspaceId, actorUserId, kind, outcome, detail, ip, ipSalt, ipDigest, createdAt, seq, prevHash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
      randomUUID(), fields.workspaceId, fields.actorUserId, fields.kind, fields.outcome, event.detail === undefined ? null : JSON.stringify(event.detail),
      fields.ip, fields.ipSalt, fields.ipDigest, fields.createdAt, fields.seq, fields.prevHash, hash,
    );
    const next = { ...head, seq: fields.seq, hash };
    await saveHead(tx, next);
    return next;
  }

  async function pruneWorkspace(workspaceId: string, cutoff: Date): Promise<{ throughSeq: number; anchorSeq: number } | undefined> {
    return withLockedHead(workspaceId, async (tx, head) => {
      const kept = await tx.auditEvent.findFirst({
        where: { workspaceId, seq: { gte: head.anchorSeq }, createdAt: { gte: cutoff } },
        orderBy: { seq: 'asc' },
        select: { seq: true, prevHash: true },
      });
      const anchorSeq = kept ? kept.seq : head.seq + 1;
      const anchorPrevHash = kept ? (kept.prevHash ?? GENESIS_HASH) : head.hash;
      if (anchorSeq <= head.anchorSeq) return undefined;
      const moved = { ...head, anchorSeq, anchorPrevHash };
      await saveHead(tx, moved, new Date());
      await append(tx, moved, { workspaceId, kind: 'audit.pruned', outcome: 'success', detail: { throughSeq: anchorSeq - 1, before: cutoff.toISOString() } });
      return { throughSeq: anchorSeq - 1, anchorSeq };
    });
  }

  return {
    async record(event) {
      // Let pending I/O (the response a caller has just written) go first: the append's own work
      // must not show up in the timing of an answer (see "later" in api/identity/credentials.ts).
      await new Promise((resolve) => setImmediate(resolve));
      await withLockedHead(event.workspaceId, (tx, head) => append(tx, head, event));
    },

    async eraseIpsOlderThan(cutoff, options = {}) {
      // The chain covers the salted digest, not the IP: erasing both IP and salt keeps it whole.
      const sql = 'UPDATE `AuditEvent` SET ip = NULL, ipSalt = NULL WHERE createdAt < ? AND ip IS NOT NULL';
      return options.workspaceId ? db.$executeRawUnsafe(`${sql} AND workspaceId = ?`, cutoff, options.workspaceId) : db.$executeRawUnsafe(sql, cutoff);
    },

    async pruneOlderThan(cutoff, options = {}): Promise<AuditPruneReport> {
      const workspaces = options.workspaceId
        ? [options.workspaceId]
        : (await db.$queryRawUnsafe<Array<{ workspaceId: string }>>('SELECT DISTINCT workspaceId FROM `AuditEvent` WHERE createdAt < ?', cutoff)).map((r) => r.workspaceId);
      const report: AuditPruneReport = { workspaces: 0, deleted: 0, failed: [] };
      for (const workspaceId of workspaces) {
        try {
          if (await pruneWorkspace(workspaceId, cutoff)) report.workspaces++;
        } catch {
          // One workspace whose chain cannot take an append (tampered, or gone meanwhile) must not
          // stop the others; `npm run audit:verify` names what is wrong with it.
          report.failed.push(workspaceId);
          continue;
        }
        // Deleting happens after the anchor moved and outside the lock, in batches, so appends never
        // wait for a long delete; rows below the anchor are outside the chain and a later run finishes them.
        const head = await db.$queryRawUnsafe<Array<{ anchorSeq: number | bigint }>>('SELECT anchorSeq FROM `AuditChainHead` WHERE workspaceId = ?', workspaceId);
        const below = head[0] ? Number(head[0].anchorSeq) : 1;
        for (;;) {
          const deleted = await db.$executeRawUnsafe('DELETE FROM `AuditEvent` WHERE workspaceId = ? AND seq < ? LIMIT ' + DELETE_BATCH, workspaceId, below);
          report.deleted += deleted;
          if (deleted < DELETE_BATCH) break;
        }
      }
      return report;
    },
  };
}
