/**
 * Feedback on answers: a user's thumbs up or down (and an optional comment) on an assistant
 * message, kept with that message. Teams' feedback loop (teams-ai `app.feedbackLoop`) and the tab
 * both end here.
 *
 * Only the person who asked may rate the answer: a message of someone else's conversation, of
 * another workspace, or a user message is reported as not found, so an id guessed or copied from
 * elsewhere reveals nothing. A second rating replaces the first. The comment is stored exactly as
 * given (up to MAX_FEEDBACK_COMMENT_CHARS); Kluis never renders it as HTML, and whoever shows it
 * must treat it as untrusted text.
 */
import type { AuditLog } from '../audit/ports';
import { fail } from '../errors';
import { authorize } from '../tenancy/policy';
import type { Principal } from '../tenancy/principal';

export type FeedbackReaction = 'like' | 'dislike';

export const MAX_FEEDBACK_COMMENT_CHARS = 2000;

export interface FeedbackInput {
  reaction: FeedbackReaction;
  comment?: string;
}

export interface StoredFeedback {
  messageId: string;
  reaction: FeedbackReaction;
  comment?: string;
  updatedAt: Date;
}

/** The feedback store port. */
export interface FeedbackStore {
  /** The message's role and the user who owns its conversation, or undefined outside this workspace. */
  findMessage(workspaceId: string, messageId: string): Promise<{ role: 'user' | 'assistant'; ownerUserId?: string } | undefined>;
  /** Creates or replaces the feedback on the message. */
  save(workspaceId: string, messageId: string, userId: string, feedback: FeedbackInput): Promise<StoredFeedback>;
  find(workspaceId: string, messageId: string): Promise<StoredFeedback | undefined>;
  /** Notes the channel's id of the reply that showed the answer; false when the message is not in this workspace. */
  setReplyActivity(workspaceId: string, messageId: string, replyActivityId: string): Promise<boolean>;
  /** The answer a channel's reply showed, or undefined when no answer of this workspace has that reply. */
  findByReplyActivity(workspaceId: string, replyActivityId: string): Promise<string | undefined>;
}

const MESSAGE_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** A channel's activity id (Teams: `1:...`, `f:...` or a GUID): printable, no spaces, up to the column's 128 characters. */
const REPLY_ACTIVITY_ID = /^[\x21-\x7e]{1,128}$/;

/** Checks input that may come straight from a channel (a card submit, a JSON body). */
export function parseFeedback(input: unknown): FeedbackInput {
  if (!input || typeof input !== 'object' || Array.isArray(input)) fail('request_malformed', 'Feedback must be an object');
  const { reaction, comment, ...rest } = input as Record<string, unknown>;
  if (Object.keys(rest).length > 0) fail('request_malformed', `Unknown feedback field ${Object.keys(rest)[0]!.slice(0, 40)}`);
  if (reaction !== 'like' && reaction !== 'dislike') fail('request_malformed', 'Field reaction: expected like or dislike');
  if (comment === undefined || comment === null) return { reaction };
  if (typeof comment !== 'string') fail('request_malformed', 'Field comment: expected text');
  if (comment.length > MAX_FEEDBACK_COMMENT_CHARS) fail('request_malformed', `Field comment: at most ${MAX_FEEDBACK_COMMENT_CHARS} characters`);
  return comment.trim() === '' ? { reaction } : { reaction, comment };
}

export function createFeedback(deps: { store: FeedbackStore; audit: AuditLog }) {
  /** The answer, when the principal may rate it; not_found otherwise (also across workspaces). */
  async function ownAnswer(principal: Principal, messageId: string): Promise<void> {
    if (typeof messageId !== 'string' || !MESSAGE_ID.test(messageId)) fail('not_found', 'Malformed message id');
    const message = await deps.store.findMessage(principal.workspaceId, messageId);
    if (!message || message.role !== 'assistant') fail('not_found', 'No such answer in this workspace');
    // A conversation without an owner (its user was erased) belongs to nobody: no one may rate it.
    await authorize(principal, 'answer.feedback', { workspaceId: principal.workspaceId, ownerUserId: message.ownerUserId ?? '' }, deps.audit);
  }

  /** Stores the principal's feedback on their own answer (replacing an earlier one). */
  async function record(principal: Principal, messageId: string, input: unknown): Promise<StoredFeedback> {
    const feedback = parseFeedback(input);
    await ownAnswer(principal, messageId);
    const stored = await deps.store.save(principal.workspaceId, messageId, principal.userId, feedback);
    // Metadata only: the comment stays out of the audit log.
    await deps.audit.record({ workspaceId: principal.workspaceId, actorUserId: principal.userId, kind: 'assistant.feedback', outcome: 'success', detail: { reaction: feedback.reaction, comment: feedback.comment !== undefined } });
    return stored;
  }

  return {
    record,

    /**
     * Remembers which channel reply showed the principal's answer (Teams' feedback loop names the
     * reply, not the answer). Only the asker's own answer can be linked.
     */
    async linkReply(principal: Principal, messageId: string, replyActivityId: string): Promise<void> {
      if (typeof replyActivityId !== 'string' || !REPLY_ACTIVITY_ID.test(replyActivityId)) fail('request_malformed', 'Malformed reply activity id');
      await ownAnswer(principal, messageId);
      if (!(await deps.store.setReplyActivity(principal.workspaceId, messageId, replyActivityId))) fail('not_found', 'No such answer in this workspace');
    },

    /**
     * Stores feedback given on a channel's reply: the reply is looked up in the principal's own
     * workspace only, so a reply id of another tenant, or of someone else's answer, is not_found.
     */
    async recordForReply(principal: Principal, replyActivityId: unknown, input: unknown): Promise<StoredFeedback> {
      parseFeedback(input);
      if (typeof replyActivityId !== 'string' || !REPLY_ACTIVITY_ID.test(replyActivityId)) fail('not_found', 'Malformed reply activity id');
      const messageId = await deps.store.findByReplyActivity(principal.workspaceId, replyActivityId);
      if (!messageId) fail('not_found', 'No answer of this workspace has that reply');
      return record(principal, messageId, input);
    },

    /** The principal's feedback on their own answer, if any. */
    async get(principal: Principal, messageId: string): Promise<StoredFeedback | undefined> {
      await ownAnswer(principal, messageId);
      return deps.store.find(principal.workspaceId, messageId);
    },
  };
}

export type Feedback = ReturnType<typeof createFeedback>;
