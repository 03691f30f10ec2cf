/** FeedbackStore on MySQL through Prisma: one MessageFeedback row per answer, replaced on a new rating. */
import { randomUUID } from 'node:crypto';
import type { Database } from '../db/client';
import type { FeedbackStore, StoredFeedback } from './feedback';

const isUniqueViolation = (error: unknown) => (error as { code?: string }).code === 'P2002';

const shape = (row: { messageId: string; reaction: 'like' | 'dislike'; comment: string | null; updatedAt: Date }): StoredFeedback => ({
  messageId: row.messageId,
  reaction: row.reaction,
  ...(row.comment === null ? {} : { comment: row.comment }),
  updatedAt: row.updatedAt,
});

export function createPrismaFeedbackStore(db: Database): FeedbackStore {
  const select = { messageId: true, reaction: true, comment: true, updatedAt: true } as const;
  return {
    async findMessage(workspaceId, messageId) {
      const message = await db.message.findFirst({ where: { workspaceId, id: messageId }, select: { role: true, conversationId: true } });
      if (!message) return undefined;
      const conversation = await db.conversation.findFirst({ where: { workspaceId, id: message.conversationId }, select: { userId: true } });
      return { role: message.role, ownerUserId: conversation?.userId ?? undefined };
    },
    async save(workspaceId, messageId, userId, feedback) {
      const values = { reaction: feedback.reaction, comment: feedback.comment ?? null, userId };
      const where = { workspaceId_messageId: { workspaceId, messageId } };
      try {
        return shape(await db.messageFeedback.upsert({ where, create: { id: randomUUID(), workspaceId, messageId, ...values }, update: values, select }));
      } catch (error) {
        if (!isUniqueViolation(error)) throw error;
        // Two ratings of one answer at once: the later one replaces the first, as it would anyway.
        return shape(await db.messageFeedback.update({ where, data: values, select }));
      }
    },
    async setReplyActivity(workspaceId, messageId, replyActivityId) {
      const { count } = await db.message.updateMany({ where: { workspaceId, id: messageId, role: 'assistant' }, data: { replyActivityId } });
      return count > 0;
    },
    async findByReplyActivity(workspaceId, replyActivityId) {
      const row = await db.message.findFirst({ where: { workspaceId, replyActivityId, role: 'assistant' }, orderBy: { createdAt: 'desc' }, select: { id: true } });
      return row?.id;
    },
    async find(workspaceId, messageId) {
      const row = await db.messageFeedback.findFirst({ where: { workspaceId, messageId }, select });
      return row ? shape(row) : undefined;
    },
  };
}
