/** ConversationStore on MySQL through Prisma. */
import { randomUUID } from 'node:crypto';
import type { Database } from '../db/client';
import type { Citation, ConversationStore } from './ports';

export function createPrismaConversationStore(db: Database): ConversationStore {
  return {
    async openConversation(workspaceId, key) {
      const row = await db.conversation.upsert({
        where: { workspaceId_channel_externalId: { workspaceId, channel: key.channel, externalId: key.externalId } },
        create: { id: randomUUID(), workspaceId, channel: key.channel, externalId: key.externalId, userId: key.userId ?? null },
        update: {},
        select: { id: true },
      });
      return row;
    },
    async appendMessage(workspaceId, conversationId, message) {
      return db.message.create({
        data: {
          id: randomUUID(),
          workspaceId,
          conversationId,
          role: message.role,
          text: message.text,
          authorUserId: message.authorUserId ?? null,
          citations: message.citations ? JSON.parse(JSON.stringify(message.citations)) : undefined,
          provider: message.provider ?? null,
          model: message.model ?? null,
        },
        select: { id: true },
      });
    },
    async recentMessages(workspaceId, conversationId, limit, filter) {
      const rows = await db.message.findMany({
        where: { workspaceId, conversationId, ...(filter?.authorUserId ? { authorUserId: filter.authorUserId } : {}) },
        // A question and its answer stored in the same millisecond: MySQL orders ENUM('user','assistant') by position.
        orderBy: [{ createdAt: 'desc' }, { role: 'desc' }],
        take: limit,
        select: { role: true, text: true, createdAt: true, authorUserId: true },
      });
      return rows.reverse().map((r) => ({ role: r.role, text: r.text, createdAt: r.createdAt, authorUserId: r.authorUserId ?? undefined }));
    },
    async setAside(workspaceId, key) {
      // The channel's id is released, so the next message opens a fresh conversation.
      const { count } = await db.conversation.updateMany({ where: { workspaceId, channel: key.channel, externalId: key.externalId }, data: { externalId: `set-aside:${randomUUID()}` } });
      return count > 0;
    },
    async listForUser(workspaceId, userId, limit) {
      const rows = await db.conversation.findMany({ where: { workspaceId, userId }, orderBy: { updatedAt: 'desc' }, take: limit, select: { id: true, userId: true, channel: true, createdAt: true, updatedAt: true } });
      return rows.map((r) => ({ ...r, userId: r.userId ?? undefined }));
    },
    async remove(workspaceId, conversationId) {
      // Messages go with it (ON DELETE CASCADE).
      const { count } = await db.conversation.deleteMany({ where: { workspaceId, id: conversationId } });
      return count > 0;
    },
    async find(workspaceId, conversationId) {
      const row = await db.conversation.findFirst({ where: { workspaceId, id: conversationId }, select: { id: true, userId: true, channel: true, createdAt: true, updatedAt: true } });
      if (!row) return undefined;
      const messages = await db.message.findMany({ where: { workspaceId, conversationId }, orderBy: { createdAt: 'asc' }, select: { role: true, text: true, createdAt: true, citations: true } });
      return { ...row, userId: row.userId ?? undefined, messages: messages.map((m) => ({ role: m.role, text: m.text, createdAt: m.createdAt, citations: Array.isArray(m.citations) ? (m.citations as unknown as Citation[]) : undefined })) };
    },
  };
}
