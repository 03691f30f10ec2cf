/** Reading and deleting one's own conversations; every call goes through the policy (404 across workspaces and users). */
import type { AuditLog } from '../audit/ports';
import { fail } from '../errors';
import { authorize } from '../tenancy/policy';
import type { Principal } from '../tenancy/principal';
import type { ConversationStore } from './ports';

export function createConversationReader(deps: { conversations: ConversationStore; audit: AuditLog }) {
  return {
    async listMine(principal: Principal) {
      await authorize(principal, 'conversation.read', { workspaceId: principal.workspaceId, ownerUserId: principal.userId }, deps.audit);
      return deps.conversations.listForUser(principal.workspaceId, principal.userId, 100);
    },
    async get(principal: Principal, conversationId: string) {
      const conversation = await deps.conversations.find(principal.workspaceId, conversationId);
      if (!conversation) fail('not_found', 'No such conversation in this workspace');
      await authorize(principal, 'conversation.read', { workspaceId: principal.workspaceId, ownerUserId: conversation.userId ?? '' }, deps.audit);
      return conversation;
    },
    /** Deletes one of the caller's own conversations with its messages; audited (metadata only). */
    async remove(principal: Principal, conversationId: string) {
      const conversation = await deps.conversations.find(principal.workspaceId, conversationId);
      if (!conversation) fail('not_found', 'No such conversation in this workspace');
      await authorize(principal, 'conversation.delete', { workspaceId: principal.workspaceId, ownerUserId: conversation.userId ?? '' }, deps.audit);
      await deps.conversations.remove(principal.workspaceId, conversationId);
      await deps.audit.record({ workspaceId: principal.workspaceId, actorUserId: principal.userId, kind: 'conversation.deleted', outcome: 'success', detail: { channel: conversation.channel, messages: conversation.messages.length } });
    },
  };
}

export type ConversationReader = ReturnType<typeof createConversationReader>;
