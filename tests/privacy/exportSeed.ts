/** Records and files of one workspace for the export tests, each user's carrying a canary string of their own. */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import JSZip from 'jszip';
import type { Database } from '../../api/db/client';
import type { BlobStore } from '../../api/files/ports';
import { blobNameOf } from '../../api/knowledge/uploads';

export interface SeededUser {
  userId: string;
  canary: string;
  conversationIds: string[];
  messageIds: string[];
  uploads: Array<{ id: string; fileName: string; bytes: Buffer }>;
  /** Pictures made with /image (Image rows, PNG blobs under images/<id>.png). */
  images: Array<{ id: string; bytes: Buffer }>;
}

/** Creates a user (unless `userId` names one) and their records: conversations, messages, feedback, usage, uploads with files. */
export async function seedUser(db: Database, blobs: BlobStore, workspaceId: string, options: { userId?: string; conversations?: number; messagesPerConversation?: number; files?: number; images?: number; label: string }): Promise<SeededUser> {
  const canary = `CANARY-${options.label}-${randomBytes(6).toString('hex')}`;
  const userId = options.userId ?? randomUUID();
  if (!options.userId) {
    await db.user.create({ data: { id: userId, workspaceId, entraObjectId: randomUUID(), displayName: `Person ${canary}` } });
    await db.membership.create({ data: { id: randomUUID(), workspaceId, userId, role: 'user' } });
  }
  const seeded: SeededUser = { userId, canary, conversationIds: [], messageIds: [], uploads: [], images: [] };
  for (let c = 0; c < (options.conversations ?? 1); c++) {
    const conversationId = randomUUID();
    await db.conversation.create({ data: { id: conversationId, workspaceId, userId, channel: 'tab', externalId: `export-${conversationId}` } });
    seeded.conversationIds.push(conversationId);
    const rows = Array.from({ length: options.messagesPerConversation ?? 2 }, (_, m) => ({
      id: randomUUID(),
      workspaceId,
      conversationId,
      authorUserId: m % 2 === 0 ? userId : null,
      role: m % 2 === 0 ? ('user' as const) : ('assistant' as const),
      text: `${m % 2 === 0 ? 'Question' : 'Answer'} ${m} of ${canary}`,
      createdAt: new Date(Date.now() - 60_000 + m),
    }));
    await db.message.createMany({ data: rows });
    seeded.messageIds.push(...rows.map((r) => r.id));
    const answer = rows.find((r) => r.role === 'assistant');
    if (answer && c === 0) await db.messageFeedback.create({ data: { id: randomUUID(), workspaceId, messageId: answer.id, userId, reaction: 'dislike', comment: `Feedback ${canary}` } });
  }
  await db.usageDaily.create({ data: { id: randomUUID(), workspaceId, userId, day: new Date('2026-12-01T00:00:00Z'), provider: 'openai', model: `model-${canary}`.slice(0, 100), calls: 3, inputTokens: 1234n, outputTokens: 56n, costMicros: 789n } });
  for (let f = 0; f < (options.files ?? 1); f++) {
    const id = randomUUID();
    const bytes = Buffer.concat([Buffer.from(`File ${f} of ${canary}\n`), randomBytes(64)]);
    const fileName = `notes-${f} ${options.label}.txt`;
    await blobs.put(workspaceId, blobNameOf(id), bytes);
    await db.upload.create({ data: { id, workspaceId, fileName, mimeType: 'text/plain', kind: 'document', sizeBytes: bytes.length, contentHash: createHash('sha256').update(bytes).digest('hex'), indexStatus: 'not_indexed', uploadedByUserId: userId } });
    seeded.uploads.push({ id, fileName, bytes });
  }
  for (let i = 0; i < (options.images ?? 0); i++) {
    const id = randomUUID();
    const bytes = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47]), Buffer.from(` picture ${i} of ${canary}`)]);
    await db.image.create({ data: { id, workspaceId, userId, blobKey: `images/${id}.png` } });
    await blobs.put(workspaceId, `images/${id}.png`, bytes);
    seeded.images.push({ id, bytes });
  }
  return seeded;
}

export interface ReadArchive {
  names: string[];
  json<T = unknown>(name: string): T;
  bytes(name: string): Buffer;
  /** Every entry, as text (files included), for canary searches. */
  everything: string;
}

export async function readArchive(bytes: Buffer): Promise<ReadArchive> {
  const zip = await JSZip.loadAsync(bytes);
  const entries = new Map<string, Buffer>();
  for (const [name, entry] of Object.entries(zip.files)) if (!entry.dir) entries.set(name, await entry.async('nodebuffer'));
  const get = (name: string) => {
    const found = entries.get(name);
    if (!found) throw new Error(`The archive has no ${name}; it has ${[...entries.keys()].join(', ')}`);
    return found;
  };
  return {
    names: [...entries.keys()].sort(),
    json: (name) => JSON.parse(get(name).toString('utf8')),
    bytes: get,
    everything: [...entries.entries()].map(([name, data]) => `${name}\n${data.toString('utf8')}`).join('\n'),
  };
}
