/** Feedback on answers, stored with the message in the real MariaDB. */
import { randomUUID } from 'node:crypto';
import { MAX_FEEDBACK_COMMENT_CHARS, createFeedback } from '../../api/assistant/feedback';
import { createPrismaConversationStore } from '../../api/assistant/prismaConversationStore';
import { createPrismaFeedbackStore } from '../../api/assistant/prismaFeedbackStore';
import { createPrismaAuditLog } from '../../api/audit/prismaAuditLog';
import type { Principal } from '../../api/tenancy/principal';
import { openTestDatabase } from '../support/database';

const db = openTestDatabase();
const conversations = createPrismaConversationStore(db);
const feedback = createFeedback({ store: createPrismaFeedbackStore(db), audit: createPrismaAuditLog(db) });

const principal = (workspaceId: string, userId: string): Principal => ({ workspaceId, tenantId: randomUUID(), userId, roles: ['user'], authMethod: 'bot-framework' });
const a = { workspaceId: randomUUID(), owner: randomUUID(), colleague: randomUUID() };
const b = { workspaceId: randomUUID(), owner: randomUUID() };
let question: string;
let answer: string;
let answerOfB: string;

/** Feedback rows on a message in any workspace (raw SQL: the tenant guard rightly refuses a query across workspaces). */
async function feedbackCount(messageId: string): Promise<number> {
  const [row] = await db.$queryRawUnsafe<Array<{ n: bigint }>>('SELECT COUNT(*) AS n FROM `MessageFeedback` WHERE `messageId` = ?', messageId);
  return Number(row!.n);
}

async function exchange(workspaceId: string, userId: string) {
  const conversation = await conversations.openConversation(workspaceId, { channel: 'teams', externalId: randomUUID(), userId });
  const q = await conversations.appendMessage(workspaceId, conversation.id, { role: 'user', text: 'How many leave days?', authorUserId: userId });
  const r = await conversations.appendMessage(workspaceId, conversation.id, { role: 'assistant', text: '25 days [1].', provider: 'extractive' });
  return { conversationId: conversation.id, question: q.id, answer: r.id };
}

beforeAll(async () => {
  for (const w of [a, b]) await db.workspace.create({ data: { id: w.workspaceId, name: 'w', tenantId: randomUUID() } });
  for (const [w, u] of [[a.workspaceId, a.owner], [a.workspaceId, a.colleague], [b.workspaceId, b.owner]] as const) await db.user.create({ data: { id: u, workspaceId: w, entraObjectId: randomUUID() } });
  ({ question, answer } = await exchange(a.workspaceId, a.owner));
  answerOfB = (await exchange(b.workspaceId, b.owner)).answer;
});

afterAll(async () => {
  await db.workspace.deleteMany({ where: { id: { in: [a.workspaceId, b.workspaceId] } } });
  await db.$disconnect();
});

describe('answer feedback in MariaDB', () => {
  it('stores the reaction and the comment exactly as typed, with the answer, and replaces it on a second rating', async () => {
    const comment = `<img src=x onerror=alert(1)> 'Klopt niet' 🙈 — ${'ü'.repeat(MAX_FEEDBACK_COMMENT_CHARS - 40)}`.slice(0, MAX_FEEDBACK_COMMENT_CHARS);
    const stored = await feedback.record(principal(a.workspaceId, a.owner), answer, { reaction: 'dislike', comment });
    expect(stored).toMatchObject({ messageId: answer, reaction: 'dislike', comment });
    expect(await db.messageFeedback.findMany({ where: { workspaceId: a.workspaceId, messageId: answer } })).toEqual([expect.objectContaining({ reaction: 'dislike', comment, userId: a.owner })]);

    await feedback.record(principal(a.workspaceId, a.owner), answer, { reaction: 'like' });
    const rows = await db.messageFeedback.findMany({ where: { workspaceId: a.workspaceId, messageId: answer } });
    expect(rows).toEqual([expect.objectContaining({ reaction: 'like', comment: null })]);
    expect(await feedback.get(principal(a.workspaceId, a.owner), answer)).toMatchObject({ reaction: 'like' });

    const audited = await db.auditEvent.findMany({ where: { workspaceId: a.workspaceId, kind: 'assistant.feedback' } });
    expect(audited.map((e) => e.detail)).toEqual([{ reaction: 'dislike', comment: true }, { reaction: 'like', comment: false }]);
    expect(JSON.stringify(audited)).not.toContain('Klopt niet');
  });

  it('keeps one rating per answer when the same answer is rated many times at once', async () => {
    const { answer: fresh } = await exchange(a.workspaceId, a.owner);
    await Promise.all(Array.from({ length: 12 }, (_, i) => feedback.record(principal(a.workspaceId, a.owner), fresh, { reaction: i % 2 ? 'like' : 'dislike' })));
    expect(await db.messageFeedback.count({ where: { workspaceId: a.workspaceId, messageId: fresh } })).toBe(1);
  });

  it.each([
    ['a colleague in the same workspace (cross-user)', () => principal(a.workspaceId, a.colleague), () => answer],
    ['the owner of another workspace\'s answer (cross-workspace)', () => principal(b.workspaceId, b.owner), () => answer],
    ['a user message instead of an answer', () => principal(a.workspaceId, a.owner), () => question],
    ['an id that exists nowhere', () => principal(a.workspaceId, a.owner), () => randomUUID()],
    ['workspace A\'s owner on workspace B\'s answer (cross-workspace)', () => principal(a.workspaceId, a.owner), () => answerOfB],
  ])('answers not_found to %s and stores nothing', async (_what, who, messageId) => {
    const before = await feedbackCount(messageId());
    await expect(feedback.record(who(), messageId(), { reaction: 'dislike', comment: 'x' })).rejects.toMatchObject({ id: 'not_found' });
    expect(await feedbackCount(messageId())).toBe(before);
  });

  it('is erased with its conversation', async () => {
    const { conversationId, answer: fresh } = await exchange(a.workspaceId, a.owner);
    await feedback.record(principal(a.workspaceId, a.owner), fresh, { reaction: 'like', comment: 'good' });
    await db.conversation.deleteMany({ where: { workspaceId: a.workspaceId, id: conversationId } });
    expect(await feedbackCount(fresh)).toBe(0);
  });
});
