/**
 * The audit log's hash chain: each workspace's events are numbered 1, 2, 3, ... and every event
 * stores the hash of the one before it, so editing, deleting, reordering or slipping in an event
 * changes a hash that a later link (or the chain head) still remembers.
 *
 * hash = SHA-256 over the canonical serialisation of (workspaceId, seq, createdAt, actorUserId,
 * kind, outcome, detail, ip, prevHash): a JSON array in that fixed order, createdAt as ISO 8601
 * UTC with milliseconds, absent values as null and detail with its keys sorted, so the same event
 * always serialises to the same bytes whichever process wrote or reads it.
 *
 * The IP enters as ipDigest = SHA-256(ipSalt|ip) with a random salt per event. The statement Kluis
 * keeps promises that IPs of failed logins are kept at most a month and a week, while the audit
 * log is kept far longer: erasing ip and ipSalt after that period leaves the digest, which keeps
 * the chain whole and, without its 128-bit salt, says nothing about the address. While the IP is
 * there, verification checks it against the digest, so changing it is still found.
 *
 * What the chain proves: nobody changed the kept events without also rewriting every later hash
 * and the chain head. Someone able to rewrite all of them (full database write access) can forge
 * a consistent chain; to catch that too, keep the head hashes `npm run audit:verify` prints
 * somewhere outside the database and compare them later.
 */
import { createHash } from 'node:crypto';

export const GENESIS_HASH = '0'.repeat(64);

export interface ChainedFields {
  workspaceId: string;
  seq: number;
  createdAt: Date;
  actorUserId: string | null;
  kind: string;
  outcome: string;
  detail: unknown;
  ipDigest: string | null;
  prevHash: string;
}

export interface ChainedEvent extends ChainedFields {
  id: string;
  hash: string | null;
  /** Null once erased after the login log period (then ipSalt is null too). */
  ip: string | null;
  ipSalt: string | null;
}

export function ipDigestOf(salt: string, ip: string): string {
  return createHash('sha256').update(`${salt}|${ip}`, 'utf8').digest('hex');
}

/** The chain head of one workspace: the newest link and where verification starts. */
export interface ChainHead {
  workspaceId: string;
  seq: number;
  hash: string;
  anchorSeq: number;
  anchorPrevHash: string;
}

function sortedKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortedKeys);
  if (value && typeof value === 'object' && !(value instanceof Date)) {
    return Object.fromEntries(Object.keys(value).sort().map((key) => [key, sortedKeys((value as Record<string, unknown>)[key])]));
  }
  return value;
}

export function canonicalSerialisation(event: ChainedFields): string {
  return JSON.stringify([
    event.workspaceId,
    event.seq,
    event.createdAt.toISOString(),
    event.actorUserId ?? null,
    event.kind,
    event.outcome,
    event.detail === undefined || event.detail === null ? null : sortedKeys(event.detail),
    event.ipDigest ?? null,
    event.prevHash,
  ]);
}

export function chainHash(event: ChainedFields): string {
  return createHash('sha256').update(canonicalSerialisation(event), 'utf8').digest('hex');
}

export type ChainBreakReason =
  | 'head-missing' // events carry hashes but the workspace has no chain head
  | 'gap' // an event is missing or numbered out of order (deleted, reordered or inserted)
  | 'prev-hash-mismatch' // an event does not point at the one before it
  | 'hash-mismatch' // an event's content no longer matches its hash (edited)
  | 'unchained' // an event without a hash inside a sealed chain
  | 'head-mismatch'; // the newest event is not the one the chain head remembers

export interface ChainBreak {
  reason: ChainBreakReason;
  /** The seq where the chain first fails (the expected one for a gap). */
  seq: number;
  eventId?: string;
}

export interface ChainVerdict {
  workspaceId: string;
  ok: boolean;
  /** Events checked, from the anchor to the head. */
  checked: number;
  /** The newest link, to keep outside the database. */
  head?: { seq: number; hash: string };
  firstBreak?: ChainBreak;
  /** Events waiting to be chained by the first append after the migration (no head yet). */
  unsealed?: number;
}

/** The read side verification needs; adapters page through events by seq. */
export interface AuditChainSource {
  /** Every workspace that has audit events or a chain head. */
  workspaces(): Promise<string[]>;
  head(workspaceId: string): Promise<ChainHead | undefined>;
  /** Events with seq >= fromSeq, ascending, at most `limit`. */
  events(workspaceId: string, fromSeq: number, limit: number): Promise<ChainedEvent[]>;
  /** Number of events with a null hash (written before the chain existed). */
  countUnchained(workspaceId: string): Promise<number>;
}

const PAGE = 1000;

/** Walks one workspace's chain from its anchor to its head and reports the first broken link. */
export async function verifyWorkspaceChain(source: AuditChainSource, workspaceId: string): Promise<ChainVerdict> {
  const head = await source.head(workspaceId);
  if (!head) {
    const unchained = await source.countUnchained(workspaceId);
    const first = (await source.events(workspaceId, 0, PAGE)).find((e) => e.hash !== null);
    if (first) return { workspaceId, ok: false, checked: 0, firstBreak: { reason: 'head-missing', seq: first.seq, eventId: first.id } };
    return { workspaceId, ok: true, checked: 0, ...(unchained > 0 ? { unsealed: unchained } : {}) };
  }
  let expectedSeq = head.anchorSeq;
  let expectedPrev = head.anchorPrevHash;
  let checked = 0;
  const broken = (firstBreak: ChainBreak): ChainVerdict => ({ workspaceId, ok: false, checked, head: { seq: head.seq, hash: head.hash }, firstBreak });
  // Rows below the anchor were pruned by retention but not yet deleted: outside the chain.
  for (;;) {
    const page = await source.events(workspaceId, expectedSeq, PAGE);
    for (const event of page) {
      if (event.seq !== expectedSeq) return broken({ reason: 'gap', seq: expectedSeq, eventId: event.id });
      if (event.hash === null) return broken({ reason: 'unchained', seq: event.seq, eventId: event.id });
      if (event.prevHash !== expectedPrev) return broken({ reason: 'prev-hash-mismatch', seq: event.seq, eventId: event.id });
      if (chainHash(event) !== event.hash) return broken({ reason: 'hash-mismatch', seq: event.seq, eventId: event.id });
      if (event.ip !== null && (event.ipSalt === null || ipDigestOf(event.ipSalt, event.ip) !== event.ipDigest)) return broken({ reason: 'hash-mismatch', seq: event.seq, eventId: event.id });
      checked++;
      expectedSeq = event.seq + 1;
      expectedPrev = event.hash;
    }
    if (page.length < PAGE) break;
  }
  if (expectedSeq - 1 !== head.seq || expectedPrev !== head.hash) return broken({ reason: 'head-mismatch', seq: expectedSeq - 1 });
  return { workspaceId, ok: true, checked, head: { seq: head.seq, hash: head.hash } };
}

/** Verifies every workspace (or the one given); the caller decides what a broken chain means. */
export async function verifyAuditChains(source: AuditChainSource, options: { workspaceId?: string } = {}): Promise<ChainVerdict[]> {
  const workspaces = options.workspaceId ? [options.workspaceId] : await source.workspaces();
  const verdicts: ChainVerdict[] = [];
  for (const workspaceId of workspaces) verdicts.push(await verifyWorkspaceChain(source, workspaceId));
  return verdicts;
}

/** The moment before which audit events are pruned, for a retention of `days`. */
export function auditRetentionCutoff(now: Date, days: number): Date {
  return new Date(now.getTime() - days * 24 * 60 * 60 * 1000);
}
