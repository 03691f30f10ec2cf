/**
 * What Kluis accepts at /api/messages. botbuilder trusts the body's shape; Kluis checks it first
 * so malformed input gets a clear 400 and never reaches the turn logic or the database.
 */
import { z } from 'zod';
import { fail } from '../api/errors';

export const SUPPORTED_ACTIVITY_TYPES = ['message', 'conversationUpdate', 'installationUpdate', 'invoke', 'messageReaction', 'messageUpdate', 'messageDelete', 'event', 'typing', 'endOfConversation'] as const;

const account = z.object({ id: z.string().min(1).max(512), name: z.string().max(512).optional(), aadObjectId: z.string().max(64).optional() }).passthrough();

const activitySchema = z
  .object({
    type: z.string().min(1).max(64),
    id: z.string().max(512).optional(),
    channelId: z.string().min(1).max(64),
    serviceUrl: z.string().max(2048).url().refine((u) => /^https?:\/\//i.test(u), 'must be an http(s) URL'),
    from: account,
    recipient: account,
    conversation: z.object({ id: z.string().min(1).max(1024), tenantId: z.string().max(64).optional(), conversationType: z.string().max(64).optional() }).passthrough(),
    text: z.string().max(28000).optional(),
    channelData: z.object({ tenant: z.object({ id: z.string().min(1).max(64) }).passthrough().optional() }).passthrough().optional(),
  })
  .passthrough();

export type InboundActivity = z.infer<typeof activitySchema>;

/** Validate an inbound activity; throws a catalogued 4xx error naming the first problem. */
export function parseActivity(body: unknown): InboundActivity & { tenantId: string } {
  if (!body || typeof body !== 'object' || Array.isArray(body)) fail('activity_invalid', 'The body is not an activity object');
  const type = (body as { type?: unknown }).type;
  if (typeof type === 'string' && !(SUPPORTED_ACTIVITY_TYPES as readonly string[]).includes(type)) fail('activity_type_unsupported', `Activity type ${JSON.stringify(type.slice(0, 64))} is not supported`);
  const parsed = activitySchema.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    fail('activity_invalid', `Activity field ${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  const activity = parsed.data;
  const tenantId = activity.channelData?.tenant?.id ?? activity.conversation.tenantId;
  if (!tenantId) fail('activity_invalid', 'Activity has no tenant (channelData.tenant.id)');
  if (activity.type === 'message' && !activity.text && !(activity as { attachments?: unknown[] }).attachments?.length && (activity as { value?: unknown }).value === undefined) {
    fail('activity_invalid', 'Message activity has no text, attachments or value');
  }
  return { ...activity, tenantId };
}
