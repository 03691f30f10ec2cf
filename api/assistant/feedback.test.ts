import type { Principal } from '../tenancy/principal';
import { MAX_FEEDBACK_COMMENT_CHARS, createFeedback, parseFeedback, type FeedbackStore, type StoredFeedback } from './feedback';

const answerId = '11111111-1111-4111-8111-111111111111';
const questionId = '22222222-2222-4222-8222-222222222222';
const owner: Principal = { workspaceId: 'w1', tenantId: 't1', userId: 'u1', roles: ['user'], authMethod: 'bot-framework' };

function setup() {
  const saved = new Map<string, StoredFeedback>();
  const replies = new Map<string, string>();
  const messages = new Map([
    [`w1|${answerId}`, { role: 'assistant' as const, ownerUserId: 'u1' }],
    [`w1|${questionId}`, { role: 'user' as const, ownerUserId: 'u1' }],
  ]);
  const store: FeedbackStore = {
    findMessage: async (w, id) => messages.get(`${w}|${id}`),
    save: async (w, id, _u, f) => {
      const s = { messageId: id, ...f, updatedAt: new Date() };
      saved.set(`${w}|${id}`, s);
      return s;
    },
    find: async (w, id) => saved.get(`${w}|${id}`),
    setReplyActivity: async (w, id, reply) => {
      if (!messages.has(`${w}|${id}`)) return false;
      replies.set(`${w}|${reply}`, id);
      return true;
    },
    findByReplyActivity: async (w, reply) => replies.get(`${w}|${reply}`),
  };
  const audit: unknown[] = [];
  return { feedback: createFeedback({ store, audit: { record: async (e) => void audit.push(e) } }), saved, audit };
}

describe('answer feedback', () => {
  it('stores a reaction and a comment exactly as given, and replaces it on a second rating', async () => {
    const { feedback, saved, audit } = setup();
    const comment = '<script>alert(1)</script> Klopt niet: het is 3 dagen ';
    await feedback.record(owner, answerId, { reaction: 'dislike', comment });
    expect(saved.get(`w1|${answerId}`)).toMatchObject({ reaction: 'dislike', comment });
    await feedback.record(owner, answerId, { reaction: 'like' });
    expect(saved.get(`w1|${answerId}`)).toMatchObject({ reaction: 'like' });
    expect(saved.get(`w1|${answerId}`)?.comment).toBeUndefined();
    // The audit log knows that a comment was left, never what it says.
    expect(JSON.stringify(audit)).not.toContain('Klopt niet');
  });

  it.each([
    ['another user of the workspace (cross-user)', { ...owner, userId: 'u2' }, answerId],
    ['an admin who does not own the conversation', { ...owner, userId: 'u3', roles: ['admin'] as const }, answerId],
    ['the owner\'s name in another workspace (cross-workspace)', { ...owner, workspaceId: 'w2' }, answerId],
    ['a user message instead of an answer', owner, questionId],
    ['an unknown message', owner, '33333333-3333-4333-8333-333333333333'],
    ['a malformed id', owner, "' OR 1=1 --"],
  ])('answers not_found to %s', async (_what, principal, messageId) => {
    const { feedback, saved } = setup();
    await expect(feedback.record(principal as Principal, messageId, { reaction: 'like' })).rejects.toMatchObject({ id: 'not_found' });
    expect(saved.size).toBe(0);
  });

  it.each([
    ['an unknown reaction', { reaction: 'love' }],
    ['a missing reaction', { comment: 'x' }],
    ['a comment that is not text', { reaction: 'like', comment: { $gt: '' } }],
    ['an over-long comment', { reaction: 'like', comment: 'x'.repeat(MAX_FEEDBACK_COMMENT_CHARS + 1) }],
    ['an unknown field (mass assignment)', { reaction: 'like', userId: 'u2' }],
    ['an array', ['like']],
    ['nothing', undefined],
  ])('refuses %s', (_what, input) => {
    expect(() => parseFeedback(input)).toThrow(expect.objectContaining({ id: 'request_malformed' }));
  });

  it('accepts a comment of exactly the maximum length and drops an empty one', () => {
    expect(parseFeedback({ reaction: 'like', comment: 'é'.repeat(MAX_FEEDBACK_COMMENT_CHARS) }).comment).toHaveLength(MAX_FEEDBACK_COMMENT_CHARS);
    expect(parseFeedback({ reaction: 'dislike', comment: '   ' })).toEqual({ reaction: 'dislike' });
  });
});

describe('feedback on a channel reply', () => {
  const colleague: Principal = { ...owner, userId: 'u2' };

  it('links a reply to the asker\'s own answer and stores feedback given on that reply', async () => {
    const { feedback, saved } = setup();
    await feedback.linkReply(owner, answerId, '1:reply-of-teams');
    await feedback.recordForReply(owner, '1:reply-of-teams', { reaction: 'like', comment: 'Klopt' });
    expect(saved.get(`w1|${answerId}`)).toMatchObject({ reaction: 'like', comment: 'Klopt' });
  });

  it.each([
    ['a reply id with spaces', 'reply id'],
    ['an empty reply id', ''],
    ['a reply id over 128 characters', 'x'.repeat(129)],
  ])('refuses to link %s', async (_what, replyId) => {
    const { feedback } = setup();
    await expect(feedback.linkReply(owner, answerId, replyId)).rejects.toMatchObject({ id: 'request_malformed' });
  });

  it("refuses to link a question, or someone else's answer", async () => {
    const { feedback } = setup();
    await expect(feedback.linkReply(owner, questionId, '1:r')).rejects.toMatchObject({ id: 'not_found' });
    await expect(feedback.linkReply(colleague, answerId, '1:r')).rejects.toBeDefined();
  });

  it('stores nothing for an unknown reply, a reply of another workspace, or malformed feedback', async () => {
    const { feedback, saved } = setup();
    await feedback.linkReply(owner, answerId, '1:reply-of-teams');
    await expect(feedback.recordForReply(owner, '1:unknown', { reaction: 'like' })).rejects.toMatchObject({ id: 'not_found' });
    await expect(feedback.recordForReply({ ...owner, workspaceId: 'w2' }, '1:reply-of-teams', { reaction: 'like' })).rejects.toMatchObject({ id: 'not_found' });
    await expect(feedback.recordForReply(owner, 42, { reaction: 'like' })).rejects.toMatchObject({ id: 'not_found' });
    await expect(feedback.recordForReply(owner, '1:reply-of-teams', { reaction: 'love' })).rejects.toMatchObject({ id: 'request_malformed' });
    await expect(feedback.recordForReply(colleague, '1:reply-of-teams', { reaction: 'dislike' })).rejects.toBeDefined();
    expect(saved.size).toBe(0);
  });
});
